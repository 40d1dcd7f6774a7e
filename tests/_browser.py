"""Headless Chromium for the page tests: one place for the executable and the flags every run uses."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from benchmarks.bench import HEADLESS_FLAGS


def chromium_exe() -> str:
    """Return the Chromium executable, or skip the test when none is installed."""
    exe = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
    if exe is None:
        pytest.skip("chromium is not installed (apt-get install chromium); .ci/run installs it")
    return exe


def chromium_base(tmp_path: Path) -> list[str]:
    """Return the executable and the common flags, with a fresh profile in ``tmp_path``."""
    return [chromium_exe(), *HEADLESS_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
