"""probe.py's importer on this host (it is stdlib Python): what a misbehaving module leaves of the results."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pytest_manylinux.container import probe

_FORKS = """import os, time
if os.fork() == 0:
    time.sleep(0.2)  # the child returns into the importer after the parent has moved on
"""


def test_a_module_that_forks_does_not_make_its_child_import_the_rest(tmp_path: Path) -> None:
    (tmp_path / "pm_forks.py").write_text(_FORKS)
    (tmp_path / "pm_after.py").write_text("VALUE = 1\n")
    (tmp_path / "pm_last.py").write_text("raise LookupError('only inside its tool')\n")
    results = probe._imports(sys.executable, str(tmp_path), ["pm_forks", "pm_after", "pm_last"], 30)
    assert [(r["module"], r["ok"]) for r in results] == [
        ("pm_forks", True),
        ("pm_after", True),
        ("pm_last", False),
    ]
    last = results[-1]
    assert last["type"] == "LookupError"
    assert last["chain"] == [
        {
            "type": "LookupError",
            "message": "only inside its tool",
            "name": None,
            "file": str(tmp_path / "pm_last.py"),
            "syntax": False,
        }
    ]


def test_a_syntax_error_is_described_with_its_file(tmp_path: Path) -> None:
    (tmp_path / "pm_bad.py").write_text("def f(:\n    pass\n")
    (result,) = probe._imports(sys.executable, str(tmp_path), ["pm_bad"], 30)
    assert (result["ok"], result["type"]) == (False, "SyntaxError")
    assert result["chain"][0]["syntax"] is True
    assert result["chain"][0]["file"] == str(tmp_path / "pm_bad.py")


# -- hostile imports (issue 16): the check stays bounded and ends when the import does ------------------

_NOISY_THEN_CRASH = """import os, signal, sys
chunk = b"n" * (1 << 20)
for _ in range(64):
    os.write(1, chunk)
    os.write(2, chunk)
sys.stderr.write("the last words\\n")
sys.stderr.flush()
os.kill(os.getpid(), signal.SIGSEGV)
"""


def test_output_is_drained_and_only_its_head_and_tail_kept(tmp_path: Path) -> None:
    (tmp_path / "pm_noisy.py").write_text(_NOISY_THEN_CRASH)
    (result,) = probe._imports(sys.executable, str(tmp_path), ["pm_noisy"], 60)
    # Judged as what it did (a crash), not as a hang: 128 MiB of output slowed nothing down.
    assert (result["type"], result["signal"]) == ("signal", "SIGSEGV")
    assert result["output"]["stdout"] == 64 << 20
    assert result["output"]["stderr"] >= 64 << 20
    assert "bytes dropped ...]" in result["stderr"]
    assert result["stderr"].startswith("n" * 100)
    assert "the last words" in result["stderr"]  # the tail is where faulthandler and last words are
    assert len(result["stderr"]) <= 8000


_DAEMON = """import os, time
pid = os.fork()
if pid == 0:
    os.setsid()
    grandchild = os.fork()
    if grandchild == 0:
        time.sleep(300)
    else:
        with open({pidfile!r}, "w") as f:
            f.write(str(grandchild))
    os._exit(0)
os.waitpid(pid, 0)
"""

_SWARM = """import os, time
pids = []
for _ in range(20):
    child = os.fork()
    if child == 0:
        time.sleep(300)
        os._exit(0)
    pids.append(child)
with open({pidfile!r}, "w") as f:
    f.write(" ".join(map(str, pids)))
"""


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_processes_an_import_leaves_are_killed_and_named_on_their_module(tmp_path: Path) -> None:
    daemon, swarm = tmp_path / "daemon.pid", tmp_path / "swarm.pid"
    (tmp_path / "pm_daemon.py").write_text(_DAEMON.format(pidfile=str(daemon)))
    (tmp_path / "pm_plain.py").write_text("VALUE = 1\n")
    (tmp_path / "pm_swarm.py").write_text(_SWARM.format(pidfile=str(swarm)))
    # The daemon holds the importer's pipes open: a check that waited for them would end as a timeout.
    results = probe._imports(sys.executable, str(tmp_path), ["pm_daemon", "pm_plain", "pm_swarm"], 120)
    assert [(r["module"], r["ok"], r.get("leftovers")) for r in results] == [
        ("pm_daemon", True, 1),
        ("pm_plain", True, None),
        ("pm_swarm", True, 20),
    ]
    pids = [int(daemon.read_text()), *map(int, swarm.read_text().split())]
    assert not [pid for pid in pids if _running(pid)]


def test_a_module_that_fills_a_scratch_place_is_a_disk_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On this host /tmp is not bounded: the probe's test for a full place is given a tiny one to find full.
    full = tmp_path / "full"
    full.mkdir()
    monkeypatch.setattr(probe, "_SCRATCH", (str(full),))
    monkeypatch.setattr(probe.os, "statvfs", lambda path: _Statvfs())
    (tmp_path / "pm_writer.py").write_text("raise OSError(28, 'No space left on device')\n")
    (result,) = probe._imports(sys.executable, str(tmp_path), ["pm_writer"], 30)
    assert result["ok"] is False
    assert result["disk"] == f"it filled {full} (64 MiB, the most a check may write there)"


class _Statvfs:
    f_frsize = 4096
    f_blocks = (64 << 20) // 4096
    f_bavail = 3


def test_what_an_import_writes_to_a_scratch_place_is_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / "before").write_text("not the import's")
    monkeypatch.setattr(probe, "_SCRATCH", (str(scratch),))
    (tmp_path / "pm_litter.py").write_text(
        f"import os\nos.makedirs({str(scratch / 'dir' / 'sub')!r})\n"
        f"open({str(scratch / 'file')!r}, 'w').write('x')\n"
    )
    (result,) = probe._imports(sys.executable, str(tmp_path), ["pm_litter"], 30)
    assert result["ok"] is True
    assert sorted(p.name for p in scratch.iterdir()) == ["before"]
