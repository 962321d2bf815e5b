"""``--search-backend ray``: the hyperparameter search's trials as Ray Tune trials, for clusters.

The same search as the local one (edgeft/tasks/search.py): Optuna's TPE sampler over the same
``search_*`` ranges (Ray Tune's ``OptunaSearch``), a trial behind the median of the others after
an epoch stopped (Ray's ``MedianStoppingRule``, the rule of Optuna's median pruner), every
finished trial a line of ``search.jsonl``, the best one kept as the run. What Ray adds: trials run
where the cluster has room (``ray.init()`` joins ``RAY_ADDRESS`` when it is set, else starts a
local Ray), several at once, one GPU each where the cluster has GPUs.

Each trial trains in its own trial folder and hands its run folder back as a Ray checkpoint, so
the best trial's files reach this process whichever node trained it; on a cluster of several
nodes that needs storage every node reaches (Ray's rule): the run's output folder on a shared
file system. ``--resume`` restores the interrupted Tune experiment: finished trials are kept,
unfinished ones start again. Trials running at once make the order of proposals, and so the
result, depend on timing: the local backend is the reproducible one.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..config import TrainConfig
from ..errors import ConfigError

if TYPE_CHECKING:
    from . import TaskSpec

log = logging.getLogger(__name__)

EXPERIMENT = "search-ray"
# The key a finished trial's last report carries: a trial without it was stopped or failed.
FINISHED = "edgeft_finished"


def report_epoch(metric: str) -> Callable[[int, float], bool]:
    def report(epoch: int, value: float) -> bool:
        from ray import tune

        tune.report({metric: value, "epoch": epoch})  # Ray stops the trial inside this call when its scheduler says so
        return False

    return report


def run_trial(params: dict[str, Any], *, task: str, config: TrainConfig, metric: str) -> None:
    """One trial, in a Ray worker: train, report each epoch, hand the run folder back at the end."""
    from ray import tune

    from . import get_task
    from .search import reporting, trial_config

    folder = Path(tune.get_context().get_trial_dir()) / "run"
    with reporting(metric, report_epoch(metric)):
        result = get_task(task).train(trial_config(config, params, folder), overwrite=True)
    # After every epoch's report, so that the stopping rule never compares it with an epoch's.
    last = {metric: float(result.metrics[metric]), FINISHED: 1, "epoch": round(float(params.get("epochs", config.epochs))) + 1}
    tune.report(last, checkpoint=tune.Checkpoint.from_directory(str(folder)))


def trial_resources(config: TrainConfig) -> dict[str, float]:
    """What each trial asks of the cluster: one GPU where it has GPUs, else ``search_trial_cpus`` CPUs."""
    import ray

    if config.device != "cpu" and ray.cluster_resources().get("GPU", 0) >= 1:
        return {"cpu": 1, "gpu": 1}
    return {"cpu": config.search_trial_cpus}


def progress_callback(config: TrainConfig, metric: str) -> Any:
    """A Ray Tune callback in this process: one progress line per ended trial."""
    from ray.tune import Callback

    from .search import describe

    class Progress(Callback):
        ended = 0

        def on_trial_complete(self, iteration, trials, trial, **info):
            self.ended += 1
            last = trial.last_result or {}
            state = f"{metric} {last[metric]:.4f}" if last.get(FINISHED) else "stopped early"
            log.info("trial %d/%d: %s -> %s", self.ended, config.search_trials, describe(trial.config), state)

        def on_trial_error(self, iteration, trials, trial, **info):
            self.ended += 1
            log.info("trial %d/%d: %s -> failed (its log: %s)", self.ended, config.search_trials, describe(trial.config), trial.local_path)

    return Progress()


def creation_order(result: Any) -> tuple[int, str]:
    """Ray names a trial's folder ``<trainable>_<id>_<N>_<params>...``: N counts the trials from 1."""
    import re

    found = re.match(r"[^_]+(?:_[^_]+)*?_[0-9a-f]{8}_(\d+)_", Path(result.path).name)
    return (int(found.group(1)) if found else 0, Path(result.path).name)


