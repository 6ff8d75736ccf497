"""container/probe.py on this host (it is stdlib Python): its commands on factory wheels, and its importer.

The host is a glibc distro like the images (glibc 2.36 and Python 3.11 on the CI machine), so what the
probe reports here is what it reports in a container with the same libraries: the causes of the factory
cases that fail everywhere (crash, timeout, a missing library, an undefined symbol) and a clean result
for the ones that work on a recent glibc. The engine tests run the same probe in every distro image.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import wheelfactory

from pytest_manylinux.container import probe
from pytest_manylinux.core.observe import (
    Cause,
    Outcome,
    facts_from_json,
    interpreter_from_json,
    observation_from_check,
    parse_probe_documents,
    parse_probe_output,
)
from pytest_manylinux.core.wheel import read_wheel
from pytest_manylinux.engine.runner import stage

PROBE = Path(probe.__file__)

#: cases whose result on this host does not depend on its glibc or libstdc++ being older than the matrix's
#: newest: the ones that fail everywhere with their cause, and ones that work from glibc 2.34 on
HOST_CASES = [
    "honest",
    "glibc_new",
    "cxx_new",
    "vendored",
    "soname_sibling",
    "crash",
    "hang",
    "missing_lib",
    "undefined",
]


def _probe(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", str(PROBE), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_facts_describe_this_host() -> None:
    result = _probe("facts", "--user", "root", sys.executable)
    assert result.returncode == 0, result.stderr
    facts = facts_from_json(parse_probe_output(result.stdout, "this host"))
    libc, _, version = os.confstr("CS_GNU_LIBC_VERSION").partition(" ")  # type: ignore[union-attr]
    assert facts.libc is not None
    assert (facts.libc.value, str(facts.libc_version)) == (libc, version)
    assert facts.machine == os.uname().machine
    mine = [i for i in facts.interpreters if i.path == sys.executable]
    assert len(mine) == 1, facts.interpreters
    assert mine[0].version[:3] == tuple(sys.version_info[:3])


def test_interpreter_describes_one_python() -> None:
    result = _probe("interpreter", sys.executable)
    assert result.returncode == 0, result.stderr
    interpreter = interpreter_from_json(parse_probe_output(result.stdout, "this python"), "distro")
    assert interpreter.path == sys.executable
    assert interpreter.version[:2] == tuple(sys.version_info[:2])
    assert interpreter.abi == f"cp{sys.version_info[0]}{sys.version_info[1]}"


def test_usage_is_an_error() -> None:
    result = _probe("nonsense")
    assert result.returncode == 2
    assert result.stderr.startswith("usage: probe.py facts")


@pytest.fixture(scope="module")
def host() -> tuple[Any, Any]:
    """This host's facts and this Python as the probe describes them (what a check is judged with)."""
    facts = facts_from_json(parse_probe_output(_probe("facts").stdout, "this host"))
    interpreter = interpreter_from_json(
        parse_probe_output(_probe("interpreter", sys.executable).stdout, "this python"), "distro"
    )
    return facts, interpreter


@pytest.mark.parametrize("case", HOST_CASES, ids=HOST_CASES)
def test_check_on_a_factory_wheel(
    case: str, wheels: dict[str, Path], tmp_path: Path, host: tuple[Any, Any]
) -> None:
    wheel = read_wheel(wheels[case])
    root = tmp_path / "wheel"
    stage(wheel, root, str(root), interpreter=sys.executable)
    result = _probe("check", "3", str(root / "plan.json"))
    assert result.returncode == 0, result.stderr
    (document,) = parse_probe_documents(result.stdout)
    assert document["plan"] == str(root / "plan.json")
    assert document["executable"] == sys.executable
    facts, interpreter = host
    observation = observation_from_check(
        "host", "host", facts, document, wheel.modules, interpreter, 0.0, root=str(root)
    )
    expected = wheelfactory.CASES[case].cause_always
    if expected is None:
        assert (observation.outcome, observation.cause) == (Outcome.OK, None), observation.detail
    else:
        assert observation.outcome is Outcome.FAIL, observation
        assert observation.cause is Cause(expected), observation.detail


def test_check_takes_several_plans_and_reports_each(wheels: dict[str, Path], tmp_path: Path) -> None:
    """One exec checks many wheels (a distro costs one exec), each in its own document, in order."""
    plans = []
    for case in ("honest", "crash", "undefined"):
        root = tmp_path / case
        stage(read_wheel(wheels[case]), root, str(root), interpreter=sys.executable)
        plans.append(str(root / "plan.json"))
    result = _probe("check", "3", *plans)
    assert result.returncode == 0, result.stderr
    documents = parse_probe_documents(result.stdout)
    assert [d["plan"] for d in documents] == plans
    assert [all(i["ok"] for i in d["imports"]) for d in documents] == [True, False, False]
    assert json.loads(json.dumps(documents)) == documents  # plain JSON, as the host receives it


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


