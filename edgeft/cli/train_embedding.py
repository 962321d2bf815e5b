"""`edgeft train embedding`: contrastive sentence-embedding fine-tuning (SimCSE) on unlabelled text."""

from __future__ import annotations

from typing import Any

from ..config import EmbeddingConfig
from .train import task_command


def embedding_next_step(result: Any) -> str:
    return f"edgeft export {result.out} --int8 --out {result.out}-int8 (or train classifier / setfit --base {result.out})"


embedding = task_command(
    "embedding",
    EmbeddingConfig,
    """Fine-tune a sentence embedder on unlabelled text with unsupervised SimCSE (sentence-transformers).

    Each text is its own positive (two passes with different dropout), the other texts of its
    batch its negatives. The output folder is a sentence-transformers model: `edgeft export`
    turns it into an embedding bundle (`embed()`), and it is a --base for the classifier and SetFit.
    The held-out texts' uniformity and mean cosine before and after go to metrics.json (a collapse
    check, not a quality score).

    \b
    Examples:
      edgeft train embedding --corpus tickets.csv --text-field text --out models/tickets-emb
      edgeft train embedding --corpus notes/ --epochs 1 --batch-size 64 --out models/notes-emb
      edgeft export models/tickets-emb --int8 --out models/tickets-emb-int8
      edgeft train setfit --base models/tickets-emb --train few.csv --out models/tickets-setfit
    """,
    resumable=False,
    next_step=embedding_next_step,
)
