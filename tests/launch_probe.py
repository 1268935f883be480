"""A program for the launcher's tests: prints what a ``python -m`` program can see, then exits
with the status asked for (``--exit N``) or raises (``--raise``)."""

from __future__ import annotations

import atexit
import os
import sys
from pathlib import Path

print(f"name={__name__}")
print(f"argv={sys.argv[1:]}")
print(f"cwd={Path.cwd()}")
print(f"probe_env={os.environ.get('LAUNCH_PROBE')}")
print(f"torch_preloaded={'torch' in sys.modules}")
atexit.register(lambda: Path(os.environ["LAUNCH_PROBE_ATEXIT"]).write_text("ran\n"))
if "--raise" in sys.argv:
    raise RuntimeError("probe failed on purpose")
if "--exit" in sys.argv:
    sys.exit(int(sys.argv[sys.argv.index("--exit") + 1]))
