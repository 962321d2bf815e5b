"""Mixed precision: when full int8 misses the budget, take the most sensitive parts out of int8.

The search starts from the best-scoring full-int8 candidate (dynamic: the fused graph, whose
attention nodes are fused ``Attention`` ops; static: the unfused graph). Its quantisable nodes
(MatMul/Gemm/Attention with a weight, the embedding Gather) are grouped by where they sit:
``embeddings``, each encoder ``layer.N``, and the ``head`` (pooler and classifier). Sensitivity
is measured one group at a time on the gate's own held-out data and task metric: that int8 graph
with only that group taken out, scored by the gate (the metric is what the budget is about; an
output error can rank layers whose error never flips a label). Groups are then taken out
greedily, most sensitive first, until the gate holds. From static int8 each is tried first in
dynamic int8 (scales from each call, as the dynamic candidates have; as fast as static int8
here) and only then in float; from dynamic int8, in float. The search stops when every group
would be float (nothing faster than fp32 is left) or its time is up. A graph with dynamic nodes
gives answers that move a little with batch neighbours (the export measures it for the device
check, as for dynamic int8).

Grouping by layer rather than by node: a 6-layer MiniLM has 38 quantisable nodes, so one trial per
node would cost 38 quantisations and gate passes, one per group costs 8; the nodes of a layer
share its activation ranges, and the report lists every node of the groups taken out. A layer's
attention products of two activations are not in its group: they stay int8 in every mix.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

log = logging.getLogger(__name__)

_LAYER = re.compile(r"(?:^|/)(?:layer|layers|block|blocks)[._](\d+)(?:/|$)")
# Attention: the fused attention op of the optimised graph the dynamic candidates quantise.
QUANTISED_TYPES = ("MatMul", "Gemm", "Gather", "Attention")


def node_groups(graph: Any) -> dict[str, list[str]]:
    """Quantisable nodes (``QUANTISED_TYPES`` with a weight initializer as an input) by group:
    ``embeddings``, ``layer.N`` in order, ``head``. In a fused graph the optimiser names its
    attention nodes ``Attention_K`` without the layer: the K-th in graph order is ``layer.K``."""
    weights = {init.name for init in graph.initializer}
    groups: dict[str, list[str]] = {}
    attention = 0
    for node in graph.node:
        if node.op_type not in QUANTISED_TYPES or not any(name in weights for name in node.input):
            continue
        group = group_of(node.name)
        if node.op_type == "Attention" and not _LAYER.search(node.name):
            group, attention = f"layer.{attention}", attention + 1
        groups.setdefault(group, []).append(node.name)
    order = ["embeddings"] + sorted((g for g in groups if g.startswith("layer.")), key=lambda g: int(g.split(".")[1])) + ["head"]
    return {g: groups[g] for g in order if g in groups}


def group_of(node_name: str) -> str:
    match = _LAYER.search(node_name)
    if match:
        return f"layer.{match.group(1)}"
    return "embeddings" if "embedding" in node_name.lower() else "head"


FLOAT = "float"
# A group in dynamic int8 inside the static graph: its MatMuls quantise their inputs on each call
# (DynamicQuantizeLinear + MatMulInteger), the other groups keep their static scales. Measured on
# the AG News SetFit MiniLM (VM-C, batch 1, 1 thread, 7 interleaved passes; benchmarks/RESULTS.md):
# layer.2 in dynamic int8 kept 100% / 104% of full static int8's speed-up over fp32 at 16 / 64
# tokens, in float 79% / 83%: the float layer runs fp32 MatMuls, the dynamic one int8 kernels.
DYNAMIC = "dynamic"
DYNAMIC_PER_CHANNEL = "dynamic-per-channel"


@dataclass
class SearchResult:
    """What the search measured and chose (the manifest's ``parity.variants.int8.mixed_precision``)."""

    full_int8_metric: float
    sensitivity: list[dict[str, Any]] = field(default_factory=list)  # per group: metric with it in float, points regained
    steps: list[dict[str, Any]] = field(default_factory=list)  # the greedy path: groups and their modes, metric
    float_groups: list[str] = field(default_factory=list)
    float_nodes: list[str] = field(default_factory=list)
    modes: dict[str, str] = field(default_factory=dict)  # group -> FLOAT or a dynamic mode, in the order returned
    dynamic_nodes: list[str] = field(default_factory=list)
    metric: float | None = None
    found: bool = False
    seconds: float = 0.0
    stopped: str = ""

    @property
    def dynamic_groups(self) -> list[str]:
        return [g for g, mode in self.modes.items() if mode != FLOAT]


def plan_nodes(groups: dict[str, list[str]], modes: dict[str, str]) -> dict[str, list[str]]:
    """mode -> the nodes of the groups in that mode (FLOAT, DYNAMIC, DYNAMIC_PER_CHANNEL)."""
    nodes: dict[str, list[str]] = {}
    for group, mode in modes.items():
        nodes.setdefault(mode, []).extend(groups[group])
    return nodes


def search(
    groups: dict[str, list[str]],
    full_metric: float,
    score: Callable[[dict[str, str]], float],
    fits: Callable[[float], bool],
    *,
    time_limit: float = 1800.0,
    progress: Callable[[str], None] = log.info,
    modes: Sequence[str] = (FLOAT,),
) -> SearchResult:
    """Rank ``groups`` by ``score`` with each alone in float (``score`` takes group -> mode), then
    return groups out of static int8, most sensitive first, until ``fits(metric)``: each group is
    tried in ``modes`` in order (dynamic int8 before float: faster where it is enough), and stays in
    the best-scoring mode (the earlier on a tie) when none fits; bounded by ``time_limit`` seconds."""
    started = time.monotonic()
    result = SearchResult(full_int8_metric=full_metric)
    names = list(groups)
    for i, name in enumerate(names, start=1):
        if time.monotonic() - started > time_limit:
            result.stopped = f"time limit {time_limit:.0f} s reached while ranking ({i - 1} of {len(names)} groups measured)"
            break
        metric = score({name: FLOAT})
        result.sensitivity.append({"group": name, "nodes": len(groups[name]), "metric_with_it_float": metric, "regained": round(metric - full_metric, 4)})
        progress(f"sensitivity {i}/{len(names)}: {name} in float -> {metric:.2f} ({metric - full_metric:+.2f})")
    ranked = [row["group"] for row in sorted(result.sensitivity, key=lambda r: -r["regained"])]
    kept: dict[str, str] = {}
    for name in [] if result.stopped else ranked:
        tried = _greedy_step(result, groups, kept, name, modes, score, fits, started, time_limit, progress)
        if result.found or result.stopped or not tried:
            break
        kept[name] = max(tried, key=lambda t: (t[0], -modes.index(t[1])))[1]
    if not result.found and not result.stopped:
        best = max(result.steps, key=lambda s: s["metric"], default=None)
        result.stopped = f"no mix faster than fp32 met the budget; the best reached {best['metric']:.2f} with {_describe(best['modes'])}" if best else "nothing to search"
    result.seconds = round(time.monotonic() - started, 1)
    return result


def _greedy_step(result, groups, kept, name, modes, score, fits, started, time_limit, progress) -> list[tuple[float, str]]:
    """Try ``name`` in each mode on top of ``kept``; record the steps; on a fit, fill ``result``.
    Returns (metric, mode) of the trials made."""
    tried: list[tuple[float, str]] = []
    for mode in modes:
        plan = {**kept, name: mode}
        if len(plan) == len(groups) and all(m == FLOAT for m in plan.values()):
            continue  # every group in float is the fp32 graph: never faster
        if time.monotonic() - started > time_limit:
            result.stopped = f"time limit {time_limit:.0f} s reached after {len(result.steps)} search steps"
            break
        reused = next((r["metric_with_it_float"] for r in result.sensitivity if plan == {r["group"]: FLOAT}), None)
        metric = score(plan) if reused is None else float(reused)
        floats = [g for g, m in plan.items() if m == FLOAT]
        result.steps.append({"float_groups": floats, "dynamic_groups": [g for g in plan if g not in floats], "modes": dict(plan), "metric": metric})
        progress(f"search step {len(result.steps)}: {_describe(plan)} -> {metric:.2f}")
        tried.append((metric, mode))
        if fits(metric):
            result.found, result.metric, result.modes = True, metric, dict(plan)
            result.float_groups = floats
            result.float_nodes = [n for g in floats for n in groups[g]]
            result.dynamic_nodes = [n for g in plan if g not in floats for n in groups[g]]
            break
    return tried


def _describe(plan: dict[str, str]) -> str:
    return ", ".join(f"{group} {mode}" for group, mode in plan.items())


def sensitivity_table(result: SearchResult, metric_name: str) -> str:
    """A Markdown table of the per-group effect (for ``--report`` and the log)."""
    lines = [f"| group in float | nodes | {metric_name} | regained vs full int8 ({result.full_int8_metric:.2f}) |", "|---|---|---|---|"]
    for row in sorted(result.sensitivity, key=lambda r: -r["regained"]):
        lines.append(f"| {row['group']} | {row['nodes']} | {row['metric_with_it_float']:.2f} | {row['regained']:+.2f} |")
    return "\n".join(lines)


def as_record(result: SearchResult) -> dict[str, Any]:
    """The search as JSON: what was measured, what was kept in float, how long it took."""
    return {
        "full_int8_metric": result.full_int8_metric,
        "sensitivity": result.sensitivity,
        "steps": result.steps,
        "found": result.found,
        "metric": result.metric,
        "float_groups": result.float_groups,
        "float_nodes": result.float_nodes,
        "dynamic_groups": result.dynamic_groups,
        "dynamic_nodes": result.dynamic_nodes,
        "modes": result.modes,
        "seconds": result.seconds,
        **({"stopped": result.stopped} if result.stopped else {}),
    }


# The search's own timing: batch 1 on the gate's first texts, fp32 / full int8 / the mix alternating
# in blocks (edgeft_runtime.timing), PASSES passes in rotating order, each pass its own ratio; the
# record keeps the median over passes. One pass of 64 calls at load 4-16 recorded 16% for a mix
# that kept 72-86% in a separate interleaved benchmark: one pass is too few on a shared machine.
PASSES = 5
RUNS_PER_PASS = 40


def speed_record(timers: dict[str, Callable[[str], Any]], texts: Sequence[str], *, passes: int = PASSES, runs: int = RUNS_PER_PASS) -> dict[str, Any]:
    """Batch-1 latency of ``timers`` (keys ``fp32``, ``full_int8``, ``mixed``): median ms of each over
    all passes, and the share of full int8's speed-up over fp32 that the mix keeps (median of the
    passes' own ratios: each pass compares the three under the same load)."""
    import statistics

    from edgeft_runtime.timing import timed_blocks

    names = list(timers)
    samples: dict[str, list[float]] = {name: [] for name in names}
    retained: list[float] = []
    for p in range(passes):
        order = names[p % len(names):] + names[: p % len(names)]  # who runs first rotates: no engine always follows the same one
        times = timed_blocks({name: timers[name] for name in order}, texts, runs)
        med = {name: statistics.median(values) for name, values in times.items()}
        for name in names:
            samples[name].extend(times[name])
        gain = med["fp32"] - med["full_int8"]
        if gain > 0:
            retained.append((med["fp32"] - med["mixed"]) / gain)
    latency = {name: round(1000 * statistics.median(values), 3) for name, values in samples.items()}
    record: dict[str, Any] = {"latency_ms": latency, "timing": {"passes": passes, "runs_per_pass": runs, "texts": len(texts), "batch": 1}}
    if retained:
        record["speedup_retained"] = round(statistics.median(retained), 3)
        record["timing"]["speedup_retained_per_pass"] = [round(r, 3) for r in retained]
    return record


__all__: Sequence[str] = [
    "DYNAMIC", "DYNAMIC_PER_CHANNEL", "FLOAT", "SearchResult", "as_record", "group_of", "node_groups", "plan_nodes", "search", "sensitivity_table", "speed_record",
]
