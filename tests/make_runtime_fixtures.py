"""Regenerate the tiny bundles that runtime/tests use (the runtime's tests cannot train or export).

    python -m tests.make_runtime_fixtures            # writes runtime/tests/fixtures/

Three bundles from tiny random BERTs trained for a few seconds: a single-label sentiment
classifier, a multi-label topic classifier, a NER tagger (PER, LOC) and a SetFit sentiment model (with
embeddings). tests/test_runtime_fixtures.py checks that this
script still produces bundles the runtime accepts.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tests import tiny  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1] / "runtime" / "tests" / "fixtures"


def build(out_root: Path, epochs: float = 30) -> dict[str, Path]:
    """Train and export every fixture bundle into ``out_root`` (epochs: shorter for smoke tests)."""
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
            train = tiny.write_csv(tmp / f"{name}-train.csv", train_rows)
            dev = tiny.write_csv(tmp / f"{name}-dev.csv", dev_rows)
            config = ClassifierConfig(
                train=str(train), eval=str(dev), out=str(tmp / name), base=str(base), epochs=epochs, lr=1e-2, warmup_ratio=0.0,
                batch_size=16, max_length=24, early_stopping_patience=0, multi_label=multi, logging_steps=1000,
            )
            train_classifier(config)
            made[name] = export_run(tmp / name, out_root / name, ExportOptions(int8=True, max_drop=100.0, overwrite=True)).out
        made["entities"] = build_ner(base, tmp, out_root, epochs=min(epochs, 20))
        made["fewshot"] = build_setfit(tmp, base, out_root)
    return made


def build_ner(base: Path, tmp: Path, out_root: Path, epochs: float = 20) -> Path:
    """A NER bundle (PER, LOC) with windows of 12 tokens, so the runtime's tests exercise the stride."""
    from edgeft.config import NerConfig
    from edgeft.tasks.ner import train_ner
    from edgeft_exporters.api import ExportOptions, export_run

    train = tiny.write_conll(tmp / "ner-train.conll", tiny.ner_sentences(120, 1))
    dev = tiny.write_conll(tmp / "ner-dev.conll", tiny.ner_sentences(30, 2))
    config = NerConfig(
        train=str(train), eval=str(dev), out=str(tmp / "entities"), base=str(base), epochs=epochs, lr=1e-2, warmup_ratio=0.0,
        batch_size=16, max_length=12, stride=3, early_stopping_patience=0, logging_steps=1000,
    )
    train_ner(config)
    return export_run(tmp / "entities", out_root / "entities", ExportOptions(int8=True, max_drop=100.0, overwrite=True)).out


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


if __name__ == "__main__":
    for name, path in build(Path(sys.argv[1]) if len(sys.argv) > 1 else FIXTURES).items():
        print(f"wrote {path}")
