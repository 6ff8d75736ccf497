"""The ``manylinux_env`` fixture: users' own tests in the session's distro containers, on the real engine."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path
from typing import Any

import pytest
import wheelfactory
from conftest import left_behind

from pytest_manylinux.engine.environment import shim_archive

TWO = ["--manylinux-distro", "ubuntu-16.04", "--manylinux-distro", "debian-13"]

USER_TESTS = """
import pytest

def test_cli(manylinux_env):
    result = manylinux_env.run("pm-tool --version")
    assert result.returncode == 0, result.stderr
    version = ".".join(map(str, manylinux_env.interpreter.version))
    assert result.stdout == "pm_tool 1.0 on %s\\n" % version  # the interpreter chosen for the wheels

def test_extension_imports(manylinux_env):
    result = manylinux_env.python_run("import pm_honest._core, sys; print(sys.version_info[0])")
    assert (result.returncode, result.stdout, result.stderr) == (0, "3\\n", "")

def test_status_and_streams(manylinux_env):
    result = manylinux_env.run("echo out; echo err >&2; exit 3")
    assert (result.returncode, result.stdout, result.stderr) == (3, "out\\n", "err\\n")
    assert manylinux_env.run(["id", "-un"]).stdout == "nobody\\n"

@pytest.mark.manylinux_distros("debian-*")
def test_only_on_debian(manylinux_env):
    assert manylinux_env.name == "debian-13" and manylinux_env.libc_version == "2.41"
"""


@pytest.fixture
def tool_wheel(tmp_path: Path) -> Path:
    """A pure wheel with a console script that says which interpreter runs it."""
    body = b"import sys\n\ndef main():\n    print('pm_tool 1.0 on %d.%d.%d' % sys.version_info[:3])\n"
    return wheelfactory.dependency_wheel(
        tmp_path / "dist", "pm_tool", body=body, console_scripts={"pm-tool": "pm_tool:main"}
    )


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:benchmark", "-p", "no:randomly", *args)


def test_user_tests_run_on_every_selected_distro(
    pytester: pytest.Pytester, wheels: dict[str, Path], tool_wheel: Path, engine: Any
) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    result = _run(
        pytester,
        "test_user.py",  # named: with --manylinux-wheel and no paths, only the wheels are checked
        f"--manylinux-wheel={wheels['honest']}",
        f"--manylinux-wheel={tool_wheel}",
        *TWO,
        "-v",
    )
    result.stdout.fnmatch_lines(
        [
            "*test_user.py::test_cli?ubuntu-16.04? PASSED*",
            "*test_user.py::test_cli?debian-13? PASSED*",
            "*test_user.py::test_extension_imports?ubuntu-16.04? PASSED*",
            "*test_user.py::test_only_on_debian?debian-13? PASSED*",
        ]
    )
    assert "test_only_on_debian[ubuntu-16.04]" not in result.stdout.str()
    # the honest wheel's checks and verdict, the pure wheel's verdict (no claim: skipped), 7 user tests
    result.assert_outcomes(passed=10, skipped=1)
    assert left_behind(engine.client, [os.getpid()]) == []


def test_distro_markers_select_user_tests(
    pytester: pytest.Pytester, wheels: dict[str, Path], tool_wheel: Path, engine: Any
) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    result = _run(
        pytester,
        "test_user.py",
        f"--manylinux-wheel={wheels['honest']}",
        f"--manylinux-wheel={tool_wheel}",
        *TWO,
        "-m",
        "ubuntu",
        "-v",
    )
    # ubuntu-16.04's check of the honest wheel and three user tests; nothing on debian-13
    result.assert_outcomes(passed=4)
    assert "debian-13" not in "".join(line for line in result.stdout.lines if "PASSED" in line)


def test_a_distro_no_wheel_can_run_on_is_skipped_with_the_reason(
    pytester: pytest.Pytester, wheels: dict[str, Path], engine: Any
) -> None:
    pytester.makepyfile(test_user="def test_it(manylinux_env):\n    assert False, 'must not run'\n")
    result = _run(
        pytester, "test_user.py", f"--manylinux-wheel={wheels['aarch64']}", *TWO, "-rs", "-k", "test_it"
    )
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(
        [
            "*no wheel under test can run on ubuntu-16.04: pm_aarch64-*: "
            "the wheel is for aarch64; this engine runs x86_64*"
        ]
    )


def test_without_a_wheel_the_fixture_says_what_to_pass(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user="def test_it(manylinux_env):\n    pass\n")
    result = _run(pytester, "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        ["*manylinux_env needs wheels under test: pass --manylinux-wheel dist/*.whl*"]
    )


def test_shims_are_symlinks_to_the_interpreter() -> None:
    with tarfile.open(fileobj=io.BytesIO(shim_archive("/opt/x/bin", "/usr/bin/python3.11"))) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert [n for n, m in members.items() if m.isdir()] == ["opt", "opt/x", "opt/x/bin"]
    for name in ("python3", "python"):
        link = members[f"opt/x/bin/{name}"]
        assert link.issym()
        assert link.linkname == "/usr/bin/python3.11"
