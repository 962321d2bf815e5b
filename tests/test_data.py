"""Reading labelled text: formats, label parsing, and errors that name file, line and field."""

from __future__ import annotations

import pytest

from edgeft.data.classification import (
    check_known_labels,
    label_space,
    parse_labels,
    read_classification,
    split_holdout,
)
from edgeft.errors import DataError


def write(tmp_path, name, content, mode="w"):
    path = tmp_path / name
    if mode == "wb":
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def test_csv_tsv_jsonl_read_the_same(tmp_path):
    csv_file = write(tmp_path, "a.csv", 'text,label\n"hello, world",pos\nbad day,neg\n')
    tsv_file = write(tmp_path, "a.tsv", "text\tlabel\nhello, world\tpos\nbad day\tneg\n")
    jsonl_file = write(tmp_path, "a.jsonl", '{"text": "hello, world", "label": "pos"}\n\n{"text": "bad day", "label": "neg"}\n')
    results = [[(e.text, e.labels) for e in read_classification(p)] for p in (csv_file, tsv_file, jsonl_file)]
    assert results[0] == results[1] == results[2] == [("hello, world", ["pos"]), ("bad day", ["neg"])]


def test_line_numbers_follow_the_file(tmp_path):
    path = write(tmp_path, "a.csv", 'text,label\n"two\nlines",pos\n\nlast,neg\n')
    examples = read_classification(path)
    assert [e.line for e in examples] == [2, 5]


def test_integer_labels_sort_numerically(tmp_path):
    rows = "".join(f'{{"text": "t{i}", "label": {i % 11}}}\n' for i in range(22))
    examples = read_classification(write(tmp_path, "a.jsonl", rows))
    assert label_space(examples, "a.jsonl", multi_label=False) == [str(i) for i in range(11)]


def test_custom_columns(tmp_path):
    path = write(tmp_path, "a.csv", "sentence,y\nok,1\nno,0\n")
    examples = read_classification(path, text_column="sentence", label_column="y")
    assert [e.labels for e in examples] == [["1"], ["0"]]


@pytest.mark.parametrize(
    "value, expected",
    [("a;b", ["a", "b"]), (" a ; b ;", ["a", "b"]), ('["x", "y"]', ["x", "y"]), (["x", 3], ["x", "3"]), ("", [])],
)
def test_multi_label_parsing(value, expected):
    assert parse_labels(value, True, ";", "f:1") == expected


def test_multi_label_file(tmp_path):
    path = write(tmp_path, "a.jsonl", '{"text": "t", "label": ["a", "b"]}\n{"text": "u", "label": "c;a"}\n')
    examples = read_classification(path, multi_label=True)
    assert [e.labels for e in examples] == [["a", "b"], ["c", "a"]]
    assert label_space(examples, path, multi_label=True) == ["a", "b", "c"]


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("missing.csv", None, "missing.csv: file not found"),
        ("empty.csv", "", "empty.csv: file is empty"),
        ("header.csv", "text,label\n", "header.csv: no usable rows"),
        ("cols.csv", "sentence,label\nhi,pos\n", "cols.csv:2: no column 'text' (columns: sentence, label); pass --text-column NAME"),
        ("nolabel.csv", "text,y\nhi,pos\n", "nolabel.csv:2: no column 'label'"),
        ("emptytext.csv", "text,label\nok,pos\n  ,neg\n", "emptytext.csv:3: empty text in column 'text'"),
        ("ragged.csv", "text,label\nok,pos\na,b,c\n", "ragged.csv:3: row has 3 fields but the header has 2"),
        ("badjson.jsonl", '{"text": "a", "label": "x"}\n{"text": \n', "badjson.jsonl:2: not valid JSON"),
        ("array.jsonl", "[1, 2]\n", "array.jsonl:1: expected a JSON object"),
        ("emptylabel.csv", "text,label\nok,\n", "emptylabel.csv:2: column 'label': empty label"),
        ("data.txt", "hello\n", "data.txt: unknown file type .txt; use .csv, .tsv or .jsonl"),
        ("num.jsonl", '{"text": 5, "label": "a"}\n', "num.jsonl:1: column 'text' must be text"),
    ],
)
def test_bad_input_names_file_line_and_field(tmp_path, name, content, expected):
    path = tmp_path / name if content is None else write(tmp_path, name, content)
    with pytest.raises(DataError) as info:
        read_classification(path)
    assert str(info.value).startswith(str(tmp_path / name)) or str(tmp_path) in str(info.value)
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_non_utf8_byte_is_reported_with_its_line(tmp_path):
    path = write(tmp_path, "latin.csv", "text,label\nok,pos\ncaf\xe9,neg\n".encode("latin-1"), mode="wb")
    with pytest.raises(DataError, match=r"latin.csv:3: byte 0xe9 is not valid UTF-8"):
        read_classification(path)


