"""wheel.py: wheels read safely (bad ones refused by name), modules found, laid out as pip would.

Real wheels come from tests/wheelfactory.py; wheels that only need a particular layout are written with
its ``make_zip``, so each test shows the members it depends on.
"""

from __future__ import annotations

import hashlib
import stat
import struct
import sys
import tracemalloc
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from wheelfactory import (
    BAD_WHEEL_PROBLEMS,
    BAD_WHEELS,
    build,
    dist_info,
    make_zip,
    record_hash,
    symlink_member,
)

from pytest_manylinux.core.tags import ClaimKind, LibcVersion
from pytest_manylinux.core.wheel import SCHEME_DIRS, Member, Role, WheelInfo, lay_out, open_member, read_wheel
from pytest_manylinux.errors import WheelError


@pytest.fixture(scope="module")
def case_wheel(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    outdir = tmp_path_factory.mktemp("wheels")
    return lambda case: build(case, outdir)


def _write(
    directory: Path,
    project: str,
    members: Mapping[str, bytes],
    *,
    tag: str = "py3-none-any",
    purelib: bool = True,
    record: bool = True,
) -> Path:
    """A wheel of ``members`` plus METADATA/WHEEL (and RECORD unless ``record`` is false)."""
    files = dict(members)
    files.update(dist_info(project, [tag], purelib=purelib))
    return make_zip(directory / f"{project}-1.0-{tag}.whl", files, record=record)


def _by_path(info: WheelInfo) -> dict[str, Member]:
    return {m.path: m for m in info.members}


# -- bad wheels ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", sorted(BAD_WHEEL_PROBLEMS), ids=sorted(BAD_WHEEL_PROBLEMS))
def test_bad_wheel_error_names_file_and_problem(bad: str, tmp_path: Path) -> None:
    path = BAD_WHEELS[bad](tmp_path)
    with pytest.raises(WheelError) as excinfo:
        read_wheel(path)
    message = str(excinfo.value)
    assert str(path) in message
    assert BAD_WHEEL_PROBLEMS[bad] in message


def test_every_bad_wheel_maker_has_an_expected_problem() -> None:
    # A maker added to the factory needs a line in BAD_WHEEL_PROBLEMS to be tested.
    assert sorted(set(BAD_WHEELS) - set(BAD_WHEEL_PROBLEMS)) == []


def test_unsafe_members_are_refused_before_anything_is_laid_out(tmp_path: Path) -> None:
    path = BAD_WHEELS["escaping_member"](tmp_path / "in")
    with pytest.raises(WheelError):
        read_wheel(path)
    assert not (tmp_path / "evil.py").exists()


def test_a_symlink_member_is_read_as_pip_installs_it(tmp_path: Path) -> None:
    # pip writes a symlink member as a regular file holding the link's target (pypa/pip#10935): the wheel
    # is installable, so it is read, with a note; nothing on disk ever points at /etc/passwd.
    info = read_wheel(symlink_member(tmp_path / "in"))
    link = _by_path(info)["pm_symlink_member/link.py"]
    assert (link.symlink, link.is_elf, link.size) == (True, False, len(b"/etc/passwd"))
    assert info.notes == (
        "member pm_symlink_member/link.py is a symlink; installed as pip does, as a file holding its target",
    )
    assert "pm_symlink_member.link" in info.modules
    target = lay_out(info, tmp_path / "stage", interpreter="python3")
    installed = target / SCHEME_DIRS["purelib"] / "pm_symlink_member/link.py"
    assert not installed.is_symlink()
    assert installed.read_bytes() == b"/etc/passwd"


def test_member_missing_from_record(tmp_path: Path) -> None:
    project = "pm_unrecorded"
    members = {f"{project}/__init__.py": b"", f"{project}/extra.py": b"X = 1\n"}
    files = {**members, **dist_info(project, ["py3-none-any"], purelib=True)}
    base = f"{project}-1.0.dist-info"
    # RECORD lists everything but extra.py.
    rows = [
        f"{name},{record_hash(data)},{len(data)}"
        for name, data in files.items()
        if name != f"{project}/extra.py"
    ]
    files[f"{base}/RECORD"] = ("\n".join([*rows, f"{base}/RECORD,,"]) + "\n").encode()
    path = make_zip(tmp_path / f"{project}-1.0-py3-none-any.whl", files, record=False)
    with pytest.raises(WheelError) as excinfo:
        read_wheel(path)
    assert str(path) in str(excinfo.value)
    assert f"'{project}/extra.py' is not listed in RECORD" in str(excinfo.value)
    # With the RECORD check off, the same wheel reads.
    assert f"{project}.extra" in read_wheel(path, check_record=False).modules


def test_record_lists_a_file_the_wheel_lacks(tmp_path: Path) -> None:
    project = "pm_ghost"
    files = {f"{project}/__init__.py": b"", **dist_info(project, ["py3-none-any"], purelib=True)}
    base = f"{project}-1.0.dist-info"
    rows = [f"{name},{record_hash(data)},{len(data)}" for name, data in files.items()]
    rows += [f"{project}/ghost.py,{record_hash(b'')},0", f"{base}/RECORD,,"]
    files[f"{base}/RECORD"] = ("\n".join(rows) + "\n").encode()
    path = make_zip(tmp_path / f"{project}-1.0-py3-none-any.whl", files, record=False)
    with pytest.raises(
        WheelError, match=r"RECORD lists files the wheel does not contain: \['pm_ghost/ghost.py'\]"
    ):
        read_wheel(path)


def test_corrupt_member_data_is_a_wheel_error(tmp_path: Path) -> None:
    # The central directory is intact, but one member's compressed bytes are damaged.
    path = _write(tmp_path, "pm_damaged", {"pm_damaged/big.py": b"DATA = 1\n" * 20000})
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("pm_damaged/big.py")
    data = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for i in range(start + 8, start + min(info.compress_size, 200)):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(WheelError) as excinfo:
        read_wheel(path)
    assert str(path) in str(excinfo.value)
    assert "'pm_damaged/big.py'" in str(excinfo.value)


def _patch_central_directory(data: bytes, member: str, offset: int, value: int) -> bytes:
    """Set the 16-bit field at ``offset`` of ``member``'s central directory entry (8: flags, 10: method)."""
    patched = bytearray(data)
    at = data.find(b"PK\x01\x02")
    while at != -1:
        (name_length,) = struct.unpack_from("<H", data, at + 28)
        if data[at + 46 : at + 46 + name_length] == member.encode():
            struct.pack_into("<H", patched, at + offset, value)
            return bytes(patched)
        at = data.find(b"PK\x01\x02", at + 46)
    raise AssertionError(f"no central directory entry for {member!r}")


# Found by tests/test_fuzz.py: zipfile raises more than BadZipFile for such members.
@pytest.mark.parametrize(
    ("offset", "value", "says"),
    [
        (8, 0x1, "is encrypted"),
        (8, 0x20, "compressed patched data"),
        (10, 99, "compression method is not supported"),
    ],
    ids=["encrypted", "patched-data", "unknown-compression"],
)
def test_member_using_a_zip_feature_wheels_may_not_is_a_wheel_error(
    tmp_path: Path, offset: int, value: int, says: str
) -> None:
    path = _write(tmp_path, "pm_feature", {"pm_feature/__init__.py": b"X = 1\n"})
    path.write_bytes(_patch_central_directory(path.read_bytes(), "pm_feature/__init__.py", offset, value))
    with pytest.raises(WheelError, match=says) as excinfo:
        read_wheel(path)
    assert f"{path}: cannot read member 'pm_feature/__init__.py'" in str(excinfo.value)


def test_member_with_an_empty_name_is_a_wheel_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "pm_nameless", {"pm_nameless/__init__.py": b""})
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr(zipfile.ZipInfo("\x00evil.py"), b"")  # zipfile cuts a name at its NUL byte: ""
    with pytest.raises(WheelError, match="a member has an empty name") as excinfo:
        read_wheel(path)
    assert str(path) in str(excinfo.value)


