"""`edgeft train TASK`: one command per task, each a thin layer over ``edgeft.tasks``."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Annotated, Any, Callable

import typer
from edgeft_runtime.options import declared, flag_of

from ..config import ClassifierConfig, SetFitConfig, TrainConfig
from ..config_loader import build_config
from . import options as opt
from .common import command
from .declared import on_command_line, with_flags

app = typer.Typer(
    help="Fine-tune a model. Each task writes a save_pretrained folder plus edgeft_run.json, "
    "train_config.json and metrics.json; `edgeft export RUN` turns it into a bundle.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

PrintConfig = Annotated[bool, typer.Option("--print-config", help="Print the resolved config (every key) and exit.")]


def print_config(config: TrainConfig) -> None:
    """TOML a user can save and pass back with --config: every key, each under its help (and its
    flag, where it has one)."""
    flags = {f.name: flag_of(f) for f in on_command_line(type(config))}
    helps = {f.name: f.metadata["help"] for f in declared(type(config))}
    for key, value in config.to_dict().items():
        if key in helps:
            typer.echo(f"# {helps[key]}" + (f" ({flags[key]})" if key in flags else ""))
        typer.echo(f"{key} = {json.dumps(value, default=str)}" if value is not None else f"# {key} = (unset)")


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
    cfg = build_config(config_cls, config_file=config_file, flags=flags, overrides=overrides)
    if print_only:
        print_config(cfg)
        return
    from ..tasks import train_task

    result = train_task(task, cfg, **train_kwargs)
    if result.main_process:
        report(result, next_step(result))


def without(fn: Any, name: str) -> Any:
    """``fn`` as Typer sees it, less its parameter ``name`` (the body keeps its default)."""
    signature = inspect.signature(fn)
    fn.__signature__ = signature.replace(parameters=[p for p in signature.parameters.values() if p.name != name])
    return fn


def task_command(
    task: str, config_cls: type[TrainConfig], doc: str, *, resumable: bool = True, next_step: Callable[[Any], str] = export_next_step
) -> Callable[..., None]:
    """The `edgeft train TASK` command: a flag per option declared in ``config_cls`` (None unless
    given, so that a --config file's values stand), plus the options every task command has."""

    @with_flags(config_cls)
    def train_command(
        flags: dict[str, Any],
        config: opt.ConfigFile = None,
        set_: opt.Set = None,
        overwrite: opt.Overwrite = False,
        resume: opt.Resume = False,
        print_config_: PrintConfig = False,
    ) -> None:
        extra = {"resume": resume} if resumable else {}
        configure_and_train(
            task, config_cls, flags=flags, config_file=config, overrides=set_, print_only=print_config_, next_step=next_step,
            overwrite=overwrite, **extra,
        )

    train_command.__doc__ = doc
    train_command.__name__ = task
    wrapped = command(train_command)
    return wrapped if resumable else without(wrapped, "resume")


classifier = app.command("classifier")(
    task_command(
        "classifier",
        ClassifierConfig,
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
    """,
    )
)

setfit = app.command("setfit")(
    task_command(
        "setfit",
        SetFitConfig,
        """Few-shot classification with SetFit: contrastive fine-tuning of a sentence-transformer on
    pairs built from the labels, then a logistic-regression head on its embeddings.

    Head and pair options go through --set: head_c, head_max_iter, head_class_weight=balanced,
    sampling_strategy (with --num-iterations 0), max_steps, warmup_ratio, weight_decay.

    \b
    Examples:
      edgeft train setfit --train few.csv --eval dev.csv --out models/fewshot
      edgeft train setfit --train big.csv --shots 8 --seed 3 --out models/fewshot8
      edgeft train setfit --train tickets.jsonl --multi-label --label-column tags --out models/tickets
    """,
        resumable=False,
    )
)
