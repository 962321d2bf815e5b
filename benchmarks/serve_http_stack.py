"""What uvicorn's HTTP parser and event loop cost the service: the event-loop thread's CPU per
answer with h11 + asyncio against httptools + uvloop (what the serve extra installs), same server
otherwise, 32 closed-loop clients on loopback.

    python benchmarks/serve_http_stack.py [BUNDLE] [--rounds 2] [--seconds 4] [--out benchmarks/results/serve_http_stack.json]

Each round starts one server per stack in turn (``--server-child``: the service's own app under
uvicorn with ``http=`` and ``loop=`` set), loads it with benchmarks/serve.py's closed-loop client
and reads every thread's CPU time from /proc before and after. The event loop is the process's
main thread (its thread id is the process id); the model's worker and onnxruntime's threads are
the rest.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import serve as bench  # noqa: E402  (benchmarks/serve.py: its client and server helpers)

STACKS = {"h11 + asyncio": ("h11", "asyncio"), "httptools + uvloop": ("httptools", "uvloop")}


def server_child(http: str, loop: str, argv: list[str]) -> None:
    """The service as ``python -m edgeft_runtime.serve`` runs it, with uvicorn's parser and loop named."""
    import logging

    import uvicorn

    from edgeft_runtime.serve.app import build_app
    from edgeft_runtime.serve.options import parse_options
    from edgeft_runtime.serve.registry import Registry

    options = parse_options(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    registry = Registry(options)

    class Server(uvicorn.Server):
        async def startup(self, sockets=None):
            await super().startup(sockets)
            for server in self.servers:
                host, port = server.sockets[0].getsockname()[:2]
                logging.getLogger("edgeft_runtime.serve").info("listening on http://%s:%d", host, port)

    config = uvicorn.Config(build_app(registry), host="127.0.0.1", port=0, log_level="info", access_log=False, lifespan="on", http=http, loop=loop)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    Server(config).run()


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) of each thread of ``pid``."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        out[int(tid)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def one_run(bundle: str, name: str, seconds: float, texts: list[str]) -> dict:
    http, loop = STACKS[name]
    cmd = [sys.executable, __file__, "--server-child", http, loop, bundle, "--no-check", "--max-queue", "1024"]
    server = bench.Server(cmd, "/ready", r"listening on (http://[\d.]+:\d+)")
    try:
        bodies = [{"inputs": t} for t in texts]
        bench.run_load(server.url, "/predict", bodies, 32, 1.0, warmup=0.5)  # warm up
        before = thread_cpu(server.proc.pid)
        load = bench.run_load(server.url, "/predict", bodies, 32, seconds, warmup=0.0)
        after = thread_cpu(server.proc.pid)
    finally:
        server.stop()
    answered = len(load["latencies_ms"])
    loop_s = after[server.proc.pid] - before.get(server.proc.pid, 0.0)
    total_s = sum(after[t] - before.get(t, 0.0) for t in after)
    return {"stack": name, "answered_per_s": load["answered_per_s"], "codes": load["codes"], "p50_ms": load["p50_ms"],
            "event_loop_cpu_ms_per_answer": round(1000 * loop_s / answered, 3), "server_cpu_ms_per_answer": round(1000 * total_s / answered, 3),
            "load_average": load["load_average"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", nargs="?", default=str(bench.ROOT / "models" / "demo-int8"))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--out", default=str(bench.RESULTS / "serve_http_stack.json"))
    parser.add_argument("--server-child", nargs=argparse.REMAINDER, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.server_child:
        return server_child(args.server_child[0], args.server_child[1], args.server_child[2:])
    from edgeft_runtime.device import device_info

    texts = bench.demo_texts()
    result = {"benchmark": "serve_http_stack", "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
              "machine": {**device_info(None), "shared_with_other_jobs": True, "load_average_at_start": bench.loadavg()},
              "bundle": args.bundle, "server_options": ["--no-check", "--max-queue", "1024", "(defaults: --max-batch 32, --max-wait-ms 0)"],
              "method": f"32 closed-loop clients, {args.seconds} s per run after 1.5 s of warm-up, stacks taking turns, {args.rounds} rounds; "
                        "per-thread CPU from /proc/PID/task", "runs": []}
    for r in range(args.rounds):
        for name in (list(STACKS) if r % 2 == 0 else list(STACKS)[::-1]):
            run = one_run(args.bundle, name, args.seconds, texts)
            result["runs"].append(run)
            print(json.dumps(run), flush=True)
    result["machine"]["load_average_at_end"] = bench.loadavg()
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
