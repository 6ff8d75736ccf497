"""The test wheels are what tests/wheelfactory.py says they are: valid wheels, ELF needs as recorded.

No container engine: ELF files are checked with binutils' readelf (the plugin reads them with pyelftools,
so this is an independent witness), and each wheel is also imported by this host's python.
"""

from __future__ import annotations

import ast
import csv
import email.parser
import io
import os
import re
import signal
import stat
import subprocess
import sys
import tokenize
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.utils import parse_wheel_filename
from wheelfactory import (
    BAD_WHEELS,
    CASES,
    VERSION,
    Case,
    FactoryError,
    build,
    main,
    record_hash,
    symlink_member,
)

CAUSES = {
    "libc-mismatch",
    "glibc",
    "cxx-abi",
    "missing-library",
    "undefined-symbol",
    "crash",
    "timeout",
    "error",
    "missing-dependency",
}
NAMES = sorted(CASES)


@pytest.fixture(scope="session")
def wheel_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("wheels")


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split("."))


# -- readelf, the independent witness ------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """What readelf shows about one ELF file."""

    machine: str
    glibc: str | None
    glibcxx: str | None
    needed: tuple[str, ...]
    runpath: str | None
    weak_versions: tuple[str, ...]
    execstack: bool


def _readelf(path: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LC_ALL": "C"}
    return subprocess.run(
        ["readelf", "-W", *flags, str(path)], capture_output=True, text=True, env=env, check=False
    )


def _highest(names: list[str], prefix: str) -> str | None:
    found = [m.group(1) for n in names if (m := re.fullmatch(prefix + r"_(\d+(?:\.\d+)+)", n))]
    return max(found, key=_version) if found else None


def _seen(path: Path) -> Seen:
    header = _readelf(path, "-h")
    assert header.returncode == 0, header.stderr
    machine = re.search(r"Machine:\s+(.+)", header.stdout)
    assert machine is not None, header.stdout
    # Only the "Version needs" section: version definitions (a library's own) would look alike.
    versions = _readelf(path, "-V").stdout.partition("Version needs section")[2]
    needs = re.findall(r"Name: (\S+)\s+Flags: (.*?)\s+Version:", versions)
    names = [name for name, _ in needs]
    dynamic = _readelf(path, "-d").stdout
    runpath = re.search(r"\(RUNPATH\)\s+Library runpath: \[(.*)\]", dynamic)
    stack = re.search(r"GNU_STACK(?:\s+\S+){5}\s+(R?W?E?)\s", _readelf(path, "-l").stdout)
    return Seen(
        machine=machine.group(1).strip(),
        glibc=_highest(names, "GLIBC"),
        glibcxx=_highest(names, "GLIBCXX"),
        needed=tuple(re.findall(r"\(NEEDED\)\s+Shared library: \[(.*)\]", dynamic)),
        runpath=runpath.group(1) if runpath else None,
        weak_versions=tuple(name for name, flags in needs if "WEAK" in flags),
        execstack=stack is not None and "E" in stack.group(1),
    )


def _python(code: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def _unpack(wheel: Path, dest: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            target = dest / info.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(zf.read(info))
            target.chmod(stat.S_IMODE(info.external_attr >> 16))


# -- the case table itself -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_case_is_well_formed(name: str) -> None:
    case = CASES[name]
    assert case.name == name
    assert case.project == f"pm_{name}"
    parsed_name, version, _build, tags = parse_wheel_filename(case.filename)
    assert (parsed_name, str(version)) == (case.project.replace("_", "-"), VERSION)
    assert sorted(str(t) for t in tags) == sorted(case.tags)
    assert {case.cause_below, case.cause_always} <= CAUSES | {None}
    # A version-dependent cause needs a version that sets the threshold.
    assert (case.cause_below is None) or (case.needs_glibc or case.needs_glibcxx)
    assert "\n" not in case.expect
    assert len({e.path for e in case.elves}) == len(case.elves)


# -- every wheel is a valid wheel ----------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_wheel_is_valid(name: str, wheel_dir: Path) -> None:
    case = CASES[name]
    path = build(name, wheel_dir)
    assert path == wheel_dir / case.filename
    dist_info = f"{case.project}-{VERSION}.dist-info"
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        infos = {i.filename: i for i in zf.infolist()}
        data = {n: zf.read(n) for n in infos}
    assert {f"{dist_info}/{m}" for m in ("METADATA", "WHEEL", "RECORD")} <= set(data)

    rows = list(csv.reader(io.StringIO(data[f"{dist_info}/RECORD"].decode())))
    assert sorted(r[0] for r in rows) == sorted(data)
    for member, digest, size in rows:
        if member == f"{dist_info}/RECORD":
            assert (digest, size) == ("", "")
        else:
            assert (digest, int(size)) == (record_hash(data[member]), len(data[member])), member

    wheel = email.parser.Parser().parsestr(data[f"{dist_info}/WHEEL"].decode())
    assert wheel["Wheel-Version"] == "1.0"
    assert wheel["Root-Is-Purelib"] == ("true" if case.purelib else "false")
    assert tuple(wheel.get_all("Tag") or ()) == case.tags
    metadata = email.parser.Parser().parsestr(data[f"{dist_info}/METADATA"].decode())
    assert (metadata["Name"], metadata["Version"]) == (case.project, VERSION)
    assert metadata["Requires-Python"] == case.requires_python
    assert tuple(metadata.get_all("Requires-Dist") or ()) == case.requires_dist

    links = dict(case.links)
    for member, info in infos.items():
        mode = info.external_attr >> 16
        assert info.create_system == 3, member
        if member in links:
            assert (stat.S_ISLNK(mode), data[member]) == (True, links[member].encode()), member
            continue
        assert stat.S_ISREG(mode), member
        executable = member.endswith(".so") or ".so." in member or "/scripts/" in member
        assert stat.S_IMODE(mode) == (0o755 if executable else 0o644), member

    sources = {n: d.decode() for n, d in data.items() if n.endswith(".py")}
    assert f"{case.project}/__init__.py" in sources
    for member, source in sources.items():
        if member.endswith("/walrus.py"):
            ops = [t.string for t in tokenize.generate_tokens(io.StringIO(source).readline)]
            assert ":=" in ops
            ast.parse(source, feature_version=(3, 8))
        else:
            # Best effort: newer CPythons check fewer features against an old feature_version.
            ast.parse(source, feature_version=(3, 5))


# -- every ELF needs what the case says ----------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_elf_needs(name: str, wheel_dir: Path, tmp_path: Path) -> None:
    case = CASES[name]
    _unpack(build(name, wheel_dir), tmp_path)
    elf_files = {
        p.relative_to(tmp_path).as_posix()
        for p in tmp_path.rglob("*")
        if p.is_file() and p.read_bytes()[:4] == b"\x7fELF"
    }
    assert elf_files == {e.path for e in case.elves}
    for expected in case.elves:
        path = tmp_path / expected.path
        if expected.corrupt:
            assert _readelf(path, "-h").returncode != 0
            continue
        seen = _seen(path)
        assert seen == Seen(
            machine=expected.machine,
            glibc=expected.glibc,
            glibcxx=expected.glibcxx,
            needed=expected.needed,
            runpath=expected.runpath,
            weak_versions=expected.weak_versions,
            execstack=expected.execstack,
        ), expected.path


def test_weak_reference_does_not_make_a_weak_version_need(wheel_dir: Path, tmp_path: Path) -> None:
    """GNU ld writes GLIBC_2.34 without VER_FLG_WEAK although every reference to it is weak."""
    _unpack(build("weak", wheel_dir), tmp_path)
    core = tmp_path / "pm_weak" / "_core.abi3.so"
    assert re.search(r"\bWEAK\s+DEFAULT\s+UND close_range@GLIBC_2\.34\b", _readelf(core, "--dyn-syms").stdout)
    assert _seen(core).weak_versions == ()


# -- on this host, each wheel behaves as its source says -----------------------------------------------

_HOST_GLIBC = _version((os.confstr("CS_GNU_LIBC_VERSION") or "glibc 0.0").split()[1])  # "glibc 2.36"


def _host_failure(case: Case) -> str | None:
    """The error text importing the package prints on this host, or None if it imports."""
    if case.needs_glibc and _version(case.needs_glibc) > _HOST_GLIBC:
        return f"version `GLIBC_{case.needs_glibc}' not found"
    if case.refused_from_glibc and _version(case.refused_from_glibc) <= _HOST_GLIBC:
        return "cannot enable executable stack"
    return {
        "missing_lib": "libpm_absent.so.1: cannot open shared object file",
        # musl-gcc's files need the unversioned libc.so: on glibc that name is a linker script
        "musl_honest": "libc.so: invalid ELF header",
        "musl_new": "libc.so: invalid ELF header",
        "musl_missing_lib": "libpm_absent.so.1: cannot open shared object file",
        "undefined": "undefined symbol: pm_nowhere_defined",
        "missing_dep": "No module named 'pm_not_installed_dependency'",
        "aarch64": "cannot open shared object file",
        "cp311": None if sys.version_info[:2] == (3, 11) else "No module named 'pm_cp311._core'",
    }.get(case.name)


_IMPORTABLE = [n for n in NAMES if n not in ("crash", "hang")]


@pytest.mark.parametrize("name", _IMPORTABLE, ids=_IMPORTABLE)
def test_host_import(name: str, wheel_dir: Path, tmp_path: Path) -> None:
    case = CASES[name]
    _unpack(build(name, wheel_dir), tmp_path)
    done = _python(f"import {case.project}; print({case.project}.probe())", tmp_path)
    failure = _host_failure(case)
    if failure is None:
        assert done.returncode == 0, done.stderr
    else:
        assert done.returncode == 1
        assert failure in done.stderr


def test_host_crash(wheel_dir: Path, tmp_path: Path) -> None:
    _unpack(build("crash", wheel_dir), tmp_path)
    done = _python("import pm_crash", tmp_path)
    assert done.returncode == -signal.SIGABRT


def test_host_hang(wheel_dir: Path, tmp_path: Path) -> None:
    _unpack(build("hang", wheel_dir), tmp_path)
    with pytest.raises(subprocess.TimeoutExpired):
        _python("import pm_hang", tmp_path, timeout=1)


def test_host_corrupt_module(wheel_dir: Path, tmp_path: Path) -> None:
    _unpack(build("corrupt_elf", wheel_dir), tmp_path)
    done = _python("import pm_corrupt_elf._broken", tmp_path)
    assert done.returncode == 1
    assert "file too short" in done.stderr


def test_host_bundled_executable(wheel_dir: Path, tmp_path: Path) -> None:
    _unpack(build("executable", wheel_dir), tmp_path)
    tool = tmp_path / f"pm_executable-{VERSION}.data" / "scripts" / "pm-tool"
    done = subprocess.run([str(tool)], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, "pm-tool ok\n")


# -- building ------------------------------------------------------------------------------------------


def test_build_is_cached(tmp_path: Path) -> None:
    first = build("honest", tmp_path)
    stamp = first.stat().st_mtime_ns
    assert build("honest", tmp_path) == first
    assert first.stat().st_mtime_ns == stamp


def test_build_is_deterministic(tmp_path: Path) -> None:
    one = build("vendored", tmp_path / "one")
    two = build("vendored", tmp_path / "two")
    assert one.read_bytes() == two.read_bytes()


def test_unknown_case(tmp_path: Path) -> None:
    with pytest.raises(FactoryError, match="no test wheel case 'nope'"):
        build("nope", tmp_path)


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path), "pure", "honest"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [str(tmp_path / CASES["pure"].filename), str(tmp_path / CASES["honest"].filename)]
    with pytest.raises(SystemExit):
        main([str(tmp_path), "nope"])


# -- broken wheels -------------------------------------------------------------------------------------

BAD = sorted(BAD_WHEELS)


def _record(zf: zipfile.ZipFile) -> dict[str, str]:
    name = next(n for n in zf.namelist() if n.endswith(".dist-info/RECORD"))
    return {row[0]: row[1] for row in csv.reader(io.StringIO(zf.read(name).decode()))}


@pytest.mark.parametrize("name", BAD, ids=BAD)
def test_bad_wheel_has_a_valid_name(name: str, tmp_path: Path) -> None:
    path = BAD_WHEELS[name](tmp_path)
    assert path.is_file()
    assert path.parent == tmp_path
    parse_wheel_filename(path.name)


def test_not_a_zip(tmp_path: Path) -> None:
    assert not zipfile.is_zipfile(BAD_WHEELS["not_a_zip"](tmp_path))


def test_truncated_zip(tmp_path: Path) -> None:
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(BAD_WHEELS["truncated_zip"](tmp_path))


@pytest.mark.parametrize(
    ("maker", "member"),
    [("escaping_member", "../evil.py"), ("absolute_member", "/tmp/evil.py")],
    ids=["escaping", "absolute"],
)
def test_unsafe_member_is_recorded(maker: str, member: str, tmp_path: Path) -> None:
    with zipfile.ZipFile(BAD_WHEELS[maker](tmp_path)) as zf:
        assert member in zf.namelist()
        assert _record(zf)[member] == record_hash(zf.read(member))


def test_symlink_member(tmp_path: Path) -> None:
    with zipfile.ZipFile(symlink_member(tmp_path)) as zf:
        info = zf.getinfo("pm_symlink_member/link.py")
        assert stat.S_ISLNK(info.external_attr >> 16)
        assert zf.read(info) == b"/etc/passwd"


def test_no_record(tmp_path: Path) -> None:
    with zipfile.ZipFile(BAD_WHEELS["no_record"](tmp_path)) as zf:
        names = zf.namelist()
    assert "pm_no_record-1.0.dist-info/WHEEL" in names
    assert not any(n.endswith("/RECORD") for n in names)


def test_record_mismatch(tmp_path: Path) -> None:
    with zipfile.ZipFile(BAD_WHEELS["record_mismatch"](tmp_path)) as zf:
        record = _record(zf)
        members = [n for n in zf.namelist() if not n.endswith("/RECORD")]
        wrong = [n for n in members if record[n] != record_hash(zf.read(n))]
    assert wrong == ["pm_record_mismatch/__init__.py"]
