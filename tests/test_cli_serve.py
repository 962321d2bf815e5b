"""`edgeft serve` hands its arguments to the runtime's service unchanged (the service itself is
tested in runtime/tests/test_serve.py)."""

from __future__ import annotations

from typer.testing import CliRunner

from edgeft.cli import app

runner = CliRunner()


def test_serve_help_lists_the_runtime_options():
    result = runner.invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--max-batch", "--max-wait-ms", "--max-queue", "--no-check", "BUNDLE"):
        assert option in result.output


def test_serve_refuses_a_bad_number_with_one_error_line(tmp_path):
    result = runner.invoke(app, ["serve", str(tmp_path), "--max-wait-ms", "inf"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == ["error: --max-wait-ms inf: give a finite number from 0 to 10000"]


def test_serve_refuses_a_missing_bundle(tmp_path):
    result = runner.invoke(app, ["serve", str(tmp_path / "missing")])
    assert result.exit_code == 1 and "error:" in result.output and "no such bundle" in result.output