def test_record_that_is_not_csv_is_a_wheel_error(tmp_path: Path) -> None:
    project = "pm_badcsv"
    files = {f"{project}/__init__.py": b"", **dist_info(project, ["py3-none-any"], purelib=True)}
    files[f"{project}-1.0.dist-info/RECORD"] = b"x" * 200_000 + b"\n"  # over csv's field size limit
    path = make_zip(tmp_path / f"{project}-1.0-py3-none-any.whl", files, record=False)
    with pytest.raises(WheelError, match=r"pm_badcsv-1.0.dist-info/RECORD is not a valid CSV") as excinfo:
        read_wheel(path)
    assert str(path) in str(excinfo.value)


def test_missing_file_is_a_wheel_error(tmp_path: Path) -> None:
    path = tmp_path / "pm_absent-1.0-py3-none-any.whl"
    with pytest.raises(WheelError, match="no such wheel file") as excinfo:
        read_wheel(path)
    assert str(path) in str(excinfo.value)


def test_bad_file_name_is_refused_before_opening(tmp_path: Path) -> None:
    path = tmp_path / "not-a-wheel.whl"
    path.write_bytes(b"")
    with pytest.raises(WheelError, match="not a wheel file name"):
        read_wheel(path)


def test_zip_without_dist_info(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "pm_bare-1.0-py3-none-any.whl", {"pm_bare/__init__.py": b""}, record=False)
    with pytest.raises(WheelError, match=r"no \.dist-info directory") as excinfo:
        read_wheel(path)
    assert str(path) in str(excinfo.value)


