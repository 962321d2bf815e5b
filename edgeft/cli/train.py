"""`edgeft train TASK`: one command per task, each a thin layer over ``edgeft.tasks``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer

from ..config import ClassifierConfig, SetFitConfig, TrainConfig
from ..config_loader import build_config
from . import options as opt
from .common import command

app = typer.Typer(
    help="Fine-tune a model. Each task writes a save_pretrained folder plus edgeft_run.json, "
    "train_config.json and metrics.json; `edgeft export RUN` turns it into a bundle.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

PrintConfig = Annotated[bool, typer.Option("--print-config", help="Print the resolved config (every key) and exit.")]


def print_config(config: TrainConfig) -> None:
    """TOML lines a user can save and pass back with --config."""
    for key, value in config.to_dict().items():
        if value is not None:
            typer.echo(f"{key} = {json.dumps(str(value) if isinstance(value, Path) else value)}")


def report(result: Any, next_step: str) -> None:
    shown = ", ".join(f"{k} {v:.4f}" for k, v in result.metrics.items() if isinstance(v, float) and k != "loss")
    seeds = result.metrics.get("seeds")
    if seeds:
        typer.echo(
            f"seeds {', '.join(map(str, seeds['seeds']))}: {seeds['metric']} {seeds['mean']:.4f} ± {seeds['sd']:.4f} "
            f"(min {seeds['min']:.4f}, max {seeds['max']:.4f}); kept the run of seed {seeds['best_seed']}"
        )
    typer.echo(f"saved run to {result.out} ({shown}) in {result.seconds:.1f} s")
    typer.echo(f"next: {next_step}")


def export_next_step(result: Any) -> str:
    return f"edgeft export {result.out} --int8 --out {result.out}-int8"


def configure_and_train(
    task: str,
    config_cls: type[TrainConfig],
    *,
    flags: dict[str, Any],
    config_file: Path | None,
    overrides: list[str] | None,
    print_only: bool,
    next_step: Callable[[Any], str] = export_next_step,
    **train_kwargs: Any,
) -> None:
    """What every `edgeft train TASK` does with its options: resolve the config (file, then
    flags, then --set), print it (--print-config) or train the task, then say what comes next."""
    flags = {k: (str(v) if isinstance(v, Path) else v) for k, v in flags.items()}
    cfg = build_config(config_cls, config_file=config_file, flags=flags, overrides=overrides)
    if print_only:
        print_config(cfg)
        return
    from ..tasks import train_task

    result = train_task(task, cfg, **train_kwargs)
    if result.main_process:
        report(result, next_step(result))


def tuning_flags(
    seeds: str | None,
    freeze: str | None,
    peft: str | None,
    lora_r: int | None,
    lora_alpha: int | None,
    lora_target_modules: str | None,
    layerwise_lr_decay: float | None,
    reinit_top_layers: int | None,
    warmup_ratio: float | None,
) -> dict[str, Any]:
    """The config keys of the fine-tuning flags the Trainer-based tasks share."""
    return dict(
        seeds=seeds,
        freeze=freeze,
        peft=peft,
        lora_r=lora_r,
        lora_alpha=lora_alpha,
        lora_target_modules=lora_target_modules,
        layerwise_lr_decay=layerwise_lr_decay,
        reinit_top_layers=reinit_top_layers,
        warmup_ratio=warmup_ratio,
    )


MultiLabel = Annotated[
    Optional[bool],
    typer.Option("--multi-label/--single-label", help="Each text may have several labels ('a;b' or a JSON list). [default: single]", show_default=False),
]
LabelSeparator = Annotated[Optional[str], typer.Option(help="Separator of multi-label labels. [default: ;]", show_default=False)]


@app.command("classifier")
@command
def classifier(
    train: opt.Train = None,
    eval: opt.Eval = None,
    out: opt.Out = None,
    base: opt.Base = None,
    text_column: opt.TextColumn = None,
    label_column: opt.LabelColumn = None,
    multi_label: MultiLabel = None,
    label_separator: LabelSeparator = None,
    epochs: opt.Epochs = None,
    batch_size: opt.BatchSize = None,
    lr: opt.Lr = None,
    max_length: opt.MaxLength = None,
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
    """Fine-tune a sequence classifier (multi-class or multi-label) on labelled text.

    \b
    Examples:
      edgeft train classifier --train train.csv --eval dev.csv --out models/sst2
      edgeft train classifier --train tickets.jsonl --multi-label --label-column tags --out models/tickets
      edgeft train classifier -c sst2.toml --set epochs=5 --set lr=3e-5
      edgeft train classifier --train train.csv --peft lora --lr 5e-4 --out models/sst2-lora
      edgeft train classifier --train train.csv --freeze layers:3 --seeds 1,2,3 --out models/sst2-l3

    Runs on a CUDA GPU with mixed precision when one is present, on the CPU otherwise; for several
    GPUs launch it with `accelerate launch -m edgeft train classifier ...` or `torchrun`.
    """
    flags = dict(
        train=train,
        eval=eval,
        out=out,
        base=base,
        text_column=text_column,
        label_column=label_column,
        multi_label=multi_label,
        label_separator=label_separator,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        max_length=max_length,
        seed=seed,
        **tuning_flags(seeds, freeze, peft, lora_r, lora_alpha, lora_target_modules, layerwise_lr_decay, reinit_top_layers, warmup_ratio),
    )
    configure_and_train(
        "classifier", ClassifierConfig, flags=flags, config_file=config, overrides=set_, print_only=print_config_,
        overwrite=overwrite, resume=resume,
    )


_SF = SetFitConfig()


@app.command("setfit")
@command
def setfit(
    train: opt.Train = None,
    eval: opt.Eval = None,
    out: opt.Out = None,
    base: opt.Base = None,
    text_column: opt.TextColumn = None,
    label_column: opt.LabelColumn = None,
    multi_label: MultiLabel = None,
    label_separator: LabelSeparator = None,
    shots: Annotated[
        Optional[int],
        typer.Option(help="Train on N examples per label sampled from --train with --seed; without --eval the other rows are the eval data. [default: all rows]", show_default=False),
    ] = None,
    num_iterations: Annotated[
        Optional[int],
        typer.Option(help=f"Pairs per training example and side (positive/negative); 0: --set sampling_strategy decides. [default: {_SF.num_iterations}]", show_default=False),
    ] = None,
    epochs: Annotated[Optional[float], typer.Option(help=f"Epochs over the pairs (body). [default: {_SF.epochs:g}]", show_default=False)] = None,
    batch_size: Annotated[Optional[int], typer.Option(help=f"Pairs per step. [default: {_SF.batch_size}]", show_default=False)] = None,
    lr: Annotated[Optional[float], typer.Option("--lr", help=f"Body learning rate. [default: {_SF.lr:g}]", show_default=False)] = None,
    max_length: opt.MaxLength = None,
    seed: opt.Seed = None,
    seeds: opt.Seeds = None,
    freeze: Annotated[
        Optional[str],
        typer.Option(help="Freeze the body: none, embeddings, layers:N (the embeddings and the bottom N layers) or encoder (no contrastive phase: the head is fitted on the frozen body's embeddings). [default: none]", show_default=False),
    ] = None,
    config: opt.ConfigFile = None,
    set_: opt.Set = None,
    overwrite: opt.Overwrite = False,
    print_config_: PrintConfig = False,
) -> None:
    """Few-shot classification with SetFit: contrastive fine-tuning of a sentence-transformer on
    pairs built from the labels, then a logistic-regression head on its embeddings.

    Head and pair options go through --set: head_c, head_max_iter, head_class_weight=balanced,
    sampling_strategy (with --num-iterations 0), max_steps, warmup_ratio, weight_decay.

    \b
    Examples:
      edgeft train setfit --train few.csv --eval dev.csv --out models/fewshot
      edgeft train setfit --train big.csv --shots 8 --seed 3 --out models/fewshot8
      edgeft train setfit --train tickets.jsonl --multi-label --label-column tags --out models/tickets
    """
    flags = dict(
        train=train,
        eval=eval,
        out=out,
        base=base,
        text_column=text_column,
        label_column=label_column,
        multi_label=multi_label,
        label_separator=label_separator,
        shots=shots,
        num_iterations=num_iterations,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        max_length=max_length,
        seed=seed,
        seeds=seeds,
        freeze=freeze,
    )
    configure_and_train(
        "setfit", SetFitConfig, flags=flags, config_file=config, overrides=set_, print_only=print_config_, overwrite=overwrite
    )