def test_utf8_bom_is_accepted(tmp_path):
    path = write(tmp_path, "bom.csv", "\ufefftext,label\nok,pos\n")
    assert read_classification(path)[0].text == "ok"


def test_skip_empty_counts_and_warns(tmp_path, caplog):
    path = write(tmp_path, "a.csv", "text,label\nok,pos\n,neg\n   ,neg\nfine,neg\n")
    examples = read_classification(path, skip_empty=True)
    assert [e.text for e in examples] == ["ok", "fine"]
    assert "skipped 2 row(s) with empty text (first at line 3)" in caplog.text


def test_single_class_is_refused(tmp_path):
    path = write(tmp_path, "a.csv", "text,label\na,pos\nb,pos\n")
    with pytest.raises(DataError, match="only one class"):
        label_space(read_classification(path), path, multi_label=False)


def test_eval_label_unseen_in_training_is_refused(tmp_path):
    path = write(tmp_path, "dev.csv", "text,label\na,pos\nb,meh\n")
    with pytest.raises(DataError, match=r"dev.csv:3: label 'meh' does not occur in the training data"):
        check_known_labels(read_classification(path), ["neg", "pos"], path)


def test_holdout_is_seeded_and_stratified(tmp_path):
    rows = "text,label\n" + "".join(f"t{i},{'ab'[i % 2]}\n" for i in range(40))
    examples = read_classification(write(tmp_path, "a.csv", rows))
    train1, held1 = split_holdout(examples, 0.25, seed=3)
    train2, held2 = split_holdout(examples, 0.25, seed=3)
    _, held3 = split_holdout(examples, 0.25, seed=4)
    assert [e.text for e in held1] == [e.text for e in held2] != [e.text for e in held3]
    assert len(held1) == 10 and len(train1) == 30
    assert sum(e.labels == ["a"] for e in held1) == 5


def test_the_shared_row_loop_marks_bad_bytes_by_line(tmp_path):
    """One CSV loop serves the training readers (strict: a bad byte fails the file) and the
    streaming `predict --input` reader, which learns per row where a bad byte sits."""
    import io

    from edgeft.data.rows import decoded_lines, table_rows

    raw = b"\xef\xbb\xbftext,label\nfine,a\nbro\xffken,b\n\"two\nlines\",c\nragged\xfe,x,y\n\nlast,d\n"
    header, rows = table_rows("in.csv", decoded_lines(io.BytesIO(raw)), ",")
    got = [(r.start, r.values, r.bad) for r in rows]
    assert header == ["text", "label"]
    assert got == [
        (2, {"text": "fine", "label": "a"}, None),
        (3, {"text": "bro\udcffken", "label": "b"}, (3, 0xFF)),
        (4, {"text": "two\nlines", "label": "c"}, None),
        (6, None, (6, 0xFE)),  # wrong field count, but the byte is what to report
        (8, {"text": "last", "label": "d"}, None),
    ]
    path = tmp_path / "bad.csv"
    path.write_bytes(raw)
    with pytest.raises(DataError, match="bad.csv:3: byte 0xff is not valid UTF-8"):
        read_classification(path)
