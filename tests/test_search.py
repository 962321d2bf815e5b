"""--search-trials: a hyperparameter search with Optuna on tiny in-process models."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from edgeft.cli import app
from edgeft.config import ClassifierConfig, MlmConfig
from edgeft.config_loader import build_config
from edgeft.errors import ConfigError
from tests.conftest import assert_one_error_line

pytest.importorskip("optuna")

runner = CliRunner()
QUIET = ["--set", "early_stopping_patience=0", "--set", "logging_steps=1000"]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def search_args(tiny_base, files, out, trials=4, *extra):
    return [
        "train", "classifier", "--train", files["train"], "--eval", files["dev"], "--out", out, "--base", tiny_base,
        "--max-length", 32, "--search-trials", trials, "--set", "search_lr=1e-4,1e-2", "--set", "search_epochs=1,3", *QUIET, *extra,
    ]


def test_search_keeps_the_best_trial_and_records_every_one(tmp_path, tiny_base, sentiment_files):
    out = tmp_path / "searched"
    result = invoke(*search_args(tiny_base, sentiment_files, out))
    assert result.exit_code == 0, result.output
    trials = [json.loads(line) for line in (out / "search.jsonl").read_text().splitlines()]
    assert [t["trial"] for t in trials] == [1, 2, 3, 4]
    for t in trials:
        assert 1e-4 <= t["params"]["lr"] <= 1e-2 and 1 <= t["params"]["epochs"] <= 3
        assert t["params"]["batch_size"] in (8, 16, 32) and 0 <= t["params"]["warmup_ratio"] <= 0.2
        assert t["state"] in ("COMPLETE", "PRUNED") and t["metric"] == "accuracy"
    finished = [t for t in trials if t["state"] == "COMPLETE"]
    best = max(finished, key=lambda t: t["value"])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["search"]["best_trial"] == best["trial"] and metrics["accuracy"] == pytest.approx(best["value"])
    run = json.loads((out / "edgeft_run.json").read_text())
    assert run["search"]["best_params"] == best["params"] and run["search"]["trials"] == 4
    # The saved config is the best trial's, without the search: --config trains it again.
    saved = json.loads((out / "train_config.json").read_text())
    assert saved["search_trials"] == 0 and saved["lr"] == pytest.approx(best["params"]["lr"])
    assert saved["epochs"] == best["params"]["epochs"]
    assert not (out / "search-trials").exists() and not list(tmp_path.glob(".*partial"))
    assert (out / "model.safetensors").is_file() or (out / "pytorch_model.bin").is_file()


def test_a_pruned_trial_stops_after_its_first_evaluation(tmp_path, tiny_base, sentiment_files, monkeypatch):
    """The pruner's verdict stops the trial's Trainer; the trial is recorded as pruned and never kept."""
    import optuna

    from edgeft.tasks import search as search_module

    class PruneFromTheThird(optuna.pruners.BasePruner):
        def prune(self, study, trial):
            return trial.number >= 2

    monkeypatch.setattr(search_module, "make_pruner", PruneFromTheThird)
    out = tmp_path / "pruned"
    result = invoke(*search_args(tiny_base, sentiment_files, out, 4, "--epochs", 3, "--set", "search_epochs="))
    assert result.exit_code == 0, result.output
    trials = [json.loads(line) for line in (out / "search.jsonl").read_text().splitlines()]
    assert [t["state"] for t in trials] == ["COMPLETE", "COMPLETE", "PRUNED", "PRUNED"]
    assert [list(t["intermediate"]) for t in trials] == [["1", "2", "3"], ["1", "2", "3"], ["1"], ["1"]]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["search"]["pruned"] == 2 and metrics["search"]["best_trial"] in (1, 2)
    assert "(pruned)" in result.output or "pruned" in (out / "search.jsonl").read_text()


def test_resume_replays_finished_trials(tmp_path, tiny_base, sentiment_files, monkeypatch):
    from edgeft.tasks import search as search_module

    out = tmp_path / "resumed"
    calls = []
    original = search_module.run_trial

    def stop_at_third(*args, **kwargs):
        number = args[4]
        calls.append(number)
        if number == 3:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(search_module, "run_trial", stop_at_third)
    result = invoke(*search_args(tiny_base, sentiment_files, out))
    assert result.exit_code != 0 and not out.exists()
    partial = tmp_path / ".resumed.partial"
    first = [json.loads(line) for line in (partial / "search.jsonl").read_text().splitlines()]
    assert [t["trial"] for t in first] == [1, 2]

    calls.clear()
    monkeypatch.setattr(search_module, "run_trial", original)
    seen = []
    monkeypatch.setattr(search_module, "run_trial", lambda *a, **k: seen.append(a[4]) or original(*a, **k))
    result = invoke(*search_args(tiny_base, sentiment_files, out), "--resume")
    assert result.exit_code == 0, result.output
    assert seen == [3, 4]  # trials 1 and 2 were kept, not trained again
    trials = [json.loads(line) for line in (out / "search.jsonl").read_text().splitlines()]
    assert trials[:2] == first and [t["trial"] for t in trials] == [1, 2, 3, 4]


def test_search_options_are_checked_where_they_are_given(tmp_path):
    with pytest.raises(ConfigError, match="search_lr"):
        build_config(ClassifierConfig, overrides=["search_lr=1e-3,1e-5"])
    with pytest.raises(ConfigError, match="search_trials"):
        ClassifierConfig(search_trials=-1)
    with pytest.raises(ConfigError, match="do not combine"):
        ClassifierConfig(search_trials=3, seeds=[1, 2])
    assert build_config(ClassifierConfig, overrides=["search_batch_size=4,8"]).search_batch_size == [4, 8]
    assert build_config(ClassifierConfig, overrides=["search_lr="]).search_lr == []


def test_search_refusals_are_one_line(tmp_path, tiny_base, sentiment_files):
    # Masked-LM reports no metric to maximise: the search's keys are not among its options.
    result = invoke("train", "mlm", "--corpus", sentiment_files["train"], "--out", tmp_path / "m", "--base", tiny_base, "--set", "search_trials=2")
    assert_one_error_line(result, "search_trials")
    empty = [f"search_{k}=" for k in ("lr", "batch_size", "epochs", "warmup_ratio", "weight_decay")]
    result = invoke(*search_args(tiny_base, sentiment_files, tmp_path / "e", 2), *[x for k in empty for x in ("--set", k)])
    assert_one_error_line(result, "nothing to search")
    assert MlmConfig().search_trials == 0
