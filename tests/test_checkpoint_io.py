"""The programs' checkpoints (workbench.program.build_trainer): streamed to their file, atomically,
and ``best.ckpt`` without the optimizer's state.

Lightning's own checkpoint IO serialises the whole checkpoint into memory before writing it: a
second copy of the weights and the AdamW moments at every save; and every prediction loads
``best.ckpt`` again, beside the fit's optimizer. Both took w2v-BERT 2.0's real-shape run past its
memory budget (benchmarks/README.md). The IO's buffer is a Python object, so ``tracemalloc`` sees
it; tensors written straight from their storage are not Python allocations.
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


# best.ckpt by the best validation (every step), and when no validation ran (the final weights)
@pytest.mark.parametrize("validation", ["--trainer.val_check_interval=1", "--trainer.limit_val_batches=0"])
def test_best_holds_the_weights_and_last_the_whole_state(tiny_corpus, tiny_root, tmp_path, validation):
    """``best.ckpt`` is loaded again by every prediction: without the optimizer's moments (twice the
    weights with AdamW) it is a third of the whole state; ``last.ckpt`` resumes, so it keeps them."""
    from speech.fit import main
    from tests.helpers.speech_runs import tiny_args

    run = tmp_path / "run"
    brief = ["--trainer.max_steps=2", "--trainer.max_epochs=50", validation]
    main(tiny_args(tiny_root, run, "--model.encoder.init_args.num_blocks=1", "--trainer.logger=false", *brief))
    best = torch.load(run / "checkpoints" / "best.ckpt", weights_only=True)
    last = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert "optimizer_states" not in best and best["state_dict"].keys() == last["state_dict"].keys()
    assert last["optimizer_states"] and "callbacks" in last
