"""Hostile imports (issue 16) on the real engine: each beside the honest wheel, on every distro of the matrix.

A wheel's import runs arbitrary code. Each factory case of ``wheelfactory.HOSTILE`` is an honest
manylinux2014 wheel whose import misbehaves towards the machine checking it: it writes 3 GiB, prints
400 MiB, leaves a daemon or a swarm of children, or kills every process it may signal. The run must stay
bounded (the engine's disk does not grow with what an import writes), judge each wheel as what it is
(no false over-claim, no timeout it does not need), name the culprit, and leave nothing behind.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import wheelfactory
from conftest import left_behind, start_plugin

from pytest_manylinux.core.distros import load_distros
from pytest_manylinux.core.observe import Cause, Outcome
from pytest_manylinux.core.tags import Libc
from pytest_manylinux.core.wheel import read_wheel
from pytest_manylinux.engine.docker import LABEL_PID, Limits
from pytest_manylinux.engine.runner import DistroRunner, RunConfig, prepare

#: the hostile wheels are manylinux wheels: judged on the glibc distros (a musl one skips them: libc)
DISTROS = [d.name for d in load_distros() if d.libc is Libc.GLIBC]
CASES = ["honest", *wheelfactory.HOSTILE]
#: the import timeout of the run: none of these wheels hangs, so none may take it
TIMEOUT = 30
#: the run's disk bound: small, so pm_writer reaches it in a moment even on a busy machine
DISK = "256m"


def _case(name: str) -> wheelfactory.Case:
    return wheelfactory.CASES[name] if name in wheelfactory.CASES else wheelfactory.HOSTILE[name]


@dataclass(frozen=True)
class HostileRun:
    returncode: int
    stdout: str
    document: dict[str, Any]
    pid: int
    #: the largest writable layer among the run's containers, sampled while it ran (bytes)
    peak_layer: int
    #: samples taken
    samples: int

    def wheel(self, case: str) -> dict[str, Any]:
        filename = _case(case).filename
        (found,) = [w for w in self.document["wheels"] if w["file"] == filename]
        return found  # type: ignore[no-any-return]

    def distro(self, case: str, name: str) -> dict[str, Any]:
        (found,) = [d for d in self.wheel(case)["distros"] if d["name"] == name]
        return found  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def hostile_run(engine: Any, tmp_path_factory: pytest.TempPathFactory) -> HostileRun:
    work = tmp_path_factory.mktemp("hostile")
    wheels = work / "wheels"
    for case in CASES:
        wheelfactory.build(_case(case), wheels)
    out = work / "results.json"
    args = [
        "--manylinux-wheel",
        str(wheels),
        "--manylinux-timeout",
        str(TIMEOUT),
        "--manylinux-disk",
        DISK,
        "--manylinux-json",
        str(out),
        "-m",
        "not musl",
    ]
    proc = start_plugin([*args, "-q", "-rfEsx"], cwd=work)
    peak, samples, done = 0, 0, threading.Event()

    def sample() -> None:
        nonlocal peak, samples
        while not done.wait(1.0):
            # SizeRw: what the container wrote to its own layer, on the engine's disk
            listed = engine.client.api.containers(
                all=True, size=True, filters={"label": f"{LABEL_PID}={proc.pid}"}
            )
            peak = max([peak, *(int(c.get("SizeRw") or 0) for c in listed)])
            samples += 1

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        stdout, stderr = proc.communicate(timeout=1800)
    finally:
        done.set()
        sampler.join()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert out.exists(), f"no JSON written; pytest said:\n{stdout[-3000:]}\n{stderr[-3000:]}"
    return HostileRun(proc.returncode, stdout + stderr, json.loads(out.read_text()), proc.pid, peak, samples)


def expected(case: str) -> tuple[str, str | None]:
    cause = _case(case).cause_always
    if cause == "disk":
        return "skipped", "disk"  # a limit of the run, like memory: nothing concluded about the tag
    return ("fail", cause) if cause else ("ok", None)


PAIRS = [(c, d) for c in CASES for d in DISTROS]


@pytest.mark.parametrize(("case", "distro"), PAIRS, ids=[f"{c}-{d}" for c, d in PAIRS])
def test_each_wheel_is_judged_as_what_it_is(hostile_run: HostileRun, case: str, distro: str) -> None:
    result = hostile_run.distro(case, distro)
    assert (result["outcome"], result["cause"]) == expected(case), result["detail"]
    # No check waited for a timeout: nothing here hangs.
    assert all(f["cause"] != "timeout" for f in result["findings"]), result["findings"]


@pytest.mark.parametrize("case", CASES, ids=CASES)
def test_verdicts_claim_no_false_over_claim(hostile_run: HostileRun, case: str) -> None:
    verdict = hostile_run.wheel(case)["verdict"]
    assert verdict == ("over-claim" if case in ("killer", "stopper") else "honest")


@pytest.mark.parametrize("distro", DISTROS, ids=DISTROS)
def test_an_import_that_kills_the_probe_is_named_as_the_culprit(hostile_run: HostileRun, distro: str) -> None:
    result = hostile_run.distro("killer", distro)
    assert result["detail"].startswith("import pm_killer ended the checking process with SIGKILL: its code")
    assert "the probe printed no result" not in json.dumps(result)
    assert "1 module not tried after the probe died" in result["notes"]


@pytest.mark.parametrize("distro", DISTROS, ids=DISTROS)
def test_an_import_that_stops_the_probe_is_named_as_the_culprit(hostile_run: HostileRun, distro: str) -> None:
    # Every process of the check stopped: the engine's watchdog kills them well before the exec's limit.
    result = hostile_run.distro("stopper", distro)
    assert result["detail"].startswith("import pm_stopper stopped the checking process: its code signals")
    assert "the probe printed no result" not in json.dumps(result)


@pytest.mark.parametrize("distro", DISTROS, ids=DISTROS)
def test_writing_past_the_bound_is_a_disk_limit(hostile_run: HostileRun, distro: str) -> None:
    result = hostile_run.distro("writer", distro)
    assert result["detail"] == (
        "import pm_writer failed: it filled /tmp (256 MiB, the most a check may write there); "
        "raise --manylinux-disk to judge this distro"
    )


@pytest.mark.parametrize("distro", DISTROS, ids=DISTROS)
def test_processes_left_behind_are_named_on_their_module(hostile_run: HostileRun, distro: str) -> None:
    daemon = hostile_run.distro("daemon", distro)["notes"]
    assert "pm_daemon: its import left 1 process running; killed when the import ended" in daemon
    (swarm,) = [n for n in hostile_run.distro("swarm", distro)["notes"] if n.startswith("pm_swarm: ")]
    # Forked until the container's pid limit (512) stopped it: hundreds, all killed.
    assert int(swarm.split("left ", 1)[1].split()[0]) > 100


def test_the_engine_s_disk_does_not_grow_with_what_imports_write(hostile_run: HostileRun) -> None:
    # pm_writer tries to write 3 GiB on each of 8 distros; the containers' own layers stay as they were.
    assert hostile_run.samples > 0
    assert hostile_run.peak_layer < 16 << 20, hostile_run.peak_layer


def test_nothing_is_left_behind(hostile_run: HostileRun, engine: Any) -> None:
    assert "INTERNALERROR" not in hostile_run.stdout
    assert left_behind(engine.client, [hostile_run.pid]) == []


# -- one distro: the next check starts clean ---------------------------------------------------------------


def test_a_check_leaves_no_process_and_no_file_for_the_next(engine: Any, tmp_path: Path) -> None:
    distro = next(d for d in load_distros() if d.name == "debian-12")
    wheels = {case: wheelfactory.build(_case(case), tmp_path / "wheels") for case in CASES}
    config = RunConfig(timeout=TIMEOUT, limits=Limits(disk="64m"))
    runner = DistroRunner(engine, distro, config, lambda _: None, lambda w: prepare(w, tmp_path))
    try:
        runner.open()
        container = runner._container
        assert container is not None
        order = ["writer", "daemon", "swarm", "killer", "stopper", "honest"]
        payloads = [prepare(read_wheel(wheels[case]), tmp_path) for case in order]
        observed = runner.observe_all(payloads)
        assert [(o.outcome, o.cause) for o in observed] == [
            (Outcome.SKIPPED, Cause.DISK),
            (Outcome.OK, None),
            (Outcome.OK, None),
            (Outcome.FAIL, Cause.CRASH),
            (Outcome.FAIL, Cause.CRASH),
            (Outcome.OK, None),
        ]
        assert "it filled /tmp (64 MiB," in observed[0].detail
        # As the checks' user sees the container afterwards: no process of theirs, nothing in /tmp.
        seen = container.exec(["python3", "-c", _LOOK], user="nobody")
        assert json.loads(seen.stdout) == {"processes": [], "/tmp": [], "/var/tmp": []}, seen.stdout
    finally:
        runner.close()


#: run as the checks' user: its processes (but this one) and what is in /tmp and /var/tmp
_LOOK = """import json, os
me = os.getpid()
pids = [p for p in os.listdir("/proc") if p.isdigit() and int(p) != me]
mine = [p for p in pids if os.stat("/proc/" + p).st_uid == os.getuid()]
print(json.dumps({"processes": mine, "/tmp": os.listdir("/tmp"), "/var/tmp": os.listdir("/var/tmp")}))
"""
