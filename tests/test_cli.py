"""The ``pytest-manylinux`` command: ``inspect`` text and JSON, exit statuses, and no engine needed."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import wheelfactory

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
    assert line.split()[:4] == ["3.12", "cpython", "3.12.9", "local"] and line.endswith(f"(local {source})")
    assert "3.13: no portable CPython 3.13 could be had: building from source is off ([python] build = false)" in err
