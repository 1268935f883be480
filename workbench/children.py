"""Child processes that end with the process that started them (sweep points, the demo's jobs)."""

from __future__ import annotations

import ctypes
import signal

PR_SET_PDEATHSIG = 1
try:  # bound before any fork: a child must not import or load libraries between fork and exec
    _PRCTL = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux
    _PRCTL = None


def die_with_parent() -> None:
    """In the child: SIGKILL when the thread that started it dies (Linux ``PR_SET_PDEATHSIG``), so a
    killed sweep or demo leaves no orphan that would race its rerun on the same run directory.
    Elsewhere a no-op: Ctrl-C and SIGTERM still stop the children, reruns redo unfinished runs."""
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, signal.SIGKILL)
