"""Shared fixtures. ``SHARED`` points at ../shared/data when it exists (larger checks only)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is not present (only on developer machines)")
    return SHARED
