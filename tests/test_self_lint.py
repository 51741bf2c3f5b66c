"""The project lints itself with its own plugin (flake8-bugbear does the same)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import flake8_cancel

PACKAGE = Path(flake8_cancel.__file__).resolve().parent


@pytest.mark.slow
def test_flake8_with_the_plugin_finds_nothing_in_our_own_code():
    # CAN: our own rules; F: pyflakes (unused imports and names).
    done = subprocess.run(
        [sys.executable, "-m", "flake8", "--isolated", "--select=CAN,F", str(PACKAGE)],
        capture_output=True, text=True,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
