"""Entity-level metrics (edgeft_runtime.metrics) against seqeval 1.2.2, default mode."""

from __future__ import annotations

import random

import pytest
from edgeft_runtime.metrics import entity_scores, tag_entities, tag_scores

seqeval = pytest.importorskip("seqeval", reason="the ner extra (seqeval) is not installed")


def random_sequences(rng: random.Random, n: int, tags: list[str]) -> list[list[str]]:
    return [[rng.choice(tags) for _ in range(rng.randint(0, 12))] for _ in range(n)]


def perturb(rng: random.Random, seqs: list[list[str]], tags: list[str], p: float) -> list[list[str]]:
    return [[rng.choice(tags) if rng.random() < p else t for t in s] for s in seqs]


IOB2 = ["O", "O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC"]
BIOES = ["O", "O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "E-LOC", "S-LOC"]


def test_golden_sentence():
    gold = [["B-PER", "I-PER", "O", "B-PER", "I-PER", "O", "B-LOC", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-PER", "O", "O", "B-LOC", "O"]]
    scores = tag_scores(gold, pred)
    # 2 of 3 predicted entities are right, 2 of 3 gold entities found
    assert scores["precision"] == pytest.approx(2 / 3) and scores["recall"] == pytest.approx(2 / 3)
    assert scores["per_type"]["PER"]["f1"] == pytest.approx(0.5) and scores["per_type"]["LOC"]["f1"] == 1.0
    assert tag_entities(["O", "I-PER", "I-PER", "B-LOC", "I-ORG"]) == [("PER", 1, 2), ("LOC", 3, 3), ("ORG", 4, 4)]


@pytest.mark.parametrize("tags", [IOB2, BIOES], ids=["iob2", "bioes"])
@pytest.mark.parametrize("seed", range(4))
def test_matches_seqeval_on_random_sequences(tags, seed):
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
    from seqeval.metrics.sequence_labeling import get_entities

    rng = random.Random(seed)
    gold = random_sequences(rng, 60, tags)
    pred = perturb(rng, gold, tags, 0.2)
    for seq in gold + pred:
        assert tag_entities(seq) == get_entities(seq)
    ours = tag_scores(gold, pred)
    assert ours["f1"] == pytest.approx(f1_score(gold, pred))
    assert ours["precision"] == pytest.approx(precision_score(gold, pred))
    assert ours["recall"] == pytest.approx(recall_score(gold, pred))
    report = classification_report(gold, pred, output_dict=True, zero_division=0)
    for type_, row in ours["per_type"].items():
        if type_ in report:
            assert row["f1"] == pytest.approx(report[type_]["f1-score"])
            assert row["support"] == report[type_]["support"]


def test_real_looking_conll_sentences():
    from seqeval.metrics import f1_score

    gold = [
        ["B-ORG", "O", "B-MISC", "O", "O", "O", "B-MISC", "O", "O"],
        ["B-PER", "I-PER"],
        ["B-LOC", "O", "B-ORG", "I-ORG", "I-ORG", "O"],
    ]
    pred = [
        ["B-ORG", "O", "B-MISC", "O", "O", "O", "B-LOC", "O", "O"],
        ["B-PER", "B-PER"],
        ["I-LOC", "O", "B-ORG", "I-ORG", "O", "O"],
    ]
    assert tag_scores(gold, pred)["f1"] == pytest.approx(f1_score(gold, pred))


def test_character_spans_and_empty_cases():
    gold = [[("PER", 0, 13), ("LOC", 36, 41)], []]
    pred = [[("PER", 0, 13), ("LOC", 36, 40)], [("ORG", 0, 2)]]
    scores = entity_scores(gold, pred)
    assert scores["precision"] == pytest.approx(1 / 3) and scores["recall"] == pytest.approx(1 / 2)
    assert scores["per_type"]["ORG"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert entity_scores([[]], [[]])["f1"] == 0.0
    with pytest.raises(ValueError):
        entity_scores([[]], [])
