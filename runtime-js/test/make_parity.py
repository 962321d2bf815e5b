"""Write the Python runtime's outputs on the committed tiny bundles, for the JavaScript runtime's parity tests.

    .venv/bin/python runtime-js/test/make_parity.py      # writes runtime-js/test/fixtures/parity.json

For every bundle in runtime/tests/fixtures (classifier, multi-label classifier, SetFit, NER with
the tokenizer's words and with whitespace words, fill-mask, embedding) and both variants (fp32, int8), on a text set with long texts, empty strings,
whitespace, emoji, accents (composed and decomposed), CJK and special-token strings: the token ids
edgeft_runtime feeds the model, and the results of predict_proba / predict / embed / tag (every
aggregation) / fill_mask. Character offsets are written twice: as Python reports them (code points)
and as JavaScript indexes the same string (UTF-16 code units), which is what the JS runtime returns.
runtime/tests/test_js_parity_fixture.py checks that this file matches the Python runtime of today.
Needs only edgeft_runtime (no torch).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import edgeft_runtime

ROOT = Path(__file__).resolve().parents[2]
BUNDLES = ROOT / "runtime" / "tests" / "fixtures"
OUT = Path(__file__).resolve().parent / "fixtures" / "parity.json"

LONG = " ".join(["the", "film", "was", "good", "and", "the", "plot", "was", "very", "sad"] * 12)
COMMON = [
    "good film",
    "the plot was awful and so sad",
    "",
    "   ",
    "Café crème à Zürich, très GOOD!",
    "cafe\u0301 decomposed bad",
    "東京で会いましょう 北京 good",
    "emoji 😀 good 👩‍👩‍👧 film",
    "good😀film, 😀😀 bad",
    "ΟΔΟΣ Σίσυφος great",
    "tabs\tand\nnewlines\r\nlovely",
    "[SEP] good [CLS] bad [PAD]",
    "𠀋 cjk extension b, sad",
    "control\u0000char\u200bzero width",
    LONG,
    "sport music science",
    "science and sport, really",
]
NER = [
    "anna met otto in paris .",
    "otto visited berlin today .",
    "Anna Müller met Otto in Zürich .",
    "😀 anna visited berlin 東京 otto met anna in paris",
    "anna😀 met otto, 𠀋 berlin",
    "",
    "   ",
    " ".join(["anna met otto in paris . otto visited berlin today ."] * 6),
    "ANNA VISITED PARIS AND BERLIN",
    "annaotto paris-berlin anna's",
    # whitespace words differ from the tokenizer's here (the entities_ws bundle splits on spaces only)
    "anna met otto in paris. otto,anna visited berlin!",
]
FILL = [
    "the [MASK] was good",
    "[MASK] [MASK] film",
    "😀 the film [MASK] 東京",
    "the film was [MASK].",
    "Café [MASK] très",
    LONG[:60] + " [MASK] " + LONG[:60],
]


def utf16(text: str, index: int) -> int:
    """JavaScript's index (UTF-16 code units) of the code point index ``index`` of ``text``."""
    return len(text[:index].encode("utf-16-le")) // 2


def entities(text: str, found: list[dict]) -> list[dict]:
    return [
        {"entity": e["entity"], "text": e["text"], "start": utf16(text, e["start"]), "end": utf16(text, e["end"]),
         "py_start": e["start"], "py_end": e["end"], "score": e["score"]}
        for e in found
    ]


def bundle_outputs(name: str, variant: str) -> dict:
    model = edgeft_runtime.load(BUNDLES / name, variant=variant)
    texts = NER if model.task == "ner" else FILL if model.task == "fill-mask" else COMMON
    out: dict = {"bundle": name, "variant": variant, "task": model.task, "texts": texts}
    out["ids"] = [e.ids for e in model.tokenizer.encode(texts)]
    if model.task in ("classifier", "setfit"):
        out["proba"] = model.predict_proba(texts).tolist()
        out["predict"] = model.predict(texts)
        if model.has_embeddings:
            out["embed"] = model.embed(texts).tolist()
    elif model.task == "embedding":
        out["embed"] = model.embed(texts).tolist()
    elif model.task == "ner":
        out["tag"] = {agg: [entities(t, r) for t, r in zip(texts, model.tag(texts, aggregation=agg))] for agg in ("first", "average", "max")}
    else:
        out["fill_mask"] = model.fill_mask(texts, top_k=5)
        cut = "the film " * 20 + "[MASK]"
        try:
            model.fill_mask(cut)
            raise AssertionError("a mask beyond max_length should be refused")
        except ValueError as e:
            out["mask_cut"] = {"text": cut, "error": str(e)}
    return out


def build() -> dict:
    names = sorted(p.name for p in BUNDLES.iterdir() if (p / "edgeft.json").is_file())
    from edgeft_runtime.device import arch_family, device_info

    return {
        "generated_by": "runtime-js/test/make_parity.py",
        "edgeft_runtime": edgeft_runtime.__version__,
        # int8 results depend on the CPU's int8 kernels (AVX2 saturates, VNNI does not): the JS
        # tests hold int8 to the fp32 bound only on a CPU with the same int8 flags.
        "cpu_flags": device_info()["cpu_flags"],
        # ... and on the architecture: under emulation /proc/cpuinfo shows the host's x86 flags.
        "architecture": arch_family(),
        "cases": [bundle_outputs(n, v) for n in names for v in ("fp32", "int8")],
    }


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    out.write_text(json.dumps(build(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}")
