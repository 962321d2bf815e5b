"""Is pruning the vocabulary to a domain's tokens worth it? `edgeft export --int8 --prune-vocab
CORPUS` measured on the distilled runs of benchmarks/distill.py: each run's WordPiece vocabulary
is pruned to the tokens of its own training texts (plus every one-character piece), exported to
int8 through the parity gate (which also scores the unpruned run on the same held-out data), and
compared with the run's ordinary int8 bundle: size, metric, and the share of held-out texts the
pruned vocabulary tokenises differently.

    python benchmarks/vocab_pruning.py --data sst2 [--runs l3-s1 teacher]
    python benchmarks/vocab_pruning.py --data conll2003 [--runs l3-s1] [--corpus ../shared/data/conll2003/train.txt --out ...]

Writes benchmarks/results/vocab_pruning_<data>.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from shared_data import ROOT  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def training_texts(data: str, work: Path, corpus: Path | None) -> tuple[list[str], str]:
    """The texts the runs were trained on (the teacher's training file), or those of ``corpus``
    (a CoNLL file for conll2003), and a name for them."""
    if corpus is not None:
        from edgeft.data.ner import read_ner

        texts = [ex.text for ex in read_ner(corpus).examples]
        return texts, f"{corpus.name} ({len(texts)} sentences)"
    if data == "sst2":
        rows = list(csv.DictReader(open(work / "data" / "sst2_train.csv", encoding="utf-8")))
        return [row["text"] for row in rows], f"SST-2 train texts ({len(rows)})"
    from edgeft.data.ner import read_ner

    train = json.loads((work / "teacher" / "train_config.json").read_text())["train"]
    texts = [ex.text for ex in read_ner(train).examples]
    return texts, f"CoNLL-2003 training sentences of the teacher ({len(texts)})"


def changed_texts(original: Path, pruned: Path, texts: list[str]) -> float:
    """Share of texts whose token sequence changes under the pruned vocabulary."""
    from tokenizers import Tokenizer

    a, b = Tokenizer.from_file(str(original / "tokenizer.json")), Tokenizer.from_file(str(pruned / "tokenizer.json"))
    for t in (a, b):
        t.no_padding()
        t.no_truncation()
    changed = sum(x.tokens != y.tokens for x, y in zip(a.encode_batch(texts), b.encode_batch(texts)))
    return changed / len(texts)


def main() -> None:
    import torch
    from edgeft_exporters.api import ExportOptions
    from edgeft_exporters.errors import ParityError
    from edgeft_exporters.run_folder import read_run_eval

    from edgeft.export.prune_vocab import export_pruned

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", choices=("sst2", "conll2003"), default="sst2")
    parser.add_argument("--runs", nargs="+", default=["l3-s1"])
    parser.add_argument("--corpus", type=Path, default=None, help="conll2003: prune to this CoNLL file's sentences instead (e.g. the whole train split)")
    parser.add_argument("--out", type=Path, default=None, help="results file [default: benchmarks/results/vocab_pruning_<data>.json]")
    parser.add_argument("--work", type=Path, default=ROOT / "models" / "distill", help="benchmarks/distill.py's --work")
    args = parser.parse_args()
    torch.set_num_threads(1)
    work = args.work / args.data
    corpus, corpus_name = training_texts(args.data, work, args.corpus)
    results = []
    for name in args.runs:
        run = work / name
        original_bundle = work / f"{name}-int8"
        original = json.loads((original_bundle / "edgeft.json").read_text())
        out = work / f"{name}-pruned-int8"
        row = {"run": name, "corpus": corpus_name}
        try:
            manifest = export_pruned(run, out, ExportOptions(int8=True, overwrite=True), corpus, corpus_name).manifest
        except ParityError as refusal:
            row["refused"] = str(refusal)
            results.append(row)
            print(json.dumps(row), flush=True)
            continue
        parity = manifest["parity"]
        int8 = parity["variants"]["int8"]
        held_out = [r["text"] for r in read_run_eval(run)]
        row.update(
            {
                "vocab_before": parity["original"]["vocab_before"],
                "vocab_after": parity["original"]["vocab_after"],
                "eval_samples": parity["samples"],
                "eval_texts_changed": round(changed_texts(run, out, held_out), 4),
                "pytorch_metric": parity["original"]["metric"],
                "pruned_pytorch_metric": parity["reference_metric"],
                "int8_metric": original["parity"]["variants"]["int8"]["metric"],
                "pruned_int8_metric": int8["metric"],
                "pruned_int8_drop_vs_unpruned_pytorch": int8["original_drop"],
                "pruned_int8_label_agreement_vs_unpruned": int8["original_label_agreement"],
                "int8_bytes": (original_bundle / "model_int8.onnx").stat().st_size,
                "pruned_int8_bytes": (out / "model_int8.onnx").stat().st_size,
                "pruned_int8_quantization": manifest["variants"]["int8"]["quantization"],
            }
        )
        results.append(row)
        print(json.dumps(row), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = args.out or RESULTS / f"vocab_pruning_{args.data}.json"
    path.write_text(json.dumps({"data": args.data, "command": "edgeft export --int8 --prune-vocab (edgeft.export.prune_vocab.export_pruned)", "results": results}, indent=2) + "\n")
    print("| run | kept tokens | held-out texts re-tokenised | PyTorch: unpruned / pruned | int8: unpruned / pruned | pruned int8 vs unpruned PyTorch | int8 MB: unpruned / pruned |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        if "refused" in r:
            print(f"| {r['run']} | refused: {r['refused']} |")
            continue
        agreement = r["pruned_int8_label_agreement_vs_unpruned"]
        print(
            f"| {r['run']} | {r['vocab_after']} of {r['vocab_before']} | {100 * r['eval_texts_changed']:.1f}% | "
            f"{r['pytorch_metric']:.2f} / {r['pruned_pytorch_metric']:.2f} | {r['int8_metric']:.2f} / {r['pruned_int8_metric']:.2f} | "
            f"-{r['pruned_int8_drop_vs_unpruned_pytorch']:.2f}" + (f", {100 * agreement:.1f}% agreement" if agreement is not None else "") + " | "
            f"{r['int8_bytes'] / 1e6:.1f} / {r['pruned_int8_bytes'] / 1e6:.1f} |"
        )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
