"""The programs' checkpoints are streamed to their file, atomically (workbench.program.build_trainer).

Lightning's own checkpoint IO serialises the whole checkpoint into memory before writing it: a
second copy of the weights and the AdamW moments at every save, which took w2v-BERT 2.0's
real-shape step past its memory budget (benchmarks/README.md). The buffer is a Python object, so
``tracemalloc`` sees it; tensors written straight from their storage are not Python allocations.
"""

from __future__ import annotations

import tracemalloc

import pytest
import torch

from workbench.cli import Parsed
from workbench.program import build_trainer

CHECKPOINT_BYTES = 40_000_000


def product_trainer(run_dir, strategy: str):
    """The trainer the programs build, on CPU under ``strategy`` (the shipped SpeechTaxi one: DDP)."""
    config = {"run_dir": str(run_dir), "monitor": "val/acc"}
    trainer = {"accelerator": "cpu", "devices": 1, "strategy": strategy, "logger": False}
    trainer |= {"enable_progress_bar": False}
    parsed = Parsed(parser=None, config=config, model=None, datamodule=None, trainer=trainer)
    return build_trainer(parsed)[0]


@pytest.mark.parametrize("strategy", ["auto", "ddp_find_unused_parameters_true"])
def test_a_checkpoint_is_written_without_a_copy_in_memory(tmp_path, strategy):
    io = product_trainer(tmp_path / "run", strategy).strategy.checkpoint_io
    checkpoint = {"state_dict": {"w": torch.arange(CHECKPOINT_BYTES // 4, dtype=torch.float32)}}
    path = tmp_path / "run" / "checkpoints" / "last.ckpt"
    tracemalloc.start()
    try:
        io.save_checkpoint(checkpoint, path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert path.stat().st_size > CHECKPOINT_BYTES
    assert peak < CHECKPOINT_BYTES / 10, f"saving a {CHECKPOINT_BYTES / 1e6:.0f} MB checkpoint held {peak / 1e6:.0f} MB"
    assert torch.equal(torch.load(path, weights_only=True)["state_dict"]["w"], checkpoint["state_dict"]["w"])


def test_a_failed_save_leaves_the_previous_checkpoint(tmp_path):
    io = product_trainer(tmp_path / "run", "auto").strategy.checkpoint_io
    path = tmp_path / "last.ckpt"
    io.save_checkpoint({"step": 1}, path)
    with pytest.raises(Exception, match="pickle"):
        io.save_checkpoint({"step": 2, "unpicklable": lambda: None}, path)
    assert torch.load(path, weights_only=True) == {"step": 1}
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == ["last.ckpt"]  # no temporary file left
