"""Shared fixtures: a tiny random BERT, toy data, and one trained run + bundle per session."""

from __future__ import annotations

import os

# Before anything imports huggingface_hub: tests never touch the network.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path

import pytest

from tests import tiny

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory) -> Path:
    return tiny.make_tiny_base(tmp_path_factory.mktemp("tiny") / "base")


@pytest.fixture(scope="session")
def sentiment_files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("sentiment")
    return {
        "train": tiny.write_csv(folder / "train.csv", tiny.sentiment_rows(96, seed=1)),
        "dev": tiny.write_csv(folder / "dev.csv", tiny.sentiment_rows(40, seed=2)),
    }


def train_tiny_classifier(base: Path, train: Path, dev: Path, out: Path, **overrides):
    from edgeft.config import ClassifierConfig
    from edgeft.tasks.classifier import train_classifier

    config = ClassifierConfig(
        train=str(train), eval=str(dev), out=str(out), base=str(base), epochs=8, batch_size=16, lr=3e-3,
        max_length=32, early_stopping_patience=0, logging_steps=1000, **overrides,
    )
    return train_classifier(config)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_base, sentiment_files) -> Path:
    out = tmp_path_factory.mktemp("runs") / "sentiment"
    train_tiny_classifier(tiny_base, sentiment_files["train"], sentiment_files["dev"], out)
    return out


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory, tiny_run) -> Path:
    from edgeft_exporters.api import ExportOptions, export_run

    out = tmp_path_factory.mktemp("bundles") / "sentiment-int8"
    export_run(tiny_run, out, ExportOptions(int8=True, max_drop=100.0))
    return out


@pytest.fixture
def break_variants(monkeypatch):
    """The test hook for a gate or check that must fail while every limit stays in its range:
    ``break_variants("int8")`` makes those variants' graph outputs come back with their last axis
    reversed (the labels' columns swapped), as a broken kernel's might. The tiny models score 100
    on their held-out data, so a broken variant then scores about 0."""
    from edgeft_runtime.base import BundleModel

    real = BundleModel._run
    broken: set[str] = set()

    def run(self, encodings, outputs):
        values = real(self, encodings, outputs)
        return [v[..., ::-1].copy() for v in values] if self.variant in broken else values

    monkeypatch.setattr(BundleModel, "_run", run)
    return lambda *variants: broken.update(variants)


def assert_one_error_line(result, *fragments: str, code: int = 1) -> str:
    """A CLI result (typer.testing) that failed the way every user error must: exit ``code``, no
    traceback, exactly one ``error:`` line, holding each of ``fragments``. Returns that line."""
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


def shared_data(name: str) -> Path:
    """A data set under ../shared/data, or skip the test with the reason."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"real data {path} is absent (it lives beside the project, in ../shared/data)")
    return path


def mix_timed_faster_than_fp32(patch: pytest.MonkeyPatch) -> None:
    """On a tiny BERT every graph runs in about 0.1 ms at batch 1, so whether the mix beats fp32 is
    noise there, and a mix timed no faster than fp32 is refused (CI refused one at 0.16 vs 0.12 ms).
    Tests about which nodes the search keeps in float call this: the real timers still run (one
    short pass) and only the share of the speed-up kept is fixed; the refusal has its own test."""
    from edgeft_exporters import mixed_precision

    measured = mixed_precision.speed_record

    def one_short_pass(timers, texts, **_):
        record = measured(timers, texts, passes=1, runs=2)
        record["speedup_retained"] = 0.5
        return record

    patch.setattr(mixed_precision, "speed_record", one_short_pass)
