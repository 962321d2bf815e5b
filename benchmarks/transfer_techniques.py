"""Training before the target task (issue 31 point 4): an intermediate task, task-adaptive
masked-LM (TAPT) and SimCSE, each against the plain recipe on a small target set, 3 seeds.

    python benchmarks/transfer_techniques.py intermediate [--train-size 128] [--dev-size 150]
        [--test-size 300] [--epochs 4] [--batch-size 8] [--seeds 1,2,3] [--max-length 64]
        [--base-run /work/models-shared/conll2003-minilm-1000]
    python benchmarks/transfer_techniques.py tapt [--train-size 160] [--corpus-size 480]
        [--dev-size 300] [--test-size 600] [--seeds 1,2,3] [--max-length 32] [--rows tapt,simcse]

Every step is the `edgeft` CLI as a user runs it (``benchmarks/cli_runs.py``: niced, 2 torch
threads, a finished run folder reused).

``intermediate``: NCBI-disease NER (../shared/data/ncbi_disease), ``--train-size`` training
sentences and ``--dev-size`` devel sentences (eval: early stopping, best checkpoint) drawn with
seed 0, scored on ``--test-size`` test sentences drawn with seed 0 (entity F1, exact spans,
seqeval conventions: `edgeft export RUN` (fp32) then `edgeft eval BUNDLE --data test.tsv`).
Rows: `edgeft train ner` from the offline all-MiniLM-L6-v2 (plain) and the same command with
``--base`` a CoNLL-2003 NER run (default: the shared `conll2003-minilm-1000`, 1000 CoNLL
sentences, 1 epoch; its PER/LOC/ORG/MISC head does not fit Disease, so a fresh head is trained on
its encoder). Both rows: ``--epochs`` 4 of batches of ``--batch-size`` 8 (64 steps), lr 1e-4 (the
CoNLL run's rate). (3 epochs of 16, 24 steps, left the plain row at 0 F1: it tagged nothing.)

``tapt``: SST-2 (../shared/data/sst2) with the subsets of benchmarks/search_vs_defaults.py
(``--train-size`` labelled sentences, dev as eval, test reported). TAPT: `edgeft train mlm
--corpus texts.csv --text-field text` on ``--corpus-size`` texts of SST-2's train split (labels
dropped; the labelled ones among them), blocks of ``--max-length`` tokens, 1 epoch, lr 1e-4,
50 head-only warm-up steps (the offline MiniLM has no masked-LM head: it starts untrained), seed
1. SimCSE (unsupervised, sentence-transformers): `edgeft train embedding --corpus texts.csv
--text-field text` on the same texts, its defaults (1 epoch, batch 64, lr 3e-5), seed 1. Then
`edgeft train classifier --base RUN` with the default recipe, per seed. The plain rows are
search_vs_defaults.py's default runs (the same command, data and seed; reused when present).
Results go to benchmarks/results/transfer_<subcommand>.json, rewritten after every run.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
from pathlib import Path

from cli_runs import ROOT, WORK, accuracy, edgeft, new_result, require, save, sst2_files, summarise, train
from search_vs_defaults import plain_run

RESULTS = ROOT / "benchmarks" / "results"


def read_tsv(path: Path) -> list[list[str]]:
    """token<TAB>tag lines -> one list of lines per sentence."""
    sentences, current = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            current.append(line)
        elif current:
            sentences.append(current)
            current = []
    if current:
        sentences.append(current)
    return sentences


def write_sentences(path: Path, sentences: list[list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n\n".join("\n".join(s) for s in sentences) + "\n", encoding="utf-8")
    return path


def ncbi_files(train_size: int, dev_size: int, test_size: int) -> dict[str, Path]:
    folder = require("ncbi_disease")
    out = {}
    for name, split, k in (("train", "train", train_size), ("dev", "devel", dev_size), ("test", "test", test_size)):
        sentences = read_tsv(folder / f"{split}.tsv")
        chosen = sorted(random.Random(0).sample(range(len(sentences)), min(k, len(sentences))))
        out[name] = write_sentences(WORK / "data" / f"ncbi_{name}_{k}.tsv", [sentences[i] for i in chosen])
    return out


def entity_f1(run: Path, test: Path) -> float:
    """Test entity F1 (%) of the run's fp32 ONNX export, through `edgeft export` and `edgeft eval`."""
    bundle = run.parent / f"{run.name}-onnx"
    report = run.parent / f"{run.name}-test.json"
    if not report.exists():
        edgeft("export", str(run), "--out", str(bundle), "--overwrite", "--no-optimize", "--parity-samples", "50", log=run.parent / f"{run.name}.log")
        edgeft("eval", str(bundle), "--data", str(test), "--variant", "fp32", "--out", str(report), log=run.parent / f"{run.name}.log")
    metrics = json.loads(report.read_text())
    return round(100 * float(metrics["entity_f1"]), 2)


