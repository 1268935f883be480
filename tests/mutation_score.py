"""The mutation score per module from mutmut's results (run by ``scripts/mutation.sh``).

``python -m tests.mutation_score [GLOB ...]``: per module, mutants killed (a test failed or the
run timed out), survived, not covered by any selected test, and not run yet; the score is
``killed / (killed + survived + not covered)``. Equivalent mutants are listed, with their
reason, in tests/README.md ("Mutation testing").
"""

from __future__ import annotations

import fnmatch
import re
import subprocess
import sys
from collections import Counter, defaultdict

KILLED = {"killed", "timeout"}
MISSED = {"survived", "no tests"}
# mutant names: <module>.x_<function>__mutmut_<n> or <module>.xǁ<Class>ǁ<method>__mutmut_<n>
NAME = re.compile(r"^\s*(?P<name>(?P<module>[\w.]+?)\.x[_ǁ]\S+__mutmut_\d+): (?P<status>.+)$")


def results() -> list[tuple[str, str, str]]:
    """``(mutant, module, status)`` for every mutant mutmut knows."""
    out = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"], capture_output=True, text=True, check=True
    ).stdout
    return [(m["name"], m["module"], m["status"].strip()) for m in map(NAME.match, out.splitlines()) if m]


def main(globs: list[str]) -> None:
    counts: dict[str, Counter] = defaultdict(Counter)
    survivors = []
    for name, module, status in results():
        if globs and not any(fnmatch.fnmatch(name, g) for g in globs):
            continue
        counts[module][status] += 1
        if status in MISSED:
            survivors.append(f"{status}: {name}")
    print(f"{'module':32} {'killed':>7} {'survived':>8} {'no tests':>8} {'not run':>7} {'score':>6}")
    for module, c in sorted(counts.items()):
        killed = sum(c[s] for s in KILLED)
        judged = killed + sum(c[s] for s in MISSED)
        score = f"{100 * killed / judged:.1f}%" if judged else "-"
        print(f"{module:32} {killed:7} {c['survived']:8} {c['no tests']:8} {c['not checked']:7} {score:>6}")
    print(
        "\n".join(["", "survivors (kill them with a test or list them as equivalent in tests/README.md):", *survivors])
    )


if __name__ == "__main__":
    main(sys.argv[1:])
