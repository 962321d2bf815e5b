"""``python -m edgeft_runtime.serve`` (and ``edgeft serve``): check the options, then run uvicorn."""

from __future__ import annotations

import logging
import signal
import sys
from typing import Sequence

from ..errors import BundleError
from .options import OptionError, ServeOptions, parse_options

log = logging.getLogger("edgeft_runtime.serve")
EXTRA_HINT = "pip install 'edgeft-runtime[serve]'"


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def preflight(options: ServeOptions) -> None:
    """Refuse at once what cannot work (a missing bundle, an unreadable manifest): such mistakes
    should stop the command, not leave a service that is never ready."""
    from ..check import bundle_folder
    from ..manifest import read_manifest

    for spec in options.bundles:
        if not spec.path.exists():
            raise BundleError(f"{spec.path}: no such bundle folder or archive")
        read_manifest(bundle_folder(spec.path))


def _setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger("edgeft_runtime")
    logger.handlers[:] = [handler]
    logger.setLevel(level.upper())
    logger.propagate = False


def run(options: ServeOptions) -> None:
    """Serve until SIGTERM or SIGINT; both drain the requests in flight and return normally."""
    import uvicorn

    from .app import build_app
    from .registry import Registry

    registry = Registry(options)
    app = build_app(registry)

    class Server(uvicorn.Server):
        async def startup(self, sockets=None):
            await super().startup(sockets)
            for server in getattr(self, "servers", []):
                for sock in server.sockets:
                    host, port = sock.getsockname()[:2]
                    log.info("listening on http://%s:%d (models: %s; %s at the root)", host, port, ", ".join(registry.models), registry.root)

    config = uvicorn.Config(
        app,
        host=options.host,
        port=options.port,
        log_level=options.log_level,
        access_log=False,  # per-request lines cost CPU under load; /metrics counts requests
        timeout_graceful_shutdown=int(options.graceful_timeout + 0.999),
        lifespan="on",
    )
    # uvicorn re-raises the stop signal once it has shut down, so that the default handler ends
    # the process (exit status 143 for SIGTERM). A drained, clean stop is exit 0 for systemd and
    # container runtimes, so the handlers it restores and re-raises into do nothing.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    Server(config).run()


def main(argv: Sequence[str] | None = None, prog: str = "python -m edgeft_runtime.serve") -> int:
    """Run the service; 0 after a clean stop, 1 (or 2 for bad options) with one ``error:`` line."""
    try:
        options = parse_options(argv, prog)
    except SystemExit as e:  # --help
        return int(e.code or 0)
    except OptionError as e:
        sys.stderr.write(f"error: {_one_line(e)}\n")
        return 2
    try:
        preflight(options)
    except BundleError as e:
        sys.stderr.write(f"error: {_one_line(e)}\n")
        return 1
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as e:
        sys.stderr.write(f"error: the service needs the serve extra ({e.name} is missing); {EXTRA_HINT}\n")
        return 1
    _setup_logging(options.log_level)
    try:
        run(options)
    except OSError as e:  # the port is taken, the address is not this machine's
        sys.stderr.write(f"error: cannot listen on {options.host}:{options.port} ({e.strerror or e})\n")
        return 1
    except SystemExit as e:  # uvicorn exits 3 when start-up fails (e.g. bind error, logged already)
        if e.code not in (0, None):
            sys.stderr.write(f"error: the service could not start on {options.host}:{options.port} (see the log above)\n")
            return 1
    return 0
