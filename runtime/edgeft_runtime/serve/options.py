"""The options of ``edgeft serve`` / ``python -m edgeft_runtime.serve``, declared once.

Each option is one field of ``ServeOptions`` (edgeft_runtime.options ``option()``: default, help,
checks), as the device check's and training's are: argparse gets its flag, help and default from
the field, and every value is checked against the field's checks after parsing, so every number
is finite and in range or the command stops with one ``error:`` line naming the option.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from .. import options as declared_options
from ..options import THREADS, Between, OneOf, Whole, add_arguments, check_fields, declared, from_arguments, option

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# Paths the service answers at the root; a bundle may not be named after one of them.
RESERVED_NAMES = frozenset({"health", "ready", "metrics", "openapi.json", "info", "predict", "embed", "admin", "docs"})


@dataclass(frozen=True)
class BundleSpec:
    """One served bundle: its route name and where it is on disk."""

    name: str
    path: Path


# Defaults measured on a 2-core x86 box with the MiniLM demo bundle (docs/serve.md, benchmarks/serve.py).
@dataclass
class ServeOptions:
    """Everything the service needs, validated (the bundles come from the positional arguments)."""

    bundles: list[BundleSpec] = field(default_factory=list)
    host: str = option("127.0.0.1", "address to listen on (0.0.0.0 for every interface)")
    port: int = option(8080, "TCP port (0: any free port, printed at start-up)", Whole(), Between(0, 65535))
    max_batch: int = option(32, "most texts run together in one batch (1: no batching)", Whole(), Between(1, 4096))
    max_wait_ms: float = option(
        0.0,
        "how long the first queued request waits for others to join its batch (0: never; batches form from the requests "
        "that queued while the model was busy, which measured faster at every client count on 2 cores, docs/serve.md)",
        Between(0, 10_000),
    )
    max_queue: int = option(512, "most texts waiting per model; beyond it requests get 429 with Retry-After", Whole(), Between(1, 1_000_000))
    max_texts: int = option(64, "most texts in one request (413 beyond)", Whole(), Between(1, 100_000))
    max_chars: int = option(20_000, "most characters in one text (413 beyond)", Whole(), Between(1, 100_000_000))
    max_body_bytes: int = option(1 << 20, "largest request body in bytes (413 beyond)", Whole(), Between(64, 1 << 30))
    threads: int | None = option(None, "onnxruntime intra-op threads per model", *THREADS, default_text="one per core")
    batch_workers: int = option(1, "batches of one model run at once (each with --threads intra-op threads)", Whole(), Between(1, 64))
    check_samples: int | None = option(
        None, "check only the first N reference examples at start-up and reload (slow devices)", Whole(), Between(1, 1_000_000), default_text="all"
    )
    graceful_timeout: float = option(30.0, "seconds SIGTERM waits for requests in flight before closing", Between(0, 86_400))
    variant: str = option("auto", "bundle variant to serve (auto: the build load() picks for this CPU)")
    check: bool = option(
        True, "run the bundle's device check at start-up and reload, and serve it only if it passes (--no-check: serve "
        "bundles with no reference set, or that fail it)", flags=("--check/--no-check",),
    )
    log_level: str = option("info", "log level", OneOf(("debug", "info", "warning", "error")))

    def __post_init__(self) -> None:
        check_fields(self)


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
    add_arguments(parser, ServeOptions)
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
    specs = [bundle_spec(b) for b in args.bundles]
    try:
        options = from_arguments(ServeOptions, args)
    except declared_options.OptionError as e:
        raise OptionError(str(e)) from None
    options.bundles = specs
    seen: dict[str, Path] = {}
    for spec in specs:
        if spec.name in seen:
            raise OptionError(f"two bundles are named {spec.name!r} ({seen[spec.name]} and {spec.path}); name them with NAME=PATH")
        seen[spec.name] = spec.path
    if options.max_texts > options.max_queue:
        raise OptionError(f"--max-texts {options.max_texts} is more than --max-queue {options.max_queue}: such a request could never be queued")
    if not options.host.strip():
        raise OptionError("--host is empty; give an address such as 127.0.0.1")
    return options


def numeric_options() -> list[tuple[str, Between]]:
    """Each numeric option's flag and range (the tests feed every one bad values)."""
    return [
        (declared_options.flag_of(f), next(c for c in f.metadata["checks"] if isinstance(c, Between)))
        for f in declared(ServeOptions)
        if any(isinstance(c, Between) for c in f.metadata["checks"])
    ]
