"""The options of ``edgeft serve`` / ``python -m edgeft_runtime.serve``, declared once.

Each numeric option is one row of ``NUMBERS`` (flag, type, default, range, help): argparse gets
its flag and help from the row and the value is checked against it after parsing, so every
number is finite and in range or the command stops with one ``error:`` line naming the option.
The rows are plain data so that they can move onto a shared option spec without changing.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence


@dataclass(frozen=True)
class Number:
    """A numeric option: ``--flag VALUE`` with ``low <= VALUE <= high``; ``default`` None means unset."""

    flag: str
    kind: type  # int or float
    default: float | int | None
    low: float
    high: float
    help: str

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    def parse(self, text: str) -> float | int:
        """The value of ``text`` or ``ValueError`` with a message naming the flag and the range."""
        wanted = f"give {'an integer' if self.kind is int else 'a number'} from {self.low:g} to {self.high:g}"
        try:
            value = int(text) if self.kind is int else float(text)
        except ValueError:
            raise ValueError(f"{self.flag} {text!r} is not {'an integer' if self.kind is int else 'a number'}; {wanted}") from None
        if not math.isfinite(value) or not self.low <= value <= self.high:
            raise ValueError(f"{self.flag} {text}: out of range; {wanted}")
        return value


# Defaults measured on a 2-core x86 box with the MiniLM demo bundle (docs/serve.md, benchmarks/serve.py).
NUMBERS: tuple[Number, ...] = (
    Number("--port", int, 8080, 0, 65535, "TCP port (0: any free port, printed at start-up)"),
    Number("--max-batch", int, 32, 1, 4096, "most texts run together in one batch (1: no batching)"),
    Number("--max-wait-ms", float, 0.0, 0, 10_000, "how long the first queued request waits for others to join its batch (0: never; batches form from the requests that queued while the model was busy, which measured faster at every client count on 2 cores, docs/serve.md)"),
    Number("--max-queue", int, 512, 1, 1_000_000, "most texts waiting per model; beyond it requests get 429 with Retry-After"),
    Number("--max-texts", int, 64, 1, 100_000, "most texts in one request (413 beyond)"),
    Number("--max-chars", int, 20_000, 1, 100_000_000, "most characters in one text (413 beyond)"),
    Number("--max-body-bytes", int, 1 << 20, 64, 1 << 30, "largest request body in bytes (413 beyond)"),
    Number("--threads", int, None, 1, 1024, "onnxruntime intra-op threads per model (default: one per core)"),
    Number("--check-samples", int, None, 1, 1_000_000, "check only the first N reference examples at start-up and reload (slow devices)"),
    Number("--graceful-timeout", float, 30.0, 0, 86_400, "seconds SIGTERM waits for requests in flight before closing"),
)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# Paths the service answers at the root; a bundle may not be named after one of them.
RESERVED_NAMES = frozenset({"health", "ready", "metrics", "openapi.json", "info", "predict", "embed", "admin", "docs"})


@dataclass(frozen=True)
class BundleSpec:
    """One served bundle: its route name and where it is on disk."""

    name: str
    path: Path


@dataclass
class ServeOptions:
    """Everything the service needs, validated."""

    bundles: list[BundleSpec]
    host: str = "127.0.0.1"
    port: int = 8080
    max_batch: int = 32
    max_wait_ms: float = 0.0
    max_queue: int = 512
    max_texts: int = 64
    max_chars: int = 20_000
    max_body_bytes: int = 1 << 20
    threads: int | None = None
    check_samples: int | None = None
    graceful_timeout: float = 30.0
    variant: str = "auto"
    check: bool = True
    log_level: str = "info"


class OptionError(ValueError):
    """A command-line value that cannot be used; the message names the option."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line that starts with the option, no usage block
        if message.startswith("argument "):
            message = message[len("argument "):]
        if message.endswith("expected one argument"):
            message += " (write the option as --name=VALUE for a value that starts with '-')"
        raise OptionError(f"{message}; see --help")


def build_parser(prog: str = "python -m edgeft_runtime.serve") -> argparse.ArgumentParser:
    parser = _Parser(
        prog=prog,
        description="Serve edgeft bundles over HTTP (text-embeddings-inference request shapes, dynamic batching, "
        "Prometheus metrics). The first bundle is also served at the root.",
        epilog="Endpoints: POST /predict, POST /embed, GET /info (at the root and under /NAME/), GET /health, "
        "GET /ready, GET /metrics, GET /openapi.json, POST /admin/reload (loopback clients only; also SIGHUP).",
    )
    parser.add_argument("bundles", nargs="+", metavar="BUNDLE", help="a bundle folder or archive, or NAME=PATH to choose its route name (default: the folder name)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s; 0.0.0.0 for every interface)")
    for n in NUMBERS:
        shown = "" if n.default is None else f" (default: {n.default:g})"
        parser.add_argument(n.flag, dest=n.dest, default=None, metavar="N", help=n.help + shown)
    parser.add_argument("--variant", default="auto", help="bundle variant to serve (default: auto, the build load() picks for this CPU)")
    parser.add_argument("--no-check", dest="check", action="store_false", help="serve bundles without running the device check (bundles with no reference set, or that fail it)")
    parser.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"), help="(default: %(default)s)")
    return parser


def bundle_spec(text: str) -> BundleSpec:
    """``NAME=PATH`` or ``PATH`` (named after its folder, archive suffixes dropped)."""
    name, sep, path = text.partition("=")
    if not sep or not _NAME.match(name):
        name, path = "", text
    folder = Path(path)
    if not name:
        name = folder.name
        for suffix in (".tar.gz", ".tgz", ".zip"):
            if name.lower().endswith(suffix):
                name = name[: -len(suffix)]
        name = re.sub(r"[^A-Za-z0-9_.-]", "-", name).lstrip("-._") or "model"
    if name in RESERVED_NAMES:
        raise OptionError(f"bundle name {name!r} is taken by a built-in path; name it with NAME=PATH")
    return BundleSpec(name, folder)


def parse_options(argv: Sequence[str] | None = None, prog: str = "python -m edgeft_runtime.serve") -> ServeOptions:
    """Parse and check the command line; ``OptionError`` names the first bad option."""
    args = build_parser(prog).parse_args(list(sys.argv[1:] if argv is None else argv))
    values: dict[str, Any] = {}
    for n in NUMBERS:
        text = getattr(args, n.dest)
        try:
            values[n.dest] = n.default if text is None else n.parse(text)
        except ValueError as e:
            raise OptionError(str(e)) from None
    specs = [bundle_spec(b) for b in args.bundles]
    seen: dict[str, Path] = {}
    for spec in specs:
        if spec.name in seen:
            raise OptionError(f"two bundles are named {spec.name!r} ({seen[spec.name]} and {spec.path}); name them with NAME=PATH")
        seen[spec.name] = spec.path
    if values["max_texts"] > values["max_queue"]:
        raise OptionError(f"--max-texts {values['max_texts']} is more than --max-queue {values['max_queue']}: such a request could never be queued")
    if not args.host.strip():
        raise OptionError("--host is empty; give an address such as 127.0.0.1")
    return ServeOptions(bundles=specs, host=args.host, variant=args.variant, check=args.check, log_level=args.log_level, **values)
