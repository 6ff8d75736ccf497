"""The plugin as users drive it, through pytester: options, ids, selection, exit status, errors."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import wheelfactory
from conftest import left_behind, start_plugin
from wheelfactory import BAD_WHEEL_PROBLEMS

from pytest_manylinux.engine.images import LABEL_IMAGE

ONE = ["--manylinux-distro", "ubuntu-16.04"]
TWO = ["--manylinux-distro", "ubuntu-16.04", "--manylinux-distro", "debian-13"]


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:benchmark", *args)


# -- no engine needed ----------------------------------------------------------------------------


def test_collect_only_shows_readable_ids_without_the_engine(
    pytester: pytest.Pytester, wheels: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Collection makes no engine call: it works with the engine unreachable.
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    result = _run(pytester, "--manylinux-wheel", str(wheels["honest"]), "--collect-only", "-q")
    name = wheels["honest"].name
    result.stdout.fnmatch_lines([f"{name}::ubuntu-16.04", f"{name}::debian-13", f"{name}::verdict"])
    assert result.ret == 0


def test_collection_and_selection_make_no_engine_call(
    pytester: pytest.Pytester, wheels: dict[str, Path]
) -> None:
    # Stronger than an unreachable engine: the Docker SDK cannot even be imported, so any engine call
    # (or a client made "just in case") while collecting, marking or deselecting would be an error.
    pytester.makeconftest("import sys\n\nsys.modules['docker'] = None  # import docker raises ImportError\n")
    several = [f"--manylinux-wheel={wheels[case]}" for case in ("honest", "glibc_new", "cxx_new", "crash")]
    selection = ["--collect-only", "-q", "-m", "ubuntu and lts"]
    result = pytester.runpytest_subprocess(
        "-p", "no:benchmark", "-p", "no:cacheprovider", *several, *selection
    )
    assert result.ret == 0, result.stderr.str()
    crash = wheels["crash"].name
    result.stdout.fnmatch_lines([f"{crash}::ubuntu-16.04", "*20/52 tests collected (32 deselected)*"])


def test_no_engine_is_one_clear_error(
    pytester: pytest.Pytester, wheels: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    result = _run(pytester, "--manylinux-wheel", str(wheels["honest"]), *ONE)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: cannot reach the container engine at unix:///nonexistent/docker.sock*"]
    )
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--manylinux-wheel", "nope/missing.whl"], "*--manylinux-wheel 'nope/missing.whl': no such file*"),
        (
            ["--manylinux-wheel", "nope/*.whl"],
            "*--manylinux-wheel 'nope/*.whl': the pattern matches no file*",
        ),
        (
            ["--manylinux-distro", "fedora-*"],
            "*--manylinux-distro 'fedora-*' matches no distro; known: ubuntu-16.04*",
        ),
        (["--manylinux-timeout", "0"], "*--manylinux-timeout 0.0: must be a positive number of seconds*"),
        (["--manylinux-jobs", "0"], "*--manylinux-jobs 0: must be at least 1*"),
        (["--manylinux-memory", "lots"], "*--manylinux-memory: 'lots' is not a size; write a number*"),
        (["--manylinux-memory", "1m"], "*--manylinux-memory: '1m' is below the engine's minimum of 6m*"),
        (["--manylinux-disk", "all"], "*--manylinux-disk: 'all' is not a size; write a number*"),
    ],
    ids=[
        "missing-file",
        "empty-glob",
        "unknown-distro",
        "bad-timeout",
        "no-jobs",
        "bad-memory",
        "too-little-memory",
        "bad-disk",
    ],
)
def test_bad_options_are_usage_errors(
    pytester: pytest.Pytester, wheels: dict[str, Path], args: list[str], message: str
) -> None:
    base = [] if args[0] == "--manylinux-wheel" else ["--manylinux-wheel", str(wheels["honest"])]
    result = _run(pytester, *base, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_malformed_distros_file_names_file_table_and_key(
    pytester: pytest.Pytester, wheels: dict[str, Path]
) -> None:
    bad = pytester.makefile(".toml", distros="[distro.mine]\nimage = 3\n")
    result = _run(pytester, "--manylinux-wheel", str(wheels["honest"]), "--manylinux-distros-file", str(bad))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"ERROR: {bad}: [[]distro.mine[]].image: expected a non-empty string, got 3"]
    )


def test_distros_file_is_read_only_when_wheels_are_checked(pytester: pytest.Pytester) -> None:
    """A project that has the plugin installed but checks no wheel runs even with a broken setting."""
    pytester.makeini("[pytest]\nmanylinux_distros_file = missing.toml\n")
    pytester.makepyfile(test_mine="def test_mine():\n    assert 1 + 1 == 2\n")
    result = _run(pytester)
    result.assert_outcomes(passed=1)
    checked = _run(pytester, "--manylinux-wheel=nope.whl")
    assert checked.ret == pytest.ExitCode.USAGE_ERROR
    checked.stderr.fnmatch_lines(["ERROR: *missing.toml*"])


def test_distros_file_from_ini(pytester: pytest.Pytester, wheels: dict[str, Path]) -> None:
    pytester.makefile(".toml", mine='[distro.only-one]\nimage = "registry.example/ubuntu:22.04"\n')
    pytester.makeini("[pytest]\nmanylinux_distros_file = mine.toml\n")
    # The wheel lives outside the project: with "=", pytest does not take it for a path argument
    # when it chooses the rootdir (and so the ini file) before plugins load.
    result = _run(pytester, f"--manylinux-wheel={wheels['honest']}", "--collect-only", "-q", "-m", "ubuntu")
    result.stdout.fnmatch_lines(
        [f"{wheels['honest'].name}::only-one", "*1/2 tests collected (1 deselected)*"]
    )


def test_markers_select_by_family_and_tag_under_strict_markers(
    pytester: pytest.Pytester, wheels: dict[str, Path]
) -> None:
    result = _run(
        pytester,
        "--manylinux-wheel",
        str(wheels["honest"]),
        "--collect-only",
        "-q",
        "--strict-markers",
        "-m",
        "debian",
    )
    out = result.stdout.str()
    assert "::debian-11" in out
    assert "::debian-13" in out
    assert "::ubuntu-16.04" not in out
    result = _run(pytester, "--manylinux-wheel", str(wheels["honest"]), "--collect-only", "-q", "-m", "eol")
    out = result.stdout.str()
    assert "::ubuntu-18.04" in out
    assert "::ubuntu-22.04" not in out


def test_keyword_selects_a_distro(pytester: pytest.Pytester, wheels: dict[str, Path]) -> None:
    result = _run(
        pytester, "--manylinux-wheel", str(wheels["honest"]), "--collect-only", "-q", "-k", "ubuntu-20.04"
    )
    result.stdout.fnmatch_lines(
        [f"{wheels['honest'].name}::ubuntu-20.04", "*1/13 tests collected (12 deselected)*"]
    )


def test_pure_wheel_makes_no_claim(pytester: pytest.Pytester, wheels: dict[str, Path]) -> None:
    result = _run(pytester, "--manylinux-wheel", str(wheels["pure"]), "-rs")
    result.stdout.fnmatch_lines(
        ["*NO CLAIM: pm_pure-1.0-py3-none-any.whl is a pure wheel (any): it makes no platform claim*"]
    )
    result.assert_outcomes(skipped=1)


def test_static_only_needs_no_engine(
    pytester: pytest.Pytester, wheels: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    result = _run(
        pytester,
        "--manylinux-wheel",
        str(wheels["glibc_new"]),
        str(wheels["honest"]),
        "--manylinux-static-only",
    )
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["*OVER-CLAIM (predicted)*GLIBC_2.34*"])


def test_with_wheels_and_no_test_paths_only_the_wheels_are_checked(
    pytester: pytest.Pytester, wheels: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A first run inside a project checkout: its own suite (which needs its dependencies) is not
    # collected; a test file named on the command line still runs beside the wheels' checks.
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    pytester.makepyfile(
        test_project="def test_needs_the_projects_dependencies():\n    import not_installed\n"
    )
    wheel_only = _run(pytester, "--manylinux-wheel", str(wheels["honest"]), "--manylinux-static-only")
    wheel_only.assert_outcomes(passed=1)
    assert "test_project" not in wheel_only.stdout.str()
    named = _run(
        pytester,
        "test_project.py",
        "--manylinux-wheel",
        str(wheels["honest"]),
        "--manylinux-static-only",
        "-rf",
    )
    named.assert_outcomes(passed=1, failed=1)
    named.stdout.fnmatch_lines(["FAILED test_project.py::test_needs_the_projects_dependencies*"])


_AS_PIP = "installed as pip does, as a file holding its target"


def test_a_wheel_with_a_symlink_member_is_judged_with_a_note(
    pytester: pytest.Pytester, wheels: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Once refused as unreadable; pip installs it (the link as a file holding its target), so it is judged.
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    out = pytester.path / "results.json"
    result = _run(
        pytester,
        "--manylinux-wheel",
        str(wheels["symlink"]),
        "--manylinux-static-only",
        f"--manylinux-json={out}",
    )
    result.assert_outcomes(passed=1)
    note = "member pm_symlink/lib/libpm_core.so is a symlink; " + _AS_PIP
    result.stdout.fnmatch_lines([f"*note: {note}"])
    (wheel,) = json.loads(out.read_text())["wheels"]
    assert wheel["predicted"]["notes"] == [note]


def test_static_only_an_executable_stack_is_an_over_claim(
    pytester: pytest.Pytester, wheels: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # glibc 2.41 refuses to dlopen it, and the claim promises glibc 2.41 too: static analysis alone says
    # so, as the full run does on Debian 13 (tests/test_runner.py).
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    result = _run(pytester, "--manylinux-wheel", str(wheels["execstack"]), "--manylinux-static-only")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*OVER-CLAIM (predicted)*executable stack*no distro of the matrix at glibc 2.41 or newer judged it*"]
    )


def test_python_source_that_is_not_a_cpython_is_a_usage_error(
    pytester: pytest.Pytester, wheels: dict[str, Path], tmp_path: Path
) -> None:
    result = _run(
        pytester, "--manylinux-wheel", str(wheels["honest"]), "--manylinux-python-source", str(tmp_path)
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {tmp_path}: no bin/python3.X in it: not a CPython installation*"])


# -- against the real engine ---------------------------------------------------------------------


def test_python_source_option_brings_that_interpreter(
    pytester: pytest.Pytester, wheels: dict[str, Path], engine: Any, portable_311: Any
) -> None:
    # The cached build, given as a local tarball: a cp311 wheel on Ubuntu 16.04 (python 3.5).
    out = pytester.path / "results.json"
    result = _run(
        pytester,
        "--manylinux-wheel",
        str(wheels["cp311"]),
        *ONE,
        f"--manylinux-python-source={portable_311.archive}",
        "--manylinux-json",
        str(out),
    )
    result.assert_outcomes(passed=2)
    (distro,) = json.loads(out.read_text())["wheels"][0]["distros"]
    assert distro["outcome"] == "ok"
    assert distro["interpreter"].endswith(", portable)")
    result.stdout.fnmatch_lines(["*portable CPython 3.11 (local *python.tar.gz) brought in*"])


def test_distros_file_pins_interpreters(
    pytester: pytest.Pytester,
    wheels: dict[str, Path],
    engine: Any,
    portable_311: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # pytester gives the run a HOME of its own: point it at the per-machine cache the fixture used, or the
    # portable CPython is built from source again (about 4 minutes on an idle machine, 20 on a busy one).
    monkeypatch.setenv("PYTEST_MANYLINUX_CACHE_DIR", str(portable_311.archive.parents[2]))
    # debian-12 pinned to the portable CPython although its own 3.11 could judge the wheel;
    # ubuntu-16.04 pinned to a python it does not have: skipped, with that reason.
    distros = pytester.makefile(
        ".toml",
        distros=(
            '[distro.pinned-portable]\nimage = "debian:12"\nderive = {}\ninterpreters = ["portable"]\n'
            '[distro.pinned-missing]\nimage = "ubuntu:16.04"\nderive = {}\n'
            'interpreters = ["/usr/bin/python3.11"]\n'
            # built in (or found in the cache of) the same image as the default matrix
            '[python]\nversions = ["3.11"]\nuv = false\nbuild-on = "pinned-missing"\n'
        ),
    )
    out = pytester.path / "results.json"
    _run(
        pytester,
        "--manylinux-wheel",
        str(wheels["cp311"]),
        "--manylinux-distros-file",
        str(distros),
        "--manylinux-json",
        str(out),
        "-rs",
    )
    by_name = {d["name"]: d for d in json.loads(out.read_text())["wheels"][0]["distros"]}
    assert by_name["pinned-portable"]["outcome"] == "ok"
    assert by_name["pinned-portable"]["interpreter"].endswith(", portable)")
    missing = by_name["pinned-missing"]
    assert (missing["outcome"], missing["cause"]) == ("skipped", "python")
    assert missing["detail"] == (
        "no interpreter here can load cp311-cp311: "
        "the interpreter order ['/usr/bin/python3.11'] takes none of "
        "/usr/bin/python3"
    )


def test_honest_wheel_passes(pytester: pytest.Pytester, wheels: dict[str, Path], engine: Any) -> None:
    result = _run(pytester, "--manylinux-wheel", str(wheels["honest"]), *TWO)
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*verdict: HONEST: manylinux2014_x86_64 holds*"])


def test_over_claim_fails_the_run_with_evidence(
    pytester: pytest.Pytester, wheels: dict[str, Path], engine: Any
) -> None:
    result = _run(pytester, "--manylinux-wheel", str(wheels["glibc_new"]), *TWO)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(failed=2, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*fails on ubuntu-16.04 (glibc 2.23), which its tag manylinux2014_x86_64 covers:*",
            "*glibc: import pm_glibc_new: libc.so.6 lacks GLIBC_2.34*",
            "*verdict: OVER-CLAIM*",
        ]
    )


def test_below_claim_failure_is_xfail(
    pytester: pytest.Pytester, wheels: dict[str, Path], engine: Any, tmp_path: Path
) -> None:
    wheel = wheelfactory.build("glibc_new", tmp_path)
    relabeled = tmp_path / wheel.name.replace(
        "manylinux2014_x86_64.manylinux_2_17_x86_64", "manylinux_2_34_x86_64"
    )
    relabeled.write_bytes(wheel.read_bytes())
    result = _run(pytester, "--manylinux-wheel", str(relabeled), *TWO, "-rx")
    result.assert_outcomes(xfailed=1, passed=2)
    result.stdout.fnmatch_lines(["*below the claimed floor (2.23 < 2.34)*"])


def test_exitfirst_stops_and_removes_containers(
    pytester: pytest.Pytester, wheels: dict[str, Path], engine: Any
) -> None:
    result = _run(
        pytester, "--manylinux-wheel", str(wheels["crash"]), str(wheels["honest"]), "-x", "-p", "no:randomly"
    )
    result.assert_outcomes(failed=1)
    # pytester runs the plugin in this process: its containers carry this PID (others' runs do not).
    assert left_behind(engine.client, [os.getpid()]) == []


def test_last_failed_reruns_only_failures(
    pytester: pytest.Pytester, wheels: dict[str, Path], engine: Any
) -> None:
    args = ["-p", "cacheprovider", "--manylinux-wheel", str(wheels["glibc_new"]), *TWO]
    first = _run(pytester, *args)
    first.assert_outcomes(failed=2, passed=1)
    again = _run(pytester, *args, "--lf")
    again.assert_outcomes(failed=2, deselected=1)


def test_json_report_is_written_once_and_complete(
    pytester: pytest.Pytester, wheels: dict[str, Path], engine: Any
) -> None:
    out = pytester.path / "out" / "results.json"
    _run(pytester, "--manylinux-wheel", str(wheels["underclaim"]), *TWO, "--manylinux-json", str(out))
    document = json.loads(out.read_text())
    (wheel,) = document["wheels"]
    assert wheel["verdict"] == "under-claim"
    assert wheel["claim"] == {
        "tag": "manylinux_2_35_x86_64",
        "kind": "manylinux",
        "libc": "glibc",
        "version": "2.35",
        "arch": "x86_64",
    }
    assert wheel["lowest_working"] == {"distro": "ubuntu-16.04", "libc_version": "2.23"}
    assert [d["name"] for d in wheel["distros"]] == ["ubuntu-16.04", "debian-13"]
    assert list(out.parent.iterdir()) == [out], "no temporary file left beside the report"


def test_strict_fails_under_claims(pytester: pytest.Pytester, wheels: dict[str, Path], engine: Any) -> None:
    relaxed = _run(pytester, "--manylinux-wheel", str(wheels["underclaim"]), *ONE)
    relaxed.assert_outcomes(passed=2)
    strict = _run(pytester, "--manylinux-wheel", str(wheels["underclaim"]), *ONE, "--manylinux-strict")
    strict.assert_outcomes(passed=1, failed=1)
    strict.stdout.fnmatch_lines(["*UNDER-CLAIM*honest tag: manylinux_2_5_x86_64*"])


# -- bad input, all in one run against the real engine: each says what is wrong, the rest still runs ----

_UNBUILDABLE = (
    '[distro."ubuntu-16.04"]\nimage = "ubuntu:16.04"\nderive = {}\n\n'
    # Not local, not pullable, and a recipe this debootstrap cannot build.
    '[distro.ghost]\nimage = "pytest-manylinux-test/ghost:none"\nbuild = { debootstrap = "no-such-suite" }\n'
)


@dataclass(frozen=True)
class BadInputRun:
    returncode: int
    stdout: str
    document: dict[str, Any]
    paths: dict[str, Path]
    pid: int

    def distro(self, case: str, name: str) -> dict[str, Any]:
        (wheel,) = [w for w in self.document["wheels"] if w["file"] == self.paths[case].name]
        (observation,) = [d for d in wheel["distros"] if d["name"] == name]
        return observation  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def bad_input_run(
    engine: Any, wheels: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> BadInputRun:
    work = tmp_path_factory.mktemp("bad-input")
    paths = {name: make(work / "bad") for name, make in wheelfactory.BAD_WHEELS.items()}
    paths.update({case: wheels[case] for case in ("honest", "aarch64", "linux_tag")})
    (work / "distros.toml").write_text(_UNBUILDABLE)
    out = work / "results.json"
    args = ["--manylinux-wheel", *map(str, paths.values()), "--manylinux-distros-file", "distros.toml"]
    proc = start_plugin([*args, "--manylinux-json", str(out), "-rfEsx"], cwd=work)
    stdout, stderr = proc.communicate(timeout=900)
    assert out.exists(), f"{stdout[-3000:]}\n{stderr[-3000:]}"
    return BadInputRun(proc.returncode, stdout, json.loads(out.read_text()), paths, proc.pid)


@pytest.mark.parametrize("bad", sorted(BAD_WHEEL_PROBLEMS), ids=sorted(BAD_WHEEL_PROBLEMS))
def test_unreadable_wheel_fails_naming_file_and_problem(bad_input_run: BadInputRun, bad: str) -> None:
    path = bad_input_run.paths[bad]
    assert f"WheelError: {path}: " in bad_input_run.stdout
    line = next(x for x in bad_input_run.stdout.splitlines() if x.startswith(f"WheelError: {path}: "))
    assert BAD_WHEEL_PROBLEMS[bad] in line
    (entry,) = [u for u in bad_input_run.document["unreadable"] if u["file"] == path.name]
    assert BAD_WHEEL_PROBLEMS[bad] in entry["errors"][0]
    assert f"{path.name}  UNREADABLE" in bad_input_run.stdout


def test_other_wheels_still_run_beside_bad_input(bad_input_run: BadInputRun) -> None:
    assert bad_input_run.distro("honest", "ubuntu-16.04")["outcome"] == "ok"
    assert "verdict: HONEST: manylinux2014_x86_64 holds" in bad_input_run.stdout
    assert bad_input_run.returncode == pytest.ExitCode.TESTS_FAILED
    assert "INTERNALERROR" not in bad_input_run.stdout


def test_wheel_for_another_architecture_is_skipped_with_the_reason(bad_input_run: BadInputRun) -> None:
    observation = bad_input_run.distro("aarch64", "ubuntu-16.04")
    reason = "the wheel is for aarch64; this engine runs x86_64"
    assert (observation["outcome"], observation["cause"]) == ("skipped", "arch")
    assert observation["detail"] == reason
    assert f"ubuntu-16.04: {reason}" in bad_input_run.stdout


def test_linux_tag_makes_no_claim_but_is_run(bad_input_run: BadInputRun) -> None:
    name = bad_input_run.paths["linux_tag"].name
    (wheel,) = [w for w in bad_input_run.document["wheels"] if w["file"] == name]
    assert wheel["verdict"] == "no-claim"
    assert wheel["summary"].startswith(f"NO CLAIM: {name} is tagged linux_x86_64: it makes no portability")
    # Still run, so the report can say which manylinux tag it could honestly carry.
    assert bad_input_run.distro("linux_tag", "ubuntu-16.04")["outcome"] == "ok"
    assert wheel["honest_tag"] == "manylinux_2_5_x86_64"


def test_image_that_cannot_be_found_pulled_or_built_fails_that_distro_only(
    bad_input_run: BadInputRun,
) -> None:
    observation = bad_input_run.distro("honest", "ghost")
    assert (observation["outcome"], observation["cause"]) == ("skipped", "image")
    assert "distro 'ghost': this debootstrap does not know suite 'no-such-suite'" in observation["detail"]
    assert "pulling failed first: cannot pull 'pytest-manylinux-test/ghost:none'" in observation["detail"]
    assert "ManylinuxError: ghost: distro 'ghost': this debootstrap does not know" in bad_input_run.stdout
    assert bad_input_run.distro("honest", "ubuntu-16.04")["outcome"] == "ok"


def test_bad_input_leaves_nothing(bad_input_run: BadInputRun, engine: Any) -> None:
    assert left_behind(engine.client, [bad_input_run.pid]) == []


def test_very_large_wheel_runs_in_bounded_memory(engine: Any, tmp_path: Path) -> None:
    """A 320 MiB member (it deflates to 320 KiB) is streamed through reading, hashing, static analysis,
    layout and the copy into the container: the run's peak RSS stays far below the member's size."""
    big = wheelfactory.big_data(tmp_path, megabytes=320)
    measure = (
        "import resource, subprocess, sys; done = subprocess.run(sys.argv[1:]); "
        "print('maxrss-kib', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
        "sys.exit(done.returncode)"
    )
    argv = ["-m", "pytest", "-p", "no:cacheprovider", "--manylinux-wheel", str(big), *ONE, "-q"]
    wrapped = [sys.executable, "-c", measure, sys.executable, *argv]
    done = subprocess.run(wrapped, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "2 passed" in done.stdout
    peak = int(done.stdout.split("maxrss-kib ")[1].split()[0]) * 1024
    assert peak < 128 << 20, f"peak RSS {peak >> 20} MiB for a 320 MiB member"


def test_markdown_report_and_github_step_summary(
    pytester: pytest.Pytester, wheels: dict[str, Path], engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = pytester.path / "step-summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    out = pytester.path / "reports" / "manylinux.md"
    _run(
        pytester,
        "--manylinux-wheel",
        str(wheels["glibc_new"]),
        str(wheels["honest"]),
        *TWO,
        "--manylinux-markdown",
        str(out),
    )
    text = out.read_text()
    assert summary.read_text() == "earlier step\n" + text + "\n"  # appended once, on the controller
    lines = text.splitlines()
    assert "| wheel | claim | ubuntu-16.04<br>2.23 | debian-13<br>2.41 | verdict |" in lines
    glibc_new = next(line for line in lines if line.startswith(f"| `{wheels['glibc_new'].name}`"))
    assert "| 2.17 | ❌ glibc | **✅** | **over-claim**<br>honest: `manylinux_2_34_x86_64` |" in glibc_new
    honest = next(line for line in lines if line.startswith(f"| `{wheels['honest'].name}`"))
    assert "| **✅** | ✅ | **honest**" in honest


def test_xdist_builds_once_removes_containers_and_reports_once(
    wheels: dict[str, Path], engine: Any, tmp_path: Path
) -> None:
    """-n 2 with an image nobody has yet: one build (the other worker waits on its lock), one full JSON."""
    from conftest import run_plugin

    ref = f"pytest-manylinux-test/xdist:{os.getpid()}-{int(time.time())}"
    (tmp_path / "distros.toml").write_text(
        f'[distro.scratch]\nimage = "{ref}"\nbuild = {{ debootstrap = "xenial", check-gpg = false }}\n'
        '[distro."debian-13"]\nimage = "debian:13"\nderive = {}\n'
    )
    (tmp_path / "test_user.py").write_text(
        "def test_env(manylinux_env):\n    assert manylinux_env.run('true').returncode == 0\n"
    )
    out = tmp_path / "results.json"
    try:
        proc = run_plugin(
            [
                "test_user.py",
                "-n",
                "2",
                "--manylinux-distros-file=distros.toml",
                f"--manylinux-json={out}",
                *(f"--manylinux-wheel={wheels[c]}" for c in ("honest", "glibc_new", "underclaim", "crash")),
            ],
            cwd=tmp_path,
        )
        images = engine.client.images.list(all=True, filters={"label": f"{LABEL_IMAGE}={ref}"})
    finally:
        with contextlib.suppress(Exception):
            engine.client.images.remove(ref, force=True)
    assert len(images) == 1, f"the image was built {len(images)} times"
    assert proc.stdout.count("= manylinux =") == 1, proc.stdout[-3000:]
    assert "2 workers" in proc.stdout
    document = json.loads(out.read_text())
    verdicts = {w["file"].split("-")[0]: w["verdict"] for w in document["wheels"]}
    assert verdicts == {
        "pm_honest": "honest",
        "pm_glibc_new": "over-claim",
        "pm_underclaim": "under-claim",
        "pm_crash": "over-claim",
    }
    assert all([d["name"] for d in w["distros"]] == ["scratch", "debian-13"] for w in document["wheels"])
    assert list(tmp_path.glob(".results.json.tmp*")) == []
    assert engine.leftovers() == [], "every worker removed its containers"
