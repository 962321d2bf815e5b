"""Options declared once: a dataclass field holds an option's flag, help, default and checks.

The runtime's commands build their argparse parsers from such a dataclass (``add_arguments``,
``from_arguments``), the ``edgeft`` CLI builds its Typer flags from the same one, and the dataclass
checks its values when it is constructed (``check_fields`` in ``__post_init__``), so a value given
on either command line or in Python meets the same checks and fails with the same message:
``OptionError("--max-drop nan: give a finite number")``.

The checks are small objects (``Finite``, ``Between``, ``AtLeast``, ``OneOf``) that say what is
wrong with a value, so any other reader of user or manifest numbers can apply them too
(``check_value``).
"""

from __future__ import annotations

import argparse
import math
import sys
import types
import typing
from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any, Callable, Sequence


class OptionError(ValueError):
    """A value given for an option is unusable; the message names the option and what to give."""

    def __init__(self, option: str, value: Any, problem: str):
        super().__init__(f"{option} {show(value)}: {problem}")
        self.option = option


def show(value: Any) -> str:
    """A value as a user typed it: ``1`` for 1.0, ``nan``, ``a,b`` for a list."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ",".join(show(v) for v in value)
    return str(value)


# --- Checks: each says what is wrong with a value, or None ------------------------------------


class Check:
    """One condition on a value; ``problem`` says what to give instead, or None when it holds."""

    def problem(self, value: Any) -> str | None:
        raise NotImplementedError

    def describe(self) -> str:
        """The condition in words, for help texts."""
        raise NotImplementedError


def _plain(x: float) -> str:
    """1048576 rather than 1.04858e+06: a bound as a user would type it."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class Finite(Check):
    """A number, not nan or infinite."""

    def problem(self, value: Any) -> str | None:
        return None if _number(value) and math.isfinite(value) else "give a finite number"

    def describe(self) -> str:
        return "a finite number"


@dataclass(frozen=True)
class Between(Check):
    """A finite number from ``low`` to ``high`` (both included)."""

    low: float
    high: float
    unit: str = ""  # said after the range: " points", "%"

    def problem(self, value: Any) -> str | None:
        if not (_number(value) and math.isfinite(value)):
            return f"give a finite number from {self.describe()}"
        return None if self.low <= value <= self.high else f"give a number from {self.describe()}"

    def describe(self) -> str:
        return f"{_plain(self.low)} to {_plain(self.high)}{self.unit}"


@dataclass(frozen=True)
class AtLeast(Check):
    """A finite number of at least ``low`` (a count: an integer)."""

    low: float
    meaning: str = ""  # what the lowest value means, said in the message: "0: none"

    def problem(self, value: Any) -> str | None:
        if not (_number(value) and math.isfinite(value) and value >= self.low):
            return f"give {self.describe()}"
        return None

    def describe(self) -> str:
        return f"{self.low:g} or more" + (f" ({self.meaning})" if self.meaning else "")


@dataclass(frozen=True)
class Whole(Check):
    """An integer (not a bool, not 2.0): a count from Python or JSON, where no parser made it one."""

    def problem(self, value: Any) -> str | None:
        return None if isinstance(value, int) and not isinstance(value, bool) else "give a whole number"

    def describe(self) -> str:
        return "a whole number"


# onnxruntime's thread counts: a C int, and far more threads than cores only thrash.
MAX_THREADS = 1024
THREADS = (Whole(), Between(1, MAX_THREADS))


@dataclass(frozen=True)
class OneOf(Check):
    """One of a few words."""

    choices: tuple[Any, ...]

    def problem(self, value: Any) -> str | None:
        return None if value in self.choices else f"choose {self.describe()}"

    def describe(self) -> str:
        words = [str(c) for c in self.choices if c is not None]
        return ", ".join(words[:-1]) + f" or {words[-1]}" if len(words) > 1 else words[0]


