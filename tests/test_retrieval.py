"""Image-text retrieval (vision.retrieval): recall@k against torchmetrics, the XM3600 replica, every CLIP family."""

from __future__ import annotations

import pytest
import torch

from tests.helpers.retrieval_fixtures import XM_CAPTIONS, tiny_nllb_architecture, xm3600_replica
from vision import retrieval
from vision.retrieval import CaptionSet, ClipSpec, recall_at_k
from vision.xm3600 import XM3600
from workbench.errors import ConfigError, DataError


def torchmetrics_recall(scores: torch.Tensor, relevant: torch.Tensor, k: int) -> float:
    """The reference: torchmetrics' hit rate (any relevant in the top k; = its RetrievalRecall with one relevant)."""
    from torchmetrics.retrieval import RetrievalHitRate

    indexes = torch.arange(scores.shape[0])[:, None].expand_as(scores)
    return RetrievalHitRate(top_k=k)(scores.flatten(), relevant.flatten(), indexes=indexes.flatten()).item()


def test_recall_matches_torchmetrics_and_a_hand_count():
    from torchmetrics.retrieval import RetrievalRecall

    generator = torch.Generator().manual_seed(0)
    scores = torch.rand(30, 12, generator=generator)  # 30 captions x 12 images: text -> image, one relevant each
    one = torch.zeros(30, 12, dtype=torch.bool)
    one[torch.arange(30), torch.arange(30) % 12] = True
    many = one.T.clone()  # image -> its 2-3 captions
    ours_one, ours_many = recall_at_k(scores, one), recall_at_k(scores.T, many)
    indexes = torch.arange(30)[:, None].expand(30, 12).flatten()
    for k in (1, 5, 10):
        recall = RetrievalRecall(top_k=k)(scores.flatten(), one.flatten(), indexes=indexes).item()
        assert ours_one[f"R@{k}"] == pytest.approx(recall) == pytest.approx(torchmetrics_recall(scores, one, k))
        assert ours_many[f"R@{k}"] == pytest.approx(torchmetrics_recall(scores.T, many, k))
    # by hand: query 0 ranks its image 2nd, query 1 1st, query 2 3rd of 3
    hand = torch.tensor([[0.9, 0.5, 0.1], [0.2, 0.8, 0.3], [0.7, 0.6, 0.1]])
    assert recall_at_k(hand, torch.eye(3, dtype=torch.bool)[[1, 1, 2]], (1, 2, 3)) == {
        "R@1": pytest.approx(1 / 3), "R@2": pytest.approx(2 / 3), "R@3": 1.0,
    }  # fmt: skip
    with pytest.raises(ValueError, match="no relevant"):
        recall_at_k(hand, torch.zeros(3, 3, dtype=torch.bool))


def test_identical_captions_are_one_gallery_entry_relevant_to_each_image():
    texts, relevant = CaptionSet("eng", ["a", "b", "c"], ["one", "two", "one", "x"], [0, 1, 2, 2]).gallery()
    assert texts == ["one", "two", "x"]
    assert relevant.tolist() == [[True, False, True], [False, True, False], [False, False, True]]


@pytest.fixture(scope="module")
def replica(tmp_path_factory):
    return xm3600_replica(tmp_path_factory.mktemp("xm3600"))


def test_xm3600_replica_reads_by_language_with_every_caption(replica, tmp_path):
    en, ru = XM3600(["en", "ru"], path=str(replica), cache_dir=str(tmp_path)).load()
    assert (en.language, ru.language) == ("eng", "rus")
    assert len(en.images) == 6 and len(en.captions) == 12 and en.image_of[:4] == [0, 0, 1, 1]
    assert en.captions[0].startswith(XM_CAPTIONS["en"][0][0]) and en.images == ru.images  # one file an image
    assert len(XM3600(["en"], path=str(replica), cache_dir=str(tmp_path), max_images=2).load()[0].images) == 2
    with pytest.raises(DataError, match="no parquet files for language 'de'"):
        XM3600(["de"], path=str(replica), cache_dir=str(tmp_path)).load()


