"""Download the pinned real-code corpus and unpack it, for checking flake8-cancel on real code.

Usage: python scripts/fetch_corpus.py

Wheels go to ``.cache/corpus/wheels`` (git-ignored) and each is unpacked (a wheel is a zip) into
``.cache/corpus/<name>-<version>/``. Work already done is skipped: a wheel already in the cache is
not downloaded again, and a directory already unpacked is not unpacked again. The unpacked
directories are printed at the end, one per line, ready to pass to ``flake8-cancel``.

Standard library only; downloads use ``python -m pip download --no-deps`` of the running Python.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path
from typing import List, NamedTuple, Optional, Sequence, Tuple

REPO_ROOT = Path(__file__).resolve().parent.parent
CORPUS = REPO_ROOT / ".cache" / "corpus"
WHEELS = CORPUS / "wheels"


class Pin(NamedTuple):
    name: str
    version: str
    pip_options: Tuple[str, ...] = ()

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}"

    @property
    def wheel_prefix(self) -> str:
        """How the wheel's file name starts (wheel names use ``_`` for ``-``)."""
        return f"{self.name.replace('-', '_')}-{self.version}-"

    @property
    def unpacked(self) -> Path:
        return CORPUS / f"{self.name}-{self.version}"


PINS: Sequence[Pin] = (
    Pin("homeassistant", "2024.3.3"),
    Pin(
        "aiohttp",
        "3.12.15",
        (
            "--only-binary=:all:",
            "--platform", "manylinux2014_x86_64",
            "--python-version", "3.11",
        ),
    ),
)


def cached_wheel(pin: Pin) -> Optional[Path]:
    matches = sorted(WHEELS.glob(f"{pin.wheel_prefix}*.whl"))
    return matches[0] if matches else None


def download(pin: Pin) -> Path:
    wheel = cached_wheel(pin)
    if wheel is not None:
        print(f"cached: {wheel.name}", file=sys.stderr)
        return wheel
    WHEELS.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps",
        "--dest", str(WHEELS), *pin.pip_options, pin.requirement,
    ]
    print("running: " + " ".join(command), file=sys.stderr)
    subprocess.run(command, check=True)
    wheel = cached_wheel(pin)
    if wheel is None:
        sys.exit(f"pip did not leave a wheel for {pin.requirement} in {WHEELS}")
    return wheel


def unpack(pin: Pin, wheel: Path) -> Path:
    target = pin.unpacked
    done = target / ".unpacked"  # written last, so a half-finished unpack is redone
    if done.exists():
        print(f"already unpacked: {target.name}", file=sys.stderr)
        return target
    print(f"unpacking {wheel.name} -> {target}", file=sys.stderr)
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
    done.write_text(wheel.name + "\n")
    return target


def main() -> int:
    unpacked: List[Path] = []
    for pin in PINS:
        unpacked.append(unpack(pin, download(pin)))
    for directory in unpacked:
        print(directory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
