"""Cache keys are the content, never a name: the frozen-encoder cache of the E2E path.

Two corpora may use the same item ids (``eng-0`` in SpeechTaxi and in a folder of one's own):
keyed by id, the second corpus would be classified from the first one's encoder outputs, with
no error. The key of a clip is its decoded audio, so the same ids with other audio miss the
cache and the same audio under another id and path hits it.
"""

from __future__ import annotations

import torch

from speech.data import AudioDataset, collate_waves
from speech.encoders.conv import ConvEncoder
from speech.model import SpeechClassifier
from tests.helpers.audio_fixtures import tone, write_audio
from workbench.items import Item


def corpus_batch(folder, frequencies: list[float]) -> dict:
    """A corpus of one tone per frequency, items ``eng-<k>``: the same ids in every folder."""
    items = []
    for k, freq in enumerate(frequencies):
        path = write_audio(folder / f"eng-{k}.wav", tone(0.3 + 0.1 * k, freq=freq))
        items.append(Item(f"eng-{k}", f"c{k}", "eng", k % 2, "train", audio=str(path)))
    dataset = AudioDataset(items)
    return collate_waves([dataset[k] for k in range(len(items))])


def test_frozen_encoder_cache_is_keyed_by_audio_content_not_item_id(tmp_path):
    torch.manual_seed(0)
    encoder = ConvEncoder(dim=16, num_blocks=1)
    model = SpeechClassifier(encoder, num_classes=2, mode="frozen", cache_dir=str(tmp_path / "cache"))
    first = corpus_batch(tmp_path / "a", [220.0, 330.0])
    other = corpus_batch(tmp_path / "b", [550.0, 880.0])  # same ids, other audio
    model.encode(first)
    cached = model.encode(other)
    assert model.cache.encoder_calls == 4 and model.cache.hits == 0
    with torch.no_grad():
        direct = encoder.eval()(other["waves"], other["lengths"])
    assert torch.equal(cached.lengths, direct.lengths)
    for row, n in enumerate(direct.lengths.tolist()):  # float16 storage
        assert torch.allclose(cached.hidden[row, :n], direct.hidden[row, :n], atol=1e-2)
    # the same audio under other ids and paths is the same entry
    renamed = corpus_batch(tmp_path / "c", [550.0, 880.0])
    renamed_keys = AudioDataset([Item("x", "c", "rus", 0, "train", audio=str(tmp_path / "c" / "eng-0.wav"))])[0][3]
    assert renamed_keys == other["keys"][0]
    model.encode(renamed)
    assert model.cache.encoder_calls == 4 and model.cache.hits == 2
