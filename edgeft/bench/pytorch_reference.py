"""The PyTorch original of a bundle as a benchmark engine (for `edgeft bench --reference RUN`).

Prediction is what a user of transformers would write: tokenise the batch with padding, run the
model under ``inference_mode``, softmax/sigmoid the logits.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np
from edgeft_runtime.bench import THROUGHPUT_BATCH, Engine, text_of_length
from edgeft_runtime.bench.measure import child_report

REFERENCE_NAME = "pytorch-fp32"


def load_reference(run_dir: str | Path, threads: int | None):
    """(predict function, tokenizer) for the run's PyTorch model on the CPU."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification, AutoTokenizer

    from ..errors import ModelError

    from edgeft_exporters.errors import ExportError
    from edgeft_exporters.run_folder import read_run

    run_dir = Path(run_dir)
    try:
        run = read_run(run_dir)
    except ExportError as e:
        raise ModelError(f"--reference {e}") from None
    if run["task"] not in ("classifier", "setfit", "ner"):
        raise ModelError(f"--reference: task {run['task']!r} has no PyTorch reference engine yet")
    if threads is not None:
        torch.set_num_threads(threads)
    if run["task"] == "setfit":
        return _setfit_reference(run_dir)
    from edgeft_exporters.adapters import model_folder

    # NER: per-token probabilities, without the runtime's span decoding (a small share of its time)
    auto = AutoModelForTokenClassification if run["task"] == "ner" else AutoModelForSequenceClassification
    with model_folder(run_dir, run) as model_dir:  # an adapter-only LoRA run is merged first
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        model = auto.from_pretrained(str(model_dir)).eval()
    multi = run.get("problem_type") == "multi_label"
    max_length = int(run["max_length"])

    @torch.inference_mode()
    def predict(texts: Sequence[str]):
        out = []
        for start in range(0, len(texts), THROUGHPUT_BATCH):
            enc = tokenizer(list(texts[start : start + THROUGHPUT_BATCH]), truncation=True, max_length=max_length, padding=True, return_tensors="pt")
            logits = model(**enc).logits
            out.append((torch.sigmoid(logits) if multi else torch.softmax(logits, -1)).numpy())
        if run["task"] == "ner":  # (batch, tokens, labels) per batch: widths differ between batches
            return out
        return np.concatenate(out)

    return predict, tokenizer


def _setfit_reference(run_dir: Path):
    """SetFitModel.predict_proba (body.encode, then the scikit-learn head), as a setfit user runs it."""
    from edgeft_exporters.setfit_head import load_setfit_model

    model = load_setfit_model(run_dir)

    def predict(texts: Sequence[str]):
        return model.predict_proba(list(texts), batch_size=THROUGHPUT_BATCH, as_numpy=True, show_progress_bar=False)

    return predict, model.model_body.tokenizer


def reference_engine(run_dir: str | Path, threads: int | None) -> Engine:
    predict, _ = load_reference(run_dir, threads)
    argv = [sys.executable, "-m", "edgeft.bench.pytorch_reference", str(run_dir)]
    if threads is not None:
        argv += ["--threads", str(threads)]
    weights = sum(p.stat().st_size for p in Path(run_dir).glob("*.safetensors")) or sum(
        p.stat().st_size for p in Path(run_dir).glob("*.bin")
    )
    return Engine(REFERENCE_NAME, "pytorch", predict, argv, weights, "model.safetensors")


def main(argv: Sequence[str] | None = None) -> int:
    """Cold-start child: import torch + transformers, load, first prediction, then a 32x128 batch."""
    parser = argparse.ArgumentParser()
    parser.add_argument("run")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    predict, tokenizer = load_reference(args.run, args.threads)
    predict(["warm up the model with the first prediction"])
    ready = time.time()
    text = text_of_length(lambda t: len(tokenizer(t)["input_ids"]), 128)
    predict([text] * THROUGHPUT_BATCH)
    sys.stdout.write(child_report(ready) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
