"""The plugin as users drive it, through pytester: options, ids, selection, exit status, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_manylinux.engine import LABEL

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


def test_no_engine_is_one_clear_error(pytester: pytest.Pytester, wheels: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    result = _run(pytester, "--manylinux-wheel", str(wheels["honest"]), *ONE)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: cannot reach the container engine at unix:///nonexistent/docker.sock*"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--manylinux-wheel", "nope/missing.whl"], "*--manylinux-wheel 'nope/missing.whl': no such file*"),
        (["--manylinux-wheel", "nope/*.whl"], "*--manylinux-wheel 'nope/*.whl': the pattern matches no file*"),
        (["--manylinux-distro", "fedora-*"], "*--manylinux-distro 'fedora-*' matches no distro; known: ubuntu-16.04*"),
        (["--manylinux-timeout", "0"], "*--manylinux-timeout 0.0: must be a positive number of seconds*"),
    ],
    ids=["missing-file", "empty-glob", "unknown-distro", "bad-timeout"],
)
def test_bad_options_are_usage_errors(
    pytester: pytest.Pytester, wheels: dict[str, Path], args: list[str], message: str
) -> None:
    base = [] if args[0] == "--manylinux-wheel" else ["--manylinux-wheel", str(wheels["honest"])]
    result = _run(pytester, *base, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_malformed_distros_file_names_file_table_and_key(pytester: pytest.Pytester, wheels: dict[str, Path]) -> None:
    bad = pytester.makefile(".toml", distros='[distro.mine]\nimage = 3\n')
    result = _run(pytester, "--manylinux-wheel", str(wheels["honest"]), "--manylinux-distros-file", str(bad))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {bad}: [[]distro.mine[]].image: expected a non-empty string, got 3"])


def test_distros_file_from_ini(pytester: pytest.Pytester, wheels: dict[str, Path]) -> None:
    pytester.makefile(".toml", mine='[distro.only-one]\nimage = "registry.example/ubuntu:22.04"\n')
    pytester.makeini("[pytest]\nmanylinux_distros_file = mine.toml\n")
    # The wheel lives outside the project: with "=", pytest does not take it for a path argument
    # when it chooses the rootdir (and so the ini file) before plugins load.
    result = _run(pytester, f"--manylinux-wheel={wheels['honest']}", "--collect-only", "-q", "-m", "ubuntu")
    result.stdout.fnmatch_lines([f"{wheels['honest'].name}::only-one", "*1/2 tests collected (1 deselected)*"])


def test_markers_select_by_family_and_tag_under_strict_markers(pytester: pytest.Pytester, wheels: dict[str, Path]) -> None:
    result = _run(pytester, "--manylinux-wheel", str(wheels["honest"]), "--collect-only", "-q", "--strict-markers", "-m", "debian")
    out = result.stdout.str()
    assert "::debian-11" in out and "::debian-13" in out and "::ubuntu-16.04" not in out
    result = _run(pytester, "--manylinux-wheel", str(wheels["honest"]), "--collect-only", "-q", "-m", "eol")
    out = result.stdout.str()
    assert "::ubuntu-18.04" in out and "::ubuntu-22.04" not in out


def test_keyword_selects_a_distro(pytester: pytest.Pytester, wheels: dict[str, Path]) -> None:
    result = _run(pytester, "--manylinux-wheel", str(wheels["honest"]), "--collect-only", "-q", "-k", "ubuntu-20.04")
    result.stdout.fnmatch_lines([f"{wheels['honest'].name}::ubuntu-20.04", "*1/9 tests collected (8 deselected)*"])


def test_pure_wheel_makes_no_claim(pytester: pytest.Pytester, wheels: dict[str, Path]) -> None:
    result = _run(pytester, "--manylinux-wheel", str(wheels["pure"]), "-rs")
    result.stdout.fnmatch_lines(["*NO CLAIM: pm_pure-1.0-py3-none-any.whl is a pure wheel (any): it makes no platform claim*"])
    result.assert_outcomes(skipped=1)


def test_static_only_needs_no_engine(pytester: pytest.Pytester, wheels: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    result = _run(pytester, "--manylinux-wheel", str(wheels["glibc_new"]), str(wheels["honest"]), "--manylinux-static-only")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["*OVER-CLAIM (predicted)*GLIBC_2.34*"])


def test_python_source_that_is_not_a_cpython_is_a_usage_error(
    pytester: pytest.Pytester, wheels: dict[str, Path], tmp_path: Path
) -> None:
    result = _run(pytester, "--manylinux-wheel", str(wheels["honest"]), "--manylinux-python-source", str(tmp_path))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {tmp_path}: no bin/python3.X in it: not a CPython installation*"])


# -- against the real engine ---------------------------------------------------------------------


@pytest.mark.engine
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
    assert distro["outcome"] == "ok" and distro["interpreter"].endswith(", portable)")
    result.stdout.fnmatch_lines(["*portable CPython 3.11 (local *python.tar.gz) brought in*"])


@pytest.mark.engine
def test_distros_file_pins_interpreters(pytester: pytest.Pytester, wheels: dict[str, Path], engine: Any, portable_311: Any) -> None:
    # debian-12 pinned to the portable CPython although its own 3.11 could judge the wheel;
    # ubuntu-16.04 pinned to a python it does not have: skipped, with that reason.
    distros = pytester.makefile(
        ".toml",
        distros=(
            '[distro.pinned-portable]\nimage = "pytest-manylinux/debian:12"\ninterpreters = ["portable"]\n'
            '[distro.pinned-missing]\nimage = "pytest-manylinux/ubuntu:16.04"\ninterpreters = ["/usr/bin/python3.11"]\n'
            # built in (or found in the cache of) the same image as the default matrix
            '[python]\nversions = ["3.11"]\nuv = false\nbuild-on = "pinned-missing"\n'
        ),
    )
    out = pytester.path / "results.json"
    _run(pytester, "--manylinux-wheel", str(wheels["cp311"]), "--manylinux-distros-file", str(distros), "--manylinux-json", str(out), "-rs")
    by_name = {d["name"]: d for d in json.loads(out.read_text())["wheels"][0]["distros"]}
    assert by_name["pinned-portable"]["outcome"] == "ok"
    assert by_name["pinned-portable"]["interpreter"].endswith(", portable)")
    missing = by_name["pinned-missing"]
    assert (missing["outcome"], missing["cause"]) == ("skipped", "python")
    assert missing["detail"] == (
        "no interpreter here can load cp311-cp311: the interpreter order ['/usr/bin/python3.11'] takes none of "
        "/usr/bin/python3"
    )


@pytest.mark.engine
def test_honest_wheel_passes(pytester: pytest.Pytester, wheels: dict[str, Path], engine: Any) -> None:
    result = _run(pytester, "--manylinux-wheel", str(wheels["honest"]), *TWO)
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*verdict: HONEST: manylinux2014_x86_64 holds*"])


@pytest.mark.engine
def test_over_claim_fails_the_run_with_evidence(pytester: pytest.Pytester, wheels: dict[str, Path], engine: Any) -> None:
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


@pytest.mark.engine
def test_below_claim_failure_is_xfail(pytester: pytest.Pytester, wheels: dict[str, Path], engine: Any, tmp_path: Path) -> None:
    import wheelfactory

    wheel = wheelfactory.build("glibc_new", tmp_path)
    relabeled = tmp_path / wheel.name.replace("manylinux2014_x86_64.manylinux_2_17_x86_64", "manylinux_2_34_x86_64")
    relabeled.write_bytes(wheel.read_bytes())
    result = _run(pytester, "--manylinux-wheel", str(relabeled), *TWO, "-rx")
    result.assert_outcomes(xfailed=1, passed=2)
    result.stdout.fnmatch_lines(["*below the claimed floor (2.23 < 2.34)*"])


@pytest.mark.engine
def test_exitfirst_stops_and_removes_containers(pytester: pytest.Pytester, wheels: dict[str, Path], engine: Any) -> None:
    result = _run(pytester, "--manylinux-wheel", str(wheels["crash"]), str(wheels["honest"]), "-x", "-p", "no:randomly")
    result.assert_outcomes(failed=1)
    assert engine.client.containers.list(all=True, filters={"label": LABEL}) == []


@pytest.mark.engine
def test_last_failed_reruns_only_failures(pytester: pytest.Pytester, wheels: dict[str, Path], engine: Any) -> None:
    args = ["-p", "cacheprovider", "--manylinux-wheel", str(wheels["glibc_new"]), *TWO]
    first = _run(pytester, *args)
    first.assert_outcomes(failed=2, passed=1)
    again = _run(pytester, *args, "--lf")
    again.assert_outcomes(failed=2, deselected=1)


@pytest.mark.engine
def test_json_report_is_written_once_and_complete(pytester: pytest.Pytester, wheels: dict[str, Path], engine: Any) -> None:
    out = pytester.path / "out" / "results.json"
    _run(pytester, "--manylinux-wheel", str(wheels["underclaim"]), *TWO, "--manylinux-json", str(out))
    document = json.loads(out.read_text())
    (wheel,) = document["wheels"]
    assert wheel["verdict"] == "under-claim"
    assert wheel["claim"] == {"tag": "manylinux_2_35_x86_64", "kind": "manylinux", "libc": "glibc", "version": "2.35", "arch": "x86_64"}
    assert wheel["lowest_working"] == {"distro": "ubuntu-16.04", "libc_version": "2.23"}
    assert [d["name"] for d in wheel["distros"]] == ["ubuntu-16.04", "debian-13"]
    assert list(out.parent.iterdir()) == [out], "no temporary file left beside the report"


@pytest.mark.engine
def test_strict_fails_under_claims(pytester: pytest.Pytester, wheels: dict[str, Path], engine: Any) -> None:
    relaxed = _run(pytester, "--manylinux-wheel", str(wheels["underclaim"]), *ONE)
    relaxed.assert_outcomes(passed=2)
    strict = _run(pytester, "--manylinux-wheel", str(wheels["underclaim"]), *ONE, "--manylinux-strict")
    strict.assert_outcomes(passed=1, failed=1)
    strict.stdout.fnmatch_lines(["*UNDER-CLAIM*honest tag: manylinux_2_5_x86_64*"])


@pytest.mark.engine
def test_bad_wheel_reports_and_others_still_run(pytester: pytest.Pytester, wheels: dict[str, Path], engine: Any, tmp_path: Path) -> None:
    import wheelfactory

    bad = wheelfactory.record_mismatch(tmp_path)
    result = _run(pytester, "--manylinux-wheel", str(bad), str(wheels["honest"]), *ONE)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            f"*WheelError: {bad}:*does not match its RECORD hash*",
            "*pm_record_mismatch-1.0-py3-none-any.whl  UNREADABLE*",
            "*verdict: HONEST*",
        ]
    )
