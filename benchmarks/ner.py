"""NER end to end on real data: fine-tune all-MiniLM-L6-v2 with `edgeft train ner`, export int8
with the entity-F1 parity gate, and report test entity F1 of PyTorch fp32, ONNX fp32 and ONNX int8
with batch-1 latency ratios, all in one run.

    python benchmarks/ner.py [--data conll2003 resume_zh] [--epochs 0.3] [--reuse] [--runs 100]
    python benchmarks/ner.py --data conll2003 --epochs 0.3 --word-split tokenizer   # the other word split

Data (read in place from ../shared/data, never copied): conll2003 (train/valid/test, IOB2) and
resume_zh (Chinese resumes, BMES; its training file has an entity cut by a sentence break, read
with repair_tags=true). Writes benchmarks/results/ner_<data>.json and prints a Markdown table.
F1 is entity-level micro-F1 on character spans (seqeval conventions), computed the same way for
all three engines (edgeft_exporters.tasks.ner). Latency: one sentence at a time, engines
alternating in blocks in one process (edgeft_runtime/timing.py); quote the ratios.
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

DATASETS = {
    "conll2003": {"train": "train.txt", "eval": "valid.txt", "test": "test.txt", "repair": False},
    "resume_zh": {"train": "train.char.bmes", "eval": "dev.char.bmes", "test": "test.char.bmes", "repair": True},
}
PUBLISHED = {
    "conll2003": "bert-base-cased ~91-92, distilbert ~87-88 (cased models, full fine-tuning)",
    "resume_zh": "Lattice LSTM 94.46 (Zhang & Yang 2018)",
}


def unk_rate(tokenizer, texts: list[str]) -> dict:
    """Share of tokens (and of non-space characters) the tokenizer maps to its unknown token."""
    unk = tokenizer.token_to_id("[UNK]")
    tokens = unknown = chars_unk = chars = 0
    for enc in tokenizer.encode_batch(texts, add_special_tokens=False):
        tokens += len(enc.ids)
        for tid, (s, e) in zip(enc.ids, enc.offsets):
            if tid == unk:
                unknown += 1
                chars_unk += e - s
        chars += sum(e - s for s, e in enc.offsets)
    return {"tokens": tokens, "unk_tokens": unknown, "unk_token_rate": round(unknown / max(tokens, 1), 5), "unk_char_rate": round(chars_unk / max(chars, 1), 5)}


def run_one(name: str, args) -> dict:
    from edgeft.config import NerConfig
    from edgeft.data.ner import read_ner
    from edgeft.tasks.ner import train_ner
    from edgeft_exporters.api import ExportOptions, export_run
    from edgeft_exporters.run_folder import read_run
    from edgeft_exporters.tasks.ner import NerExport
    from edgeft_runtime.timing import timed_blocks

    import edgeft_runtime

    spec = DATASETS[name]
    folder = require(name)
    work = args.work / name
    run_dir, bundle_dir = work / "run", work / "bundle-int8"
    if args.reuse and (run_dir / "edgeft_run.json").is_file():
        print(f"[{name}] reusing {run_dir}", flush=True)
    else:
        config = NerConfig(
            train=str(folder / spec["train"]), eval=str(folder / spec["eval"]), out=str(run_dir), epochs=args.epochs,
            batch_size=32, lr=1e-4, max_length=128, seed=42, repair_tags=spec["repair"], logging_steps=20,
            word_split=args.word_split,
        )
        train_ner(config, overwrite=True)
    run = read_run(run_dir)
    train_metrics = json.loads((run_dir / "metrics.json").read_text())

    started = time.time()
    manifest = export_run(run_dir, bundle_dir, ExportOptions(int8=True, overwrite=True, parity_samples=args.parity_samples)).manifest
    export_seconds = time.time() - started
    print(f"[{name}] exported in {export_seconds:.0f} s", flush=True)

    test = read_ner(folder / spec["test"], join=run["ner"]["join"], repair=spec["repair"]).examples[: args.test_limit]
    task = NerExport(run, run_dir)
    texts, gold = task.parse_examples([ex.to_json() for ex in test], f"{name} test")
    reference, reference_one = task.reference()
    models = {v: edgeft_runtime.load(bundle_dir, variant=v, threads=args.threads) for v in ("fp32", "int8")}

    scores, seconds = {}, {}
    engines = {"pytorch-fp32": reference, "onnx-fp32": lambda t: task.bundle_outputs(models["fp32"], t), "onnx-int8": lambda t: task.bundle_outputs(models["int8"], t)}
    for engine, fn in engines.items():
        t0 = time.perf_counter()
        out = fn(texts)
        seconds[engine] = round(time.perf_counter() - t0, 2)
        scores[engine] = task.score(out, gold)
        print(f"[{name}] {engine}: test entity F1 {scores[engine]['entity_f1']:.2f}", flush=True)
    for aggregation in ("average", "max"):
        task.aggregation = aggregation
        scores[f"onnx-int8-{aggregation}"] = task.score(task.bundle_outputs(models["int8"], texts), gold)
    task.aggregation = run["ner"]["aggregation"]

    # Batch-1 latency on test sentences of typical length, engines alternating in blocks.
    by_length = sorted(texts, key=len)
    sample = by_length[len(by_length) // 4 : len(by_length) // 4 + args.latency_texts]
    times = timed_blocks(
        {"pytorch-fp32": reference_one, "onnx-fp32": lambda t: models["fp32"].tag([t]), "onnx-int8": lambda t: models["int8"].tag([t])},
        sample,
        args.runs,
    )
    latency = {k: round(1000 * statistics.median(v), 3) for k, v in times.items()}
    ratios = {k: round(latency["pytorch-fp32"] / latency[k], 2) for k in ("onnx-fp32", "onnx-int8")}
    ratios["int8_vs_fp32"] = round(latency["onnx-fp32"] / latency["onnx-int8"], 2)

    return {
        "data": name,
        "published": PUBLISHED[name],
        "base_model": run.get("base_model"),
        "word_split": run["ner"].get("word_split", "tokenizer"),
        "epochs": json.loads((run_dir / "train_config.json").read_text())["epochs"],
        "train_sentences": train_metrics["train_examples"],
        "train_seconds": run.get("train_seconds"),
        "valid_entity_f1": round(100 * train_metrics["entity_f1"], 2),
        "test_sentences": len(texts),
        "test_entities": sum(len(g) for g in gold),
        "test": scores,
        "test_pass_seconds": seconds,
        "parity": {k: manifest["parity"][k] for k in ("samples", "metric", "reference_metric")}
        | {"variants": {v: {k: r[k] for k in ("metric", "label_agreement", "max_abs_diff")} for v, r in manifest["parity"]["variants"].items()}},
        "quantization": manifest["variants"]["int8"]["quantization"],
        "latency_ms_p50": latency,
        "latency_speedup": ratios,
        "latency_texts": {"count": len(sample), "chars_median": statistics.median(len(t) for t in sample)},
        "unk": unk_rate(task._content_tokenizer(), texts),
        "machine": {"cpu": manifest["parity"]["cpu"], "cores": os.cpu_count(), "python": platform.python_version(), "shared": True},
    }


def table(results: list[dict]) -> str:
    lines = [
        "| data | epochs | PyTorch fp32 F1 | ONNX fp32 F1 | ONNX int8 F1 | int8 average / max | fp32 speed-up | int8 speed-up | [UNK] tokens | published |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        t = r["test"]
        lines.append(
            f"| {r['data']} test | {r['epochs']:g} | {t['pytorch-fp32']['entity_f1']:.2f} | {t['onnx-fp32']['entity_f1']:.2f} | "
            f"{t['onnx-int8']['entity_f1']:.2f} | {t['onnx-int8-average']['entity_f1']:.2f} / {t['onnx-int8-max']['entity_f1']:.2f} | "
            f"{r['latency_speedup']['onnx-fp32']:.2f}x | {r['latency_speedup']['onnx-int8']:.2f}x | "
            f"{100 * r['unk']['unk_token_rate']:.2f}% | {r['published']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--reuse", action="store_true", help="reuse an existing run folder instead of training")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--latency-texts", type=int, default=32)
    parser.add_argument("--parity-samples", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--test-limit", type=int, default=None, help="only the first N test sentences (smoke runs)")
    parser.add_argument("--word-split", default="auto", choices=("auto", "whitespace", "tokenizer"))
    parser.add_argument("--work", type=Path, default=None, help="default: models/bench-ner (models/bench-ner-WORD_SPLIT when not auto)")
    args = parser.parse_args()
    suffix = "" if args.word_split == "auto" else f"_{args.word_split}_words"
    args.work = args.work or ROOT / "models" / f"bench-ner{suffix.replace('_', '-')}"
    results = []
    out_dir = ROOT / "benchmarks" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in args.data:
        result = run_one(name, args)
        (out_dir / f"ner_{name}{suffix}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        results.append(result)
    print(table(results))


if __name__ == "__main__":
    main()