# -- hangs (issue 11): slow is not hung, and where a hang is decides what it says -----------------------

_SLOW_PACKAGE_STEP = """import time
time.sleep(0.4)
from . import {next}
"""


def test_an_import_that_goes_on_loading_modules_is_slow_not_hung(tmp_path: Path) -> None:
    # 12 submodules, 0.4 s each: about 5 s in all against a timeout of 2 s, never 2 s without a new module.
    package = tmp_path / "pm_slow"
    package.mkdir()
    (package / "__init__.py").write_text("from . import m0\n")
    for i in range(12):
        (package / f"m{i}.py").write_text(_SLOW_PACKAGE_STEP.format(next=f"m{i + 1}"))
    (package / "m12.py").write_text("")
    (result,) = probe._imports(sys.executable, str(tmp_path), ["pm_slow"], 2)
    assert result["ok"], result


def test_a_slow_import_still_has_a_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe, "_SLOW_IMPORT_LIMIT", 2)
    package = tmp_path / "pm_endless"
    package.mkdir()
    (package / "__init__.py").write_text(
        "import importlib, time\nfor i in range(10000):\n    time.sleep(0.3)\n"
        "    importlib.import_module('pm_endless.m%d' % (i % 3))\n    __import__('sys').modules.pop("
        "'pm_endless.m%d' % (i % 3))\n"
    )
    for i in range(3):
        (package / f"m{i}.py").write_text("")
    (result,) = probe._imports(sys.executable, str(tmp_path), ["pm_endless"], 2)
    assert result["type"] == "timeout"
    assert result["message"].startswith("import did not finish within 4 seconds, loading modules all along")


def test_a_hang_in_python_code_says_where(tmp_path: Path) -> None:
    (tmp_path / "pm_loop.py").write_text(
        "import time\n\ndef main():\n    while True:\n        time.sleep(0.05)\n\nmain()\n"
    )
    (result,) = probe._imports(sys.executable, str(tmp_path), ["pm_loop"], 1)
    assert result["type"] == "timeout"
    where = 'File "%s", line 5 in main' % (tmp_path / "pm_loop.py")
    assert result["hang"]["where"] == "python"
    assert result["hang"]["frame"] == where
    assert result["message"] == f"import did not finish within 1 seconds, in Python code ({where})"
    assert "line 7 in <module>" in result["hang"]["stack"]


_PYINIT_WAITS = """#include <Python.h>
#include <unistd.h>
PyMODINIT_FUNC PyInit_pm_waits(void) { for (;;) pause(); return NULL; }
"""


def test_a_hang_in_an_extension_s_initialisation_says_so(tmp_path: Path) -> None:
    import sysconfig

    source = tmp_path / "waits.c"
    source.write_text(_PYINIT_WAITS)
    target = tmp_path / ("pm_waits" + sysconfig.get_config_var("EXT_SUFFIX"))
    include = sysconfig.get_paths()["include"]
    subprocess.run(["gcc", "-shared", "-fPIC", f"-I{include}", str(source), "-o", str(target)], check=True)
    (tmp_path / "pm_via.py").write_text("import pm_waits\n")
    direct, via = probe._imports(sys.executable, str(tmp_path), ["pm_waits", "pm_via"], 1)
    assert (direct["type"], direct["hang"]["where"]) == ("timeout", "extension")
    assert (
        direct["message"] == "import did not finish within 1 seconds, in an extension module's initialisation"
    )
    assert (via["type"], via["hang"]["where"]) == ("timeout", "extension")
    assert via["message"].endswith(
        'in an extension module\'s initialisation (imported at File "%s", line 1 in <module>)'
        % (tmp_path / "pm_via.py")
    )


def test_a_module_that_takes_sigusr1_for_itself_hangs_without_a_place(tmp_path: Path) -> None:
    (tmp_path / "pm_deaf.py").write_text(
        "import signal, time\nsignal.signal(signal.SIGUSR1, signal.SIG_IGN)\n"
        "while True:\n    time.sleep(0.05)\n"
    )
    (result,) = probe._imports(sys.executable, str(tmp_path), ["pm_deaf"], 1)
    assert (result["type"], result["message"]) == ("timeout", "import did not finish within 1 seconds")
    assert "hang" not in result


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
    (result,) = probe._imports(sys.executable, str(tmp_path), ["pm_litter"], 30, clean=True)
    assert result["ok"] is True
    assert sorted(p.name for p in scratch.iterdir()) == ["before"]
