"""Typer flags from options declared once (``edgeft_runtime.options.option`` fields).

``with_options(ExportOptions)`` gives a command one flag per declared field (name, type, help,
default from the field) and hands the command body one checked ``ExportOptions``: the command
repeats none of it, and a value that fails a field's check is one ``error:`` line naming the flag.

``with_flags(ClassifierConfig)`` does the same for a layered config (defaults < ``--config`` file
< flags < ``--set``): every flag is None unless given, so that a default never hides a file's
value, and the body gets the given ones as a dict for ``edgeft.config_loader.build_config``.
"""

from __future__ import annotations

import functools
import inspect
import typing
from typing import Annotated, Any, Callable, Optional, TypeVar

import typer
from edgeft_runtime.options import declared, default_of, flags_of, help_text, parsed, value_type

F = TypeVar("F", bound=Callable[..., Any])


def on_command_line(cls: type) -> list[Any]:
    """The declared options of ``cls`` that have a flag: not ``cli=False``, not one the class lists
    as ``not_applicable`` (an inherited option its task does not use)."""
    skip = set(getattr(cls, "not_applicable", ()))
    found = [f for f in declared(cls) if f.metadata.get("cli", True) and f.name not in skip]
    # A class may name options its help lists first (a task's own input before inherited ones).
    first = tuple(getattr(cls, "flags_first", ()))
    return sorted(found, key=lambda f: first.index(f.name) if f.name in first else len(first))


def typer_parameters(cls: type) -> list[inspect.Parameter]:
    """One keyword parameter per declared option of ``cls``, annotated for Typer."""
    params = []
    for f in on_command_line(cls):
        kind: Any = value_type(cls, f)
        default = default_of(f)
        if f.metadata.get("repeat"):
            kind = Optional[list[kind]]
        elif default is None:
            kind = Optional[kind]
        # Defaults in words ("the export gate's") are said in the help; values Typer shows itself.
        worded = bool(f.metadata.get("default_text"))
        show = not worded and default is not None and default is not False
        info = typer.Option(*flags_of(f), help=help_text(f, with_default=worded), show_default=show, metavar=f.metadata.get("metavar"))
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=Annotated[kind, info]))
    return params


def given_flag(cls: type, f: Any) -> inspect.Parameter:
    """A flag that is None unless given. Its help ends with the default, which the command fills
    in from the layers below; a list not ``repeat``ed is one comma-separated value (``--seeds
    1,2,3``); a bool is a pair (``--multi-label/--single-label``; ``--x/--no-x`` when undeclared)."""
    kind: Any = value_type(cls, f)
    names = flags_of(f)
    metavar = f.metadata.get("metavar")
    if f.metadata.get("repeat"):
        kind = list[kind]
    elif typing.get_origin(kind) is list:
        kind, metavar = str, metavar or "A,B"
    elif kind is bool and "/" not in names[0]:
        names = (f"{names[0]}/--no-{names[0][2:]}", *names[1:])
    info = typer.Option(*names, help=help_text(f, with_default=True), show_default=False, metavar=metavar)
    return inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[Optional[kind], info])


def replace_parameters(
    fn: F, name: str, extra: list[inspect.Parameter], build: Callable[[dict[str, Any]], Any], *, first: bool = False
) -> F:
    """``fn`` with its parameter ``name`` replaced by the ``extra`` parameters (after its own; with
    ``first``, after its arguments only): Typer sees the flags, the body gets ``build(their
    values)`` as ``name``."""
    signature = inspect.signature(fn, eval_str=True)
    own = [p for p in signature.parameters.values() if p.name != name]
    names = [p.name for p in extra]

    @functools.wraps(fn)
    def command(*args: Any, **kwargs: Any) -> Any:
        values = {n: kwargs.pop(n) for n in names}
        return fn(*args, **kwargs, **{name: build(values)})

    everything = own + extra
    if first:
        required = [p for p in own if p.default is inspect.Parameter.empty]
        everything = required + extra + [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own if p not in required]
    command.__signature__ = signature.replace(parameters=everything)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in everything}
    del command.__wrapped__  # Typer reads the signature above, not the body's
    return command  # type: ignore[return-value]


def with_options(cls: type, name: str = "options") -> Callable[[F], F]:
    """Decorate a command whose parameter ``name`` takes a ``cls``: the command line gets a flag per
    declared option of ``cls`` instead, and the body gets ``cls(...)`` built from them (checked on
    construction: an ``OptionError`` becomes the command's one error line)."""

    def build(values: dict[str, Any]) -> Any:
        return cls(**{f.name: parsed(cls, f, values[f.name]) for f in on_command_line(cls)})

    return lambda fn: replace_parameters(fn, name, typer_parameters(cls), build)


def with_flags(cls: type, name: str = "flags") -> Callable[[F], F]:
    """Decorate a command whose parameter ``name`` takes the flags given for a layered config of
    type ``cls`` (a dict: option name -> value, None when not given)."""
    extra = [given_flag(cls, f) for f in on_command_line(cls)]

    def build(values: dict[str, Any]) -> dict[str, Any]:
        return {f.name: parsed(cls, f, values[f.name]) for f in on_command_line(cls)}

    return lambda fn: replace_parameters(fn, name, extra, build, first=True)
