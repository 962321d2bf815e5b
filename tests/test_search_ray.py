"""--search-backend ray: the hyperparameter search's trials as Ray Tune trials on a local Ray
(2 CPUs), on tiny in-process models. Most of the time is Ray starting its workers."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from edgeft.cli import app
from tests.conftest import assert_one_error_line

pytest.importorskip("optuna")
pytest.importorskip("ray.tune", reason='Ray Tune is not installed: pip install -c constraints.txt "edgeft[ray]" (make install does)')
pytestmark = pytest.mark.slow

runner = CliRunner()


@pytest.fixture(scope="module")
def local_ray():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=256 * 2**20)
    yield ray
    ray.shutdown()


def search_args(tiny_base, files, out, trials=3):
    return [str(a) for a in (
        "train", "classifier", "--train", files["train"], "--eval", files["dev"], "--out", out, "--base", tiny_base,
        "--max-length", 32, "--search-trials", trials, "--search-backend", "ray", "--set", "search_lr=1e-4,1e-2",
        "--set", "search_epochs=1,2", "--set", "early_stopping_patience=0", "--set", "logging_steps=1000",
    )]


def test_ray_search_keeps_the_best_trial_as_an_ordinary_run(tmp_path, tiny_base, sentiment_files, local_ray):
    out = tmp_path / "searched"
    result = runner.invoke(app, search_args(tiny_base, sentiment_files, out))
    assert result.exit_code == 0, result.output
    trials = [json.loads(line) for line in (out / "search.jsonl").read_text().splitlines()]
    assert [t["trial"] for t in trials] == [1, 2, 3]
    for t in trials:
        assert 1e-4 <= t["params"]["lr"] <= 1e-2 and 1 <= t["params"]["epochs"] <= 2
        assert t["state"] in ("COMPLETE", "PRUNED") and t["metric"] == "accuracy"
        # One report per epoch trained (a stopped trial has fewer than its epochs).
        assert 1 <= len(t["intermediate"]) <= t["params"]["epochs"]
    best = max((t for t in trials if t["state"] == "COMPLETE"), key=lambda t: t["value"])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["accuracy"] == pytest.approx(best["value"]) and metrics["search"]["best_params"] == best["params"]
    saved = json.loads((out / "train_config.json").read_text())
    assert saved["search_trials"] == 0 and saved["lr"] == pytest.approx(best["params"]["lr"])
    # The best trial's run folder came back through its Ray checkpoint; the experiment's files are gone.
    assert (out / "model.safetensors").is_file() and (out / "edgeft_run.json").is_file()
    assert not (out / "search-ray").exists() and not list(tmp_path.glob(".*partial"))


def test_ray_search_refuses_bad_data_in_one_line_before_any_trial(tmp_path, tiny_base, sentiment_files, local_ray):
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\n" + "".join(f"text {i},pos\n" for i in range(20)), encoding="utf-8")  # one class only
    files = {"train": bad, "dev": sentiment_files["dev"]}
    result = runner.invoke(app, search_args(tiny_base, files, tmp_path / "none", trials=1))
    assert result.exit_code != 0
    assert not (tmp_path / "none").exists()
    assert_one_error_line(result, "needs at least two labels")
    assert "Traceback" not in result.output