# -- what a good wheel holds ----------------------------------------------------------------------


def test_honest_wheel(case_wheel: Callable[[str], Path]) -> None:
    path = case_wheel("honest")
    info = read_wheel(path)
    assert info.path == path
    assert info.filename == path.name
    assert info.claim.floor == LibcVersion(2, 17)
    assert info.dist_info == "pm_honest-1.0.dist-info"
    assert info.root_is_purelib is False
    assert info.requires_python is None
    assert info.modules == ("pm_honest", "pm_honest._core")
    assert info.extensions == ("pm_honest._core",)
    assert info.top_level == ("pm_honest",)
    assert info.size == path.stat().st_size


def test_sha256_is_the_hash_of_the_whole_file(case_wheel: Callable[[str], Path]) -> None:
    path = case_wheel("honest")
    assert read_wheel(path).sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_elf_members_are_detected_by_magic(case_wheel: Callable[[str], Path]) -> None:
    info = read_wheel(case_wheel("vendored"))
    assert sorted(m.path for m in info.elf_members) == [
        "pm_vendored.libs/libpm_vendored.so.1",
        "pm_vendored/_core.abi3.so",
    ]
    members = _by_path(info)
    init = members["pm_vendored/__init__.py"]
    assert init.is_elf is False
    core = members["pm_vendored/_core.abi3.so"]
    assert core.executable is True
    assert core.size > 0


def test_elf_detection_does_not_trust_the_name(tmp_path: Path) -> None:
    members = {
        "pm_names/__init__.py": b"",
        "pm_names/fake.abi3.so": b"not an ELF at all",
        "pm_names/short.so": b"\x7fEL",
        "pm_names/empty.so": b"",
        "pm_names/blob.dat": b"\x7fELF\x02\x01\x01" + bytes(100),
    }
    info = read_wheel(_write(tmp_path, "pm_names", members))
    assert [m.path for m in info.elf_members] == ["pm_names/blob.dat"]


def test_vendored_libs_directory_is_not_importable(case_wheel: Callable[[str], Path]) -> None:
    info = read_wheel(case_wheel("vendored"))
    assert info.modules == ("pm_vendored", "pm_vendored._core")
    assert not any("libs" in m for m in info.modules)


def test_scripts_role(case_wheel: Callable[[str], Path]) -> None:
    info = read_wheel(case_wheel("executable"))
    tool = _by_path(info)["pm_executable-1.0.data/scripts/pm-tool"]
    assert tool.role == Role.SCRIPTS
    assert tool.scheme_path == "pm-tool"
    assert tool.is_elf is True
    assert tool.executable is True
    # a script is checked by the loader, never imported
    assert info.modules == ("pm_executable", "pm_executable._core")


def test_cp311_extension_name(case_wheel: Callable[[str], Path]) -> None:
    info = read_wheel(case_wheel("cp311"))
    assert info.extensions == ("pm_cp311._core",)
    assert info.claim.interpreters == frozenset({("cp311", "cp311")})


def test_requires_python_is_read(case_wheel: Callable[[str], Path]) -> None:
    info = read_wheel(case_wheel("requires_py38"))
    assert info.requires_python == ">=3.8"
    assert info.modules == ("pm_requires_py38", "pm_requires_py38._core", "pm_requires_py38.walrus")


