"""Shared fixtures. Tests never touch the network nor the user's refreshed catalogs."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def _isolated_catalog_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Point PLANNER_CATALOG_DIR at an empty folder so only shipped catalogs load."""
    monkeypatch.setenv("PLANNER_CATALOG_DIR", str(tmp_path_factory.mktemp("user-catalogs")))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA
