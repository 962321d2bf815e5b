"""Options declared once (edgeft_runtime.options): the checks as data, argparse made from fields."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from edgeft_runtime.options import AtLeast, Between, Finite, OneLineParser, OneOf, OptionError, add_arguments, check_fields, check_value, from_arguments, option


def test_checks_say_what_to_give():
    assert Between(0, 100, " points").problem(50) is None
    assert Between(0, 100, " points").problem(100.5) == "give a number from 0 to 100 points"
    assert Between(0, 100, "%").problem(math.nan) == "give a finite number from 0 to 100%"
    assert Between(0, 1).problem(True) is not None  # a bool is not a number here
    assert AtLeast(1).problem(0) == "give 1 or more" and AtLeast(0, "0: none").problem(-1) == "give 0 or more (0: none)"
    assert AtLeast(0).problem(math.inf) is not None and Finite().problem(-math.inf) == "give a finite number"
    assert OneOf(("zip", "tar.gz")).problem("rar") == "choose zip or tar.gz" and OneOf(("a", "b", "c")).describe() == "a, b or c"


def test_check_value_names_the_option_and_skips_what_was_not_given():
    check_value("--x", None, [AtLeast(1)])
    with pytest.raises(OptionError, match=r"^--x -1: give 1 or more$") as e:
        check_value("--x", -1.0, [AtLeast(1)])
    assert e.value.option == "--x"


@dataclass
class Demo:
    limit: float = option(1.0, "A limit.", Between(0, 10))
    count: int | None = option(None, "A count.", AtLeast(1), default_text="all")
    names: list[str] | None = option(None, "Names.", flags=("--name",), repeat=True)
    fast: bool = option(True, "Go fast.", flags=("--fast/--slow",))
    shape: tuple[int, int] | None = option(None, "A shape.", parse=lambda t: tuple(int(p) for p in t.split("x")))
    not_an_option: int = 3

    def __post_init__(self) -> None:
        check_fields(self)


def test_argparse_is_made_from_the_fields():
    parser = OneLineParser(prog="demo")
    add_arguments(parser, Demo)
    got = from_arguments(Demo, parser.parse_args(["--limit", "2.5", "--name", "a", "--name", "b", "--slow", "--shape", "2x3"]))
    assert got == Demo(limit=2.5, count=None, names=["a", "b"], fast=False, shape=(2, 3))
    assert from_arguments(Demo, parser.parse_args([])) == Demo()
    assert "[default: all]" in parser.format_help() and "--not-an-option" not in parser.format_help()
    with pytest.raises(OptionError, match="--limit 11: give a number from 0 to 10"):
        from_arguments(Demo, parser.parse_args(["--limit", "11"]))
    with pytest.raises(OptionError, match="--shape 2y3"):
        from_arguments(Demo, parser.parse_args(["--shape", "2y3"]))


def test_a_dataclass_checks_values_given_in_python():
    with pytest.raises(OptionError, match="--count 0: give 1 or more"):
        Demo(count=0)
    with pytest.raises(OptionError, match="--limit nan"):
        Demo(limit=math.nan)
