"""``--search-trials N``: a hyperparameter search on the eval data, the best trial kept as the run.

Optuna's TPE sampler proposes the learning rate, batch size, epochs, warm-up and weight decay
within the config's ``search_*`` ranges (an empty range keeps that option as configured); each
trial is an ordinary training run in its own folder inside the output's staging folder
(``.OUT.partial/search-trials/trial-N``). After every epoch's evaluation a trial reports the task's
headline metric, and Optuna's median pruner stops a trial that is behind the median of the
earlier trials at the same epoch (tasks whose Trainer does not evaluate per epoch, SetFit, run
every trial to the end). Only the best finished trial's folder is kept while the search runs.

Every finished trial is appended to ``search.jsonl`` (its settings, metric, state and seconds) as
it ends, so ``--resume`` replays the finished trials into a new study and runs only the rest
(the trial that was interrupted starts again). At the end the best trial's files become the run,
``search.jsonl`` stays beside them, and ``metrics.json`` / ``edgeft_run.json`` carry a summary.

The metric that chooses is the one the run reports: choosing on the eval data makes the kept
run's eval score optimistic; hold out a test set to measure it (docs/training.md).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from edgeft_exporters.run_folder import RUN_FILE, read_run_metrics, record_choice
from edgeft_exporters.staging import StagedDir

from ..config import TrainConfig
from ..errors import ConfigError, DataError
from .common import EXTRA_CALLBACKS, TrainResult
from .search_ray import EXPERIMENT as RAY_EXPERIMENT
from .search_ray import search_on_ray

if TYPE_CHECKING:
    from . import TaskSpec

log = logging.getLogger(__name__)

TRIALS_DIR = "search-trials"
TRIALS_FILE = "search.jsonl"
# Trials that always run to the end, so the pruner has a median to compare with.
STARTUP_TRIALS = 2


def distributions(config: TrainConfig) -> dict[str, Any]:
    """The searched options and their Optuna distributions, from the config's ``search_*`` ranges."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    space: dict[str, Any] = {}
    if config.search_lr:
        space["lr"] = FloatDistribution(*config.search_lr, log=True)
    if config.search_batch_size:
        space["batch_size"] = CategoricalDistribution(sorted(config.search_batch_size))
    if config.search_epochs:
        space["epochs"] = IntDistribution(*config.search_epochs)
    if config.search_warmup_ratio:
        space["warmup_ratio"] = FloatDistribution(*config.search_warmup_ratio)
    if config.search_weight_decay:
        space["weight_decay"] = FloatDistribution(*config.search_weight_decay)
    return {k: v for k, v in space.items() if k not in config.not_applicable}


def trial_config(config: TrainConfig, params: dict[str, Any], folder: Path) -> TrainConfig:
    """The config of one trial: the searched values, one run, its own folder."""
    values = {k: float(v) if k == "epochs" else v for k, v in params.items()}
    return dataclasses.replace(config, **values, search_trials=0, seeds=[], out=str(folder))


def epoch_callback(metric: str, on_epoch: Callable[[int, float], bool]) -> Any:
    """A Trainer callback calling ``on_epoch(epoch, value)`` once per epoch's evaluation; training
    stops when it returns True. The trial's reporting, for either backend."""
    from transformers import TrainerCallback

    class EpochMetric(TrainerCallback):
        def __init__(self) -> None:
            self.stopped = False
            self.reported: set[int] = set()

        def on_evaluate(self, args, state, control, metrics=None, **kwargs):
            value = (metrics or {}).get(f"eval_{metric}")
            epoch = round(state.epoch or 0)
            if value is None or epoch in self.reported:  # the closing evaluate() repeats the last epoch
                return
            self.reported.add(epoch)
            if on_epoch(epoch, float(value)):
                self.stopped = control.should_training_stop = True

    return EpochMetric()


