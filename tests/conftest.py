"""Shared fixtures: test wheels built by tests/wheelfactory.py, the real engine, one full matrix run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import wheelfactory  # noqa: E402

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent

#: The default matrix and the glibc each distro measured (FIELD-NOTES.md), oldest first.
MATRIX = [
    ("ubuntu-16.04", "2.23"),
    ("ubuntu-18.04", "2.27"),
    ("ubuntu-20.04", "2.31"),
    ("debian-11", "2.31"),
    ("ubuntu-22.04", "2.35"),
    ("debian-12", "2.36"),
    ("ubuntu-24.04", "2.39"),
    ("debian-13", "2.41"),
]


@pytest.fixture(scope="session")
def wheel_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every factory case built once per session."""
    out = tmp_path_factory.mktemp("wheels")
    for case in wheelfactory.CASES:
        wheelfactory.build(case, out)
    return out


@pytest.fixture(scope="session")
def wheels(wheel_dir: Path) -> dict[str, Path]:
    return {name: wheel_dir / case.filename for name, case in wheelfactory.CASES.items()}


@pytest.fixture(scope="session")
def engine() -> Iterator[Any]:
    """The real engine. Unreachable is a failure, never a skip: these tests prove nothing without it."""
    from pytest_manylinux.engine import Engine
    from pytest_manylinux.errors import EngineError

    try:
        engine = Engine.connect()
    except EngineError as e:
        pytest.fail(f"the engine tests need a running Docker engine (.ci/run starts one): {e}", pytrace=False)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def portable_311(engine: Any) -> Any:
    """The portable CPython 3.11 the project builds in the Ubuntu 16.04 container: built the first time
    on a machine (``.ci/run`` does it before the tests: ``python -m pytest_manylinux python 3.11``),
    found in the per-machine cache afterwards."""
    from pytest_manylinux.distros import PythonConfig, load_distros_file
    from pytest_manylinux.portable import Provider

    provider = Provider(PythonConfig(uv=False), engine, load_distros_file().build_distro, lambda line: None)
    return provider.get("3.11")


@dataclass(frozen=True)
class MatrixRun:
    """One run of the plugin, in a subprocess, on every factory wheel and the default matrix."""

    returncode: int
    stdout: str
    document: dict[str, Any]
    junit: ET.Element

    def wheel(self, case: str) -> dict[str, Any]:
        filename = wheelfactory.CASES[case].filename
        for w in self.document["wheels"]:
            if w["file"] == filename:
                return w  # type: ignore[no-any-return]
        raise AssertionError(f"{filename} is not in the results")

    def distro(self, case: str, name: str) -> dict[str, Any]:
        for d in self.wheel(case)["distros"]:
            if d["name"] == name:
                return d  # type: ignore[no-any-return]
        raise AssertionError(f"{name} is not in the results of {case}")


def run_plugin(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run pytest with the plugin in a subprocess (as a user would)."""
    environ = dict(os.environ)
    environ.update(env or {})
    environ.pop("PYTEST_ADDOPTS", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:benchmark", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=1800,
    )


@pytest.fixture(scope="session")
def matrix_run(engine: Any, wheel_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MatrixRun]:
    """The whole default matrix on every factory wheel, once: many tests read its results."""
    work = tmp_path_factory.mktemp("matrix")
    out = work / "results.json"
    junit = work / "junit.xml"
    proc = run_plugin(
        [
            "--manylinux-wheel",
            str(wheel_dir),
            "--manylinux-timeout",
            "4",
            "--manylinux-json",
            str(out),
            f"--junitxml={junit}",
            "-q",
            "-rfEsx",
        ],
        cwd=work,
    )
    assert out.exists(), f"no JSON written; pytest said:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    yield MatrixRun(proc.returncode, proc.stdout, json.loads(out.read_text()), ET.parse(junit).getroot())
    assert engine.session_containers() == []
