"""The ``pytest-manylinux`` command: ``inspect`` text and JSON, exit statuses, and no engine needed."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import wheelfactory
from conftest import MATRIX, MatrixRun, run_plugin

from pytest_manylinux import cli


@pytest.mark.parametrize(
    ("case", "status"),
    [("honest", 0), ("linux_tag", 0), ("pure", 0), ("glibc_new", 1), ("cxx_new", 1), ("corrupt_elf", 1)],
    ids=["honest", "linux-tag", "pure", "glibc-over-claim", "libstdcxx-over-claim", "corrupt-elf"],
)
def test_inspect_exit_status(
    case: str, status: int, wheels: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["inspect", str(wheels[case])]) == status
    out = capsys.readouterr().out
    assert wheels[case].name in out
    assert "claim:" in out


def test_inspect_text_names_floor_file_and_symbol(
    wheels: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["inspect", str(wheels["glibc_new"])]) == 1
    out = capsys.readouterr().out
    assert "manylinux2014_x86_64 promises glibc 2.17" in out
    assert "predicted:  manylinux_2_34_x86_64" in out
    assert "close_range in pm_glibc_new/_core.abi3.so needs GLIBC_2.34" in out


def test_inspect_json_for_several_wheels(wheels: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["inspect", "--json", str(wheels["honest"]), str(wheels["vendored"])]) == 1
    document = json.loads(capsys.readouterr().out)
    assert [w["ok"] for w in document["wheels"]] == [True, False]
    assert document["wheels"][1]["predicted"]["tag"] == "manylinux_2_34_x86_64"
    assert document["errors"] == []


def test_inspect_a_directory(
    wheels: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for case in ("honest", "underclaim"):
        (tmp_path / wheels[case].name).write_bytes(wheels[case].read_bytes())
    assert cli.main(["inspect", "--json", str(tmp_path)]) == 0
    assert len(json.loads(capsys.readouterr().out)["wheels"]) == 2


@pytest.mark.parametrize(
    "make",
    [
        lambda d: d / "missing-1.0-py3-none-any.whl",
        wheelfactory.not_a_zip,
        wheelfactory.truncated_zip,
        lambda d: d,
    ],
    ids=["missing-file", "not-a-zip", "truncated-zip", "empty-directory"],
)
def test_bad_input_is_status_2_naming_the_file(
    make: object, tmp_path: Path, wheels: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    bad = make(tmp_path)  # type: ignore[operator]
    assert cli.main(["inspect", str(wheels["honest"]), str(bad)]) == 2
    captured = capsys.readouterr()
    assert str(bad) in captured.err
    assert wheels["honest"].name in captured.out  # the good wheel is still reported


@pytest.mark.parametrize(
    ("argv", "status"),
    [([], 2), (["inspect"], 2), (["frobnicate"], 2), (["--help"], 0), (["inspect", "--help"], 0)],
    ids=["no-command", "no-wheel", "unknown-command", "help", "inspect-help"],
)
def test_usage(argv: list[str], status: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == status
    captured = capsys.readouterr()
    assert "pytest-manylinux" in captured.out + captured.err


def test_a_subcommand_is_one_function(monkeypatch: pytest.MonkeyPatch) -> None:
    """How ``combine`` will be added: one function in SUBCOMMANDS."""
    seen: list[str] = []

    def _hello(parser: argparse.ArgumentParser) -> cli.Runner:
        """Say hello."""
        parser.add_argument("name")

        def run(args: argparse.Namespace) -> int:
            seen.append(args.name)
            return 7

        return run

    monkeypatch.setitem(cli.SUBCOMMANDS, "hello", _hello)
    assert cli.main(["hello", "world"]) == 7
    assert seen == ["world"]


def test_works_without_docker(wheels: dict[str, Path], tmp_path: Path) -> None:
    """``python -m pytest_manylinux inspect`` with no docker on PATH and no importable docker package."""
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text("import sys\nsys.modules['docker'] = None  # any 'import docker' now fails\n")
    env = {**os.environ, "PATH": str(tmp_path), "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    done = subprocess.run(
        [sys.executable, "-m", "pytest_manylinux", "inspect", "--json", str(wheels["glibc_new"])],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["wheels"][0]["predicted"]["tag"] == "manylinux_2_34_x86_64"


def test_console_script_entry_point_exists() -> None:
    from pytest_manylinux.__main__ import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0


# -- combine --------------------------------------------------------------------------------------


def _job_file(path: Path, wheel: str, sha: str, rows: list[tuple[str, str, str, str | None]]) -> Path:
    """A results file as one CI job writes it: ``rows`` are (distro, glibc, outcome, cause)."""
    from pytest_manylinux.core.observe import Cause, Observation, Outcome
    from pytest_manylinux.core.tags import Libc, LibcVersion
    from pytest_manylinux.report import Results, dumps

    results = Results()
    for distro, glibc, outcome, cause in rows:
        detail = "libc.so.6 lacks GLIBC_2.34" if cause else ""
        observation = Observation(
            distro,
            f"img/{distro}",
            Outcome(outcome),
            Cause(cause) if cause else None,
            detail,
            libc=Libc.GLIBC,
            libc_version=LibcVersion.parse(glibc),
        )
        results.add(sha, wheel, observation)
    path.write_text(dumps(results))
    return path


_OVER = "pm_x-1.0-cp35-abi3-manylinux2014_x86_64.whl"


def test_combine_joins_jobs_by_wheel_hash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    sha = "d" * 64
    old = _job_file(tmp_path / "old.json", f"job1/dist/{_OVER}", sha, [("debian-13", "2.41", "ok", None)])
    new = _job_file(tmp_path / "new.json", f"job2/{_OVER}", sha, [("ubuntu-16.04", "2.23", "fail", "glibc")])
    out = tmp_path / "all" / "combined.json"
    assert (
        cli.main(["combine", str(old), str(new), "--json", str(out), "--markdown", str(tmp_path / "m.md")])
        == 1
    )
    text = capsys.readouterr().out
    assert text.count("claims glibc 2.17") == 1  # one wheel, though its path differs between jobs
    rows = [
        line.split()[0]
        for line in text.splitlines()
        if line.startswith("  ") and line.split()[0] in ("ubuntu-16.04", "debian-13")
    ]
    assert rows == ["ubuntu-16.04", "debian-13"]  # ordered by measured glibc, whatever the file order
    assert "verdict: OVER-CLAIM" in text
    assert "== 1 over-claim from 2 file(s) ==" in text
    (wheel,) = json.loads(out.read_text())["wheels"]
    assert (wheel["verdict"], [d["name"] for d in wheel["distros"]]) == (
        "over-claim",
        ["ubuntu-16.04", "debian-13"],
    )
    assert (tmp_path / "m.md").read_text() == summary.read_text().rstrip("\n") + "\n"


def test_combine_exit_status_is_a_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    honest = _job_file(tmp_path / "h.json", _OVER, "e" * 64, [("ubuntu-16.04", "2.23", "ok", None)])
    assert cli.main(["combine", str(honest)]) == 0
    under = "pm_x-1.0-cp35-abi3-manylinux_2_34_x86_64.whl"
    under_file = _job_file(tmp_path / "u.json", under, "f" * 64, [("ubuntu-16.04", "2.23", "ok", None)])
    assert cli.main(["combine", str(under_file)]) == 0
    assert cli.main(["combine", "--strict", str(under_file)]) == 1
    assert "UNDER-CLAIM" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "missing.json: cannot read it"),
        ("{not json", "missing.json: not JSON"),
        ('{"schema": "other/1", "wheels": []}', "missing.json: schema 'other/1' is not 'pytest-manylinux/1'"),
    ],
    ids=["no-such-file", "not-json", "wrong-schema"],
)
def test_combine_bad_input_names_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    path = tmp_path / "missing.json"
    if content is not None:
        path.write_text(content)
    assert cli.main(["combine", str(path)]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("pytest-manylinux combine: error: ")
    assert message in err


def test_combine_of_jobs_on_real_distros_equals_one_run(
    engine: object, wheels: dict[str, Path], matrix_run: MatrixRun, tmp_path: Path
) -> None:
    """Two CI jobs (-m ubuntu, -m debian), each on its own copy of the wheels, combine to the full run's."""
    cases = ["honest", "glibc_new", "underclaim"]
    files = []
    for job, marker in (("job-ubuntu", "ubuntu"), ("job-debian", "debian")):
        dist = tmp_path / job / "dist"
        dist.mkdir(parents=True)
        for case in cases:
            shutil.copy(wheels[case], dist)
        out = tmp_path / job / "results.json"
        proc = run_plugin(
            [f"--manylinux-wheel={dist}", f"--manylinux-json={out}", "-m", marker, "-q"], cwd=tmp_path / job
        )
        assert out.exists(), proc.stdout + proc.stderr
        files.append(str(out))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest_manylinux", "combine", *files, "--json", str(tmp_path / "all.json")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr  # glibc_new over-claims, as in one run
    combined = {w["file"]: w for w in json.loads((tmp_path / "all.json").read_text())["wheels"]}
    for case in cases:
        full = matrix_run.wheel(case)
        mine = combined[full["file"]]
        assert mine["sha256"] == full["sha256"]
        for key in ("verdict", "lowest_working", "honest_tag", "uncovered"):
            assert mine[key] == full[key], (case, key)
        by_glibc = sorted(MATRIX, key=lambda row: (tuple(map(int, row[1].split("."))), row[0]))
        assert [d["name"] for d in mine["distros"]] == [name for name, _ in by_glibc]


