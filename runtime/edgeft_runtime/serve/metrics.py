"""Prometheus metrics in the text exposition format (0.0.4), written here rather than pulling in a
client library: a few counters, gauges and histograms, each with labels, safe across threads."""

from __future__ import annotations

import math
import threading
from typing import Callable, Iterable, Sequence

Labels = tuple[str, ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _label_text(names: Sequence[str], values: Labels, extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class _Metric:
    kind = ""

    def __init__(self, name: str, help: str, labels: Sequence[str] = ()):
        self.name, self.help, self.labels = name, help, tuple(labels)
        self._lock = threading.Lock()

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]


class Counter(_Metric):
    kind = "counter"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._values: dict[Labels, float] = {}

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        with self._lock:
            self._values[labels] = self._values.get(labels, 0.0) + amount

    def value(self, *labels: str) -> float:
        with self._lock:
            return self._values.get(labels, 0.0)

    def lines(self) -> list[str]:
        with self._lock:
            items = sorted(self._values.items())
        return self.header() + [f"{self.name}{_label_text(self.labels, k)} {_number(v)}" for k, v in items]


class Gauge(_Metric):
    """A value read at scrape time from ``source`` (label values -> value)."""

    kind = "gauge"

    def __init__(self, name: str, help: str, labels: Sequence[str], source: Callable[[], Iterable[tuple[Labels, float]]]):
        super().__init__(name, help, labels)
        self._source = source

    def lines(self) -> list[str]:
        return self.header() + [f"{self.name}{_label_text(self.labels, k)} {_number(v)}" for k, v in sorted(self._source())]


class Histogram(_Metric):
    kind = "histogram"

    def __init__(self, name: str, help: str, labels: Sequence[str], buckets: Sequence[float]):
        super().__init__(name, help, labels)
        self.buckets = tuple(sorted(buckets)) + (math.inf,)
        self._counts: dict[Labels, list[int]] = {}
        self._sums: dict[Labels, float] = {}

    def observe(self, value: float, *labels: str) -> None:
        with self._lock:
            counts = self._counts.setdefault(labels, [0] * len(self.buckets))
            for i, bound in enumerate(self.buckets):
                if value <= bound:
                    counts[i] += 1
                    break
            self._sums[labels] = self._sums.get(labels, 0.0) + value

    def lines(self) -> list[str]:
        with self._lock:
            items = sorted((k, list(v), self._sums[k]) for k, v in self._counts.items())
        out = self.header()
        for key, counts, total in items:
            running = 0
            for bound, count in zip(self.buckets, counts):
                running += count
                le = 'le="' + _number(bound) + '"'
                out.append(f"{self.name}_bucket{_label_text(self.labels, key, le)} {running}")
            out.append(f"{self.name}_sum{_label_text(self.labels, key)} {_number(total)}")
            out.append(f"{self.name}_count{_label_text(self.labels, key)} {running}")
        return out


class ServeMetrics:
    """The service's metrics. ``queue_depth`` and ``ready`` are read from the models at scrape time."""

    def __init__(self, queue_depths: Callable[[], Iterable[tuple[Labels, float]]], readiness: Callable[[], Iterable[tuple[Labels, float]]], max_batch: int):
        self.requests = Counter("edgeft_requests_total", "HTTP requests answered, by model, endpoint and status code.", ("model", "endpoint", "code"))
        self.errors = Counter("edgeft_errors_total", "Requests answered with an error, by model and error type.", ("model", "error_type"))
        self.texts = Counter("edgeft_texts_total", "Texts run through a model.", ("model",))
        self.reloads = Counter("edgeft_reloads_total", "Bundle reloads, by model and result (ok, failed).", ("model", "result"))
        self.queue = Gauge("edgeft_queue_depth", "Texts waiting for a batch, per model.", ("model",), queue_depths)
        self.ready = Gauge("edgeft_model_ready", "1 when the model is loaded and passed its device check (or --no-check).", ("model",), readiness)
        sizes = sorted({1, 2, 4, 8, 16, 32, 64, 128, 256, 512, max_batch})
        self.batch_size = Histogram("edgeft_batch_size", "Texts per batch run by a model.", ("model",), sizes)
        latency = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)
        self.latency = Histogram("edgeft_request_duration_seconds", "Time from a request's arrival to its answer.", ("model", "endpoint"), latency)
        self.batch_time = Histogram("edgeft_batch_duration_seconds", "Time to run one batch (tokenise, session runs, answers).", ("model",), latency)

    def render(self) -> str:
        metrics = (self.requests, self.errors, self.texts, self.reloads, self.queue, self.ready, self.batch_size, self.latency, self.batch_time)
        return "\n".join(line for m in metrics for line in m.lines()) + "\n"
