"""The engine boundary against the real engine: isolation of containers, labels, cleanup, reaping."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_manylinux.engine.docker import (
    LABEL,
    LABEL_PID,
    LABEL_SESSION,
    Engine,
    Limits,
    _alive,
    memory_bytes,
)


@pytest.fixture(scope="module")
def image(image_of: Callable[[str], str]) -> str:
    """Debian 12 with python3, as the default matrix runs it."""
    return image_of("debian-12")


def test_container_is_isolated_and_removed(engine: Any, image: str) -> None:
    with engine.container(image, "debian-12", Limits(memory="512m", pids=64)) as c:
        host = c.raw.attrs["HostConfig"]
        assert host["NetworkMode"] == "none"
        assert host["CapDrop"] == ["ALL"]
        assert host["Memory"] == 512 * 1024 * 1024
        assert host["PidsLimit"] == 64
        assert host["Init"] is True
        assert host["Binds"] in (None, [])
        assert c.raw.attrs["Config"]["Labels"][LABEL_SESSION] == engine.session
        # The checks' process is not PID 1 (the init is).
        result = c.exec(["sh", "-c", "echo $$; cat /proc/1/comm"])
        pid, init = result.stdout.split()
        assert pid != "1"
        assert init in ("docker-init", "tini")
        assert c.exec(["id", "-un"], user="nobody").stdout.strip() == "nobody"
        container_id = c.id
    assert not engine.client.containers.list(all=True, filters={"id": container_id})


def test_exec_timeout_kills_from_inside(engine: Any, image: str) -> None:
    with engine.container(image, "debian-12") as c:
        result = c.exec(["sleep", "30"], timeout=1)
        assert result.exit_code == 137
        assert result.seconds < 10


def test_leftovers_of_dead_runs_are_reaped(engine: Any, image: str) -> None:
    # A container labelled by a process that no longer exists is a leftover of an interrupted run.
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    other = Engine(engine.client)
    labels = dict(other.labels, **{LABEL_PID: dead.stdout.strip()})
    raw = engine.client.containers.run(image, ["sleep", "infinity"], detach=True, labels=labels, init=True)
    try:
        assert raw.id in [c.id for c in engine.leftovers()]
        assert engine.reap() >= 1
        assert not engine.client.containers.list(all=True, filters={"id": raw.id})
    finally:
        with contextlib.suppress(Exception):
            raw.remove(force=True)


def test_live_sessions_are_not_reaped(engine: Any, image: str) -> None:
    other = Engine(engine.client)  # same process, so alive: another session of this machine
    with other.container(image, "debian-12") as c:
        assert c.id not in [x.id for x in engine.leftovers()]
    assert (
        engine.client.containers.list(all=True, filters={"label": f"{LABEL_SESSION}={other.session}"}) == []
    )
    assert LABEL


# -- no engine needed --------------------------------------------------------------------------------


def test_a_zombie_is_not_alive() -> None:
    # A killed xdist worker is a zombie until its controller collects it; its containers are
    # leftovers already.
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 30
        while Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert not _alive(child.pid)
    finally:
        child.wait()
    assert not _alive(child.pid)
    assert _alive(os.getpid())


@pytest.mark.parametrize(
    ("text", "size"),
    [("512m", 512 << 20), ("2g", 2 << 30), ("2G", 2 << 30), ("300MB", 300 << 20), ("6291456", 6 << 20)],
    ids=["m", "g", "upper", "mb", "bytes"],
)
def test_memory_bytes(text: str, size: int) -> None:
    assert memory_bytes(text) == size


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("lots", "not a size"),
        ("1.5g", "not a size"),
        ("-1", "not a size"),
        ("5m", "below the engine's minimum"),
    ],
    ids=["word", "fraction", "negative", "too-small"],
)
def test_memory_bytes_refuses(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        memory_bytes(text)
