"""`edgeft train ner`: token classification from CoNLL, TSV or JSONL data."""

from __future__ import annotations

from ..config import NerConfig
from .train import app, task_command

ner = app.command("ner")(
    task_command(
        "ner",
        NerConfig,
        """Fine-tune a token classifier (named entities) on tagged sentences.

    Reads CoNLL columns (token first, tag last; -DOCSTART- and blank lines), token<TAB>tag TSV,
    or JSONL with "tokens" + "tags" or "text" + character "spans". IOB1, IOB2, BIOES, BMES and
    BILOU tags are detected per file (or named with --scheme) and trained as IOB2.

    \b
    Examples:
      edgeft train ner --train train.conll --eval valid.conll --out models/conll
      edgeft train ner --train train.char.bmes --eval dev.char.bmes --set repair_tags=true --out models/resume
      edgeft train ner --train spans.jsonl --label-all-tokens --out models/spans
      edgeft train ner --train tweets.conll --word-split tokenizer --out models/raw-text
    """,
    )
)