@contextlib.contextmanager
def reporting(metric: str, on_epoch: Callable[[int, float], bool]) -> Iterator[Any]:
    """Every Trainer built inside the block calls ``on_epoch`` after each epoch (see epoch_callback)."""
    callback = epoch_callback(metric, on_epoch)
    token = EXTRA_CALLBACKS.set((*EXTRA_CALLBACKS.get(), callback))
    try:
        yield callback
    finally:
        EXTRA_CALLBACKS.reset(token)


def pruning(trial: Any, metric: str) -> contextlib.AbstractContextManager[Any]:
    """Report to the Optuna ``trial`` after each epoch; stop when its pruner says so."""

    def report(epoch: int, value: float) -> bool:
        trial.report(value, step=epoch)
        return bool(trial.should_prune())

    return reporting(metric, report)


def make_pruner() -> Any:
    """Stop a trial whose metric after an epoch is below the median of the earlier trials' there."""
    import optuna

    return optuna.pruners.MedianPruner(n_startup_trials=STARTUP_TRIALS, n_warmup_steps=0)


def read_trials(path: Path) -> list[dict[str, Any]]:
    """The finished trials of an interrupted search (``search.jsonl``); DataError naming a bad line."""
    if not path.is_file():
        return []
    records = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or not {"trial", "params", "value", "state"} <= record.keys():
                raise ValueError("not a trial record")
        except ValueError as e:
            raise DataError(f"{path}:{n}: {e}; start without --resume (or delete {path.parent})") from None
        records.append(record)
    return records


def replay(study: Any, records: list[dict[str, Any]], space: dict[str, Any]) -> None:
    """Add the finished trials of an interrupted search to a new study."""
    import optuna

    for r in records:
        state = optuna.trial.TrialState[r["state"]]
        intermediate = {int(k): v for k, v in r.get("intermediate", {}).items()}
        value = r["value"] if state == optuna.trial.TrialState.COMPLETE else None
        study.add_trial(optuna.trial.create_trial(params=r["params"], distributions=space, value=value, state=state, intermediate_values=intermediate))


