"""`edgeft train ner`: token classification from CoNLL, TSV or JSONL data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..config import NerConfig
from . import options as opt
from .common import command
from .train import PrintConfig, app, configure_and_train, tuning_flags

_D = NerConfig()


@app.command("ner")
@command
def ner(
    train: Annotated[Optional[Path], typer.Option("--train", help="Training data: CoNLL (.conll/.txt/...), token<TAB>tag .tsv, or .jsonl.", show_default=False)] = None,
    eval: opt.Eval = None,
    out: opt.Out = None,
    base: opt.Base = None,
    scheme: Annotated[
        Optional[str],
        typer.Option(help=f"Tagging scheme of the files: auto, IOB1, IOB2, BIOES, BMES or BILOU (all trained as IOB2). [default: {_D.scheme}]", show_default=False),
    ] = None,
    label_all_tokens: Annotated[
        Optional[bool],
        typer.Option("--label-all-tokens/--label-first-token", help="Label every sub-token of a word, or only its first (the rest left out of the loss). [default: first]", show_default=False),
    ] = None,
    stride: Annotated[Optional[int], typer.Option(help="Tokens of overlap between the windows long sentences are cut into. [default: max-length / 4]", show_default=False)] = None,
    aggregation: Annotated[
        Optional[str], typer.Option(help=f"The bundle's default sub-word aggregation: first, average or max. [default: {_D.aggregation}]", show_default=False)
    ] = None,
    word_split: Annotated[
        Optional[str],
        typer.Option(
            help="What a word is, at training and in the bundle's runtime: whitespace (the data's own tokens), tokenizer "
            f"(punctuation split off, one word per CJK character) or auto. [default: {_D.word_split}]",
            show_default=False,
        ),
    ] = None,
    epochs: opt.Epochs = None,
    batch_size: opt.BatchSize = None,
    lr: opt.Lr = None,
    max_length: Annotated[Optional[int], typer.Option(help=f"Tokens per window (longer sentences are windowed, not cut). [default: {_D.max_length}]", show_default=False)] = None,
    seed: opt.Seed = None,
    seeds: opt.Seeds = None,
    freeze: opt.Freeze = None,
    peft: opt.Peft = None,
    lora_r: opt.LoraR = None,
    lora_alpha: opt.LoraAlpha = None,
    lora_target_modules: opt.LoraTargets = None,
    layerwise_lr_decay: opt.LayerwiseLrDecay = None,
    reinit_top_layers: opt.ReinitTopLayers = None,
    warmup_ratio: opt.WarmupRatio = None,
    config: opt.ConfigFile = None,
    set_: opt.Set = None,
    overwrite: opt.Overwrite = False,
    resume: opt.Resume = False,
    print_config_: PrintConfig = False,
) -> None:
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
    """
    flags = dict(
        train=train,
        eval=eval,
        out=out,
        base=base,
        scheme=scheme,
        label_all_tokens=label_all_tokens,
        stride=stride,
        aggregation=aggregation,
        word_split=word_split,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        max_length=max_length,
        seed=seed,
        **tuning_flags(seeds, freeze, peft, lora_r, lora_alpha, lora_target_modules, layerwise_lr_decay, reinit_top_layers, warmup_ratio),
    )
    configure_and_train(
        "ner", NerConfig, flags=flags, config_file=config, overrides=set_, print_only=print_config_,
        overwrite=overwrite, resume=resume,
    )
