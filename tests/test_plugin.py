"""The plugin as users drive it, through pytester: options, ids, selection, exit status, errors."""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import containers_of

from pytest_manylinux.images import LABEL_IMAGE

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


def test_collection_and_selection_make_no_engine_call(pytester: pytest.Pytester, wheels: dict[str, Path]) -> None:
    # Stronger than an unreachable engine: the Docker SDK cannot even be imported, so any engine call
    # (or a client made "just in case") while collecting, marking or deselecting would be an error.
    pytester.makeconftest("import sys\n\nsys.modules['docker'] = None  # import docker raises ImportError\n")
    several = [f"--manylinux-wheel={wheels[case]}" for case in ("honest", "glibc_new", "cxx_new", "crash")]
    selection = ["--collect-only", "-q", "-m", "ubuntu and lts"]
    result = pytester.runpytest_subprocess("-p", "no:benchmark", "-p", "no:cacheprovider", *several, *selection)
    assert result.ret == 0, result.stderr.str()
    crash = wheels["crash"].name
    result.stdout.fnmatch_lines([f"{crash}::ubuntu-16.04", "*20/36 tests collected (16 deselected)*"])


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
        (["--manylinux-jobs", "0"], "*--manylinux-jobs 0: must be at least 1*"),
    ],
    ids=["missing-file", "empty-glob", "unknown-distro", "bad-timeout", "no-jobs"],
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


# -- against the real engine ---------------------------------------------------------------------


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
    assert containers_of(engine) == []


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


@pytest.mark.engine
def test_markdown_report_and_github_step_summary(
    pytester: pytest.Pytester, wheels: dict[str, Path], engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = pytester.path / "step-summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    out = pytester.path / "reports" / "manylinux.md"
    _run(pytester, "--manylinux-wheel", str(wheels["glibc_new"]), str(wheels["honest"]), *TWO, "--manylinux-markdown", str(out))
    text = out.read_text()
    assert summary.read_text() == "earlier step\n" + text + "\n"  # appended once, on the controller
    lines = text.splitlines()
    assert "| wheel | claim | ubuntu-16.04<br>2.23 | debian-13<br>2.41 | verdict |" in lines
    glibc_new = next(line for line in lines if line.startswith(f"| `{wheels['glibc_new'].name}`"))
    assert "| 2.17 | ❌ glibc | **✅** | **over-claim**<br>honest: `manylinux_2_34_x86_64` |" in glibc_new
    honest = next(line for line in lines if line.startswith(f"| `{wheels['honest'].name}`"))
    assert "| **✅** | ✅ | **honest**" in honest


@pytest.mark.engine
def test_xdist_builds_once_removes_containers_and_reports_once(
    wheels: dict[str, Path], engine: Any, tmp_path: Path
) -> None:
    """-n 2 with an image nobody has yet: one build (the other worker waits on its lock), one complete JSON."""
    from conftest import run_plugin

    ref = f"pytest-manylinux-test/xdist:{os.getpid()}-{int(time.time())}"
    (tmp_path / "distros.toml").write_text(
        f'[distro.scratch]\nimage = "{ref}"\nbuild = {{ debootstrap = "xenial", check-gpg = false }}\n'
        '[distro."debian-13"]\nimage = "pytest-manylinux/debian:13"\n'
    )
    (tmp_path / "test_user.py").write_text("def test_env(manylinux_env):\n    assert manylinux_env.run('true').returncode == 0\n")
    out = tmp_path / "results.json"
    try:
        proc = run_plugin(
            ["-n", "2", "--manylinux-distros-file=distros.toml", f"--manylinux-json={out}",
             *(f"--manylinux-wheel={wheels[c]}" for c in ("honest", "glibc_new", "underclaim", "crash"))],
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
    assert verdicts == {"pm_honest": "honest", "pm_glibc_new": "over-claim", "pm_underclaim": "under-claim", "pm_crash": "over-claim"}
    assert all([d["name"] for d in w["distros"]] == ["scratch", "debian-13"] for w in document["wheels"])
    assert list(tmp_path.glob(".results.json.tmp*")) == []
    assert engine.leftovers() == [], "every worker removed its containers"