def test_pure_wheel(case_wheel: Callable[[str], Path]) -> None:
    info = read_wheel(case_wheel("pure"))
    assert info.claim.kind is ClaimKind.PURE
    assert info.root_is_purelib is True
    assert info.modules == ("pm_pure",)
    assert info.extensions == ()
    assert info.elf_members == ()
    assert _by_path(info)["pm_pure/__init__.py"].role == Role.PURELIB


def test_module_discovery(tmp_path: Path) -> None:
    elf = b"\x7fELF\x02\x01\x01\x00" + bytes(56)
    members = {
        # a compiled package (mypyc, Cython): the package itself
        "pm_mods/__init__.cpython-311-x86_64-linux-gnu.so": elf,
        "pm_mods/__main__.py": b"raise SystemExit('imported __main__')\n",
        "pm_mods/_speed.abi3.so": elf,
        "pm_mods/_speed.py": b"",  # the extension is what Python imports
        "pm_mods/sub/__init__.py": b"",
        "pm_mods/sub/__main__.py": b"",
        "pm_mods/sub/leaf.py": b"",
        "pm_mods/sub/deeper/__init__.py": b"",
        "pm_mods/data/notes.txt": b"not a module",
        "pm_mods/bad-name/x.py": b"",  # not an identifier: not importable
        "pm_mods/not-a-module.py": b"",
        "pm_mods/stubs.pyi": b"",
        "pm_mods.libs/libvendored.so": elf,
        "pm_mods.libs/libvendored.so.1": elf,
        "top.py": b"",
        "pm_mods-1.0.data/purelib/pm_extra/__init__.py": b"",
        "pm_mods-1.0.data/data/share/x.py": b"",
        "pm_mods-1.0.data/scripts/run.py": b"#!python\n",
        "pm_mods-1.0.data/headers/x.h": b"",
    }
    info = read_wheel(
        _write(tmp_path, "pm_mods", members, tag="cp311-cp311-manylinux_2_17_x86_64", purelib=False)
    )
    assert info.modules == (
        "pm_extra",
        "pm_mods",
        "top",
        "pm_mods._speed",
        "pm_mods.sub",
        "pm_mods.sub.deeper",
        "pm_mods.sub.leaf",
    )
    assert info.extensions == ("pm_mods", "pm_mods._speed")
    assert info.top_level == ("pm_extra", "pm_mods", "top")
    roles = {m.path: (m.role, m.scheme_path) for m in info.members}
    assert roles["pm_mods-1.0.data/purelib/pm_extra/__init__.py"] == (Role.PURELIB, "pm_extra/__init__.py")
    assert roles["pm_mods-1.0.data/data/share/x.py"] == (Role.DATA, "share/x.py")
    assert roles["pm_mods-1.0.data/scripts/run.py"] == (Role.SCRIPTS, "run.py")
    assert roles["pm_mods-1.0.data/headers/x.h"] == (Role.HEADERS, "x.h")
    assert roles["pm_mods-1.0.dist-info/WHEEL"] == (Role.METADATA, "WHEEL")
    assert roles["pm_mods/sub/leaf.py"] == (Role.PLATLIB, "pm_mods/sub/leaf.py")


def test_packages_come_before_their_submodules(tmp_path: Path) -> None:
    members = {
        "pm_order/z/a/b.py": b"",
        "pm_order/z/a/__init__.py": b"",
        "pm_order/z/__init__.py": b"",
        "pm_order/a.py": b"",
        "pm_order/__init__.py": b"",
    }
    modules = read_wheel(_write(tmp_path, "pm_order", members)).modules
    for name in modules:
        parent = name.rpartition(".")[0]
        if parent:
            assert modules.index(parent) < modules.index(name), (parent, name)
    assert modules[0] == "pm_order"


