"""`edgeft train mlm`: masked-LM continued pretraining on unlabelled in-domain text."""

from __future__ import annotations

from typing import Any

from ..config import MlmConfig
from .train import task_command


def base_next_step(result: Any) -> str:
    return f"edgeft train classifier --base {result.out} ... (or ner, setfit); edgeft export {result.out} --out {result.out}-fillmask"


mlm = task_command(
    "mlm",
    MlmConfig,
    """Continue pretraining the encoder with masked-LM on unlabelled in-domain text.

    The output folder is a valid --base for the other tasks, and `edgeft export` turns it into a
    fill-mask bundle. Held-out perplexity before and after training goes to metrics.json.

    \b
    Examples:
      edgeft train mlm --corpus abstracts.txt --out models/bio-base
      edgeft train mlm --corpus notes/ --corpus extra.jsonl --text-field body --whole-word-masking --out models/notes-base
      edgeft train ner --base models/bio-base --train ... --out models/bio-ner
      edgeft export models/bio-base --out models/bio-fillmask
    """,
    next_step=base_next_step,
)