def records_from(grid: Any, metric: str) -> list[dict[str, Any]]:
    """Every trial of the experiment as a ``search.jsonl`` record, in the order Ray created them."""
    results = sorted(grid, key=creation_order)
    records = []
    for number, r in enumerate(results, start=1):
        finished = r.error is None and bool(r.metrics.get(FINISHED))
        records.append({
            "trial": number, "params": dict(r.config), "value": r.metrics.get(metric), "metric": metric,
            "state": "FAIL" if r.error is not None else ("COMPLETE" if finished else "PRUNED"),
            "intermediate": epoch_history(r.metrics_dataframe, metric),
            "seconds": round(float(r.metrics.get("time_total_s", 0.0)), 1),
            "checkpoint": r.checkpoint.path if finished and r.checkpoint is not None else None,
        })
    return records


def epoch_history(frame: Any, metric: str) -> dict[str, float]:
    """The metric after each epoch (the trial's last report, with the run folder, is not an epoch's)."""
    if frame is None or metric not in frame or "epoch" not in frame:
        return {}
    if FINISHED in frame:
        frame = frame[frame[FINISHED].isna()]
    return {str(int(e)): float(v) for e, v in zip(frame["epoch"], frame[metric]) if v == v}


def search_on_ray(spec: TaskSpec, config: TrainConfig, space: dict[str, Any], metric: str, work: Path, resume: bool) -> list[dict[str, Any]]:
    """Run the trials on Ray; every trial's record (a finished one names its run folder: "checkpoint")."""
    import functools
    import warnings

    import optuna
    import ray
    from ray import tune
    from ray.tune.schedulers import MedianStoppingRule
    from ray.tune.search.optuna import OptunaSearch

    from .search import STARTUP_TRIALS, TRIALS_FILE

    # The data's errors once, here and in one line, before any worker starts (they would fail every trial).
    recipe = spec.recipe(config)
    recipe.check(resume=False)
    recipe.load_data()
    if not ray.is_initialized():
        ray.init(include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    storage = (work / EXPERIMENT).resolve()
    trainable = tune.with_resources(functools.partial(run_trial, task=spec.name, config=config, metric=metric), trial_resources(config))
    run_config = tune.RunConfig(name="trials", storage_path=str(storage), verbose=0, callbacks=[progress_callback(config, metric)])
    # OptunaSearch reports a trial's last result at its last step once more; Optuna warns and ignores it.
    warnings.filterwarnings("ignore", message="The reported value is ignored because this `step")
    if resume and tune.Tuner.can_restore(storage / "trials"):
        log.info("--resume: restoring the interrupted Ray Tune search (finished trials are kept)")
        tuner = tune.Tuner.restore(str(storage / "trials"), trainable=trainable, resume_errored=True)
    else:
        tune_config = tune.TuneConfig(
            search_alg=OptunaSearch(space, metric=metric, mode="max", seed=config.seed),
            scheduler=MedianStoppingRule(time_attr="epoch", metric=metric, mode="max", grace_period=1, min_samples_required=STARTUP_TRIALS),
            num_samples=config.search_trials,
        )
        tuner = tune.Tuner(trainable, tune_config=tune_config, run_config=run_config)
    grid = tuner.fit()
    if grid.num_terminated + grid.num_errors < config.search_trials:
        # Ray Tune ends fit() quietly on Ctrl+C / SIGTERM, with its state saved: stop as the local search does.
        raise KeyboardInterrupt
    records = records_from(grid, metric)
    if not any(r["state"] == "COMPLETE" for r in records):
        errors = [r.error for r in grid if r.error is not None]
        why = f"the first failure: {str(errors[0]).strip().splitlines()[-1]}" if errors else "every trial was stopped early"
        raise ConfigError(f"--search-backend ray: no trial finished ({len(records)} ran); {why}")
    write_records(work / TRIALS_FILE, records)
    return records


def write_records(path: Path, records: list[dict[str, Any]]) -> None:
    import json

    path.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "checkpoint"}) + "\n" for r in records), encoding="utf-8")
