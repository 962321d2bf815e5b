"""Mixed precision: when full int8 misses the budget, keep the most sensitive parts in float.

The quantisable nodes of the unfused graph (MatMul/Gemm with a weight, the embedding Gather) are
grouped by where they sit: ``embeddings``, each encoder ``layer.N``, and the ``head`` (pooler and
classifier). Sensitivity is measured one group at a time on the gate's own held-out data and task
metric: static int8 with only that group left in float, scored by the gate (the metric is what
the budget is about; an output error can rank layers whose error never flips a label). Groups are
then returned to float greedily, most sensitive first, until the gate holds; the search stops
when every group would be float (nothing faster than fp32 is left) or its time is up.

Grouping by layer rather than by node: a 6-layer MiniLM has 38 quantisable nodes, so one trial per
node would cost 38 quantisations and gate passes, one per group costs 8; the nodes of a layer
share its activation ranges, and the report lists every node of the groups kept in float.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

log = logging.getLogger(__name__)

_LAYER = re.compile(r"(?:^|/)(?:layer|layers|block|blocks)[._](\d+)(?:/|$)")
QUANTISED_TYPES = ("MatMul", "Gemm", "Gather")


def node_groups(graph: Any) -> dict[str, list[str]]:
    """Quantisable nodes (``QUANTISED_TYPES`` with a weight initializer as an input) by group:
    ``embeddings``, ``layer.N`` in order, ``head``."""
    weights = {init.name for init in graph.initializer}
    groups: dict[str, list[str]] = {}
    for node in graph.node:
        if node.op_type not in QUANTISED_TYPES or not any(name in weights for name in node.input):
            continue
        groups.setdefault(group_of(node.name), []).append(node.name)
    order = ["embeddings"] + sorted((g for g in groups if g.startswith("layer.")), key=lambda g: int(g.split(".")[1])) + ["head"]
    return {g: groups[g] for g in order if g in groups}


def group_of(node_name: str) -> str:
    match = _LAYER.search(node_name)
    if match:
        return f"layer.{match.group(1)}"
    return "embeddings" if "embedding" in node_name.lower() else "head"


@dataclass
class SearchResult:
    """What the search measured and chose (the manifest's ``parity.variants.int8.mixed_precision``)."""

    full_int8_metric: float
    sensitivity: list[dict[str, Any]] = field(default_factory=list)  # per group: metric with it in float, points regained
    steps: list[dict[str, Any]] = field(default_factory=list)  # the greedy path: float groups, metric
    float_groups: list[str] = field(default_factory=list)
    float_nodes: list[str] = field(default_factory=list)
    metric: float | None = None
    found: bool = False
    seconds: float = 0.0
    stopped: str = ""


def search(
    groups: dict[str, list[str]],
    full_metric: float,
    score: Callable[[list[str]], float],
    fits: Callable[[float], bool],
    *,
    time_limit: float = 1800.0,
    progress: Callable[[str], None] = log.info,
) -> SearchResult:
    """Rank ``groups`` by ``score`` (the metric with those nodes in float) and return groups to float,
    most sensitive first, until ``fits(metric)``; bounded by ``time_limit`` seconds."""
    started = time.monotonic()
    result = SearchResult(full_int8_metric=full_metric)
    names = list(groups)
    for i, name in enumerate(names, start=1):
        if time.monotonic() - started > time_limit:
            result.stopped = f"time limit {time_limit:.0f} s reached while ranking ({i - 1} of {len(names)} groups measured)"
            break
        metric = score(groups[name])
        result.sensitivity.append({"group": name, "nodes": len(groups[name]), "metric_with_it_float": metric, "regained": round(metric - full_metric, 4)})
        progress(f"sensitivity {i}/{len(names)}: {name} in float -> {metric:.2f} ({metric - full_metric:+.2f})")
    ranked = [row["group"] for row in sorted(result.sensitivity, key=lambda r: -r["regained"])]
    chosen: list[str] = []
    for name in ranked[:-1]:  # all groups in float would be the fp32 graph: never faster
        if result.stopped:
            break
        if time.monotonic() - started > time_limit:
            result.stopped = f"time limit {time_limit:.0f} s reached after {len(chosen)} groups returned to float"
            break
        chosen.append(name)
        nodes = [n for g in chosen for n in groups[g]]
        ranked_trial = next((r["metric_with_it_float"] for r in result.sensitivity if len(chosen) == 1 and r["group"] == name), None)
        metric = score(nodes) if ranked_trial is None else float(ranked_trial)
        result.steps.append({"float_groups": list(chosen), "metric": metric})
        progress(f"search step {len(chosen)}: {', '.join(chosen)} in float -> {metric:.2f}")
        if fits(metric):
            result.found, result.metric, result.float_groups, result.float_nodes = True, metric, list(chosen), nodes
            break
    if not result.found and not result.stopped:
        best = max(result.steps, key=lambda s: s["metric"], default=None)
        result.stopped = f"no mix faster than fp32 met the budget; the best reached {best['metric']:.2f} with {', '.join(best['float_groups'])} in float" if best else "nothing to search"
    result.seconds = round(time.monotonic() - started, 1)
    return result


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
        "seconds": result.seconds,
        **({"stopped": result.stopped} if result.stopped else {}),
    }


__all__: Sequence[str] = ["SearchResult", "as_record", "group_of", "node_groups", "search", "sensitivity_table"]
