"""Regenerate the tiny bundles that runtime/tests use (the runtime's tests cannot train or export).

    python -m tests.make_runtime_fixtures                     # writes runtime/tests/fixtures/
    python -m tests.make_runtime_fixtures --only fillmask     # just the named bundle(s)

Bundles from tiny random BERTs trained for a few seconds: a single-label sentiment classifier, a
multi-label topic classifier, a NER tagger (PER, LOC), a SetFit sentiment model (with embeddings),
a fill-mask model and a sentence embedder (SimCSE). tests/test_runtime_fixtures.py checks that this script still produces
bundles the runtime accepts. Every bundle's manifest records when it was made, so rebuilding one
changes its bytes: rebuild only what changed (--only), then `python runtime-js/test/make_parity.py`.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tests import tiny  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1] / "runtime" / "tests" / "fixtures"


NAMES = ("sentiment", "topics", "entities", "entities_ws", "fewshot", "fillmask", "embedder")


def build(out_root: Path, epochs: float = 30, only: tuple[str, ...] = NAMES) -> dict[str, Path]:
    """Train and export the fixture bundles named in ``only`` into ``out_root`` (epochs: shorter for smoke tests)."""
    from edgeft.config import ClassifierConfig
    from edgeft.tasks.classifier import train_classifier
    from edgeft_exporters.api import ExportOptions, export_run

    made = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        base = tiny.make_tiny_base(tmp / "base", hidden=16, layers=1, heads=2)
        sets = {
            "sentiment": (tiny.sentiment_rows(96, 1), tiny.sentiment_rows(40, 2), False),
            "topics": (
                [(t, ";".join(labels)) for t, labels in tiny.topic_rows(120, 1)],
                [(t, ";".join(labels)) for t, labels in tiny.topic_rows(40, 2)],
                True,
            ),
        }
        for name, (train_rows, dev_rows, multi) in sets.items():
            if name not in only:
                continue
            train = tiny.write_csv(tmp / f"{name}-train.csv", train_rows)
            dev = tiny.write_csv(tmp / f"{name}-dev.csv", dev_rows)
            config = ClassifierConfig(
                train=str(train), eval=str(dev), out=str(tmp / name), base=str(base), epochs=epochs, lr=1e-2, warmup_ratio=0.0,
                batch_size=16, max_length=24, early_stopping_patience=0, multi_label=multi, logging_steps=1000,
            )
            train_classifier(config)
            made[name] = export_run(tmp / name, out_root / name, ExportOptions(int8=True, max_drop=100.0, overwrite=True)).out
        if "entities" in only:
            made["entities"] = build_ner(base, tmp, out_root, epochs=min(epochs, 20))
        if "entities_ws" in only:
            made["entities_ws"] = build_ner(base, tmp, out_root, epochs=min(epochs, 20), word_split="whitespace")
        if "fewshot" in only:
            made["fewshot"] = build_setfit(tmp, base, out_root)
        if "fillmask" in only:
            made["fillmask"] = build_fill_mask(tmp, base, out_root, epochs=min(epochs, 20))
        if "embedder" in only:
            made["embedder"] = build_embedder(tmp, base, out_root)
    return made


def build_ner(base: Path, tmp: Path, out_root: Path, epochs: float = 20, word_split: str = "tokenizer") -> Path:
    """A NER bundle (PER, LOC) with windows of 12 tokens, so the runtime's tests exercise the stride.

    ``entities`` keeps the tokenizer's words; ``entities_ws`` (word_split whitespace) is the bundle
    on which both runtimes must split raw text into runs of non-space characters."""
    from edgeft.config import NerConfig
    from edgeft.tasks.ner import train_ner
    from edgeft_exporters.api import ExportOptions, export_run

    name = "entities" if word_split == "tokenizer" else "entities_ws"
    train = tiny.write_conll(tmp / "ner-train.conll", tiny.ner_sentences(120, 1))
    dev = tiny.write_conll(tmp / "ner-dev.conll", tiny.ner_sentences(30, 2))
    config = NerConfig(
        train=str(train), eval=str(dev), out=str(tmp / name), base=str(base), epochs=epochs, lr=1e-2, warmup_ratio=0.0,
        batch_size=16, max_length=12, stride=3, early_stopping_patience=0, logging_steps=1000, word_split=word_split,
    )
    train_ner(config)
    return export_run(tmp / name, out_root / name, ExportOptions(int8=True, max_drop=100.0, overwrite=True)).out


def build_setfit(tmp: Path, base: Path, out_root: Path) -> Path:
    """A SetFit bundle (probabilities + embeddings outputs) from 8 examples per label."""
    from edgeft.config import SetFitConfig
    from edgeft.tasks.setfit import train_setfit
    from edgeft_exporters.api import ExportOptions, export_run

    config = SetFitConfig(
        train=str(tiny.write_csv(tmp / "fewshot-train.csv", tiny.sentiment_rows(96, 1))),
        eval=str(tiny.write_csv(tmp / "fewshot-dev.csv", tiny.sentiment_rows(40, 2))),
        out=str(tmp / "fewshot"), base=str(base), shots=8, num_iterations=5, lr=1e-3, max_length=24, logging_steps=1000,
    )
    train_setfit(config)
    return export_run(tmp / "fewshot", out_root / "fewshot", ExportOptions(int8=True, max_drop=100.0, overwrite=True)).out


def build_fill_mask(tmp: Path, base: Path, out_root: Path, epochs: float = 20) -> Path:
    """A fill-mask bundle: masked-LM training of the tiny base on sentences of its vocabulary."""
    from edgeft.config import MlmConfig
    from edgeft.tasks.mlm import train_mlm
    from edgeft_exporters.api import ExportOptions, export_run

    rng = random.Random(0)
    words = tiny.FILLER + tiny.EXTRA[:8] + tiny.POSITIVE + tiny.NEGATIVE
    corpus = tmp / "fillmask-corpus.txt"
    corpus.write_text("".join(" ".join(rng.choice(words) for _ in range(rng.randint(5, 25))) + "\n" for _ in range(160)), encoding="utf-8")
    config = MlmConfig(
        corpus=[str(corpus)], out=str(tmp / "fillmask"), base=str(base), max_length=24, epochs=epochs, batch_size=16,
        lr=3e-3, logging_steps=1000, head_warmup_steps=3,
    )
    config.validate()
    train_mlm(config)
    return export_run(tmp / "fillmask", out_root / "fillmask", ExportOptions(int8=True, max_drop=100.0, overwrite=True)).out


def build_embedder(tmp: Path, base: Path, out_root: Path) -> Path:
    """An embedding bundle: unsupervised SimCSE of the tiny base on the sentiment texts."""
    from edgeft.config import EmbeddingConfig
    from edgeft.tasks.embedding import train_embedding
    from edgeft_exporters.api import ExportOptions, export_run

    corpus = tiny.write_csv(tmp / "embedder-texts.csv", tiny.sentiment_rows(160, 3))
    config = EmbeddingConfig(corpus=[str(corpus)], out=str(tmp / "embedder"), base=str(base), max_length=24, batch_size=16, lr=1e-3, logging_steps=1000)
    train_embedding(config)
    return export_run(tmp / "embedder", out_root / "embedder", ExportOptions(int8=True, max_drop=100.0, overwrite=True)).out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Regenerate the runtime's tiny test bundles.")
    parser.add_argument("out", nargs="?", type=Path, default=FIXTURES)
    parser.add_argument("--only", nargs="+", choices=NAMES, default=list(NAMES))
    args = parser.parse_args()
    for name, path in build(args.out, only=tuple(args.only)).items():
        print(f"wrote {path}")
