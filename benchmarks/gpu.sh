#!/usr/bin/env bash
# The GPU check on a lent device machine, as one prepared command (benchmarks/README.md, "The GPU check"):
#   here, once:  bash /work/shared/device/wheels.sh     # ./.whl: the packages the GPU image lacks
#   device tool: run(command="bash benchmarks/gpu.sh", carry=[".whl"], timeout_s=600)
# Installs the carried wheels (if any), prints the card, runs python -m benchmarks.gpu (extra arguments
# pass through) and keeps its output and rows in $OUT (gpu.log, gpu.json) when the device tool sets it.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=$PWD:/tmp/site
fi
out=${OUT:-.}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
timeout 540 python3 -m benchmarks.gpu --out "$out/gpu.json" "$@" 2>&1 | tee "$out/gpu.log"