@dataclass(frozen=True)
class Interval(Check):
    """A finite number in an interval whose ends may be open: ``Interval(0, 1, low_open=True)`` is
    (0, 1]. ``high=None``: no upper end (``> 0``). Training's options speak this notation, as
    their configs and errors always have."""

    low: float
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def problem(self, value: Any) -> str | None:
        if not (_number(value) and math.isfinite(value)):
            return f"give a finite number {self.describe()}"
        above = value > self.low if self.low_open else value >= self.low
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return None if above and below else f"give a number {self.describe()}"

    def describe(self) -> str:
        if self.high is None:
            return f"{'>' if self.low_open else '>='} {_plain(self.low)}"
        return f"in {'(' if self.low_open else '['}{_plain(self.low)}, {_plain(self.high)}{')' if self.high_open else ']'}"


class WholeValue(Check):
    """A check on a list option's value as a whole (its items meet the other checks one by one)."""


@dataclass(frozen=True)
class Distinct(WholeValue):
    """No item twice."""

    example: str = ""

    def problem(self, value: Any) -> str | None:
        return None if len(set(value)) == len(value) else f"give {self.describe()}"

    def describe(self) -> str:
        return "distinct values" + (f", e.g. {self.example}" if self.example else "")


@dataclass(frozen=True)
class NotEmpty(WholeValue):
    """Some text, or a list with at least one item."""

    what: str = "a value"

    def problem(self, value: Any) -> str | None:
        return None if len(value) else f"give {self.describe()}"

    def describe(self) -> str:
        return self.what


def check_value(option: str, value: Any, checks: Sequence[Check]) -> None:
    """Raise OptionError naming ``option`` when ``value`` fails one of ``checks`` (None passes:
    "not given")."""
    if value is None:
        return
    for check in checks:
        problem = check.problem(value)
        if problem:
            raise OptionError(option, value, problem)


# --- Declaring options ------------------------------------------------------------------------


def option(
    default: Any,
    help: str,
    *checks: Check,
    flags: tuple[str, ...] = (),
    parse: Callable[[str], Any] | None = None,
    default_text: str | None = None,
    repeat: bool = False,
    cli: bool = True,
    metavar: str | None = None,
) -> Any:
    """A dataclass field that is a command-line option.

    flags: its names on the command line (default ``--field-name``; a bool flag that can also be
    turned off: ``("--optimize/--no-optimize",)``). parse: text -> value, for options whose value is
    not a plain str/int/float (raise ValueError with what to give). default_text: the default as
    the help says it, where the value does not ("the export gate's"). repeat: the option may be
    given several times (a list). cli: False for an option that is set only in a config file or
    with ``--set`` (training's less common ones), not by a flag of its own. metavar: the value's
    name in the help (FILE, DIR). A list default is copied for each instance.
    """
    meta = {
        "help": help, "checks": checks, "flags": flags, "parse": parse, "default_text": default_text, "repeat": repeat,
        "cli": cli, "metavar": metavar,
    }
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


def like(cls: type, name: str, default: Any, **changes: Any) -> Any:
    """The option ``name`` of ``cls`` declared again with another default (and any of ``option``'s
    other arguments changed): its help and checks stay stated once."""
    meta = {**next(f for f in fields(cls) if f.name == name).metadata, **changes}
    return option(default, meta.pop("help"), *meta.pop("checks"), **meta)


def declared(cls: type) -> list[Field]:
    """The fields of ``cls`` that are options (declared with ``option``)."""
    return [f for f in fields(cls) if "help" in f.metadata]


def flags_of(f: Field) -> tuple[str, ...]:
    """The option's names on the command line."""
    return f.metadata.get("flags") or ("--" + f.name.replace("_", "-"),)


def flag_of(f: Field) -> str:
    """The option's first name, as messages say it (``--optimize`` of ``--optimize/--no-optimize``)."""
    return flags_of(f)[0].split("/")[0]