def test_program_writes_per_language_recall_and_resumes(replica, tmp_path):
    run_dir = tmp_path / "run"
    args = ["-c", "configs/retrieval/xm3600.yaml", "--data.init_args.path", str(replica),
            "--data.init_args.languages", "[en, ru]", "--data.init_args.cache_dir", str(tmp_path / "cache"),
            "--model.model_name", "wb-tiny-bytes", "--model.tokenizer", "bytes", "--run_dir", str(run_dir)]  # fmt: skip
    results = retrieval.main(args)
    assert list(results["languages"]) == ["eng", "rus"]
    for row in results["languages"].values():
        assert (row["images"], row["texts"]) == (6, 12)
        assert row["text_to_image"]["R@10"] == 1.0  # 6 images: every caption's image is in its top 10
        assert all(0 <= v <= 1 for d in retrieval.DIRECTIONS for v in row[d].values())
    assert "| rus | 6 | 12 |" in (run_dir / "retrieval.md").read_text(encoding="utf-8")
    # a run killed after its first language: only the second is computed again, the first kept as written
    partial = {**results, "languages": {"eng": {**results["languages"]["eng"], "images": 99}}}
    from workbench.io import atomic_write_json

    atomic_write_json(run_dir / "retrieval.json", partial)
    again = retrieval.main(args)
    assert again["languages"]["eng"]["images"] == 99 and again["languages"]["rus"] == results["languages"]["rus"]
    with pytest.raises(ConfigError, match="another model or data"):
        retrieval.main([*args, "--model.model_name", "wb-tiny"])


@pytest.mark.parametrize("family", ["xlmr", "siglip", "nllb"])
def test_every_multilingual_clip_family_retrieves(family, replica, tmp_path):
    """Tiny random stand-ins of the three published families, built from their real open_clip architectures."""
    from tests.helpers.siglip_fixtures import save_tiny_siglip
    from tests.helpers.vision_fixtures import tiny_hf_text_architecture

    texts = [t for rows in XM_CAPTIONS.values() for pair in rows for t in pair] + ["0123456789"]
    if family == "xlmr":
        spec = ClipSpec(f"wb-ret-{family}", architecture=tiny_hf_text_architecture(tmp_path / "xlmr"))
    elif family == "siglip":
        spec = ClipSpec(save_tiny_siglip(tmp_path / "siglip", texts))
    else:
        spec = ClipSpec(f"wb-ret-{family}", architecture=tiny_nllb_architecture(tmp_path / "nllb", texts))
    data = XM3600(["en", "ru"], path=str(replica), cache_dir=str(tmp_path / "cache"))
    results = retrieval.run(spec, data, str(tmp_path / "run"), batch_size=4)
    assert [row["texts"] for row in results["languages"].values()] == [12, 12]
    assert 0 <= results["mean"]["image_to_text"]["R@1"] <= 1
    if family == "nllb":  # each caption is encoded with its own language's FLORES token
        encoder = retrieval.Encoder(spec)
        assert not torch.allclose(encoder.texts(["квадрат"], "rus", 4), encoder.texts(["квадрат"], "eng", 4))


def test_the_embedded_config_runs_on_the_text_images(tiny_root, tmp_path):
    """The shipped offline config: each rendered text image retrieved by its text, per language."""
    args = ["-c", "configs/retrieval/embedded.yaml", "--data.init_args.source.init_args.root", str(tiny_root),
            "--data.init_args.source.init_args.tiny", "true", "--run_dir", str(tmp_path)]  # fmt: skip
    results = retrieval.main(args)
    from vision.text_images import EmbeddedTextImages

    corpus = EmbeddedTextImages(root=str(tiny_root), tiny=True).load()
    tests = [item for item in corpus.items if item.split == "test"]
    assert sorted(results["languages"]) == sorted(corpus.languages) and len(corpus.languages) >= 2
    assert sum(row["images"] for row in results["languages"].values()) == len(tests)
    assert all(row["images"] == row["texts"] > 1 for row in results["languages"].values())
