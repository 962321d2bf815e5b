"""The documentation's commands are real: every `edgeft ...` line in a shell block of the README,
docs/ and the runtime READMEs parses against the CLI as it is (commands, subcommands, options
and their values), and the README's Python example runs as written on a bundle.

Parsing, not running: the commands name users' files and train for minutes. `make demo` runs
the README's demo commands for real; runtime-js's tests run the JavaScript ones.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import typer
import typer.core

from edgeft.cli import app

# The click that Typer runs on: recent Typer releases vendor their own copy (typer._click).
try:
    from typer._click.exceptions import UsageError
except ImportError:  # pragma: no cover - a Typer on the real click
    from click.exceptions import UsageError
Group = typer.core.TyperGroup

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "runtime" / "tests" / "fixtures"
DOCS = sorted([ROOT / "README.md", *ROOT.glob("docs/*.md"), ROOT / "runtime" / "README.md", ROOT / "CONTRIBUTING.md"])


def shell_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, command) of every command in the file's bash/sh blocks; continuations joined."""
    out, in_block, pending, start = [], False, "", 0
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
        if line.startswith("```"):
            in_block = line.strip() in ("```bash", "```sh", "```shell") and not in_block
            continue
        if not in_block:
            continue
        if not pending:
            start = number
        pending += line.rstrip("\\").rstrip() + " " if line.rstrip().endswith("\\") else line
        if not line.rstrip().endswith("\\"):
            out.append((start, pending.strip()))
            pending = ""
    return out


def edgeft_args(command: str) -> list[str] | None:
    """The arguments edgeft gets from a documented command line, or None when it runs no edgeft."""
    command = re.sub(r"\s+#.*$", "", command)
    if "|" in command:
        command = command.split("|")[-1].strip()
    words = shlex.split(command)
    for i, word in enumerate(words):
        if word in ("edgeft", ".venv/bin/edgeft"):
            return words[i + 1:]
        if word == "-m" and i + 1 < len(words) and words[i + 1] == "edgeft":
            return words[i + 2:]
    return None


def parse(command: typer.core.TyperCommand | Group, args: list[str], name: str = "edgeft") -> None:
    """Parse ``args`` as click would, down to the leaf command, without running anything."""
    try:
        ctx = command.make_context(name, list(args))
    except (typer.Exit, SystemExit):
        return  # an eager option such as --help or --print-config
    if isinstance(command, Group):
        rest = [*(getattr(ctx, "_protected_args", None) or getattr(ctx, "protected_args", [])), *ctx.args]
        sub_name, sub, sub_args = command.resolve_command(ctx, rest)
        assert sub is not None, f"no command {rest[:1]}"
        parse(sub, sub_args, sub_name or "?")


DOCUMENTED = [(p, n, c) for p in DOCS for n, c in shell_lines(p) if edgeft_args(c) is not None]


def test_the_documentation_has_edgeft_commands_to_check() -> None:
    assert len(DOCUMENTED) > 40
    assert any(p.name == "README.md" and p.parent == ROOT for p, _, _ in DOCUMENTED)


@pytest.mark.parametrize("path,number,command", DOCUMENTED, ids=[f"{p.relative_to(ROOT)}:{n}" for p, n, _ in DOCUMENTED])
def test_every_documented_edgeft_command_parses(path: Path, number: int, command: str) -> None:
    cli = typer.main.get_command(app)
    try:
        parse(cli, edgeft_args(command) or [])
    except UsageError as e:
        pytest.fail(f"{path.relative_to(ROOT)}:{number}: `{command}` does not parse: {e.format_message()}")


def test_the_parser_catches_a_wrong_option() -> None:
    with pytest.raises(UsageError):
        parse(typer.main.get_command(app), ["export", "models/x", "--int9"])
    with pytest.raises(UsageError):
        parse(typer.main.get_command(app), ["train", "classifier", "--train", "t.csv", "--epochz", "3"])


def test_the_readme_python_example_runs_as_written(tmp_path: Path) -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- tested: python-example -->\s*\n```python\n(.*?)\n```", text, re.S)
    assert block, "README.md has no Python block marked <!-- tested: python-example -->"
    code = block.group(1).replace('"models/demo-int8"', repr(str(FIXTURES / "sentiment")))
    done = subprocess.run([sys.executable, "-c", code + "\nprint(clf.predict(['great battery']))"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert re.search(r"'label': '(pos|neg)'", done.stdout)
