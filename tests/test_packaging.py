"""The package as built: the wheel (and a wheel built from the sdist) ships the root distros.toml."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = "pytest_manylinux/core/distros.toml"


def _build(kind: str, source: Path, out: Path) -> Path:
    """Build with hatchling, the project's backend (in the test extra: no index needed)."""
    code = f"import sys; from hatchling.build import build_{kind}; print(build_{kind}(sys.argv[1]))"
    done = subprocess.run(
        [sys.executable, "-c", code, str(out)], cwd=source, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return out / done.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def sdist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build("sdist", ROOT, tmp_path_factory.mktemp("sdist"))


def test_wheel_ships_the_root_distros_toml(tmp_path: Path) -> None:
    wheel = _build("wheel", ROOT, tmp_path)
    with zipfile.ZipFile(wheel) as zf:
        assert zf.read(SHIPPED) == (ROOT / "distros.toml").read_bytes()
        assert "pytest_manylinux/container/probe.py" in zf.namelist()
        assert "pytest_manylinux/core/policy.json" in zf.namelist()


def test_wheel_built_from_the_sdist_ships_it_too(sdist: Path, tmp_path: Path) -> None:
    with tarfile.open(sdist) as tf:
        tf.extractall(tmp_path, filter="data")
    (unpacked,) = tmp_path.iterdir()
    assert (unpacked / "distros.toml").read_bytes() == (ROOT / "distros.toml").read_bytes()
    wheel = _build("wheel", unpacked, tmp_path)
    with zipfile.ZipFile(wheel) as zf:
        assert zf.read(SHIPPED) == (ROOT / "distros.toml").read_bytes()


def test_the_package_reads_the_root_file_in_a_checkout() -> None:
    """An editable install (these tests' own) has no copy beside the module: it reads the root file."""
    from pytest_manylinux.core.distros import DEFAULT_DISTROS_FILE

    assert DEFAULT_DISTROS_FILE.read_bytes() == (ROOT / "distros.toml").read_bytes()
