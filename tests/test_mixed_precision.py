"""The mixed-precision search as a decision on given scores: ranking, greedy return to float,
the fp32 bound and the time bound. The scores stand in for the gate's metric, so the tests hold
whatever CPU runs them."""

from __future__ import annotations

import onnx
from onnx import TensorProto, helper

from edgeft_exporters.mixed_precision import as_record, group_of, node_groups, search, sensitivity_table

GROUPS = {"embeddings": ["e"], "layer.0": ["a0", "b0"], "layer.1": ["a1", "b1"], "layer.2": ["a2"], "head": ["h"]}
# Points each group costs in int8 (full int8: 90 - 2.6 = 87.4 against PyTorch's 90).
COST = {"e": 0.1, "a0": 0.2, "b0": 0.3, "a1": 1.2, "b1": 0.3, "a2": 0.4, "h": 0.1}


def score(float_nodes):
    return 90.0 - sum(cost for node, cost in COST.items() if node not in float_nodes)


def test_groups_by_layer_from_node_names():
    assert group_of("/bert/encoder/layer.3/attention/self/query/MatMul") == "layer.3"
    assert group_of("/roberta/encoder/layers_11/output/dense/MatMul") == "layer.11"
    assert group_of("/bert/embeddings/word_embeddings/Gather") == "embeddings"
    assert group_of("/classifier/Gemm") == "head"

    weight = helper.make_tensor("w", TensorProto.FLOAT, [2, 2], [1, 0, 0, 1])
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["y1"], name="/bert/encoder/layer.1/output/dense/MatMul"),
        helper.make_node("MatMul", ["y1", "w"], ["y2"], name="/bert/encoder/layer.0/output/dense/MatMul"),
        helper.make_node("MatMul", ["y2", "y1"], ["y3"], name="/bert/encoder/layer.0/attention/MatMul"),  # two activations: not quantised
        helper.make_node("Gemm", ["y3", "w"], ["out"], name="/classifier/Gemm"),
    ]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [2, 2])], [weight])
    assert node_groups(onnx.ModelProto(graph=graph).graph) == {
        "layer.0": ["/bert/encoder/layer.0/output/dense/MatMul"],
        "layer.1": ["/bert/encoder/layer.1/output/dense/MatMul"],
        "head": ["/classifier/Gemm"],
    }


def test_most_sensitive_groups_return_to_float_until_the_budget_holds():
    calls = []
    result = search(GROUPS, score([]), lambda nodes: calls.append(list(nodes)) or score(nodes), lambda m: 90.0 - m <= 1.0)
    assert [row["group"] for row in sorted(result.sensitivity, key=lambda r: -r["regained"])][:2] == ["layer.1", "layer.0"]
    assert result.found and result.float_groups == ["layer.1", "layer.0"] and 90.0 - result.metric <= 1.0
    assert result.float_nodes == ["a1", "b1", "a0", "b0"]
    assert len(calls) == len(GROUPS) + 1  # one trial per group, then one per greedy step after the first (reused)
    table = sensitivity_table(result, "accuracy")
    assert table.splitlines()[2].startswith("| layer.1 | 2 | 88.90 | +1.50 |")
    assert as_record(result)["float_groups"] == ["layer.1", "layer.0"]


def test_a_tight_budget_takes_several_groups_and_never_all():
    result = search(GROUPS, score([]), score, lambda m: 90.0 - m <= 0.5)
    assert result.found and result.float_groups == ["layer.1", "layer.0", "layer.2"] and abs(result.metric - 89.8) < 1e-9
    impossible = search(GROUPS, score([]), score, lambda m: m > 90.0)
    assert not impossible.found and len(impossible.steps) == len(GROUPS) - 1  # all in float is fp32: not a candidate
    assert "no mix faster than fp32 met the budget; the best reached 89.90" in impossible.stopped


def test_the_search_stops_at_its_time_limit():
    result = search(GROUPS, score([]), score, lambda m: False, time_limit=-1.0)
    assert not result.found and result.stopped.startswith("time limit") and result.sensitivity == []


def test_export_searches_when_full_int8_misses_and_refuses_with_what_it_reached(tiny_run, tmp_path, monkeypatch):
    """Every int8 graph made to score 50 points below what it measured: the export ranks every
    node group of the tiny BERT, returns them to float one by one, writes the report and refuses,
    naming the best mix it found. What the groups score depends on the CPU; that the search ran
    over all of them, stopped short of fp32 and said so does not."""
    import json

    import pytest
    from edgeft_exporters import gate as gate_module
    from edgeft_exporters.errors import ParityError
    from edgeft_exporters.options import ExportOptions

    from edgeft_exporters.api import export_run

    measured = gate_module.ParityGate.check

    def check(self, model):
        report = measured(self, model)
        if model.variant != "fp32":
            report["metric"] -= 50.0
        return report

    monkeypatch.setattr(gate_module.ParityGate, "check", check)
    report = tmp_path / "sensitivity.json"
    options = ExportOptions(int8=True, max_drop=1.0, int8_method="static", reference_samples=0, report=str(report))
    with pytest.raises(ParityError, match=r"Mixed precision searched 4 node groups: no mix faster than fp32 met the budget; the best reached"):
        export_run(tiny_run, tmp_path / "b", options, calibration_texts=["good film", "bad plot", "it was lovely"] * 4)
    assert not (tmp_path / "b").exists()
    record = json.loads(report.read_text())
    assert [row["group"] for row in record["sensitivity"]] == ["embeddings", "layer.0", "layer.1", "head"]
    assert len(record["steps"]) == 3 and not record["found"]
    assert report.with_suffix(".md").read_text().startswith("| group in float | nodes | accuracy |")
