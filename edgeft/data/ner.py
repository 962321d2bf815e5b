"""NER data: CoNLL / token<TAB>tag / JSONL readers, tagging schemes normalised to IOB2, and the
one representation training and evaluation use: raw text plus character spans.

Formats (by file suffix):
- ``.jsonl`` / ``.ndjson`` / ``.json``: one object per line, either ``{"tokens": [...], "tags": [...]}``
  or ``{"text": "...", "spans": [{"start": 0, "end": 13, "label": "PER"}, ...]}`` (a span may also be
  ``[start, end, label]``; ``entities`` is accepted for ``spans``, ``type``/``entity`` for ``label``).
- ``.tsv`` / ``.tab``: ``token<TAB>tag`` per line (more tab-separated columns allowed: token first,
  tag last), blank line between sentences.
- anything else (``.conll``, ``.txt``, ``.bmes``, ``.bio``, ...): CoNLL, whitespace-separated
  columns with the token first and the tag last; ``-DOCSTART-`` lines and blank lines separate
  sentences.

Schemes: IOB1, IOB2, BIOES (also IOBES), BMES (``M-`` for inside) and BILOU, detected per file or
named with ``scheme``; all become IOB2. Tokens of a sentence are joined into its text with a space,
or with nothing for character-level files (every token one character, e.g. Chinese), so that the
text looks like what a user will pass to the runtime.

Invalid sequences (an ``I-`` that continues no entity in IOB2, an ``E-`` without its ``B-`` in
BIOES, ...) are refused with the file and line, unless ``repair=True``: then the tag starts a new
entity (seqeval's lenient reading) and one warning counts the repairs.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from edgeft_runtime.metrics import tag_entities

from ..errors import DataError
from .classification import JSONL_SUFFIXES, read_text_file
from .rows import jsonl_records

log = logging.getLogger(__name__)

SCHEMES = ("IOB1", "IOB2", "BIOES", "BMES", "BILOU")
JOINS = ("auto", "space", "none")
TSV_SUFFIXES = {".tsv", ".tab"}
DOCSTART = "-DOCSTART-"

# prefixes each scheme allows (besides the tag "O"), and how they read in BIOES terms
_PREFIXES = {
    "IOB1": {"B": "B", "I": "I"},
    "IOB2": {"B": "B", "I": "I"},
    "BIOES": {"B": "B", "I": "I", "E": "E", "S": "S"},
    "BMES": {"B": "B", "M": "I", "E": "E", "S": "S"},
    "BILOU": {"B": "B", "I": "I", "L": "E", "U": "S"},
}
_ALL_PREFIXES = {p for table in _PREFIXES.values() for p in table}


@dataclass
class NerExample:
    """One sentence: its text and entities as character spans ``(start, end, type)``, end exclusive."""

    text: str
    spans: list[tuple[int, int, str]]
    line: int

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "spans": [list(s) for s in self.spans]}


@dataclass
class NerFile:
    """What a reader found in one file."""

    examples: list[NerExample]
    scheme: str | None  # the tagging scheme of its tag columns (None: only text+spans records)
    join: str  # how tokens were joined into text: "space" or "none"
    repaired: int = 0  # tags read leniently (repair=True)


@dataclass
class _Sentence:
    tokens: list[str]
    tags: list[str]
    where: list[str]  # "file:line" of each tag, for messages
    line: int


@dataclass
class _Records:
    sentences: list[_Sentence] = field(default_factory=list)
    texts: list[NerExample] = field(default_factory=list)
    order: list[tuple[str, int]] = field(default_factory=list)  # ("s"|"t", index) in file order


# ---------------------------------------------------------------------------------------------
# schemes


def normalize_scheme(name: str) -> str:
    """``"auto"`` or a scheme name in any case (``IOBES`` is BIOES); DataError for anything else."""
    upper = str(name).strip().upper()
    if upper == "AUTO":
        return "auto"
    upper = {"IOBES": "BIOES", "BIO": "IOB2"}.get(upper, upper)
    if upper not in SCHEMES:
        raise DataError(f"unknown tagging scheme {name!r}; use auto or one of {', '.join(SCHEMES)}")
    return upper


def parse_tag(tag: str, where: str) -> tuple[str, str]:
    """``"B-PER"`` -> ``("B", "PER")``, ``"O"`` -> ``("O", "")``; anything else is a DataError."""
    if tag == "O":
        return "O", ""
    prefix, sep, type_ = tag.partition("-")
    if not sep or not type_ or prefix not in _ALL_PREFIXES:
        raise DataError(
            f"{where}: tag {tag!r} is neither 'O' nor PREFIX-TYPE with a prefix of a known scheme "
            f"({', '.join(SCHEMES)}: B-, I-, E-, S-, M-, L-, U-); fix the tag"
        )
    return prefix, type_


def detect_scheme(sequences: Sequence[Sequence[str]]) -> str:
    """The scheme of a file's tag sequences (IOB2 when nothing says otherwise).

    M- means BMES, L-/U- BILOU, E-/S- BIOES. With only B-/I-: IOB1 when entities start with I-
    and B- appears only between two adjacent entities of the same type, IOB2 otherwise.
    """
    prefixes = {tag.partition("-")[0] for seq in sequences for tag in seq if tag != "O"}
    if "M" in prefixes:
        return "BMES"
    if prefixes & {"L", "U"}:
        return "BILOU"
    if prefixes & {"E", "S"}:
        return "BIOES"
    i_starts = b_starts = 0
    for seq in sequences:
        prev = "O"
        for tag in seq:
            p, _, t = tag.partition("-")
            continues = prev != "O" and prev.partition("-")[2] == t
            if p == "I" and not continues:
                i_starts += 1
            elif p == "B" and not continues:
                b_starts += 1
            prev = tag
    return "IOB1" if i_starts and not b_starts else "IOB2"


def to_iob2(tags: Sequence[str], scheme: str, where: Sequence[str], *, repair: bool) -> tuple[list[str], int]:
    """Convert one sentence's tags to IOB2; returns (tags, number of repaired tags).

    Raises DataError naming the tag's file and line when a tag is not of ``scheme`` or a sequence
    is invalid in it (and ``repair`` is off).
    """
    table = _PREFIXES[scheme]
    parsed = []
    for tag, w in zip(tags, where):
        prefix, type_ = parse_tag(tag, w)
        if prefix != "O" and prefix not in table:
            allowed = ", ".join(f"{p}-" for p in table)
            raise DataError(
                f"{w}: tag {tag!r} is not a {scheme} tag ({allowed} or O); pass the file's scheme with "
                f"--scheme ({', '.join(SCHEMES)}) or fix the tag"
            )
        parsed.append((table.get(prefix, "O"), type_))

    out: list[str] = []
    repaired = 0
    prev_p, prev_t = "O", ""
    for i, (p, t) in enumerate(parsed):
        inside = prev_p in ("B", "I") and prev_t == t  # the previous tag leaves an entity of type t open
        nxt_p, nxt_t = parsed[i + 1] if i + 1 < len(parsed) else ("O", "")
        problem = None
        if p == "O":
            out.append("O")
        elif scheme == "IOB1":
            out.append(f"I-{t}" if p == "I" and inside else f"B-{t}")
        elif p == "B" or p == "S":
            out.append(f"B-{t}")
            if scheme != "IOB2" and p == "B" and not (nxt_p in ("I", "E") and nxt_t == t):
                problem = f"{tags[i]!r} opens an entity that no I-/E- tag of the same type continues"
        else:  # I or E
            if inside:
                out.append(f"I-{t}")
            else:
                out.append(f"B-{t}")
                before = "the start of the sentence" if i == 0 else f"{tags[i - 1]!r}"
                problem = f"{tags[i]!r} continues no entity (it follows {before})"
            if scheme != "IOB2" and p == "I" and not (nxt_p in ("I", "E") and nxt_t == t):
                problem = problem or f"{tags[i]!r} is not followed by an I-/E- tag of the same type"
        if problem:
            if not repair:
                starts = "B- or S-" if scheme != "IOB2" else "B-"
                raise DataError(
                    f"{where[i]}: {problem}; in {scheme} an entity starts with {starts}. Fix the tag, pass "
                    "--scheme IOB1 if the file is IOB1, or --set repair_tags=true to read such tags leniently"
                )
            repaired += 1
        # An entity that ends (E/S in BIOES) leaves nothing open for the next tag.
        prev_p, prev_t = ("O", "") if p in ("E", "S") else (p, t)
    return out, repaired


# ---------------------------------------------------------------------------------------------
# readers


def _iter_column_sentences(path: Path, text: str, tab: bool) -> Iterator[_Sentence]:
    columns: int | None = None
    first_line = 0
    tokens: list[str] = []
    tags: list[str] = []
    where: list[str] = []
    start = 0

    def flush():
        nonlocal tokens, tags, where
        if tokens:
            sentence = _Sentence(tokens, tags, where, start)
            tokens, tags, where = [], [], []
            return sentence
        return None

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r\n")
        if not line.strip() or line.split()[0] == DOCSTART:
            if (s := flush()) is not None:
                yield s
            continue
        parts = line.split("\t") if tab else line.split()
        if tab:
            parts = [p.strip() for p in parts]
        if columns is None:
            columns, first_line = len(parts), number
            if columns < 2:
                kind = "token<TAB>tag" if tab else "columns 'token ... tag'"
                raise DataError(f"{path}:{number}: one column only; each line needs {kind}")
        elif len(parts) != columns:
            raise DataError(
                f"{path}:{number}: {len(parts)} columns, but line {first_line} has {columns}; every token line "
                f"needs the same columns ({'tab' if tab else 'whitespace'}-separated, token first, tag last)"
            )
        if not parts[0]:
            raise DataError(f"{path}:{number}: empty token")
        if not tokens:
            start = number
        tokens.append(parts[0])
        tags.append(parts[-1])
        where.append(f"{path}:{number}")
    if (s := flush()) is not None:
        yield s


def _span_fields(span: Any, where: str) -> tuple[int, int, str]:
    if isinstance(span, dict):
        label = span.get("label", span.get("type", span.get("entity")))
        start, end = span.get("start"), span.get("end")
    elif isinstance(span, (list, tuple)) and len(span) == 3:
        start, end, label = span
    else:
        raise DataError(f"{where}: a span must be {{\"start\", \"end\", \"label\"}} or [start, end, label], got {json.dumps(span)}")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)):
        raise DataError(f"{where}: span start and end must be integers, got {json.dumps(span)}")
    if not isinstance(label, str) or not label.strip():
        raise DataError(f"{where}: span {json.dumps(span)} has no label")
    return start, end, label.strip()


def _text_record(record: dict, where: str, line: int) -> NerExample:
    text = record["text"]
    if not isinstance(text, str):
        raise DataError(f"{where}: field 'text' must be a string")
    raw = record.get("spans", record.get("entities", []))
    if not isinstance(raw, list):
        raise DataError(f"{where}: field 'spans' must be a list")
    spans = sorted(_span_fields(s, where) for s in raw)
    for start, end, label in spans:
        if not 0 <= start < end <= len(text):
            raise DataError(f"{where}: span [{start}, {end}) {label!r} is outside the text (length {len(text)}) or empty")
    for a, b in zip(spans, spans[1:]):
        if b[0] < a[1]:
            raise DataError(f"{where}: spans {list(a)} and {list(b)} overlap; nested entities are not supported")
    return NerExample(text, spans, line)


def _iter_jsonl_records(path: Path, text: str) -> _Records:
    records = _Records()
    for number, record in jsonl_records(path, enumerate(text.splitlines(), start=1)):
        where = f"{path}:{number}"
        if "tokens" in record:
            tokens, tags = record.get("tokens"), record.get("tags", record.get("ner_tags"))
            if not isinstance(tokens, list) or not all(isinstance(t, str) and t for t in tokens):
                raise DataError(f"{where}: 'tokens' must be a list of non-empty strings")
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                raise DataError(f"{where}: a 'tokens' record needs 'tags', a list of tag strings like \"B-PER\"")
            if len(tokens) != len(tags):
                raise DataError(f"{where}: {len(tokens)} tokens but {len(tags)} tags; give one tag per token")
            if not tokens:
                continue
            records.order.append(("s", len(records.sentences)))
            records.sentences.append(_Sentence(tokens, tags, [f"{where}: tag {i + 1}" for i in range(len(tags))], number))
        elif "text" in record:
            records.order.append(("t", len(records.texts)))
            records.texts.append(_text_record(record, where, number))
        else:
            raise DataError(f"{where}: expected fields 'tokens' + 'tags' or 'text' + 'spans', got {', '.join(record) or 'none'}")
    return records


def _column_records(path: Path, text: str) -> _Records:
    records = _Records()
    for sentence in _iter_column_sentences(path, text, tab=path.suffix.lower() in TSV_SUFFIXES):
        records.order.append(("s", len(records.sentences)))
        records.sentences.append(sentence)
    return records


def _join_tokens(tokens: list[str], separator: str) -> tuple[str, list[tuple[int, int]]]:
    offsets, pos = [], 0
    for i, token in enumerate(tokens):
        if i:
            pos += len(separator)
        offsets.append((pos, pos + len(token)))
        pos += len(token)
    return separator.join(tokens), offsets


def read_ner(path: str | Path, *, scheme: str = "auto", join: str = "auto", repair: bool = False) -> NerFile:
    """Read a NER file into sentences of text + character spans; tags normalised through IOB2."""
    path = Path(path)
    scheme = normalize_scheme(scheme)
    if join not in JOINS:
        raise DataError(f"unknown join {join!r}; use one of {', '.join(JOINS)}")
    content = read_text_file(path)
    if not content.strip():
        raise DataError(f"{path}: file is empty")
    suffix = path.suffix.lower()
    records = _iter_jsonl_records(path, content) if suffix in JSONL_SUFFIXES else _column_records(path, content)

    sentences = records.sentences
    found = None
    repaired = 0
    if sentences:
        for s in sentences:  # unknown prefixes fail here, before any guessing
            for tag, w in zip(s.tags, s.where):
                parse_tag(tag, w)
        found = detect_scheme([s.tags for s in sentences]) if scheme == "auto" else scheme
    if join == "auto":
        char_level = sentences and all(len(t) == 1 for s in sentences for t in s.tokens)
        join = "none" if char_level else "space"
    separator = "" if join == "none" else " "

    from_tags: list[NerExample] = []
    for s in sentences:
        iob2, fixed = to_iob2(s.tags, found, s.where, repair=repair)
        repaired += fixed
        text, offsets = _join_tokens(s.tokens, separator)
        spans = [(offsets[a][0], offsets[b][1], t) for t, a, b in tag_entities(iob2)]
        from_tags.append(NerExample(text, spans, s.line))
    examples = [from_tags[i] if kind == "s" else records.texts[i] for kind, i in records.order]
    if repaired:
        log.warning("%s: read %d tag(s) leniently as the start of an entity (repair_tags)", path, repaired)
    if not examples:
        raise DataError(f"{path}: no sentences found")
    return NerFile(examples, found, join, repaired)


# ---------------------------------------------------------------------------------------------
# labels and splits


def entity_types(examples: Sequence[NerExample]) -> list[str]:
    return sorted({t for ex in examples for _, _, t in ex.spans})


def iob2_labels(types: Sequence[str]) -> list[str]:
    """The model's label list: ``O`` then ``B-T``, ``I-T`` for every entity type, sorted by type."""
    return ["O"] + [f"{p}-{t}" for t in sorted(types) for p in ("B", "I")]


def check_known_types(examples: Sequence[NerExample], types: Sequence[str], path: str | Path) -> None:
    """Refuse entities of a type the model was not trained on (it could never predict them)."""
    known = set(types)
    for ex in examples:
        for _, _, t in ex.spans:
            if t not in known:
                raise DataError(
                    f"{path}:{ex.line}: entity type {t!r} does not occur in the training data "
                    f"(training types: {', '.join(types)}); fix the tag or add training examples"
                )


def split_sentences(examples: list[NerExample], ratio: float, seed: int) -> tuple[list[NerExample], list[NerExample]]:
    """Hold out ``ratio`` of the sentences (seeded); returns (train, held_out) in file order."""
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    k = int(round(len(examples) * ratio))
    if k < 1 or k >= len(examples):
        raise DataError(f"too few sentences ({len(examples)}) to hold out {ratio:.0%} for evaluation; pass --eval FILE")
    held = set(order[:k])
    return [ex for i, ex in enumerate(examples) if i not in held], [ex for i, ex in enumerate(examples) if i in held]
