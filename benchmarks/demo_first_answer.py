"""Time from ``python -m apps.demo`` on a fresh clone to the first answer of each path (speech, then vision).

    python -m benchmarks.demo_first_answer               # the shipped quick recipes, then stop
    python -m benchmarks.demo_first_answer --keep tmp/x  # keep the fresh tree (its runs/ and data/)
    python -m benchmarks.demo_first_answer --paths e2e cascade  # the speech paths only: stop once both answered

The tree as a fresh clone has it (what git tracks or would track: no ``runs/``, no ``data/``, no feature
cache) is copied to a temporary folder and the demo started there with its defaults: the embedded corpus is
built, the quick recipes (``configs/embedded/demo/``: speech's, then vision's) train two at a time.
``/progress`` is polled; as soon as a path's model is served, an example (Russian) is classified through the
page's API (a clip through ``/classify_speech`` for the E2E and cascade paths, a text image through
``/classify_image`` for the image E2E and OCR cascade paths), and the seconds from the demo's start to that
answer are printed per path with the run that answered, and the load average. Run it on an otherwise idle
machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# the page's API per tab: (example file prefix in runs/demo/examples, {path: index of its probabilities in the answer})
TABS = {
    "/classify_speech": ("audio", {"e2e": 0, "cascade": 5}),
    "/classify_image": ("image", {"vision": 1, "ocr": 9}),
}
PATHS = tuple(path for _, paths in TABS.values() for path in paths)


def fresh_copy(target: Path) -> Path:
    """The tree as a fresh clone has it (plus uncommitted new files): what git tracks or would, nothing ignored."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        if (REPO / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target / name)
    return target


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def first_answers(tree: Path, timeout: float, say=print, paths: tuple[str, ...] = PATHS) -> dict[str, float]:
    """Seconds from the demo's start to each of ``paths``' first answer on an example clip or image."""
    from gradio_client import Client, handle_file

    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(tree), "GRADIO_ANALYTICS_ENABLED": "False"}
    started = time.monotonic()
    with (tree / "demo.log").open("w") as log:
        demo = subprocess.Popen(
            [sys.executable, "-m", "apps.demo", "--port", str(port)], cwd=tree, env=env, stdout=log, stderr=log
        )
    answered: dict[str, float] = {}
    client = None
    try:
        while not set(paths) <= set(answered) and time.monotonic() - started < timeout and demo.poll() is None:
            time.sleep(2)
            try:
                client = client or Client(f"http://127.0.0.1:{port}/", verbose=False)
                ready = client.predict(api_name="/progress")["ready"]
            except Exception:  # noqa: BLE001 - the page is not up yet
                continue
            for api_name, (prefix, outputs) in TABS.items():
                examples = sorted((tree / "runs" / "demo" / "examples").glob(f"{prefix}-rus-*"))
                waiting = [path for path in outputs if path in paths and path not in answered and ready.get(path)]
                if not waiting or not examples:
                    continue
                result = client.predict(handle_file(str(examples[0])), "rus", api_name=api_name)
                seconds = time.monotonic() - started
                for path in waiting:
                    probs = result[outputs[path]]
                    if isinstance(probs, dict) and probs.get("confidences"):
                        answered[path] = seconds
                        say(f"{path}: first answer {seconds:.1f} s after the start ({ready[path][0]})")
    finally:
        demo.terminate()
        try:
            demo.wait(60)
        except subprocess.TimeoutExpired:
            demo.kill()
    return answered


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.demo_first_answer", description=__doc__.split("\n")[0])
    parser.add_argument("--keep", help="copy the fresh tree here and keep it (default: a temporary folder)")
    parser.add_argument("--timeout", type=float, default=1800, help="give up after this many seconds")
    parser.add_argument(
        "--paths", nargs="+", choices=PATHS, default=list(PATHS), help="the paths to time (default: all)"
    )
    args = parser.parse_args(argv)
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="demo-first-answer-"))
    tree = fresh_copy(folder)
    print(f"fresh tree: {tree}; load average before: {os.getloadavg()}", flush=True)
    answered = first_answers(tree, args.timeout, say=lambda line: print(line, flush=True), paths=tuple(args.paths))
    print(f"load average after: {os.getloadavg()}; answered: {answered}", flush=True)
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    if not set(args.paths) <= set(answered):
        raise SystemExit(f"not every path answered within {args.timeout} s: see the log above and demo.log")


if __name__ == "__main__":
    main()
