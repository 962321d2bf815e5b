"""Every command, every option that takes a number, fed malformed values (nan, inf, negative,
huge, wrong type, empty), plus bogus choices and shapes: each must end in one `error:` line that
names the option, a non-zero exit, no traceback, and never the "unexpected" handler (a bug).

The numeric options are found by walking the CLI, so an option added later is covered without
editing this file; the base invocation of each command is valid and cheap, so a value that is
wrongly accepted shows up as a command that ran (or failed for another reason), not as a hang.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import signal
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from edgeft.cli import app
from tests import tiny

FLOAT_VALUES = ["nan", "inf", "-inf", "-1", "1e308", "x", ""]
INT_VALUES = ["-1", "99999999999999999999", "1.5", "x", ""]

HUGE = "99999999999999999999"
# Numeric options for which one of the values above is meaningful (the reason in the comment).
ALLOWED: dict[tuple[str, str], set[str]] = {
    ("check", "--samples"): {HUGE},  # "the first N": N beyond the set checks all of it
    ("export", "--parity-samples"): {HUGE},  # "at most this many"
    ("export", "--reference-samples"): {HUGE},  # "at most this many"
    ("export", "--atol"): {"1e308"},  # a tolerance of any finite size is a choice (no fp32 gate)
    **{(c, "--batch-size"): {HUGE} for c in ("train classifier", "train setfit", "train ner", "train mlm", "train embedding", "distill")},  # the whole set per step
}

# Cases still open, each with its owner: delete a line once its option's checks refuse the value,
# and the case runs again. (Training's bounds now live in their config fields: edgeft/config.py.)
KNOWN_GAPS: dict[tuple[str, str, str], str] = {}


def commands() -> dict[str, Any]:
    """'train classifier' -> its click command, for every leaf command of `edgeft`."""
    found: dict[str, Any] = {}

    def walk(cmd: Any, path: list[str]) -> None:
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                walk(sub, path + [name])
        else:
            found[" ".join(path)] = cmd

    walk(get_command(app), [])
    return found


def numeric_options() -> list[tuple[str, str, str]]:
    """(command, flag, value) for every int or float option of every command."""
    cases = []
    for name, cmd in commands().items():
        for param in cmd.params:
            if param.param_type_name != "option" or getattr(param, "is_flag", False):
                continue
            kind = param.type_descriptor.annotation
            values = FLOAT_VALUES if kind is float else INT_VALUES if kind is int else None
            flag = param.opts[0]
            for value in values or []:
                if value in ALLOWED.get((name, flag), set()):
                    continue
                gap = KNOWN_GAPS.get((name, flag, value))
                # Not run: a gap may start a training of 1e308 epochs (stopped only by the alarm).
                marks = [pytest.mark.xfail(reason=f"known gap, {gap}", run=False)] if gap else []
                cases.append(pytest.param(name, flag, value, marks=marks))
    return cases


# Config keys without a flag of their own (set with --set or a --config file), for which one of
# the values above is meaningful.
ALLOWED_KEYS: dict[str, set[str]] = {
    "early_stopping_patience": {HUGE, ""},  # "stop after N evaluations without improvement": never; distill: "" = the teacher's
    "logging_steps": {HUGE},  # "log every N steps": never
    "head_max_iter": {HUGE},  # "at most N iterations": scikit-learn stops when it converges
}


def config_classes() -> dict[str, type]:
    """The command -> the config class whose fields are its options (training's commands)."""
    from edgeft.config import DistillConfig
    from edgeft.tasks import get_task

    return {**{f"train {t}": get_task(t).config_class for t in ("classifier", "setfit", "ner", "mlm", "embedding")}, "distill": DistillConfig}


def config_key_cases() -> list[tuple[str, str, str]]:
    """(command, key, value) for every int or float config key that has no flag (--set only)."""
    import types
    import typing

    from edgeft_runtime.options import declared

    cases = []
    for command, cls in config_classes().items():
        hints = typing.get_type_hints(cls)
        for f in declared(cls):
            if f.metadata.get("cli", True) or f.name in getattr(cls, "not_applicable", ()):
                continue
            kind = hints[f.name]
            if typing.get_origin(kind) in (typing.Union, types.UnionType):
                kind = next(a for a in typing.get_args(kind) if a is not type(None))
            values = FLOAT_VALUES if kind is float else INT_VALUES if kind is int else []
            cases += [(command, f.name, v) for v in values if v not in ALLOWED_KEYS.get(f.name, set())]
    return cases


@pytest.fixture(scope="module")
def files(tmp_path_factory, tiny_base, tiny_checked_bundle) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("option-values")
    bundle = Path(shutil.copytree(tiny_checked_bundle, folder / "bundle"))
    texts = folder / "texts.txt"
    texts.write_text("".join(f"{t}\n" for t, _ in tiny.sentiment_rows(40, seed=5)), encoding="utf-8")
    return {
        "base": tiny_base,
        "bundle": bundle,
        "csv": tiny.write_csv(folder / "train.csv", tiny.sentiment_rows(24, seed=3)),
        "conll": tiny.write_conll(folder / "train.conll", tiny.ner_sentences(12, seed=3)),
        "texts": texts,
        "out": folder / "out",
    }


@pytest.fixture
def inputs(request, files, command) -> dict[str, Path]:
    """The files, and a trained run only for the commands that read one (it takes a training)."""
    return {**files, "run": request.getfixturevalue("tiny_run")} if command in ("distill", "export") else files


def base_args(command: str, paths: dict[str, Path]) -> list[str]:
    """A valid, cheap invocation of ``command`` (the option under test is appended to it)."""
    train = ["--base", paths["base"], "--out", paths["out"] / "run", "--overwrite"]
    return [
        str(a)
        for a in {
            "train classifier": ["--train", paths["csv"], *train],
            "train setfit": ["--train", paths["csv"], *train],
            "train ner": ["--train", paths["conll"], *train],
            "train mlm": ["--corpus", paths["texts"], "--max-length", "16", *train],
            "train embedding": ["--corpus", paths["texts"], "--max-length", "16", *train],
            "distill": [paths.get("run"), "--layers", "1", "--out", paths["out"] / "student", "--overwrite"],
            "export": [paths.get("run"), "--out", paths["out"] / "bundle", "--overwrite"],
            "predict": [paths["bundle"], "--input", paths["texts"], "--output", paths["out"] / "p.jsonl", "--overwrite"],
            "eval": [paths["bundle"], "--data", paths["csv"]],
            "bench": [paths["bundle"], "--no-check", "--runs", "1", "--cold-passes", "0"],
            "check": [paths["bundle"]],
            "info": [paths["bundle"]],
            "compare": [],
            "bundle strip-reference": [paths["bundle"]],
        }[command]
    ]


def assert_refused(result: Any, *names: str) -> str:
    """One error line (ours: `error:`, or Click's usage `Error:`) naming one of ``names``."""
    output = result.output
    assert not isinstance(result.exception, TimeoutError), result.exception
    assert result.exit_code not in (0, None), f"accepted:\n{output[-1500:]}"
    assert "Traceback" not in output, output[-3000:]
    errors = [line for line in output.splitlines() if re.match(r"(?i)^error:", line)]
    assert len(errors) == 1, output[-1500:]
    assert "unexpected" not in errors[0], errors[0]
    assert any(name in errors[0] for name in names), f"{errors[0]!r} names none of {names}"
    return errors[0]


SECONDS = 60  # a refusal takes well under a second; a value wrongly accepted starts real work


def invoke(args: list[str]) -> Any:
    """Run ``edgeft ARGS`` in this process, stopped after SECONDS (an accepted value may start a
    benchmark of 1e308 seconds: that must fail this test, not hang it)."""

    def stop(signum: int, frame: Any) -> None:
        raise TimeoutError(f"still running after {SECONDS} s: the value was accepted")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(SECONDS)
    try:
        return CliRunner().invoke(app, args)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("command, flag, value", numeric_options(), ids=lambda v: str(v) or "empty")
def test_a_malformed_number_is_one_error_naming_the_option(inputs, command, flag, value):
    args = [*command.split(), *base_args(command, inputs), f"{flag}={value}"]
    param = next(p for p in commands()[command].params if flag in p.opts)
    assert_refused(invoke(args), *param.opts, param.name, param.name.replace("_", " "))


@pytest.mark.parametrize("command, key, value", config_key_cases(), ids=lambda v: str(v) or "empty")
def test_a_malformed_config_value_is_one_error_naming_the_key(inputs, command, key, value):
    """The options without a flag meet the same checks through --set (a --config file's values go
    through the same conversion and checks: tests/test_config.py)."""
    assert_refused(invoke([*command.split(), *base_args(command, inputs), "--set", f"{key}={value}"]), key)


# (command, extra arguments, what the error must name)
CHOICE_CASES = [
    ("export", ["--per-channel", "bogus"], "--per-channel"),
    ("export", ["--reduce-range", "bogus"], "--reduce-range"),
    ("export", ["--target", "bogus"], "--target"),
    ("export", ["--archive", "rar"], "--archive"),
    ("export", ["--static-shape", "0x0"], "--static-shape"),
    ("export", ["--static-shape", "1x"], "--static-shape"),
    ("export", ["--static-shape", "99999999999x1"], "--static-shape"),
    ("export", ["--static-shape", ""], "--static-shape"),
    ("predict", ["--variant", "bogus"], "bogus"),
    ("predict", ["--engine", "bogus"], "--engine"),
    ("predict", ["--text-column", ""], "text"),
    ("predict", ["--keep-columns", "nosuch"], "nosuch"),
    ("eval", ["--variant", "bogus"], "bogus"),
    ("eval", ["--scheme", "bogus"], "--scheme"),
    ("eval", ["--aggregation", "bogus"], "--aggregation"),
    ("check", ["--variant", "bogus"], "bogus"),
    ("bench", ["--variant", "bogus"], "bogus"),
    ("train classifier", ["--freeze", "bogus"], "freeze"),
    ("train classifier", ["--peft", "bogus"], "peft"),
    ("train classifier", ["--seeds", "a,b"], "seeds"),
    ("train classifier", ["--lora-target-modules", ""], "lora_target_modules"),
    ("train classifier", ["--set", "epochs=nan"], "epochs"),
    ("train classifier", ["--set", "bogus"], "--set"),
    ("train ner", ["--scheme", "bogus"], "scheme"),
    ("train ner", ["--aggregation", "bogus"], "aggregation"),
    ("train ner", ["--word-split", "bogus"], "word_split"),
]


@pytest.mark.parametrize("command, extra, name", CHOICE_CASES, ids=lambda v: " ".join(v) if isinstance(v, list) else str(v))
def test_a_bogus_choice_or_shape_is_one_error_naming_the_option(inputs, command, extra, name):
    assert_refused(invoke([*command.split(), *base_args(command, inputs), *extra]), name)


def test_every_known_gap_and_allowance_names_a_real_case():
    cases = {(c, f) for c, cmd in commands().items() for p in cmd.params for f in p.opts}
    stale = [key for key in [*KNOWN_GAPS, *ALLOWED] if key[:2] not in cases]
    assert not stale, f"no such command option: {stale}"
    keys = {f.name for cls in config_classes().values() for f in dataclasses.fields(cls)}
    assert not set(ALLOWED_KEYS) - keys, f"no such config key: {set(ALLOWED_KEYS) - keys}"
