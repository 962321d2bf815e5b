"""A hyperparameter search against the default recipe on a small target set (issue 31 point 4).

    python benchmarks/search_vs_defaults.py [--train-size 160] [--dev-size 300] [--test-size 600]
        [--trials 4] [--search-epochs 1,3] [--search-batch-size 16,32] [--seeds 1,2,3]
        [--max-length 32] [--out benchmarks/results/search_vs_defaults.json]

Data: SST-2 (../shared/data/sst2), subsets drawn once with seed 0: ``--train-size`` labelled
training sentences, ``--dev-size`` dev sentences as the eval data (early stopping, and the trial
the search keeps), ``--test-size`` test sentences that neither sees, for the figures reported.
Per seed, through the CLI as a user runs it (``benchmarks/cli_runs.py``: niced, 2 threads):
``edgeft train classifier`` with its defaults (3 epochs, batch 16, lr 5e-5, warm-up 0.1) and the
same command with ``--search-trials N`` over the default search ranges (epochs capped at
``--search-epochs``, by default 1 to 3: no trial trains longer than the default recipe; batch
sizes ``--search-batch-size``, by default 16 or 32: a CPU-time budget), both from the offline
all-MiniLM-L6-v2. Measured: test accuracy of each kept run (its PyTorch model), dev accuracy,
the cost: optimizer steps and evaluations (from the run's files; load does not move them) and
wall-clock seconds (these moved up to 7x with the other jobs' load: a rough figure only).
Results are rewritten after every run, with machine, load and date. The default runs are the
"plain" rows that benchmarks/transfer_techniques.py's TAPT comparison reuses.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from cli_runs import ROOT, WORK, accuracy, new_result, save, sst2_files, summarise, train


def plain_run(train_size: int, max_length: int, seed: int, timing: bool = False) -> Path:
    """The default recipe's run folder on the SST-2 subset (shared with the TAPT comparison)."""
    return WORK / f"sst2-{train_size}-len{max_length}" / ("timing" if timing else "") / f"plain-s{seed}"


def training_cost(run: Path, train_size: int) -> dict:
    """Optimizer steps and evaluations a run took, from its files: a search's trials from
    search.jsonl (epochs evaluated before it ended or was pruned), a plain run from its config.
    Unlike seconds, these do not move with the other jobs' load on the machine."""
    trials = run / "search.jsonl"
    if trials.exists():
        rows = [json.loads(line) for line in trials.read_text().splitlines() if line.strip()]
        epochs = [(len(r["intermediate"]), r["params"]["batch_size"]) for r in rows]
    else:
        config = json.loads((run / "train_config.json").read_text())
        epochs = [(int(config["epochs"]), int(config["batch_size"]))]
    steps = [n * math.ceil(train_size / batch) for n, batch in epochs]
    return {"steps": sum(steps), "evaluations": sum(n for n, _ in epochs), "steps_per_trial": steps}


def cost_ratios(result: dict) -> None:
    """Per seed: the search's wall clock over the default run's (measured one after the other)."""
    seconds = {(r["seed"], r["row"]): r["seconds"] for r in result["records"]}
    result["cost_ratio_search_to_defaults"] = {
        str(seed): round(seconds[(seed, "search")] / seconds[(seed, "defaults")], 2)
        for seed, row in seconds if row == "defaults" and seconds.get((seed, "search")) and seconds[(seed, "defaults")]
    }
    steps = {(r["seed"], r["row"]): r["cost"]["steps"] for r in result["records"] if "cost" in r}
    result["step_ratio_search_to_defaults"] = {str(seed): round(steps[(seed, "search")] / steps[(seed, "defaults")], 2) for seed, row in steps if row == "defaults" and (seed, "search") in steps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-size", type=int, default=160)
    parser.add_argument("--dev-size", type=int, default=300)
    parser.add_argument("--test-size", type=int, default=600)
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--max-length", type=int, default=32)
    parser.add_argument("--search-epochs", default="1,3", help="the search's epoch range (edgeft's default 1,5; 1,3 keeps each trial within the default recipe's 3 epochs)")
    parser.add_argument("--search-batch-size", default="16,32", help="the search's batch sizes (edgeft's default 8,16,32; 8 doubles a trial's steps)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "search_vs_defaults.json"))
    parser.add_argument("--timing", action="store_true", help="train every run again in its own folder, defaults and search back to back per seed, for their wall-clock ratio on a quiet machine")
    args = parser.parse_args()
    files = sst2_files(args.train_size, args.dev_size, args.test_size)
    seeds = [int(s) for s in args.seeds.split(",")]
    result = new_result(
        "search_vs_defaults", Path(args.out), seeds,
        data=f"SST-2: {args.train_size} labelled train sentences, dev {args.dev_size} (eval: early stopping and the search's choice), test {args.test_size} (reported); subsets drawn with seed 0",
        base="all-MiniLM-L6-v2 (offline)", max_length=args.max_length, trials=args.trials, search_epochs=args.search_epochs, search_batch_size=args.search_batch_size,
        recipe="edgeft train classifier defaults: 3 epochs, batch 16, lr 5e-5, warm-up 0.1, weight decay 0.01, early stopping patience 2",
        search_ranges=f"edgeft's defaults but epochs {args.search_epochs} and batch sizes {args.search_batch_size}: lr 1e-5..1e-4 (log), warm-up 0..0.2, weight decay 0..0.1; median pruning after each epoch (the first two trials run to the end)",
    )
    common = ["--train", str(files["train"]), "--eval", str(files["dev"]), "--max-length", str(args.max_length)]
    for seed in seeds:
        for row in ("defaults", "search"):
            out = plain_run(args.train_size, args.max_length, seed, args.timing) if row == "defaults" else plain_run(args.train_size, args.max_length, seed, args.timing).parent / f"search{args.trials}-e{args.search_epochs.replace(',', '-')}-b{args.search_batch_size.replace(',', '-')}-s{seed}"
            extra = ["--search-trials", str(args.trials), "--set", f"search_epochs={args.search_epochs}", "--set", f"search_batch_size={args.search_batch_size}"] if row == "search" else []
            metrics, seconds = train("classifier", out, *common, "--seed", str(seed), *extra)
            record = {"row": row, "seed": seed, "dev_accuracy": round(100 * metrics["accuracy"], 2), "test_accuracy": accuracy(out, files["test_rows"]), "seconds": seconds, "run": str(out.relative_to(ROOT)), "cost": training_cost(out, args.train_size)}
            if row == "search":
                search = metrics["search"]
                record.update(best_params=search["best_params"], pruned=search["pruned"], trials=search["trials"])
            print(record, flush=True)
            result["records"].append(record)
            summarise(result, "test_accuracy", ("dev_accuracy", "seconds"))
            cost_ratios(result)
            save(result, Path(args.out))
    print(result["summary"])


if __name__ == "__main__":
    main()
