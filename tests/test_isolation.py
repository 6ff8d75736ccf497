"""Isolation: the wheel's code runs only in containers with no network, memory and pid limits, no
capabilities, no host mounts and an unprivileged user; static analysis executes nothing.

A plugin run is watched from outside (the engine's view of its container while a check runs) and from
inside (a wheel whose import reports what it sees, in the error it raises on purpose).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import wheelfactory
from conftest import containers_of, labels_of, left_behind, start_plugin, wait_for

from pytest_manylinux.engine.docker import LABEL, LABEL_DISTRO, LABEL_HOST, LABEL_PID

DISTROS = ["ubuntu-16.04", "debian-13"]
MEMORY = 512 * 1024 * 1024


@dataclass(frozen=True)
class WatchedRun:
    #: each distro's container as the engine described it while a check ran in it
    attrs: dict[str, dict[str, Any]]
    #: ``ps`` lines (pid, uid and command) of each container at that moment
    processes: dict[str, list[str]]
    #: what the pm_inside wheel saw, per distro
    inside: dict[str, dict[str, Any]]
    stdout: str
    pid: int


def _checking(container: Any) -> list[str] | None:
    """The container's processes while the probe imports the hanging wheel; None before that."""
    try:
        processes = [" ".join(p) for p in container.top(ps_args="-o pid,uid,args")["Processes"] or []]
    except Exception:  # not started yet, or gone
        return None
    return processes if any("pm_hang" in p and "faulthandler" in p for p in processes) else None


@pytest.fixture(scope="module")
def watched_run(engine: Any, wheels: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> WatchedRun:
    work = tmp_path_factory.mktemp("isolation")
    inside = wheelfactory.inside(work)
    out = work / "results.json"
    args = [
        "--manylinux-wheel", str(inside), str(wheels["hang"]),
        *(a for d in DISTROS for a in ("--manylinux-distro", d)),
        "--manylinux-timeout", "15",
        "--manylinux-memory", "512m",
        "--manylinux-jobs", "2",
        "--manylinux-json", str(out),
    ]  # fmt: skip
    proc = start_plugin(args, cwd=work)
    attrs: dict[str, dict[str, Any]] = {}
    processes: dict[str, list[str]] = {}
    try:
        while len(attrs) < len(DISTROS):
            for container in wait_for(
                lambda: containers_of(engine.client, [proc.pid]), "containers", proc=proc
            ):
                distro = labels_of(container)[LABEL_DISTRO]
                if distro not in attrs and (seen := _checking(container)):
                    container.reload()
                    attrs[distro], processes[distro] = container.attrs, seen
        stdout, stderr = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    document = json.loads(out.read_text())
    (observed,) = [w for w in document["wheels"] if w["file"] == inside.name]
    reports = {}
    for d in observed["distros"]:
        # The wheel reports through the exception its import raises (the same everywhere: its own behaviour).
        (raised,) = [f["evidence"] for f in d["findings"] if f["cause"] == "exception"]
        reports[d["name"]] = json.loads(raised.split("PM_INSIDE ", 1)[1])
    return WatchedRun(attrs, processes, reports, stdout + stderr, proc.pid)


@pytest.mark.parametrize("distro", DISTROS, ids=DISTROS)
def test_engine_view_of_a_running_check(watched_run: WatchedRun, distro: str) -> None:
    attrs = watched_run.attrs[distro]
    host = attrs["HostConfig"]
    assert host["NetworkMode"] == "none"
    assert attrs["NetworkSettings"]["Networks"].keys() == {"none"}
    assert host["Memory"] == host["MemorySwap"] == MEMORY
    assert host["PidsLimit"] == 512
    assert host["CapDrop"] == ["ALL"]
    assert not host["CapAdd"]
    assert host["Privileged"] is False
    assert "no-new-privileges" in host["SecurityOpt"]
    assert host["Init"] is True
    # Nothing of the host is mounted: no binds, no devices. The root is read-only; a check writes only to
    # size-limited in-memory /tmp and /var/tmp, and the host's files go into the container's own volume.
    assert not any(host.get(key) for key in ("Binds", "Devices"))
    assert host["ReadonlyRootfs"] is True
    assert sorted(host["Tmpfs"]) == ["/tmp", "/var/tmp"]
    assert all(f"size={1 << 30}" in options for options in host["Tmpfs"].values())
    (volume,) = attrs["Mounts"]
    assert (volume["Type"], volume["Destination"], volume["Driver"]) == (
        "volume",
        "/opt/pytest-manylinux",
        "local",
    )
    labels = attrs["Config"]["Labels"]
    assert labels[LABEL] == "1"
    assert (labels[LABEL_HOST], labels[LABEL_PID], labels[LABEL_DISTRO]) == (
        socket.gethostname(),
        str(watched_run.pid),
        distro,
    )


@pytest.mark.parametrize("distro", DISTROS, ids=DISTROS)
def test_wheel_code_runs_as_nobody(watched_run: WatchedRun, distro: str) -> None:
    # The probe and the importing child it started (the hanging wheel) are not root.
    wheel_code = [p for p in watched_run.processes[distro] if "faulthandler" in p or "probe.py check" in p]
    assert len(wheel_code) >= 2, watched_run.processes[distro]
    assert all(p.split()[1] == "65534" for p in wheel_code), wheel_code


@pytest.mark.parametrize("distro", DISTROS, ids=DISTROS)
def test_what_the_wheel_sees_from_inside(watched_run: WatchedRun, distro: str) -> None:
    seen = watched_run.inside[distro]
    assert seen["uid"] == seen["euid"] == 65534
    assert int(seen["cap_eff"], 16) == 0, "no capabilities at all"
    assert seen["no_new_privs"] == "1"
    assert seen["interfaces"] == ["lo"]
    assert seen["connect"] == "OSError: [Errno 101] Network is unreachable"
    assert int(seen["memory_limit"]) == MEMORY
    assert seen["pids_max"] == "512"
    assert seen["pid1"] in ("docker-init", "tini")  # the import is not PID 1
    assert seen["write_root"] == "OSError: [Errno 30] Read-only file system: '/pm_inside'"
    assert seen["tmp_size"] == 1 << 30


def test_nothing_left_after_the_watched_run(watched_run: WatchedRun, engine: Any) -> None:
    assert "INTERNALERROR" not in watched_run.stdout
    assert left_behind(engine.client, [watched_run.pid]) == []


# -- static analysis executes nothing ----------------------------------------------------------------


def test_inspect_only_reads_a_wheel_that_would_crash(wheels: dict[str, Path], tmp_path: Path) -> None:
    """``inspect`` with no engine reachable, on the wheel whose extension aborts when it is loaded: the
    wheel is read and judged; had its code run, the process would have died of SIGABRT."""
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    done = subprocess.run(
        [
            sys.executable,
            "-X",
            "faulthandler",
            "-m",
            "pytest_manylinux",
            "inspect",
            "--json",
            str(wheels["crash"]),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (report,) = json.loads(done.stdout)["wheels"]
    assert report["predicted"]["tag"] == "manylinux_2_5_x86_64"
    assert done.stderr == ""
