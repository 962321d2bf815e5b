"""Every relative link and anchor in the project's documentation resolves.

Covers the README, the guides under docs/, CONTRIBUTING, ARCHITECTURE, CHANGELOG, the results
files and the two runtime READMEs. Anchors are computed the way GitHub renders headings. The
runtime READMEs ship inside their packages (PyPI / npm), so their links may not leave their own
folder: a reader who installed only that package has nothing else.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parent.parent
STANDALONE = {ROOT / "runtime" / "README.md": ROOT / "runtime", ROOT / "runtime-js" / "README.md": ROOT / "runtime-js"}

# [text](target) and ![alt](target), not inside code; an optional "title" after the target.
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
INLINE_CODE = re.compile(r"(`+)(.+?)\1")


def doc_files() -> list[Path]:
    files = [*ROOT.glob("*.md"), *ROOT.glob("docs/**/*.md"), *ROOT.glob("benchmarks/*.md"),
             *ROOT.glob("examples/**/*.md"), *STANDALONE]
    return sorted({f for f in files if f.is_file()})


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks, with inline code removed (links there are text)."""
    out, fence = [], None
    for line in text.split("\n"):
        stripped = line.lstrip()
        if fence is None and stripped.startswith(("```", "~~~")):
            fence = stripped[:3]
            continue
        if fence is not None:
            if stripped.startswith(fence):
                fence = None
            continue
        out.append(line)
    return out


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = INLINE_CODE.sub(lambda m: m.group(2), heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link in a heading keeps its text
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LN")
    return kept.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for line in prose_lines(path.read_text(encoding="utf-8")):
        m = HEADING.match(line)
        if not m:
            continue
        base = slug(m.group(2))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    for m in re.finditer(r"<a\s+(?:name|id)=\"([^\"]+)\"", path.read_text(encoding="utf-8")):
        out.add(m.group(1))
    return out


def links(path: Path) -> list[str]:
    found = []
    for line in prose_lines(path.read_text(encoding="utf-8")):
        found += LINK.findall(INLINE_CODE.sub("", line))
    return found


def broken_links(path: Path) -> list[str]:
    problems = []
    for target in links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:, ...
            continue
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / unquote(file_part)).resolve() if file_part else path
        if path in STANDALONE and not dest.is_relative_to(STANDALONE[path]):
            problems.append(f"{target}: leaves the package folder (this README ships alone)")
            continue
        if not dest.exists():
            problems.append(f"{target}: no such file")
        elif anchor and (dest.is_dir() or dest.suffix != ".md"):
            problems.append(f"{target}: an anchor into something that is not a Markdown file")
        elif anchor and unquote(anchor) not in anchors(dest):
            problems.append(f"{target}: no heading with that anchor in {dest.name}")
    return problems


def test_the_slugs_follow_github() -> None:
    assert slug("NER: edgeft against the plain token-classification recipe") == (
        "ner-edgeft-against-the-plain-token-classification-recipe")
    assert slug("Large inputs: `predict --input`, workers and Ray") == "large-inputs-predict---input-workers-and-ray"
    assert slug("Few-shot classification: `edgeft train setfit`") == "few-shot-classification-edgeft-train-setfit"


def test_the_checker_finds_a_broken_link(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n[ok](#title) [bad](#nope) [gone](missing.md)\n\n```\n[in code](nothing.md)\n```\n")
    assert broken_links(page) == ["#nope: no heading with that anchor in page.md", "missing.md: no such file"]


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(path: Path) -> None:
    assert broken_links(path) == []


def test_the_documentation_set_is_found() -> None:
    names = {str(p.relative_to(ROOT)) for p in doc_files()}
    assert {"README.md", "CONTRIBUTING.md", "ARCHITECTURE.md", "runtime/README.md", "runtime-js/README.md",
            "benchmarks/RESULTS.md"} <= names
    assert any(n.startswith("docs/") for n in names)


def test_the_readme_stays_a_short_guide() -> None:
    """Topics go to docs/, figures to benchmarks/RESULTS.md (CONTRIBUTING.md, Documentation)."""
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 350
