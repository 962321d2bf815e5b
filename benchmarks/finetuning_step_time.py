"""Training-step time of the fine-tuning techniques, interleaved in one process: the ratios that
``finetuning_techniques.py`` cannot give cleanly on a shared machine (its runs are separate
processes minutes apart, and other jobs come and go between them).

    python benchmarks/finetuning_step_time.py [--data sst2 ncbi] [--steps 60] [--threads 1]

The five rows of finetuning_techniques.py are built in one process, as the tasks build them
(edgeft.tasks.tuning.prepare_model, the Trainer's optimizer with the layer-wise rates), and take
turns in blocks of optimizer steps (forward, backward, AdamW step) on the same real batches
(SST-2: 16 training sentences, max length 64; NCBI-disease: 16 windows of up to 128 tokens),
each block after a short pause (edgeft_runtime.timing.timed_blocks). Reports the median seconds
per step, the ratio to full fine-tuning and the seconds per epoch of the 2000-example budget
(125 steps). Writes benchmarks/results/finetuning_step_time.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from finetuning_techniques import ROWS  # noqa: E402
from shared_data import ROOT, SST2_LABELS, read_label_text, require  # noqa: E402


def sst2_batches(tokenizer, count: int, size: int, max_length: int) -> list[dict]:
    from transformers import DataCollatorWithPadding

    rows = random.Random(0).sample(read_label_text(require("sst2") / "train.txt", SST2_LABELS), count * size)
    collate = DataCollatorWithPadding(tokenizer)
    features = [{**tokenizer(t, truncation=True, max_length=max_length), "labels": int(label == "positive")} for t, label in rows]
    return [collate(features[i : i + size]) for i in range(0, len(features), size)]


def ncbi_batches(hf_tokenizer, labels: list[str], count: int, size: int, max_length: int) -> list[dict]:
    from edgeft_runtime import ner
    from transformers import DataCollatorForTokenClassification

    from edgeft.data.ner import read_ner
    from edgeft.tasks.ner import content_tokenizer, encode_examples

    examples = random.Random(0).sample(read_ner(require("ncbi_disease") / "train.tsv").examples, count * size)
    tokenizer = content_tokenizer(hf_tokenizer)
    encoded = encode_examples(
        tokenizer, ner.specials_of(tokenizer), examples, labels, max_length=max_length, stride=max_length // 4,
        label_all=False, type_ids="token_type_ids" in hf_tokenizer.model_input_names,
        word_split="whitespace",  # what `edgeft train ner` chose for NCBI-disease (space-joined tokens)
    )
    collate = DataCollatorForTokenClassification(hf_tokenizer)
    rows = encoded.rows[: count * size]
    return [collate(rows[i : i + size]) for i in range(0, len(rows), size)]


def build_steppers(data: str, base_path: str, work: Path, num_labels: int) -> dict[str, Any]:
    """Row -> a function that runs one optimizer step on a batch, for each row's model and optimizer."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification, set_seed

    from edgeft.config import ClassifierConfig
    from edgeft.devices import select_device
    from edgeft.tasks.common import supervised_trainer
    from edgeft.tasks.tuning import prepare_model

    auto = AutoModelForSequenceClassification if data == "sst2" else AutoModelForTokenClassification
    task = "classifier" if data == "sst2" else "ner"
    steppers = {}
    for row, options in ROWS:
        set_seed(1)
        config = ClassifierConfig(base=base_path, early_stopping_patience=0, **options)
        model = auto.from_pretrained(base_path, num_labels=num_labels)
        prepared = prepare_model(model, config, task)
        trainer = supervised_trainer(
            config, select_device(config), work / row.replace(" ", "_"), model=prepared.model, train_rows=[{}], eval_rows=[{}],
            collator=None, tokenizer=None, compute_metrics=None, metric="loss",
        )
        optimizer = trainer.create_optimizer()
        train_model = prepared.model.train()

        def step(batch, model=train_model, optimizer=optimizer):
            loss = model(**batch).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            return float(loss.detach())

        steppers[row] = step
        torch.manual_seed(1)
    return steppers


def measure(data: str, args) -> dict[str, Any]:
    import torch
    from edgeft_runtime.timing import timed_blocks
    from transformers import AutoTokenizer

    from edgeft.base_models import resolve_base
    from edgeft.tasks.common import quiet_transformers

    quiet_transformers()
    torch.set_num_threads(args.threads)
    base_path = resolve_base(args.base)
    tokenizer = AutoTokenizer.from_pretrained(base_path)
    if data == "sst2":
        batches, num_labels = sst2_batches(tokenizer, args.batches, 16, 64), 2
    else:
        labels = ["O", "B-Disease", "I-Disease"]
        batches, num_labels = ncbi_batches(tokenizer, labels, args.batches, 16, 128), len(labels)
    with tempfile.TemporaryDirectory() as tmp:
        steppers = build_steppers(data, base_path, Path(tmp), num_labels)
        times = timed_blocks(steppers, batches, args.steps, block=args.block, warmup=1)
    full = ROWS[0][0]
    median = {row: statistics.median(t) for row, t in times.items()}
    return {
        "data": data,
        "batch": {"size": 16, "max_length": 64 if data == "sst2" else 128, "tokens_mean": round(statistics.fmean(int(b["attention_mask"].sum()) for b in batches) / 16, 1)},
        "steps_per_row": args.steps,
        "median_step_seconds": {row: round(v, 4) for row, v in median.items()},
        "speedup_vs_full": {row: round(median[full] / v, 2) for row, v in median.items()},
        "seconds_per_epoch_2000_examples": {row: round(125 * v, 1) for row, v in median.items()},
        "step_seconds_quartiles": {row: [round(q, 4) for q in statistics.quantiles(t, n=4)] for row, t in times.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", nargs="+", default=["sst2", "ncbi"], choices=["sst2", "ncbi"])
    parser.add_argument("--steps", type=int, default=60, help="timed steps per row")
    parser.add_argument("--block", type=int, default=5, help="steps per row before the next row takes its turn")
    parser.add_argument("--batches", type=int, default=20, help="distinct real batches, cycled")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--base", default="all-MiniLM-L6-v2")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "finetuning_step_time.json")
    args = parser.parse_args()
    from edgeft_runtime.device import device_info

    results = [measure(d, args) for d in args.data]
    # Data sets measured in an earlier pass stay in the file (each pass is one process: ratios
    # compare rows of the same pass only).
    earlier = json.loads(args.out.read_text()).get("results", []) if args.out.is_file() else []
    results = [r for r in earlier if r["data"] not in args.data] + results
    output = {
        "benchmark": "finetuning_step_time",
        "rows": {row: options for row, options in ROWS},
        "results": results,
        "torch_threads": args.threads,
        "machine": {**device_info(None), "python": platform.python_version(), "shared_with_other_jobs": True, "load_average_at_end": os.getloadavg()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(output, indent=2) + "\n", encoding="utf-8")
    for r in results:
        print(f"\n{r['data']}: median seconds per step (speed-up vs full fine-tuning)")
        for row in r["median_step_seconds"]:
            print(f"  {row}: {r['median_step_seconds'][row]:.3f} s ({r['speedup_vs_full'][row]:.2f}x)")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
