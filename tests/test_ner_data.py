"""NER readers: every format and scheme normalised to text + character spans; bad input named by file:line."""

from __future__ import annotations

import json

import pytest

from edgeft.config import NerConfig
from edgeft.config_loader import build_config
from edgeft.errors import ConfigError, DataError
from edgeft.data.ner import detect_scheme, iob2_labels, read_ner, to_iob2
from tests import tiny


def spans_text(example):
    return [(example.text[s:e], t) for s, e, t in example.spans]


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_conll_columns_docstart_and_blank_lines(tmp_path):
    sentences = [[("EU", "B-ORG"), ("rejects", "O"), ("German", "B-MISC"), ("call", "O")], [("Peter", "B-PER"), ("Blackburn", "I-PER")]]
    path = tiny.write_conll(tmp_path / "a.conll", sentences)
    data = read_ner(path)
    assert data.scheme == "IOB2" and data.join == "space"
    assert [ex.text for ex in data.examples] == ["EU rejects German call", "Peter Blackburn"]
    assert spans_text(data.examples[0]) == [("EU", "ORG"), ("German", "MISC")]
    assert spans_text(data.examples[1]) == [("Peter Blackburn", "PER")]
    assert [ex.line for ex in data.examples] == [3, 8]


def test_tsv_token_tab_tag(tmp_path):
    path = write(tmp_path / "a.tsv", "Clustering\tO\nof\tO\nataxia\tB-Disease\n-\tI-Disease\ntelangiectasia\tI-Disease\n\nok\tO\n")
    data = read_ner(path)
    assert spans_text(data.examples[0]) == [("ataxia - telangiectasia", "Disease")]
    assert len(data.examples) == 2 and data.examples[1].spans == []


@pytest.mark.parametrize(
    "tags, scheme",
    [
        (["I-PER", "I-PER", "O", "I-LOC", "B-LOC"], "IOB1"),
        (["B-PER", "I-PER", "O", "B-LOC", "B-LOC"], "IOB2"),
        (["B-PER", "E-PER", "O", "S-LOC", "S-LOC"], "BIOES"),
        (["B-PER", "E-PER", "O", "S-LOC", "S-LOC"], "IOBES"),
        (["B-PER", "E-PER", "O", "S-LOC", "S-LOC"], "auto"),
        (["B-PER", "L-PER", "O", "U-LOC", "U-LOC"], "auto"),
    ],
)
def test_schemes_become_the_same_spans(tmp_path, tags, scheme):
    tokens = ["Anna", "Smith", "in", "Paris", "Berlin"]
    path = write(tmp_path / "a.txt", "".join(f"{t} {g}\n" for t, g in zip(tokens, tags)))
    data = read_ner(path, scheme=scheme)
    assert spans_text(data.examples[0]) == [("Anna Smith", "PER"), ("Paris", "LOC"), ("Berlin", "LOC")]


def test_bmes_character_file_is_joined_without_spaces(tmp_path):
    chars = list("高勇：男，1985年出生") + ["。"]
    tags = ["B-NAME", "E-NAME", "O", "O", "O", "B-DATE", "M-DATE", "M-DATE", "E-DATE", "O", "O", "O", "O"]
    path = write(tmp_path / "a.char.bmes", "".join(f"{c} {t}\n" for c, t in zip(chars, tags)))
    data = read_ner(path)
    assert data.scheme == "BMES" and data.join == "none"
    ex = data.examples[0]
    assert ex.text == "高勇：男，1985年出生。"
    assert spans_text(ex) == [("高勇", "NAME"), ("1985", "DATE")]


def test_detect_scheme():
    assert detect_scheme([["I-A", "I-A", "B-A", "O"]]) == "IOB1"
    assert detect_scheme([["B-A", "I-A", "O", "I-B"]]) == "IOB2"  # mixed: IOB2, whose I-B is then refused
    assert detect_scheme([["O", "O"]]) == "IOB2"
    assert detect_scheme([["B-A", "M-A", "E-A"]]) == "BMES"


def test_iob1_conversion_keeps_adjacent_entities_apart():
    where = [f"f:{i}" for i in range(6)]
    tags, repaired = to_iob2(["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-ORG"], "IOB1", where, repair=False)
    assert tags == ["B-PER", "I-PER", "B-PER", "O", "B-LOC", "B-ORG"] and repaired == 0


def test_bioes_conversion():
    tags, _ = to_iob2(["S-A", "B-A", "I-A", "E-A", "S-A", "O"], "BIOES", ["f"] * 6, repair=False)
    assert tags == ["B-A", "B-A", "I-A", "I-A", "B-A", "O"]


