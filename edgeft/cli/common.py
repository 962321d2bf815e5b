"""What every command shares: one-line errors without tracebacks, logging, the --debug switch."""

from __future__ import annotations

import functools
import logging
import os
import sys
import warnings
from typing import Any, Callable, TypeVar

import typer
from edgeft_runtime.errors import EXIT_BUG

F = TypeVar("F", bound=Callable[..., Any])

_ENV_DEBUG = os.environ.get("EDGEFT_DEBUG", "") not in ("", "0")
_state = {"debug": _ENV_DEBUG}


def set_debug(value: bool) -> None:
    """Per invocation: `--debug` (or EDGEFT_DEBUG) of one command must not leak into the next
    command run in the same process (CliRunner, notebooks)."""
    _state["debug"] = _ENV_DEBUG or value


def is_user_error(error: BaseException) -> bool:
    """Errors whose message is meant for the user (the rest are bugs: we say so)."""
    from edgeft_exporters.errors import ExportError
    from edgeft_exporters.staging import OutputExistsError
    from edgeft_runtime.errors import BundleError
    from edgeft_runtime.options import OptionError

    from ..errors import EdgeftError

    return isinstance(error, (EdgeftError, ExportError, BundleError, OutputExistsError, OptionError))


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {one_line(message)}", err=True)
    raise typer.Exit(code)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (test runners swap it per invocation)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def setup_logging() -> None:
    """edgeft's progress messages on stderr; libraries' chatter down to warnings."""
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    for name in ("edgeft", "edgeft_exporters", "edgeft_runtime"):
        logger = logging.getLogger(name)
        if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
            logger.addHandler(handler)
        logger.setLevel(logging.DEBUG if _state["debug"] else logging.INFO)
        logger.propagate = False
    for noisy in ("optimum", "onnxruntime", "root", "datasets", "sentence_transformers", "setfit"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    if not _state["debug"]:
        for category in (FutureWarning, DeprecationWarning):
            warnings.filterwarnings("ignore", category=category)
        warnings.filterwarnings("ignore", message=".*TracerWarning.*")
        warnings.filterwarnings("ignore", module="torch.*")
        warnings.filterwarnings("ignore", module="transformers.*")
        warnings.filterwarnings("ignore", module="optimum.*")


def command(fn: F) -> F:
    """Wrap a command body: user errors become one line on stderr and exit 1; no tracebacks unless --debug."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        setup_logging()
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit, typer.BadParameter):
            # typer.BadParameter (a value parsed in the body) is a usage error: Typer prints it as
            # it prints its own, naming the option, with exit code 2.
            raise
        except KeyboardInterrupt:
            typer.echo("error: interrupted; earlier outputs are left as they were", err=True)
            raise typer.Exit(130) from None
        except BrokenPipeError:
            # Whoever read our output has gone (`edgeft ... | head`): stop quietly with the status
            # of a process ended by SIGPIPE, as Unix tools do. stdout is pointed at /dev/null so
            # that flushing it at exit does not fail a second time.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(128 + 13) from None
        except Exception as e:  # noqa: BLE001 - the one place errors are turned into messages
            if _state["debug"]:
                raise
            if is_user_error(e):
                fail(str(e))
            fail(f"unexpected {type(e).__name__}: {e} (run `edgeft --debug ...` for the traceback)", code=EXIT_BUG)

    return wrapper  # type: ignore[return-value]