def _prefix(root: Path, version: str) -> Path:
    (root / "bin").mkdir(parents=True)
    (root / "bin" / f"python{version}").write_text("#!/bin/sh\n")
    (root / "include" / f"python{version}").mkdir(parents=True)
    (root / "include" / f"python{version}" / "patchlevel.h").write_text(f'#define PY_VERSION "{version}.9"\n')
    return root


def test_python_prepares_portable_interpreters_and_says_where_each_came_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PYTEST_MANYLINUX_CACHE_DIR", str(tmp_path / "cache"))
    distros = tmp_path / "distros.toml"
    distros.write_text('[distro.x]\nimage = "debian:12"\n[python]\nuv = false\nbuild = false\n')
    source = _prefix(tmp_path / "cpython", "3.12")
    status = cli.main(["python", "3.12", "3.13", "--distros-file", str(distros), "--source", str(source)])
    assert status == 1
    out, err = capsys.readouterr()
    assert f"portable CPython 3.12: importing {source}" in out  # progress, then one line per version
    line = out.splitlines()[-1]
    assert line.split()[:4] == ["3.12", "cpython", "3.12.9", "local"]
    assert line.endswith(f"(local {source})")
    assert (
        "3.13: no portable CPython 3.13 could be had: building from source is off ([python] build = false)"
        in err
    )


def test_python_options_and_the_line_that_names_missing_modules(tmp_path: Path) -> None:
    from pytest_manylinux.engine.portable import Portable

    parser, _runners = cli.build_parser()
    args = parser.parse_args(["python", "3.12", "3.13", "--retry", "--jobs", "2"])
    assert (args.versions, args.retry, args.jobs) == (["3.12", "3.13"], True, 2)
    assert parser.parse_args(["python", "3.12"]).retry is False
    built = Portable(
        version=(3, 13, 5),
        archive=tmp_path / "python.tar.gz",
        member="python/bin/python3.13",
        origin="built",
        detail="built from python3.13_3.13.5.orig.tar.xz in pytest-manylinux/ubuntu:16.04",
        sha256="0" * 64,
        size=12_300_000,
        missing=("_curses", "_curses_panel", "_tkinter"),
    )
    first, second = cli.describe_portable("3.13", built).splitlines()
    assert first.split()[:5] == ["3.13", "cpython", "3.13.5", "built", "12.3"]
    assert second.strip() == "without: _curses, _curses_panel, _tkinter"