def test_plain_shared_library_in_a_package_is_not_an_extension(
    case_wheel: Callable[[str], Path], tmp_path: Path
) -> None:
    # Many wheels keep ordinary libraries inside the package (torch/lib/libc10.so,
    # pyarrow/libarrow_python.so). They define no PyInit_<name>: importing one as a module fails with
    # "dynamic module does not define module export function", so they are not modules to import.
    with zipfile.ZipFile(case_wheel("vendored")) as zf:
        plain = zf.read("pm_vendored.libs/libpm_vendored.so.1")  # a real library without PyInit_
    members = {"pm_plain/__init__.py": b"", "pm_plain/lib/libpm_plain.so": plain}
    info = read_wheel(
        _write(tmp_path, "pm_plain", members, tag="py3-none-manylinux_2_34_x86_64", purelib=False)
    )
    assert "pm_plain.lib.libpm_plain" not in info.modules
    assert info.extensions == ()


def test_nothing_of_the_wheel_is_executed(tmp_path: Path) -> None:
    sentinel = tmp_path / "ran"
    code = f"import pathlib\npathlib.Path({str(sentinel)!r}).write_text('ran')\n".encode()
    members = {
        "pm_trap/__init__.py": code,
        "pm_trap/__main__.py": code,
        "pm_trap-startup.pth": b"import pm_trap\n",
        "pm_trap-1.0.data/scripts/trap": b"#!python\n" + code,
    }
    files = {
        **members,
        "pm_trap-1.0.dist-info/entry_points.txt": b"[console_scripts]\npm-trap = pm_trap:main\n",
    }
    path = _write(tmp_path, "pm_trap", files)
    info = read_wheel(path)
    target = lay_out(info, tmp_path / "out", interpreter="/usr/bin/python3")
    assert (target / "site" / "pm_trap" / "__init__.py").read_bytes() == code
    assert (target / "bin" / "pm-trap").is_file()  # the console script wrapper was written...
    assert not sentinel.exists()  # ...and nothing ran
    assert "pm_trap" not in sys.modules


# -- laying out ---------------------------------------------------------------------------------------


def test_lay_out_puts_library_files_under_site_and_scripts_under_bin(
    case_wheel: Callable[[str], Path], tmp_path: Path
) -> None:
    info = read_wheel(case_wheel("executable"))
    target = lay_out(info, tmp_path / "stage", interpreter="/usr/bin/env python3")
    assert target == tmp_path / "stage"
    files = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    assert files == [
        "bin/pm-tool",
        "site/pm_executable-1.0.dist-info/INSTALLER",
        "site/pm_executable-1.0.dist-info/METADATA",
        "site/pm_executable-1.0.dist-info/RECORD",
        "site/pm_executable-1.0.dist-info/WHEEL",
        "site/pm_executable/__init__.py",
        "site/pm_executable/_core.abi3.so",
    ]
    with zipfile.ZipFile(info.path) as zf:
        assert (target / "bin/pm-tool").read_bytes() == zf.read("pm_executable-1.0.data/scripts/pm-tool")
        assert (target / "site/pm_executable/_core.abi3.so").read_bytes() == zf.read(
            "pm_executable/_core.abi3.so"
        )
    assert (target / "bin/pm-tool").stat().st_mode & stat.S_IXUSR
    assert (target / "site/pm_executable-1.0.dist-info/INSTALLER").read_bytes() == b"pytest-manylinux\n"


def test_lay_out_schemes(tmp_path: Path) -> None:
    members = {
        "pm_schemes/__init__.py": b"",
        "pm_schemes-1.0.data/purelib/pm_pure_part.py": b"",
        "pm_schemes-1.0.data/platlib/pm_plat_part.py": b"",
        "pm_schemes-1.0.data/data/share/pm/readme.txt": b"hello",
        "pm_schemes-1.0.data/headers/pm.h": b"int x;\n",
        "pm_schemes-1.0.data/scripts/pm-run": b"#!python\nprint('hi')\n",
    }
    info = read_wheel(_write(tmp_path, "pm_schemes", members))
    target = lay_out(info, tmp_path / "stage", interpreter="/opt/py/bin/python3")
    assert (target / SCHEME_DIRS["purelib"] / "pm_pure_part.py").is_file()
    assert (target / SCHEME_DIRS["platlib"] / "pm_plat_part.py").is_file()
    assert (target / SCHEME_DIRS["data"] / "share/pm/readme.txt").read_bytes() == b"hello"
    assert (target / SCHEME_DIRS["headers"] / "pm.h").is_file()
    script = (target / "bin" / "pm-run").read_text()
    assert script.splitlines()[0] == "#!/opt/py/bin/python3"  # ``#!python`` rewritten to the interpreter


