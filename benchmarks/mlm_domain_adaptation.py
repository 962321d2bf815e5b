"""Domain-adaptive pretraining on real data: continue pretraining all-MiniLM-L6-v2 with masked-LM
on PubMed abstracts, then fine-tune NER on NCBI-disease from the adapted base and from the
original base with the same budget, over several seeds, and compare test entity F1.

    python benchmarks/mlm_domain_adaptation.py                     # MLM, then NER x 2 bases x 3 seeds
    python benchmarks/mlm_domain_adaptation.py --skip-ner          # the masked-LM stage only
    python benchmarks/mlm_domain_adaptation.py --reuse             # reuse finished runs in --work
    python benchmarks/mlm_domain_adaptation.py --compare-no-warmup --skip-ner   # does the head warm-up help?
    python benchmarks/mlm_domain_adaptation.py --bases original    # NER from the original base only (no masked-LM)

Data (read in place from ../shared/data, never copied): pubmed_abstracts.txt (1500 BC5CDR titles
+ abstracts, disjoint from NCBI-disease) and ncbi_disease/{train,devel,test}.tsv. Perplexity is
exp(mean masked-token cross-entropy) on the held-out 10% of the abstracts, masked once with a fixed
seed so that every perplexity is measured on the same masks. Writes
benchmarks/results/mlm_domain_adaptation.json and prints Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from shared_data import ROOT, require  # noqa: E402

ORIGINAL = "all-MiniLM-L6-v2"


def run_mlm(args, name: str = "pubmed-base", head_warmup_steps: int | None = None) -> tuple[Path, dict]:
    from edgeft.config import MlmConfig
    from edgeft.tasks.mlm import train_mlm

    out = args.work / name
    warmup = args.head_warmup_steps if head_warmup_steps is None else head_warmup_steps
    if args.reuse and (out / "metrics.json").is_file():
        print(f"[mlm] reusing {out}", flush=True)
    else:
        config = MlmConfig(
            corpus=[str(require("pubmed_abstracts.txt"))], out=str(out), base=ORIGINAL, epochs=args.mlm_epochs,
            lr=args.mlm_lr, batch_size=16, max_length=128, head_warmup_steps=warmup,
            whole_word_masking=args.whole_word_masking, seed=42,
        )
        train_mlm(config, overwrite=True)
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    run = json.loads((out / "edgeft_run.json").read_text(encoding="utf-8"))
    config = json.loads((out / "train_config.json").read_text(encoding="utf-8"))
    return out, {
        "config": {k: config[k] for k in ("epochs", "lr", "batch_size", "max_length", "mlm_probability", "whole_word_masking", "head_warmup_steps", "head_warmup_lr")},
        "metrics": metrics,
        "train_seconds": run.get("train_seconds"),
    }


def test_f1(run_dir: Path, test_file: Path) -> float:
    """Test entity F1 (points) of the PyTorch model of an NER run, scored as the export gate scores it."""
    from edgeft.data.ner import read_ner
    from edgeft_exporters.run_folder import read_run
    from edgeft_exporters.tasks.ner import NerExport

    run = read_run(run_dir)
    test = read_ner(test_file, join=run["ner"]["join"]).examples
    task = NerExport(run, run_dir)
    texts, gold = task.parse_examples([ex.to_json() for ex in test], "ncbi_disease test")
    reference, _ = task.reference()
    return float(task.score(reference(texts), gold)[task.metric_name])


def run_ner(base: str, seed: int, args) -> dict:
    from edgeft.config import NerConfig
    from edgeft.tasks.ner import train_ner

    folder = require("ncbi_disease")
    name = "adapted" if base != ORIGINAL else "original"
    out = args.work / f"ner-{name}-seed{seed}"
    if not (args.reuse and (out / "metrics.json").is_file()):
        config = NerConfig(
            train=str(folder / "train.tsv"), eval=str(folder / "devel.tsv"), out=str(out), base=base, epochs=args.ner_epochs,
            batch_size=32, lr=args.ner_lr, max_length=128, seed=seed, early_stopping_patience=0, logging_steps=50,
        )
        started = time.time()
        train_ner(config, overwrite=True)
        print(f"[ner {name} seed {seed}] trained in {time.time() - started:.0f} s", flush=True)
    f1 = test_f1(out, folder / "test.tsv")
    devel = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    print(f"[ner {name} seed {seed}] test entity F1 {f1:.2f}", flush=True)
    run = json.loads((out / "edgeft_run.json").read_text(encoding="utf-8"))
    return {
        "base": name, "seed": seed, "test_entity_f1": round(f1, 2), "devel_entity_f1": round(100 * devel["entity_f1"], 2),
        "train_seconds": run.get("train_seconds"), "torch_threads": run.get("torch_threads"),
    }


def summary(rows: list[dict]) -> dict:
    out = {}
    for name in ("original", "adapted"):
        scores = [r["test_entity_f1"] for r in rows if r["base"] == name]
        if scores:
            out[name] = {
                "mean": round(statistics.mean(scores), 2),
                "stdev": round(statistics.stdev(scores), 2) if len(scores) > 1 else 0.0,
                "runs": scores,
            }
    return out


def tables(result: dict) -> str:
    m = result["mlm"]["metrics"]
    lines = [
        "| held-out perplexity (PubMed, 10% of abstracts) | value |",
        "|---|---|",
        f"| original MiniLM + new untrained head | {m['perplexity_before']:.0f} |",
    ]
    if "perplexity_after_head_warmup" in m:
        lines.append(f"| after {result['mlm']['config']['head_warmup_steps']} head-only steps (encoder frozen) | {m['perplexity_after_head_warmup']:.1f} |")
    lines.append(f"| after masked-LM training ({result['mlm']['config']['epochs']:g} epoch) | {m['perplexity_after']:.1f} |")
    if "mlm_no_warmup" in result:
        lines.append(
            f"| same training without the head warm-up | {result['mlm_no_warmup']['metrics']['perplexity_after']:.1f} |"
        )
    ner = result.get("ner_summary")
    if ner:
        lines += ["", "| base | NCBI-disease test entity F1, mean ± sd | runs |", "|---|---|---|"]
        for name, s in ner.items():
            lines.append(f"| {name} | {s['mean']:.2f} ± {s['stdev']:.2f} | {', '.join(f'{x:.2f}' for x in s['runs'])} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mlm-epochs", type=float, default=0.5)
    parser.add_argument("--mlm-lr", type=float, default=1e-4)
    parser.add_argument("--head-warmup-steps", type=int, default=50)
    parser.add_argument("--whole-word-masking", action="store_true")
    parser.add_argument("--compare-no-warmup", action="store_true", help="also train without the head warm-up (perplexity only)")
    parser.add_argument("--ner-epochs", type=float, default=1.0)
    parser.add_argument("--ner-lr", type=float, default=1e-4)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--skip-ner", action="store_true", help="only the masked-LM stage")
    parser.add_argument(
        "--bases", nargs="+", choices=("original", "adapted"), default=["original", "adapted"],
        help="NER from these bases; without 'adapted' no masked-LM is trained and the results go to mlm_domain_adaptation_original_ner.json",
    )
    parser.add_argument("--reuse", action="store_true", help="reuse finished runs in --work instead of training")
    parser.add_argument("--work", type=Path, default=ROOT / "models" / "bench-mlm")
    args = parser.parse_args()

    if "adapted" not in args.bases:
        rows = [run_ner(ORIGINAL, seed, args) for seed in args.seeds]
        result = {
            "ner": {"config": {"epochs": args.ner_epochs, "lr": args.ner_lr, "batch_size": 32, "max_length": 128, "seeds": args.seeds}, "runs": rows},
            "ner_summary": summary(rows),
            "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "shared": True},
        }
        out = ROOT / "benchmarks" / "results" / "mlm_domain_adaptation_original_ner.json"
        out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(json.dumps(result["ner_summary"], indent=2))
        return
    base_dir, mlm = run_mlm(args)
    result: dict = {"mlm": mlm, "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "shared": True}}
    if args.compare_no_warmup:
        result["mlm_no_warmup"] = run_mlm(args, "pubmed-base-nowarm", head_warmup_steps=0)[1]
    if not args.skip_ner:
        try:
            import edgeft.tasks.ner  # noqa: F401
        except ImportError:
            sys.exit("the NER task (edgeft.tasks.ner) is not on this branch yet; run with --skip-ner")
        bases = [b for name, b in (("original", ORIGINAL), ("adapted", str(base_dir))) if name in args.bases]
        rows = [run_ner(base, seed, args) for seed in args.seeds for base in bases]
        result["ner"] = {
            "config": {"epochs": args.ner_epochs, "lr": args.ner_lr, "batch_size": 32, "max_length": 128, "seeds": args.seeds},
            "runs": rows,
        }
        result["ner_summary"] = summary(rows)
    out_dir = ROOT / "benchmarks" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "mlm_domain_adaptation.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(tables(result))


if __name__ == "__main__":
    main()
