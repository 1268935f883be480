#!/usr/bin/env bash
# Mutation testing of the modules whose bugs change a conclusion without an error
# (pyproject.toml [tool.mutmut]; tests/README.md "Mutation testing"). Not part of the suite.
#   bash scripts/mutation.sh                          # every configured module
#   bash scripts/mutation.sh 'workbench.protocols.*'  # one module (mutmut's mutant-name globs)
# Mutants and results live in mutants/ (reused by the next run); the score per module is printed last.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m mutmut run --max-children "${MUTATION_WORKERS:-1}" "$@" || true
python -m tests.mutation_score "$@"
