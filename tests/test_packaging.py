"""What the packages promise about Python versions holds for what they pin."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import PackageNotFoundError, metadata
from pathlib import Path

from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[1]


def _oldest_python(specifier: str) -> str:
    """The lowest minor version (3.x) a Requires-Python specifier admits."""
    spec = SpecifierSet(specifier)
    return next(f"3.{minor}" for minor in range(6, 20) if f"3.{minor}" in spec)


def test_every_pinned_dependency_supports_the_oldest_python_we_declare():
    """e.g. numpy 2.4 requires Python 3.11: declaring 3.10 beside that pin would be a false promise."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    oldest = _oldest_python(project["requires-python"])
    pins = [d for d in project["dependencies"] if "==" in d]
    for extra in project["optional-dependencies"].values():
        pins += [d for d in extra if "==" in d]
    checked = 0
    for pin in pins:
        name = re.split(r"[=<>!~;\[ ]", pin, maxsplit=1)[0]
        try:
            requires = metadata(name).get("Requires-Python")
        except PackageNotFoundError:
            continue
        if requires:
            checked += 1
            assert oldest in SpecifierSet(requires), f"{pin} requires Python {requires}, but edgeft declares {project['requires-python']}"
    assert checked >= 5


def test_the_runtime_declares_an_older_python_than_the_toolchain():
    """Devices run older Pythons than training machines; `make test` runs the runtime's tests on
    the oldest one it declares (Makefile: test-runtime-oldest)."""
    runtime = tomllib.loads((ROOT / "runtime" / "pyproject.toml").read_text())["project"]
    assert _oldest_python(runtime["requires-python"]) == "3.10"
    assert "oldest" in (ROOT / "Makefile").read_text() and "3.10" in (ROOT / "Makefile").read_text()


def test_every_package_folder_is_listed_in_pyproject():
    """setuptools installs only the packages pyproject names: a subpackage missing there imports
    from a checkout (editable install) but not from a built wheel."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    folders = {name: ROOT / path for name, path in setuptools.get("package-dir", {}).items()}
    found = set()
    for top in ("edgeft", "edgeft_exporters"):
        root = folders.get(top, ROOT / top)
        for init in root.rglob("__init__.py"):
            found.add(".".join([top, *init.parent.relative_to(root).parts]))
    assert found == listed, f"missing from pyproject: {sorted(found - listed)}; listed but absent: {sorted(listed - found)}"
