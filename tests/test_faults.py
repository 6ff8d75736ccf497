"""Faults against the real engine, each provoked for real: a crash, a hang, a memory kill, Ctrl-C, a
dying xdist worker, a dying engine. Each test runs the plugin as a user would (pytest in a subprocess)
and asserts the message and that nothing the plugin created is left on the engine.

(No engine at all is tested in test_plugin.py: one usage error, exit status 4, no traceback.)
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import wheelfactory
from conftest import containers_of, labels_of, left_behind, run_plugin, start_plugin, wait_for
from privatedockerd import PrivateDockerd

from pytest_manylinux.engine.docker import LABEL_PID

#: the distro the fault tests run on (one is enough: the faults are not distro-specific)
DISTRO = "debian-12"


def _importing(container: Any) -> bool:
    """The probe is importing the wheel's modules in ``container`` right now."""
    try:
        processes = container.top(ps_args="-o pid,args")["Processes"] or []
    except Exception:  # the container may be gone between list and top
        return False
    return any("faulthandler" in " ".join(p) for p in processes)


def _finish(proc: subprocess.Popen[str], timeout: float = 600) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"the run did not finish within {timeout}s:\n{out[-3000:]}\n{err[-3000:]}")


# -- a crash, a hang and a memory kill, in one run ------------------------------------------------------


