"""speech.cache.EncoderCache by its contract: one entry per clip at ``<digest>/<hash[:2]>/<hash>.pt``
in the storage dtype; an output read from the cache equals the one first computed; an entry that
is not a clip's ``(L, F, D)`` tensor, or is a pickle payload, counts as missing and is never run;
the weights' fingerprint covers names, shapes and bytes (issue 26)."""

from __future__ import annotations

import pickle
from pathlib import Path

import torch

from speech.cache import EncoderCache, weights_fingerprint
from speech.encoders.conv import ConvEncoder


def clips(count: int) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    torch.manual_seed(count)
    lengths = torch.tensor([4000 - 800 * k for k in range(count)])
    waves = torch.randn(count, 4000) * (torch.arange(4000) < lengths[:, None])
    return waves, lengths, [f"{k:02d}" + "ab" * 19 for k in range(count)]


def cache_of(tmp_path, **options) -> EncoderCache:
    torch.manual_seed(0)
    return EncoderCache(tmp_path / "cache", ConvEncoder(dim=8, num_blocks=1), **{"all_layers": True, **options})


def test_an_entry_per_clip_in_the_storage_dtype_at_its_documented_place(tmp_path):
    cache = cache_of(tmp_path)
    waves, lengths, keys = clips(2)
    out = cache(waves, lengths, keys)
    for row, key in enumerate(keys):
        entry = cache.folder / key[:2] / f"{key}.pt"
        assert cache.path(key) == entry and entry.is_file()
        stored = torch.load(entry, weights_only=True)
        assert stored.dtype == torch.float16 and stored.shape[1] == int(out.lengths[row])


def test_a_cached_output_equals_the_one_first_computed_and_hits_add_up(tmp_path):
    """The first epoch (encoder run) and every later one (cache read) see the same numbers."""
    cache = cache_of(tmp_path)
    waves, lengths, keys = clips(3)
    computed = cache(waves, lengths, keys)
    for calls in (1, 2):
        read = cache(waves, lengths, keys)
        assert cache.hits == 3 * calls and cache.encoder_calls == 3
        assert torch.equal(read.hidden, computed.hidden) and torch.equal(read.lengths, computed.lengths)


def test_a_batch_of_one_clip(tmp_path):
    cache = cache_of(tmp_path, all_layers=False)
    waves, lengths, keys = clips(1)
    out = cache(waves, lengths, keys)
    assert len(out.layers) == 1 and out.hidden.shape[0] == 1


def test_an_entry_that_is_not_a_clips_layers_is_recomputed(tmp_path):
    cache = cache_of(tmp_path)
    waves, lengths, keys = clips(2)
    expected = cache(waves, lengths, keys).hidden
    torch.save(torch.zeros(3, 8), cache.path(keys[0]))  # a 2-D tensor: not (L, F, D)
    assert cache.read(keys[0]) is None
    again = cache(waves, lengths, keys).hidden  # clip 0 encoded alone now: float16 storage
    assert torch.allclose(again, expected, atol=1e-2) and cache.encoder_calls == 3


class Payload:
    """Unpickling this creates a file: what a planted cache entry could run."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return Path.touch, (self.marker,)


def test_a_pickle_payload_in_the_cache_is_never_run(tmp_path):
    cache = cache_of(tmp_path)
    waves, lengths, keys = clips(1)
    cache.path(keys[0]).parent.mkdir(parents=True)
    cache.path(keys[0]).write_bytes(pickle.dumps(Payload(tmp_path / "ran")))
    assert cache.read(keys[0]) is None and not (tmp_path / "ran").exists()


def test_the_weights_fingerprint_covers_names_shapes_and_bytes():
    def module(**buffers) -> torch.nn.Module:
        holder = torch.nn.Module()
        for name, value in buffers.items():
            holder.register_buffer(name, value)
        return holder

    values = torch.arange(6.0)
    same = weights_fingerprint(module(w=values.reshape(2, 3)))
    assert same == weights_fingerprint(module(w=values.reshape(2, 3).clone()))
    assert same != weights_fingerprint(module(w=values.reshape(3, 2)))  # same bytes, other shape
    assert same != weights_fingerprint(module(v=values.reshape(2, 3)))  # same bytes, other name
