"""Overfit tests for the cascade's trainable modules: each must learn a handful of examples."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader

from cascade.asr_data import TranscriptDataset, collate_transcripts
from cascade.asr_text import Vocabulary, error_rates
from cascade.classifier import TextClassifier
from cascade.ctc import CTCRecognizer
from cascade.data import TextDataset, collate_texts
from cascade.text_models import CharNgramModel, HFSequenceClassifier, ngram_ids
from tests.helpers.cascade_testing import tiny_text_classifier
from workbench.items import Item
from workbench.optim import Optim

TEXTS = ["march, july, may", "monday, friday", "france, japan, chile", "euro, yen", "april, june", "sunday, monday"]
LABELS = [0, 1, 2, 3, 0, 1]


def text_loader(batch_size: int = 6) -> DataLoader:
    pairs = enumerate(zip(TEXTS, LABELS, strict=True))
    items = [Item(f"i{i}", f"c{i}", "eng", label, "train", text=t) for i, (t, label) in pairs]
    return DataLoader(TextDataset(items, TEXTS), batch_size=batch_size, shuffle=True, collate_fn=collate_texts)


def fit_text(model: TextClassifier, epochs: int) -> None:
    trainer = L.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, train_dataloaders=text_loader())


def assert_memorised(model: TextClassifier) -> None:
    probs = model.predict_texts(TEXTS)
    assert probs.argmax(-1).tolist() == LABELS
    loss = torch.nn.functional.nll_loss(probs.clamp_min(1e-9).log(), torch.tensor(LABELS))
    assert loss < 0.3, f"loss {float(loss):.3f}"


def test_ngram_ids_are_stable_and_bounded():
    ids = ngram_ids("März, July", 1000)
    assert ids == ngram_ids("märz july", 1000)  # normalised: case and punctuation do not matter
    assert all(0 <= i < 1000 for i in ids)


def test_char_ngram_classifier_overfits():
    torch.manual_seed(0)
    model = TextClassifier(
        CharNgramModel(num_buckets=1 << 12, dim=16, dropout=0.0), num_classes=4, optim=Optim(lr=0.05)
    )
    before = model.predict_texts(TEXTS)
    assert before.max() < 0.5  # starts near uniform: the test can fail
    fit_text(model, epochs=40)
    assert_memorised(model)
    # the sparse embedding was trained with SparseAdam, the head with AdamW
    assert [type(o).__name__ for o in model.configure_optimizers()] == ["SparseAdam", "AdamW"]


@pytest.mark.parametrize("kind", ["xlmr", "bert"])
def test_transformers_classifier_overfits(kind, tmp_path):
    folder = tiny_text_classifier(tmp_path / kind, TEXTS * 3, kind=kind)
    torch.manual_seed(0)
    model = TextClassifier(HFSequenceClassifier(str(folder), max_length=32), num_classes=4, optim=Optim(lr=5e-3))
    fit_text(model, epochs=50)
    assert_memorised(model)


def ctc_batch(tiny_corpus, n: int = 3):
    items = sorted(tiny_corpus.where("train", ["eng"]), key=lambda i: len(i.romanized))[:n]
    vocab = Vocabulary.from_texts(i.romanized for i in items)
    data = TranscriptDataset(items, vocab, "romanized", max_seconds=None)
    return items, vocab, collate_transcripts([data[i] for i in range(len(items))])


def test_ctc_recognizer_overfits_and_its_encoder_initialises_e2e(tiny_corpus, tmp_path):
    from speech.encoders.conv import ConvEncoder
    from speech.encoders.init import load_prefixed

    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small convolutions: one thread is faster, and far faster on a busy CPU
    items, vocab, batch = ctc_batch(tiny_corpus)
    encoder = ConvEncoder(dim=64, num_blocks=2, dropout=0.0, specaugment=False)
    optim = Optim(lr=1e-2, weight_decay=1e-2, warmup=0.1)
    model = CTCRecognizer(encoder, optim=optim, dropout=0.0, symbols=vocab.symbols[1:], script="romanized")
    refs = [i.romanized for i in items]
    assert error_rates(refs, model.transcribe_batch(batch["waves"], batch["lengths"]))["cer"] > 0.8
    trainer = L.Trainer(
        max_steps=150,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
    )
    try:
        trainer.fit(model, train_dataloaders=DataLoader([batch], batch_size=None))
    finally:
        torch.set_num_threads(threads)
    model.eval()
    cer = error_rates(refs, model.transcribe_batch(batch["waves"], batch["lengths"]))["cer"]
    assert cer < 0.15, f"train CER {cer:.3f}"
    # a Lightning checkpoint: the vocabulary travels with it, the E2E encoder loads its encoder.*
    path = tmp_path / "ctc.ckpt"
    trainer.save_checkpoint(path)
    again = CTCRecognizer.load_from_checkpoint(path, encoder=ConvEncoder(dim=64, num_blocks=2, specaugment=False))
    assert again.vocabulary.symbols == vocab.symbols and again.script == "romanized"
    again.eval()
    assert again.transcribe_batch(batch["waves"], batch["lengths"]) == model.transcribe_batch(
        batch["waves"], batch["lengths"]
    )
    e2e = ConvEncoder(dim=64, num_blocks=2)
    loaded = load_prefixed(e2e, path)
    assert loaded and torch.equal(e2e.subsample.weight, model.encoder.subsample.weight)


def test_a_ctc_checkpoint_loads_with_its_optim_vocabulary_and_script(tmp_path):
    """A recognizer checkpoint as fit_asr writes it loads (vocabulary, script, optim, transcripts) in
    the cascade's reader."""
    from cascade.recognizers import CTCCheckpointRecognizer
    from speech.encoders.conv import ConvEncoder

    torch.manual_seed(0)
    model = CTCRecognizer(ConvEncoder(dim=16, num_blocks=1), symbols=list("abc "), script="native")
    # the hyper-parameters as fit_asr (LightningCLI) writes them
    encoder = {"class_path": "speech.encoders.conv.ConvEncoder", "init_args": {"dim": 16, "num_blocks": 1}}
    hparams = {"encoder": encoder, "optim": {"lr": 0.02, "weight_decay": 0.0, "warmup": 0.3}, "dropout": 0.1}
    hparams |= {"script": "native", "symbols": list("abc "), "signal": "audio"}
    hparams["_instantiator"] = "lightning.pytorch.cli.instantiate_module"
    state = {"state_dict": model.state_dict(), "hyper_parameters": hparams, "pytorch-lightning_version": L.__version__}
    path = tmp_path / "recognizer.ckpt"
    torch.save(state, path)
    again = CTCRecognizer.load_from_checkpoint(str(path), weights_only=True)
    assert again.optim == Optim(lr=0.02, weight_decay=0.0, warmup=0.3)
    assert again.vocabulary.symbols == model.vocabulary.symbols and again.script == "native"
    waves, lengths = torch.randn(2, 8000), torch.tensor([8000, 6000])
    model.eval()
    expected = model.transcribe_batch(waves, lengths)
    assert again.eval().transcribe_batch(waves, lengths) == expected
    recognizer = CTCCheckpointRecognizer(str(path), device="cpu")  # how the cascade and the demo read it
    assert recognizer.transcribe([w[:n].numpy() for w, n in zip(waves, lengths, strict=True)], [None, None]) == expected