@dataclass(frozen=True)
class FaultyRun:
    returncode: int
    stdout: str
    stderr: str
    document: dict[str, Any]
    pid: int

    def on_distro(self, project: str) -> dict[str, Any]:
        (wheel,) = [w for w in self.document["wheels"] if w["file"].startswith(project + "-")]
        (observation,) = wheel["distros"]
        return observation  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def faulty_run(engine: Any, wheels: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> FaultyRun:
    work = tmp_path_factory.mktemp("faulty")
    greedy = wheelfactory.greedy(work, megabytes=1024)
    out = work / "results.json"
    args = [
        "--manylinux-wheel", str(wheels["crash"]), str(wheels["hang"]), str(greedy),
        "--manylinux-distro", DISTRO,
        "--manylinux-timeout", "3",
        "--manylinux-memory", "256m",
        "--manylinux-json", str(out),
        "-rfEsx",
    ]  # fmt: skip
    proc = start_plugin(args, cwd=work)
    stdout, stderr = _finish(proc)
    assert out.exists(), f"no JSON written:\n{stdout[-3000:]}\n{stderr[-3000:]}"
    return FaultyRun(proc.returncode, stdout, stderr, json.loads(out.read_text()), proc.pid)


def test_abort_is_reported_as_sigabrt(faulty_run: FaultyRun) -> None:
    observation = faulty_run.on_distro("pm_crash")
    assert (observation["outcome"], observation["cause"]) == ("fail", "crash")
    assert observation["detail"].startswith("import pm_crash killed by SIGABRT")
    assert "crash: import pm_crash killed by SIGABRT" in faulty_run.stdout
    assert "Fatal Python error: Aborted" in faulty_run.stdout  # faulthandler's traceback, shown


def test_hanging_import_is_a_timeout(faulty_run: FaultyRun) -> None:
    observation = faulty_run.on_distro("pm_hang")
    assert (observation["outcome"], observation["cause"]) == ("fail", "timeout")
    # pm_hang._core is not tried on its own: importing it imports the hanging package first.
    # Where it hung, from its stack: the extension's PyInit, imported by the package's __init__.py.
    assert observation["detail"] == (
        "import pm_hang: import did not finish within 3.0 seconds, in an extension module's initialisation "
        '(imported at File "pm_hang/__init__.py", line 6 in <module>); 1 module inside it not tried'
    )
    assert observation["seconds"] < 30


def test_memory_kill_is_reported_as_memory(faulty_run: FaultyRun) -> None:
    # The kernel's OOM killer ends the importing child with SIGKILL at the container's limit; the
    # probe tells that from any other SIGKILL by the cgroup's oom_kill counter.
    observation = faulty_run.on_distro("pm_greedy")
    assert (observation["outcome"], observation["cause"]) == ("skipped", "memory")
    assert observation["detail"] == (
        "import pm_greedy was killed for memory: the kernel's out-of-memory killer ended it at the "
        "container's limit of 256 MiB; raise --manylinux-memory to judge this distro"
    )
    # Not a verdict on the wheel, but the run could not finish its check: the item fails, saying so.
    assert f"ManylinuxError: {DISTRO}: import pm_greedy was killed for memory" in faulty_run.stdout


def test_faults_leave_the_run_whole(faulty_run: FaultyRun, engine: Any) -> None:
    assert faulty_run.returncode == pytest.ExitCode.TESTS_FAILED
    assert "Traceback (most recent call last)" not in faulty_run.stdout + faulty_run.stderr
    assert "INTERNALERROR" not in faulty_run.stdout + faulty_run.stderr
    assert left_behind(engine.client, [faulty_run.pid]) == []


# -- Ctrl-C in the middle of a matrix -----------------------------------------------------------------


def test_ctrl_c_mid_matrix_stops_cleanly_and_removes_containers(
    engine: Any, wheels: dict[str, Path], tmp_path: Path
) -> None:
    args = [
        "--manylinux-wheel", str(wheels["hang"]), str(wheels["honest"]),
        "--manylinux-distro", "ubuntu-16.04", "--manylinux-distro", DISTRO,
        "--manylinux-timeout", "120",
        "--manylinux-jobs", "2",
    ]  # fmt: skip
    proc = start_plugin(args, cwd=tmp_path)
    try:
        # Both distros' containers are up and one is in the middle of an import (the hang).
        wait_for(lambda: len(containers_of(engine.client, [proc.pid])) == 2, "two containers", proc=proc)
        wait_for(
            lambda: any(_importing(c) for c in containers_of(engine.client, [proc.pid])),
            "an import",
            proc=proc,
        )
        interrupted = time.monotonic()
        os.kill(proc.pid, signal.SIGINT)
        stdout, stderr = _finish(proc, timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert time.monotonic() - interrupted < 60, "Ctrl-C must not wait for the hanging import's timeout"
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, stdout[-3000:]
    assert "KeyboardInterrupt" in stdout
    assert "Traceback (most recent call last)" not in stdout + stderr
    assert "INTERNALERROR" not in stdout + stderr
    assert left_behind(engine.client, [proc.pid]) == []


# -- an xdist worker that dies ----------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except FileNotFoundError:
        return []
    return [int(x) for x in text.split()]


def test_dead_xdist_worker_is_reported_and_its_containers_reaped(
    engine: Any, wheels: dict[str, Path], tmp_path: Path
) -> None:
    args = [
        "-n", "2",
        "--manylinux-wheel", str(wheels["hang"]), str(wheels["honest"]),
        "--manylinux-distro", "ubuntu-16.04", "--manylinux-distro", DISTRO,
        "--manylinux-timeout", "20",
        "-rfE",
    ]  # fmt: skip
    proc = start_plugin(args, cwd=tmp_path)
    workers: list[int] = []
    try:
        workers = wait_for(
            lambda: _children(proc.pid) if len(_children(proc.pid)) >= 2 else None, "two workers", proc=proc
        )
        # A worker in the middle of the hanging import: kill it as the OOM killer or a crash would.
        victim = wait_for(
            lambda: next((c for c in containers_of(engine.client, workers) if _importing(c)), None),
            "a worker's import",
            proc=proc,
        )
        dead = int(labels_of(victim)[LABEL_PID])
        os.kill(dead, signal.SIGKILL)
        stdout, stderr = _finish(proc, timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == pytest.ExitCode.TESTS_FAILED, stdout[-3000:]
    assert "crashed while running" in stdout
    assert "INTERNALERROR" not in stdout + stderr
    # The dead worker never reached its finally: the controller removes its containers (one or two:
    # the second distro's may not have been started yet when it was killed).
    assert re.search(r"\[manylinux\] removed [12] container\(s\) left by crashed worker gw\d", stdout), (
        stdout[:3000]
    )
    assert left_behind(engine.client, [proc.pid, *workers, dead]) == []


# -- the engine dying mid-run --------------------------------------------------------------------------

#: the one distro whose images (the base and the one derived from it) are loaded into the private engine
PRIVATE_IMAGE, PRIVATE_DISTRO = "ubuntu:16.04", "ubuntu-16.04"


@pytest.fixture
def private_engine(engine: Any, image_of: Callable[[str], str]) -> Iterator[PrivateDockerd]:
    """A private dockerd holding one distro's images, removed (containers, mounts, files) afterwards."""
    dockerd = PrivateDockerd()
    try:
        client = dockerd.start()
        for ref in (PRIVATE_IMAGE, image_of(PRIVATE_DISTRO)):
            client.images.load(engine.client.images.get(ref).save(chunk_size=1 << 20, named=ref))
            assert client.images.get(ref)
        client.close()
        yield dockerd
    finally:
        dockerd.remove()


def test_engine_dying_mid_run_is_reported_and_leftovers_are_reaped(
    private_engine: PrivateDockerd, wheels: dict[str, Path], tmp_path: Path
) -> None:
    env = {"DOCKER_HOST": private_engine.host}
    args = [
        "--manylinux-wheel", str(wheels["hang"]), str(wheels["honest"]),
        "--manylinux-distro", PRIVATE_DISTRO,
        "--manylinux-timeout", "120",
        "-rfE",
    ]  # fmt: skip
    proc = start_plugin(args, cwd=tmp_path, env=env)
    try:
        import docker

        client = docker.DockerClient(base_url=private_engine.host, timeout=60)
        wait_for(
            lambda: any(_importing(c) for c in containers_of(client, [proc.pid])), "an import", proc=proc
        )
        client.close()
        killed = time.monotonic()
        private_engine.kill()
        stdout, stderr = _finish(proc, timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    # Every check that needed the engine fails with what happened; nothing hangs, nothing crashes.
    assert time.monotonic() - killed < 120
    assert proc.returncode == pytest.ExitCode.TESTS_FAILED, stdout[-3000:]
    assert f"ManylinuxError: {PRIVATE_DISTRO}: the container engine failed to" in stdout, stdout[-3000:]
    assert "Traceback (most recent call last)" not in stdout + stderr
    assert "INTERNALERROR" not in stdout + stderr
    print(stdout)

    # Restarted on the same data-root, the engine still holds the killed run's container: nobody
    # could remove it. The next run's start reaps it (its creating process is gone), and leaves
    # nothing of its own.
    client = private_engine.start()
    try:
        assert left_behind(client, [proc.pid]) != []
        after = run_plugin(
            ["--manylinux-wheel", str(wheels["honest"]), "--manylinux-distro", PRIVATE_DISTRO], tmp_path, env
        )
        assert after.returncode == pytest.ExitCode.OK, after.stdout[-3000:]
        assert left_behind(client, [proc.pid]) == []
        assert client.containers.list(all=True) == []
    finally:
        client.close()
