"""The reliability suite's fixtures: a real int8 bundle fine-tuned from the offline MiniLM on the
demo data (built once per session), tiny bundles with a reference set where a case needs no real
weights, and the `N cases, N clean` line at the end of the run."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "demo"
RUNTIME_FIXTURES = ROOT / "runtime" / "tests" / "fixtures"
HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def demo_bundle(tmp_path_factory) -> Path:
    """`make demo`'s pipeline, kept small: one epoch on examples/demo, int8 through the parity gate."""
    from edgeft.config import ClassifierConfig
    from edgeft.tasks.classifier import train_classifier
    from edgeft_exporters.api import ExportOptions, export_run

    folder = tmp_path_factory.mktemp("demo")
    # Development only: a folder with run/ and bundle/ built as below, to skip the training.
    prebuilt = os.environ.get("EDGEFT_RELIABILITY_DEMO")
    if prebuilt:
        shutil.copytree(Path(prebuilt) / "run", folder / "run")
        return Path(shutil.copytree(Path(prebuilt) / "bundle", folder / "bundle"))
    config = ClassifierConfig(
        train=str(DEMO / "train.csv"), eval=str(DEMO / "dev.csv"), out=str(folder / "run"),
        epochs=1, batch_size=16, max_length=64, logging_steps=1000,
    )
    train_classifier(config)
    export_run(folder / "run", folder / "bundle", ExportOptions(int8=True))
    return folder / "bundle"


def copy_bundle(source: Path, target: Path) -> Path:
    return Path(shutil.copytree(source, target))


def rehash(bundle: Path, *names: str) -> None:
    """Make the manifest's sha256 and size of ``names`` match the files again (a deliberate edit)."""
    path = bundle / "edgeft.json"
    manifest = json.loads(path.read_text())
    for name in names:
        data = (bundle / name).read_bytes()
        manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    path.write_text(json.dumps(manifest, indent=2))


def edit_manifest(bundle: Path, change: Any) -> None:
    path = bundle / "edgeft.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest, indent=2))


def with_reference(bundle: Path, texts: list[str]) -> Path:
    """Give a tiny committed bundle a reference set: its own fp32 answers, the decided labels as
    gold (enough for `check` to run end to end without a training)."""
    import edgeft_runtime
    from edgeft_runtime.reference import observe, reference_files, save_reference

    model = edgeft_runtime.load(bundle, variant="fp32")
    observed = observe(model, texts)
    entry = save_reference(bundle, model.task, texts, observed["labels"].tolist(), observed, {"data": "itself", "metric": "accuracy", "max_drop": 1.0})
    edit_manifest(bundle, lambda m: m.update(reference=entry))
    rehash(bundle, *reference_files(entry))
    return bundle


@pytest.fixture(scope="session")
def tiny_checked_bundle(tmp_path_factory) -> Path:
    """The committed tiny sentiment bundle with a reference set (read-only: copy it to damage it)."""
    bundle = copy_bundle(RUNTIME_FIXTURES / "sentiment", tmp_path_factory.mktemp("tiny-checked") / "sentiment")
    return with_reference(bundle, [f"{w} film {i}" for i in range(8) for w in ("good", "bad")])


_outcomes: dict[str, str] = {}  # test id -> "clean", "bad", "gap" (a known gap, not run) or "skipped"


def pytest_runtest_logreport(report: Any) -> None:
    if "tests/reliability/" not in report.nodeid.replace("\\", "/") and not report.nodeid.startswith("reliability/"):
        return
    if report.failed:
        _outcomes[report.nodeid] = "bad"
    elif report.skipped and report.nodeid not in _outcomes:
        _outcomes[report.nodeid] = "gap" if hasattr(report, "wasxfail") else "skipped"
    elif report.when == "call" and report.passed and _outcomes.get(report.nodeid) != "bad":
        _outcomes[report.nodeid] = "clean"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    counted = [v for v in _outcomes.values() if v != "skipped"]
    if counted:
        clean, gaps, skipped = counted.count("clean"), counted.count("gap"), list(_outcomes.values()).count("skipped")
        extra = "".join([f"; {gaps} known gaps (test_option_values.KNOWN_GAPS, not run)" if gaps else "", f"; {skipped} skipped" if skipped else ""])
        terminalreporter.write_line(f"reliability: {len(counted)} cases, {clean} clean{extra}")
