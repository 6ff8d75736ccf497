"""Shared fixtures: test wheels built by tests/wheelfactory.py, the real engine, one full matrix run."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import wheelfactory

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


class EngineUnreachable(pytest.Item):
    """Stands for every selected engine test when there is no engine: one failure that says why."""

    message: str

    def runtest(self) -> None:
        raise pytest.fail.Exception(self.message, pytrace=False)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return Path(__file__), None, self.name


@pytest.hookimpl(hookwrapper=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> Iterator[None]:
    """Mark ``engine`` every test whose fixtures (at any depth) include ``engine``, before ``-m`` selects.

    So the marker cannot be forgotten: a test that needs the engine asks for the fixture (the tests that
    run the plugin in a subprocess ask for it too, though they do not use its value). After selection,
    if engine tests remain and the engine is unreachable, they are replaced by one failing item that
    says so, rather than an error apiece. Unreachable is a failure, never a skip: these tests prove
    nothing without it (``-m "not engine"`` runs the others). The same on every xdist worker, so their
    collections agree.
    """
    for item in items:
        if "engine" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.engine)
    yield
    needing = [i for i in items if i.get_closest_marker("engine")]
    if not needing or config.option.collectonly:
        return
    from pytest_manylinux.engine.docker import Engine
    from pytest_manylinux.errors import EngineError

    try:
        Engine.connect().close()
    except EngineError as e:
        items[:] = [i for i in items if not i.get_closest_marker("engine")]
        config.hook.pytest_deselected(items=needing)
        stand_in = EngineUnreachable.from_parent(session, name="engine-unreachable")
        stand_in.message = (
            f"{len(needing)} selected tests need the container engine (.ci/run starts one; "
            f'-m "not engine" runs the others): {e}'
        )
        items.append(stand_in)


@pytest.fixture(scope="session")
def engine() -> Iterator[Any]:
    """The real engine (without one, its tests do not run: see pytest_collection_modifyitems)."""
    from pytest_manylinux.engine.docker import Engine

    engine = Engine.connect()
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def image_of(engine: Any) -> Callable[[str], str]:
    """The image a distro of the default matrix runs its checks in (its derived image, with python3),
    made the first time it is asked for (``.ci/run`` makes them all first with ``images``)."""
    from pytest_manylinux.core.distros import load_distros
    from pytest_manylinux.engine.images import ensure_image

    by_name = {d.name: d for d in load_distros()}
    made: dict[str, str] = {}

    def image_of(name: str) -> str:
        if name not in made:
            made[name] = ensure_image(engine, by_name[name], lambda line: None).ref
        return made[name]

    return image_of


@pytest.fixture(scope="session")
def portable_311(engine: Any) -> Any:
    """The portable CPython 3.11 the project builds in the Ubuntu 16.04 container: built the first time
    on a machine (``.ci/run`` does it before the tests: ``python -m pytest_manylinux python 3.11``),
    found in the per-machine cache afterwards."""
    from pytest_manylinux.core.distros import PythonConfig, load_distros_file
    from pytest_manylinux.engine.portable import Provider

    provider = Provider(PythonConfig(uv=False), engine, load_distros_file().build_distro, lambda line: None)
    return provider.get("3.11")


@dataclass(frozen=True)
class MatrixRun:
    """One run of the plugin, in a subprocess, on every factory wheel and the default matrix."""

    returncode: int
    stdout: str
    document: dict[str, Any]
    junit: ET.Element
    #: the plugin process's PID: what its containers are labelled with
    pid: int

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


def _plugin_argv_env(args: list[str], env: dict[str, str] | None) -> tuple[list[str], dict[str, str]]:
    environ = dict(os.environ)
    environ.update(env or {})
    environ.pop("PYTEST_ADDOPTS", None)
    return [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:benchmark", *args], environ


def run_plugin(
    args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run pytest with the plugin in a subprocess (as a user would)."""
    argv, environ = _plugin_argv_env(args, env)
    return subprocess.run(argv, cwd=cwd, env=environ, capture_output=True, text=True, timeout=1800)


def start_plugin(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start pytest with the plugin in a subprocess, to watch its containers or signal it meanwhile."""
    argv, environ = _plugin_argv_env(args, env)
    pipe = subprocess.PIPE
    return subprocess.Popen(argv, cwd=cwd, env=environ, stdout=pipe, stderr=pipe, text=True)


def left_behind(client: Any, pids: Iterable[int]) -> list[str]:
    """What the plugin processes ``pids`` of this host created that is still on the engine.

    Containers, and the volume each check container holds its files in, are matched by the creating PID
    label, so other sessions using the same engine at the same time do not count; the plugin creates no
    network, so any labelled one counts.
    """
    from pytest_manylinux.engine.docker import LABEL, LABEL_HOST, LABEL_PID

    wanted = {str(p) for p in pids}
    host = socket.gethostname()
    found = [
        f"container {c.attrs['Names']} ({c.attrs['State']}, pid {labels_of(c).get(LABEL_PID)})"
        for c in client.containers.list(all=True, filters={"label": LABEL}, sparse=True)
        if labels_of(c).get(LABEL_HOST) == host and labels_of(c).get(LABEL_PID) in wanted
    ]
    found += [
        f"volume {v.name}"
        for v in client.volumes.list(filters={"label": LABEL})
        if (v.attrs.get("Labels") or {}).get(LABEL_HOST) == host
        and (v.attrs.get("Labels") or {}).get(LABEL_PID) in wanted
    ]
    found += [f"network {n.name}" for n in client.networks.list(filters={"label": LABEL})]
    return found


def containers_of(client: Any, pids: Iterable[int]) -> list[Any]:
    """Running containers the plugin processes ``pids`` of this host created (sparse: see labels_of)."""
    from pytest_manylinux.engine.docker import LABEL_HOST, LABEL_PID

    host = socket.gethostname()
    return [
        c
        for p in pids
        for c in client.containers.list(filters={"label": f"{LABEL_PID}={p}"}, sparse=True)
        if labels_of(c).get(LABEL_HOST) == host
    ]


def labels_of(container: Any) -> dict[str, str]:
    """A container's labels, from a sparse listing (top-level) or a full inspection (under Config).

    Listings are sparse in these tests: a full one inspects each container afterwards and fails when
    another session removes one in between.
    """
    attrs = container.attrs
    return attrs.get("Labels") or (attrs.get("Config") or {}).get("Labels") or {}


def wait_for(
    condition: Callable[[], Any], what: str, timeout: float = 300, proc: subprocess.Popen[str] | None = None
) -> Any:
    """Poll ``condition`` until it returns something true; fail naming ``what`` (and the run's output)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the run ended before {what}:\n{out[-3000:]}\n{err[-3000:]}")
        time.sleep(0.25)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture(scope="session")
def matrix_run(engine: Any, wheel_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> MatrixRun:
    """The whole default matrix on every factory wheel, once: many tests read its results."""
    work = tmp_path_factory.mktemp("matrix")
    out = work / "results.json"
    junit = work / "junit.xml"
    proc = start_plugin(
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
    stdout, stderr = proc.communicate(timeout=1800)
    assert out.exists(), f"no JSON written; pytest said:\n{stdout[-3000:]}\n{stderr[-3000:]}"
    return MatrixRun(
        proc.returncode, stdout, json.loads(out.read_text()), ET.parse(junit).getroot(), proc.pid
    )
