"""Typer flags from options declared once (``edgeft_runtime.options.option`` fields).

``with_options(ExportOptions)`` gives a command one flag per declared field (name, type, help,
default from the field) and hands the command body one checked ``ExportOptions``: the command
repeats none of it, and a value that fails a field's check is one ``error:`` line naming the flag.
"""

from __future__ import annotations

import functools
import inspect
from typing import Annotated, Any, Callable, Optional, TypeVar

import typer
from edgeft_runtime.options import declared, default_of, flags_of, help_text, parsed, value_type

F = TypeVar("F", bound=Callable[..., Any])


def typer_parameters(cls: type) -> list[inspect.Parameter]:
    """One keyword parameter per declared option of ``cls``, annotated for Typer."""
    params = []
    for f in declared(cls):
        kind: Any = value_type(cls, f)
        default = default_of(f)
        if f.metadata.get("repeat"):
            kind = Optional[list[kind]]
        elif default is None:
            kind = Optional[kind]
        # Defaults in words ("the export gate's") are said in the help; values Typer shows itself.
        worded = bool(f.metadata.get("default_text"))
        show = not worded and default not in (None, False)
        info = typer.Option(*flags_of(f), help=help_text(f, with_default=worded), show_default=show)
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=Annotated[kind, info]))
    return params


def with_options(cls: type, name: str = "options") -> Callable[[F], F]:
    """Decorate a command whose parameter ``name`` takes a ``cls``: the command line gets a flag per
    declared option of ``cls`` instead, and the body gets ``cls(...)`` built from them (checked on
    construction: an ``OptionError`` becomes the command's one error line)."""

    def decorate(fn: F) -> F:
        signature = inspect.signature(fn, eval_str=True)
        own = [p for p in signature.parameters.values() if p.name != name]
        extra = typer_parameters(cls)
        names = [p.name for p in extra]

        @functools.wraps(fn)
        def command(*args: Any, **kwargs: Any) -> Any:
            values = {f.name: parsed(cls, f, kwargs.pop(f.name)) for f in declared(cls) if f.name in names}
            return fn(*args, **kwargs, **{name: cls(**values)})

        everything = own + extra
        command.__signature__ = signature.replace(parameters=everything)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in everything}
        del command.__wrapped__  # Typer reads the signature above, not the body's
        return command  # type: ignore[return-value]

    return decorate