def best_of(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    finished = [r for r in records if r["state"] == "COMPLETE"]
    return max(finished, key=lambda r: r["value"]) if finished else None


def run_trial(spec: TaskSpec, config: TrainConfig, study: Any, space: dict[str, Any], number: int, folder: Path, metric: str, **kwargs: Any) -> dict[str, Any]:
    """Ask the study for settings, train them in ``folder``, tell the study; the trial's record."""
    import optuna

    trial = study.ask(space)
    started = time.perf_counter()
    with pruning(trial, metric) as callback:
        result = spec.train(trial_config(config, trial.params, folder), overwrite=True, **kwargs)
    value = float(result.metrics[metric])
    state = optuna.trial.TrialState.PRUNED if callback.stopped else optuna.trial.TrialState.COMPLETE
    study.tell(trial, value if state == optuna.trial.TrialState.COMPLETE else None, state=state)
    frozen = study.trials[-1]
    return {
        "trial": number, "params": trial.params, "value": value, "metric": metric, "state": state.name,
        "intermediate": {str(k): v for k, v in frozen.intermediate_values.items()}, "seconds": round(time.perf_counter() - started, 1),
    }


def describe(params: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in params.items())


def require_libraries(backend: str) -> None:
    """ConfigError naming the extra to install when the backend's libraries are missing."""
    import importlib.util

    if importlib.util.find_spec("optuna") is None:
        raise ConfigError("--search-trials needs Optuna: pip install 'edgeft[search]'")
    if backend == "ray" and importlib.util.find_spec("ray") is None:
        raise ConfigError("--search-backend ray needs Ray Tune: pip install 'edgeft[search,ray]'")
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


def search(spec: TaskSpec, config: TrainConfig, *, overwrite: bool = False, resume: bool = False, **kwargs: Any) -> TrainResult:
    """Train up to ``config.search_trials`` trials of ``spec``; write the best to ``config.out``."""
    if spec.headline is None:
        raise ConfigError(f"--search-trials is not supported for {spec.name} runs (they report no metric to maximise)")
    require_libraries(config.search_backend)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ConfigError("--search-trials runs in one process (each of torchrun's would search on its own); search on one, then train the best config with torchrun")
    config.require_io()
    space = distributions(config)
    if not space:
        raise ConfigError("--search-trials: every search_* range is empty, so there is nothing to search; set one, e.g. --set search_lr=1e-5,1e-4")
    metric = spec.headline(config)
    started = time.perf_counter()
    stage = StagedDir(config.out, overwrite=overwrite, keep_partial=True, resume=resume)
    stage.check()
    with stage as work:
        if config.search_backend == "ray":
            records, scratch = search_on_ray(spec, config, space, metric, work, resume), work / RAY_EXPERIMENT
        else:
            records, scratch = search_here(spec, config, space, metric, work, resume, **kwargs), work / TRIALS_DIR
        best = best_of(records)
        if best is None:
            raise ConfigError(f"--search-trials: every one of {len(records)} trials was pruned; search again with more trials")
        best_folder = Path(best["checkpoint"]) if best.get("checkpoint") else scratch / f"trial-{best['trial']}"
        metrics = finish(work, best_folder, scratch, config, records, best, metric)
        stage.commit()
    return TrainResult(Path(config.out), metrics, time.perf_counter() - started)


def search_here(spec: TaskSpec, config: TrainConfig, space: dict[str, Any], metric: str, work: Path, resume: bool, **kwargs: Any) -> list[dict[str, Any]]:
    """The trials one after another in this process (Optuna's ask/tell); every trial's record."""
    import optuna

    trials_file, folder = work / TRIALS_FILE, work / TRIALS_DIR
    records = read_trials(trials_file) if resume else []
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=config.seed), pruner=make_pruner())
    replay(study, records, space)
    if records:
        log.info("--resume: %d of %d trials kept from the interrupted search", len(records), config.search_trials)
    for number in range(len(records) + 1, config.search_trials + 1):
        shutil.rmtree(folder / f"trial-{number}", ignore_errors=True)
        record = run_trial(spec, config, study, space, number, folder / f"trial-{number}", metric, **kwargs)
        records.append(record)
        with open(trials_file, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        best = best_of(records)
        keep_only(folder, best["trial"] if best else None)
        log.info(
            "trial %d/%d: %s -> %s %.4f%s in %.0f s (best so far: %s)", number, config.search_trials, describe(record["params"]),
            metric, record["value"], " (pruned)" if record["state"] == "PRUNED" else "", record["seconds"],
            f"trial {best['trial']}, {best['value']:.4f}" if best else "none finished",
        )
    return records


def keep_only(folder: Path, best: int | None) -> None:
    """Delete every trial folder but the best finished one (a run folder each: disk adds up)."""
    if not folder.is_dir():
        return
    for trial in folder.iterdir():
        if trial.name != f"trial-{best}":
            shutil.rmtree(trial, ignore_errors=True)


def finish(work: Path, best_folder: Path, scratch: Path, config: TrainConfig, records: list[dict[str, Any]], best: dict[str, Any], metric: str) -> dict[str, Any]:
    """Move the best trial's files into the run folder, drop the other trials (``scratch``), record the search."""
    if not (best_folder / RUN_FILE).is_file():
        raise DataError(f"{best_folder}: the best trial's run folder is missing; start the search again without --resume")
    for item in best_folder.iterdir():
        os.replace(item, work / item.name)
    shutil.rmtree(scratch)
    summary = {
        "metric": metric, "trials": len(records), "pruned": sum(r["state"] == "PRUNED" for r in records),
        "best_trial": best["trial"], "best_value": best["value"], "best_params": best["params"],
        "space": {k: getattr(config, f"search_{k}") for k in best["params"]}, "trials_file": TRIALS_FILE,
    }
    metrics = {**(read_run_metrics(work) or {}), "search": summary}
    # The saved config is the best trial's: `--config train_config.json` trains it again (no search).
    record_choice(work, "search", summary, metrics, trial_config(config, best["params"], Path(config.out or "")).to_dict())
    return metrics