def test_lay_out_of_an_unreadable_wheel_is_a_wheel_error(
    case_wheel: Callable[[str], Path], tmp_path: Path
) -> None:
    info = read_wheel(case_wheel("honest"))
    broken = tmp_path / info.path.name
    broken.write_bytes(b"gone")
    with pytest.raises(WheelError, match="cannot lay the wheel out") as excinfo:
        lay_out(WheelInfo(**{**info.__dict__, "path": broken}), tmp_path / "stage", interpreter="python3")
    assert str(broken) in str(excinfo.value)


def test_open_member_streams_its_bytes(case_wheel: Callable[[str], Path]) -> None:
    info = read_wheel(case_wheel("honest"))
    member = _by_path(info)["pm_honest/_core.abi3.so"]
    with open_member(info, member) as stream:
        data = stream.read()
    assert data[:4] == b"\x7fELF"
    assert len(data) == member.size


# -- bounded memory -----------------------------------------------------------------------------------


def test_large_member_is_streamed(tmp_path: Path) -> None:
    size = 200 * 1024 * 1024  # zeros deflate to ~200 KB, so writing it is quick
    members = {"pm_big/__init__.py": b"", "pm_big/zeros.bin": bytes(size)}
    path = _write(tmp_path, "pm_big", members)
    del members
    tracemalloc.start()
    try:
        info = read_wheel(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert _by_path(info)["pm_big/zeros.bin"].size == size
    assert peak < 32 * 1024 * 1024, f"reading a 200 MB member peaked at {peak} bytes"


# -- one pass: inflated once, on every core ------------------------------------------------------------


def test_elf_members_are_read_with_their_hashes(case_wheel: Callable[[str], Path], tmp_path: Path) -> None:
    # read_wheel reads the ELF facts in the pass that checks RECORD; the analysis needs nothing more of
    # the file, so it works on a wheel that is gone by then.
    from pytest_manylinux.core.static import analyze

    copy = tmp_path / case_wheel("vendored").name
    copy.write_bytes(case_wheel("vendored").read_bytes())
    info = read_wheel(copy)
    assert info.elf is not None
    assert sorted(info.elf) == sorted(m.path for m in info.elf_members)
    copy.unlink()
    report = analyze(info)
    assert [f.path for f in report.files] == sorted(m.path for m in info.elf_members)
    assert read_wheel(case_wheel("vendored"), read_elf=False).elf is None


@pytest.mark.parametrize("workers", [1, 2, 8], ids=["one-thread", "two-threads", "eight-threads"])
def test_the_same_wheel_read_on_any_number_of_threads(
    case_wheel: Callable[[str], Path], workers: int
) -> None:
    serial = read_wheel(case_wheel("corrupt_elf"), workers=1)
    parallel = read_wheel(case_wheel("corrupt_elf"), workers=workers)
    assert parallel.members == serial.members
    assert parallel.elf == serial.elf
    assert isinstance((parallel.elf or {})["pm_corrupt_elf/_broken.abi3.so"], str)  # why it is unreadable


def test_zlib_and_zlib_ng_read_the_same(
    case_wheel: Callable[[str], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import zlib

    from zlib_ng import zlib_ng

    from pytest_manylinux.core import wheel as wheel_module

    results = []
    for module in (zlib, zlib_ng):
        monkeypatch.setattr(wheel_module, "_INFLATE", module)
        info = read_wheel(case_wheel("vendored"))
        results.append((info.members, info.elf))
    assert results[0] == results[1]


def test_the_first_bad_member_in_zip_order_is_reported(tmp_path: Path) -> None:
    # Members are read on several threads, the largest first; the error is still the first in the zip.
    members = {f"pm_order/m{i}.py": bytes(1000 * i) for i in range(1, 6)}
    path = make_zip(
        tmp_path / "pm_order-1.0-py3-none-any.whl",
        {**members, **dist_info("pm_order", ["py3-none-any"], purelib=True)},
        tamper="pm_order/m2.py",
    )
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("pm_order/m4.py")
    data[info.header_offset + 30 + len(info.filename) + 2] ^= 0xFF  # m4's deflate stream, corrupted
    path.write_bytes(bytes(data))
    with pytest.raises(WheelError, match=r"'pm_order/m2\.py' does not match its RECORD hash"):
        read_wheel(path, workers=4)