def intermediate(args) -> None:
    base_run = Path(args.base_run)
    if not (base_run / "edgeft_run.json").exists():
        sys.exit(f"skipped: the intermediate run {base_run} is absent (train one: see /work/models-shared/README.md or pass --base-run)")
    files = ncbi_files(args.train_size, args.dev_size, args.test_size)
    path = Path(args.out or RESULTS / "transfer_intermediate.json")
    seeds = [int(s) for s in args.seeds.split(",")]
    result = new_result(
        "transfer_intermediate", path, seeds,
        data=f"NCBI-disease: {args.train_size} train sentences, devel {args.dev_size} (eval: early stopping, best checkpoint), test {args.test_size} (reported); drawn with seed 0",
        intermediate_run=str(base_run), intermediate_config=json.loads((base_run / "train_config.json").read_text()) if (base_run / "train_config.json").exists() else None,
        recipe=f"edgeft train ner, {args.epochs} epochs, batch {args.batch_size}, lr 1e-4, max_length {args.max_length}",
        metric="test entity F1 (%) of the fp32 ONNX export (edgeft eval), exact spans",
    )
    common = ["--train", str(files["train"]), "--eval", str(files["dev"]), "--max-length", str(args.max_length), "--lr", "1e-4", "--epochs", str(args.epochs), "--batch-size", str(args.batch_size)]
    folder = WORK / f"ncbi-{args.train_size}-len{args.max_length}" / f"e{args.epochs}-b{args.batch_size}"
    for seed in seeds:
        for row, extra in (("plain", []), ("after CoNLL-2003", ["--base", str(base_run)])):
            out = folder / (f"plain-s{seed}" if row == "plain" else f"conll-s{seed}")
            metrics, seconds = train("ner", out, *common, "--seed", str(seed), *extra)
            record = {"row": row, "seed": seed, "dev_f1": round(100 * metrics["entity_f1"], 2), "test_f1": entity_f1(out, files["test"]), "seconds": seconds, "run": str(out.relative_to(ROOT))}
            print(record, flush=True)
            result["records"].append(record)
            summarise(result, "test_f1", ("dev_f1", "seconds"))
            save(result, path)


PRETRAINING = {
    # row -> (edgeft train TASK, its options after --corpus/--text-field/--max-length/--seed)
    "after TAPT": ("mlm", ["--epochs", "1", "--lr", "1e-4", "--set", "head_warmup_steps=50"]),
    "after SimCSE": ("embedding", ["--epochs", "1"]),
}


def tapt(args) -> None:
    files = sst2_files(args.train_size, args.dev_size, args.test_size)
    corpus = WORK / "data" / f"sst2_texts_{args.corpus_size}.csv"
    with open(corpus, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text"])
        writer.writerows([t] for t in files["unlabelled"][: args.corpus_size])
    path = Path(args.out or RESULTS / "transfer_tapt.json")
    folder = plain_run(args.train_size, args.max_length, 1).parent
    rows = [row for row in PRETRAINING if row.split()[-1].lower() in args.rows.split(",")]
    bases: dict[str, Path] = {}
    pretraining: dict[str, dict] = {}
    for row in rows:
        task, options = PRETRAINING[row]
        bases[row] = folder / f"{task}-{args.corpus_size}"
        flags = ["--corpus", str(corpus), "--text-field", "text", "--max-length", str(args.max_length), "--seed", "1", *options]
        metrics, seconds = train(task, bases[row], *flags)
        pretraining[row] = {"command": f"edgeft train {task} " + " ".join(flags).replace(str(corpus), corpus.name), "metrics": metrics, "seconds": seconds}
    seeds = [int(s) for s in args.seeds.split(",")]
    result = new_result(
        "transfer_tapt", path, seeds,
        data=f"SST-2: {args.train_size} labelled train sentences, dev {args.dev_size} (eval), test {args.test_size} (reported), drawn with seed 0; pretraining corpus: {args.corpus_size} train-split texts without labels (seed 1 for every pretraining run)",
        recipe="edgeft train classifier defaults (3 epochs, batch 16, lr 5e-5, warm-up 0.1), max_length " + str(args.max_length),
        pretraining=pretraining,
    )
    common = ["--train", str(files["train"]), "--eval", str(files["dev"]), "--max-length", str(args.max_length)]
    for seed in seeds:
        runs = [("plain", plain_run(args.train_size, args.max_length, seed), [])]
        runs += [(row, folder / f"{bases[row].name}-clf-s{seed}", ["--base", str(bases[row])]) for row in rows]
        for row, out, extra in runs:
            metrics, seconds = train("classifier", out, *common, "--seed", str(seed), *extra)
            record = {"row": row, "seed": seed, "dev_accuracy": round(100 * metrics["accuracy"], 2), "test_accuracy": accuracy(out, files["test_rows"]), "seconds": seconds, "run": str(out.relative_to(ROOT))}
            print(record, flush=True)
            result["records"].append(record)
            summarise(result, "test_accuracy", ("dev_accuracy", "seconds"))
            save(result, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("intermediate", help="NCBI-disease NER from plain MiniLM vs from a CoNLL-2003 NER run")
    p.add_argument("--train-size", type=int, default=128)
    p.add_argument("--dev-size", type=int, default=150)
    p.add_argument("--test-size", type=int, default=300)
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--base-run", default="/work/models-shared/conll2003-minilm-1000")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=8)
    p = sub.add_parser("tapt", help="SST-2 classifier from plain MiniLM vs after masked-LM on the task's texts")
    p.add_argument("--train-size", type=int, default=160)
    p.add_argument("--corpus-size", type=int, default=480)
    p.add_argument("--dev-size", type=int, default=300)
    p.add_argument("--test-size", type=int, default=600)
    p.add_argument("--max-length", type=int, default=32)
    p.add_argument("--rows", default="tapt,simcse", help="pretraining rows beside plain: tapt, simcse")
    for p in sub.choices.values():
        p.add_argument("--seeds", default="1,2,3")
        p.add_argument("--out", default=None)
    args = parser.parse_args()
    {"intermediate": intermediate, "tapt": tapt}[args.command](args)


if __name__ == "__main__":
    main()
