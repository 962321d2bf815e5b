"""Fixtures for edgeft-runtime's own tests: committed tiny bundles (see tests/make_runtime_fixtures.py
at the repository root), copied per test so tests may damage them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def sentiment_bundle(tmp_path) -> Path:
    return Path(shutil.copytree(FIXTURES / "sentiment", tmp_path / "sentiment"))


@pytest.fixture
def topics_bundle(tmp_path) -> Path:
    return Path(shutil.copytree(FIXTURES / "topics", tmp_path / "topics"))


@pytest.fixture
def entities_bundle(tmp_path) -> Path:
    return Path(shutil.copytree(FIXTURES / "entities", tmp_path / "entities"))


@pytest.fixture
def fewshot_bundle(tmp_path) -> Path:
    return Path(shutil.copytree(FIXTURES / "fewshot", tmp_path / "fewshot"))


@pytest.fixture
def embedder_bundle(tmp_path) -> Path:
    return Path(shutil.copytree(FIXTURES / "embedder", tmp_path / "embedder"))