def value_type(cls: type, f: Field) -> Any:
    """The option's value type on the command line, without ``None``: str, int, float, bool, or
    str for a ``parse``d option (a repeated option: its item type)."""
    if f.metadata.get("parse"):
        return str
    hint = typing.get_type_hints(cls)[f.name]
    optional = typing.get_origin(hint) in (typing.Union, types.UnionType)
    kind = next(a for a in typing.get_args(hint) if a is not type(None)) if optional else hint
    return typing.get_args(kind)[0] if f.metadata.get("repeat") else kind


def parsed(cls: type, f: Field, value: Any) -> Any:
    """A command-line value through the option's ``parse`` (OptionError naming the option)."""
    parse = f.metadata.get("parse")
    if parse is None or value is None:
        return value
    try:
        return parse(value)
    except ValueError as e:
        raise OptionError(flag_of(f), value, str(e)) from None


def first_failure(obj: Any) -> tuple[Field, Any, Check, str] | None:
    """The first option of a dataclass instance that fails a check: (field, the value or list item
    that failed, the check, the problem); None when all hold. A list's items are checked one by
    one, the list itself by its ``WholeValue`` checks; None is "not given" and passes."""
    for f in declared(type(obj)):
        value = getattr(obj, f.name)
        if value is None:
            continue
        checks = f.metadata.get("checks", ())
        whole = [c for c in checks if isinstance(c, WholeValue)]
        items = value if isinstance(value, list) else [value]
        each = [c for c in checks if not isinstance(c, WholeValue)]
        for item, item_checks in [(value, whole), *((i, each) for i in items)]:
            for check in item_checks:
                problem = None if item is None else check.problem(item)
                if problem:
                    return f, item, check, problem
    return None


def check_fields(obj: Any) -> None:
    """Every option of a dataclass instance against its checks; OptionError on the first that fails."""
    failure = first_failure(obj)
    if failure:
        f, value, _, problem = failure
        raise OptionError(flag_of(f), value, problem)


def default_of(f: Field) -> Any:
    return f.default_factory() if f.default_factory is not MISSING else f.default  # type: ignore[misc]


def help_text(f: Field, *, with_default: bool) -> str:
    """The option's help, ending with its default where it has a meaningful one."""
    text = f.metadata["help"]
    value = default_of(f)
    # 0 is a default worth saying; None ("not given") and False (a flag that is off) are not.
    default = f.metadata.get("default_text") or (None if value is None or value is False else show(value))
    return f"{text} [default: {default}]" if with_default and default else text


# --- argparse ---------------------------------------------------------------------------------


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one ``error:`` line (exit 2), like every other error here."""

    def error(self, message: str) -> typing.NoReturn:
        sys.stderr.write(f"error: {message} (see {self.prog} --help)\n")
        raise SystemExit(2)


def add_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    """An argparse argument for each option of ``cls`` (that has a flag: ``cli``)."""
    for f in declared(cls):
        if not f.metadata.get("cli", True):
            continue
        names = flags_of(f)
        kind = value_type(cls, f)
        help = help_text(f, with_default=True).replace("%", "%%")
        if kind is bool:
            on, _, off = names[0].partition("/")
            parser.add_argument(on, dest=f.name, action="store_true", default=default_of(f), help=help)
            if off:
                parser.add_argument(off, dest=f.name, action="store_false", help=argparse.SUPPRESS)
        else:
            action = "append" if f.metadata.get("repeat") else "store"
            metavar = names[0].lstrip("-").replace("-", "_").upper()
            parser.add_argument(*names, dest=f.name, type=kind, action=action, default=default_of(f), help=help, metavar=metavar)


def from_arguments(cls: type, args: argparse.Namespace) -> Any:
    """The options of ``cls`` from parsed arguments: parsed and checked (OptionError)."""
    return cls(**{f.name: parsed(cls, f, getattr(args, f.name)) for f in declared(cls)})
