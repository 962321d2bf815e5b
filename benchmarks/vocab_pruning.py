"""Is pruning the vocabulary to a domain's tokens worth it? Measured on the SST-2 runs of
benchmarks/distill.py: prune each run's WordPiece vocabulary to the tokens of the SST-2
training texts (plus every one-character piece, or without them), then compare the pruned and
the original model on SST-2 dev in PyTorch (accuracy, label agreement, share of dev texts whose
tokens change), and export the pruned run to int8 for its size and int8 accuracy.

    python benchmarks/vocab_pruning.py [--runs teacher l3-s1 l2-s1]

Writes benchmarks/results/vocab_pruning.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from shared_data import ROOT  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def scores_of(run_dir: Path):
    """(texts, metric, predictions, outputs) of a run's PyTorch model on its own eval data, as the export gate computes them."""
    from edgeft_exporters.run_folder import read_run, read_run_eval
    from edgeft_exporters.tasks import exporter_for

    task = exporter_for(read_run(run_dir), run_dir)
    texts, gold = task.parse_examples(read_run_eval(run_dir), "eval")
    forward, _ = task.reference()
    out = forward(texts)
    return texts, task.score(out, gold)[task.metric_name], task.predictions(out)


def changed_texts(original: Path, pruned: Path, texts: list[str]) -> float:
    """Share of texts whose token sequence changes under the pruned vocabulary."""
    from tokenizers import Tokenizer

    a, b = Tokenizer.from_file(str(original / "tokenizer.json")), Tokenizer.from_file(str(pruned / "tokenizer.json"))
    for t in (a, b):
        t.no_padding()
    changed = sum(x.tokens != y.tokens for x, y in zip(a.encode_batch(texts), b.encode_batch(texts)))
    return changed / len(texts)


def main() -> None:
    import csv

    import numpy as np
    import torch
    from edgeft_exporters.api import ExportOptions, export_run

    from edgeft.vocab import prune_run

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", nargs="+", default=["teacher", "l3-s1", "l2-s1"])
    parser.add_argument("--work", type=Path, default=ROOT / "models" / "distill" / "sst2")
    args = parser.parse_args()
    torch.set_num_threads(1)
    corpus = [row[0] for row in list(csv.reader(open(args.work / "data" / "sst2_train.csv", encoding="utf-8")))[1:]]
    results = []
    for name in args.runs:
        run = args.work / name
        texts, metric, preds = scores_of(run)
        original_bundle = run.with_name(run.name + "-int8")
        original_manifest = json.loads((original_bundle / "edgeft.json").read_text())
        for chars in (True, False):
            out = run.with_name(f"{run.name}-pruned{'' if chars else '-nochars'}")
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            kept = prune_run(run, corpus, out, keep_characters=chars)
            _, pruned_metric, pruned_preds = scores_of(out)
            bundle = out.with_name(out.name + "-int8")
            manifest = export_run(out, bundle, ExportOptions(int8=True, overwrite=True)).manifest
            row = {
                "run": name,
                "keep_characters": chars,
                **kept,
                "eval_texts_changed": round(changed_texts(run, out, texts), 4),
                "pytorch_metric": metric,
                "pruned_pytorch_metric": pruned_metric,
                "label_agreement": float(np.mean(np.asarray(preds) == np.asarray(pruned_preds))),
                "int8_metric": original_manifest["parity"]["variants"]["int8"]["metric"],
                "pruned_int8_metric": manifest["parity"]["variants"]["int8"]["metric"],
                "int8_bytes": (original_bundle / "model_int8.onnx").stat().st_size,
                "pruned_int8_bytes": (bundle / "model_int8.onnx").stat().st_size,
            }
            results.append(row)
            print(json.dumps(row), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "vocab_pruning.json").write_text(json.dumps({"corpus": "SST-2 train texts (6920)", "eval": "SST-2 dev (872)", "results": results}, indent=2) + "\n")
    print("| run | kept tokens | dev texts re-tokenised | dev acc PyTorch: original / pruned | agreement | int8: original / pruned | int8 MB: original / pruned |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['run']}{'' if r['keep_characters'] else ' (no character pieces)'} | {r['vocab_after']} of {r['vocab_before']} | {100 * r['eval_texts_changed']:.1f}% | "
            f"{r['pytorch_metric']:.2f} / {r['pruned_pytorch_metric']:.2f} | {100 * r['label_agreement']:.1f}% | {r['int8_metric']:.2f} / {r['pruned_int8_metric']:.2f} | "
            f"{r['int8_bytes'] / 1e6:.1f} / {r['pruned_int8_bytes'] / 1e6:.1f} |"
        )


if __name__ == "__main__":
    main()