def test_iob2_i_without_b_is_refused_with_line_or_repaired(tmp_path, caplog):
    path = write(tmp_path / "bad.conll", "Anna B-PER\nmet O\nOtto I-PER\n")
    with pytest.raises(DataError, match=r"bad.conll:3: 'I-PER' continues no entity \(it follows 'O'\); .*repair_tags=true"):
        read_ner(path, scheme="IOB2")
    with pytest.raises(DataError, match=r"bad.conll:3: "):
        read_ner(path)  # auto: B- tags start entities elsewhere, so this is IOB2 with a stray I-
    data = read_ner(path, repair=True)
    assert spans_text(data.examples[0]) == [("Anna", "PER"), ("Otto", "PER")] and data.repaired == 1
    assert "read 1 tag(s) leniently" in caplog.text


def test_bioes_invalid_sequences_are_reported(tmp_path):
    path = write(tmp_path / "bad.bioes", "a B-X\nb O\n")
    with pytest.raises(DataError, match=r"bad.bioes:1: 'B-X' opens an entity that no I-/E- tag"):
        read_ner(path, scheme="BIOES")
    path = write(tmp_path / "bad2.bioes", "a O\nb E-X\n")
    with pytest.raises(DataError, match=r"bad2.bioes:2: 'E-X' continues no entity"):
        read_ner(path, scheme="BIOES")


def test_mismatched_columns_name_the_line(tmp_path):
    path = write(tmp_path / "a.conll", "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\nGerman B-MISC\n")
    with pytest.raises(DataError, match=r"a.conll:4: 2 columns, but line 1 has 4"):
        read_ner(path)
    path = write(tmp_path / "one.conll", "EU\n")
    with pytest.raises(DataError, match=r"one.conll:1: one column only"):
        read_ner(path)


def test_unknown_tags_and_schemes(tmp_path):
    path = write(tmp_path / "a.conll", "EU B-ORG\nx PER\n")
    with pytest.raises(DataError, match=r"a.conll:2: tag 'PER' is neither 'O' nor PREFIX-TYPE"):
        read_ner(path)
    path = write(tmp_path / "b.conll", "EU S-ORG\n")
    with pytest.raises(DataError, match=r"b.conll:1: tag 'S-ORG' is not a IOB2 tag .*--scheme"):
        read_ner(path, scheme="IOB2")
    with pytest.raises(DataError, match="unknown tagging scheme 'IOB3'"):
        read_ner(path, scheme="IOB3")
    with pytest.raises(ConfigError, match="config field scheme: unknown tagging scheme 'XYZ'"):
        build_config(NerConfig, overrides=["scheme=XYZ"])


def test_jsonl_tokens_tags_and_text_spans(tmp_path):
    rows = [
        {"tokens": ["Angela", "Merkel", "visited", "Paris"], "tags": ["B-PER", "I-PER", "O", "B-LOC"]},
        {"text": "Zoë Ünal 😀 lives in Zürich.", "spans": [{"start": 0, "end": 8, "label": "PER"}, [20, 26, "LOC"]]},
    ]
    path = tiny.write_jsonl(tmp_path / "a.jsonl", rows)
    data = read_ner(path)
    assert spans_text(data.examples[0]) == [("Angela Merkel", "PER"), ("Paris", "LOC")]
    assert spans_text(data.examples[1]) == [("Zoë Ünal", "PER"), ("Zürich", "LOC")]


@pytest.mark.parametrize(
    "record, message",
    [
        ({"tokens": ["a", "b"], "tags": ["O"]}, "2 tokens but 1 tags"),
        ({"text": "abc", "spans": [[1, 9, "X"]]}, r"span \[1, 9\) 'X' is outside the text"),
        ({"text": "abcdef", "spans": [[0, 3, "X"], [2, 5, "Y"]]}, "overlap"),
        ({"text": "abc", "spans": [{"start": 0, "end": 1}]}, "has no label"),
        ({"words": ["a"]}, "expected fields 'tokens' \\+ 'tags' or 'text' \\+ 'spans'"),
    ],
)
def test_jsonl_errors_name_the_line(tmp_path, record, message):
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps({"tokens": ["ok"], "tags": ["O"]}) + "\n" + json.dumps(record) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"a.jsonl:2: .*{message}"):
        read_ner(path)


def test_labels_are_iob2_for_every_type():
    assert iob2_labels(["PER", "LOC"]) == ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]


def test_config_validation():
    with pytest.raises(ConfigError, match="stride"):
        build_config(NerConfig, overrides=["stride=64", "max_length=128"])
    with pytest.raises(ConfigError, match="aggregation"):
        build_config(NerConfig, overrides=["aggregation=mean"])
    assert build_config(NerConfig, overrides=["scheme=iobes"]).scheme == "BIOES"
