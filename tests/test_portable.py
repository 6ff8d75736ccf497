"""portable.py: where a portable CPython comes from, how it is checked and cached, that it runs everywhere.

The unit tests use small fake prefixes and archives (no engine). The ``engine`` tests use the real
CPython 3.11 the project builds in the Ubuntu 16.04 container (or finds in the cache: ``.ci/run``
builds it before the tests with ``python -m pytest_manylinux python 3.11``).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import wheelfactory
from conftest import ROOT, run_plugin

from pytest_manylinux.container.relocate import RPATH_PLACEHOLDER, SYSTEM, DynamicStrings, bundled_name
from pytest_manylinux.core.distros import (
    DEFAULT_PORTABLE_VERSIONS,
    PortableSource,
    PythonConfig,
    load_distros_file,
)
from pytest_manylinux.core.interpreters import portable_abi
from pytest_manylinux.core.tags import Libc
from pytest_manylinux.engine import portable
from pytest_manylinux.engine.portable import (
    ARCHIVE_SOURCES,
    BUILD_IMAGE_RECIPE,
    LIBRARY_SOURCES,
    RECIPE,
    Builder,
    Obtained,
    Provider,
    analyse,
    build_image_ref,
    build_steps,
    check_argv,
    expected_modules,
    find_interpreter,
    from_local,
    from_url,
    library_steps,
    obtain,
    orig_tarball,
    parse_dsc,
    parse_sources_index,
    read_manifest,
    repack,
    source_tree,
    with_local_sources,
)
from pytest_manylinux.errors import BuildFailed, PortableError

# -- the distro archive's source packages ---------------------------------------------------------

_A, _B, _C, _D = ("a" * 64, "b" * 64, "c" * 64, "d" * 64)

SOURCES = f"""Package: python3.11
Binary: python3.11, python3.11-venv
Version: 3.11.2-6+deb12u5
Directory: pool/main/p/python3.11
Checksums-Sha256:
 {_A} 3805 python3.11_3.11.2-6+deb12u5.dsc
 {_B} 26437858 python3.11_3.11.2.orig.tar.gz

Package: python3.11
Version: 3.11.2-6+deb12u8
Directory: pool/main/p/python3.11
Checksums-Sha256:
 {_C} 3805 python3.11_3.11.2-6+deb12u8.dsc
 {_B} 26437858 python3.11_3.11.2.orig.tar.gz
 {_D} 279556 python3.11_3.11.2-6+deb12u8.debian.tar.xz

Package: python3.11-doc-only
Version: 9.9-1
Directory: pool/main/p/python3.11-doc-only
Checksums-Sha256:
 {_A} 1 python3.11-doc-only_9.9-1.dsc
"""

DSC = f"""-----BEGIN PGP SIGNED MESSAGE-----
Hash: SHA512

Format: 3.0 (quilt)
Source: python3.11
Version: 3.11.2-6+deb12u8
Checksums-Sha1:
 54d04be4309e6fb445477dd0ae2ac548cee473e7 26437858 python3.11_3.11.2.orig.tar.gz
Checksums-Sha256:
 {_B} 26437858 python3.11_3.11.2.orig.tar.gz
 {_D} 279556 python3.11_3.11.2-6+deb12u8.debian.tar.xz
Files:
 f6b5226ccba5ae1ca9376aaba0b0f673 26437858 python3.11_3.11.2.orig.tar.gz

-----BEGIN PGP SIGNATURE-----
iQIzBAEBCgAdFiEE
-----END PGP SIGNATURE-----
"""


def test_sources_index_gives_the_newest_stanza_of_the_package() -> None:
    package = parse_sources_index(SOURCES, "python3.11")
    assert package.version == "3.11.2-6+deb12u8"
    assert package.directory == "pool/main/p/python3.11"
    assert package.dsc == "python3.11_3.11.2-6+deb12u8.dsc"
    assert package.files[package.dsc] == _C


def test_sources_index_without_the_package() -> None:
    with pytest.raises(PortableError, match=r"no source package 'python3\.12'"):
        parse_sources_index(SOURCES, "python3.12")


def test_dsc_checksums_are_read_through_the_signature() -> None:
    files = parse_dsc(DSC)
    assert files == {"python3.11_3.11.2.orig.tar.gz": _B, "python3.11_3.11.2-6+deb12u8.debian.tar.xz": _D}
    assert orig_tarball(files) == "python3.11_3.11.2.orig.tar.gz"


def test_dsc_without_sha256_checksums() -> None:
    with pytest.raises(PortableError, match="no Checksums-Sha256"):
        parse_dsc("Format: 3.0 (quilt)\nFiles:\n 0123 1 x.orig.tar.gz\n")


def test_orig_tarball_is_never_its_signature_or_the_debian_tarball() -> None:
    files = {"p_3.13.5.orig.tar.xz.asc": _A, "p_3.13.5-2.debian.tar.xz": _B, "p_3.13.5.orig.tar.xz": _C}
    assert orig_tarball(files) == "p_3.13.5.orig.tar.xz"
    with pytest.raises(PortableError, match=r"no \.orig\.tar"):
        orig_tarball({"p_1-1.debian.tar.xz": _A})


def test_every_default_version_has_an_archive_source() -> None:
    assert {v.rstrip("t") for v in DEFAULT_PORTABLE_VERSIONS} <= set(ARCHIVE_SOURCES)


def _tar(path: Path, members: dict[str, bytes | None], links: dict[str, str] | None = None) -> Path:
    """A tar.gz of files (bytes) and directories (None), plus symlinks name -> target."""
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            else:
                info.size = len(data)
                info.mode = 0o755 if "/bin/" in name else 0o600
                tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return path


def test_source_tree_of_a_cpython_tarball(tmp_path: Path) -> None:
    tarball = _tar(
        tmp_path / "python3.11_3.11.9.orig.tar.gz", {"Python-3.11.9": None, "Python-3.11.9/configure": b"#!"}
    )
    assert source_tree(tarball) == ("Python-3.11.9", "3.11.9")
    other = _tar(tmp_path / "other.tar.gz", {"zlib-1.3/configure": b"#!"})
    with pytest.raises(PortableError, match="not a CPython source tarball"):
        source_tree(other)


def test_build_steps() -> None:
    steps = {
        name: command for name, command, _timeout in build_steps("3.11", "Python-3.11.2", "/opt/p", "s.tgz")
    }
    assert list(steps) == ["unpack", "configure", "make", "install", "relocate"]
    configure = steps["configure"]
    assert "--prefix=/opt/p" in configure
    assert "--enable-optimizations" not in configure  # PGO triples the build time
    assert "--disable-test-modules" in configure
    assert "--with-openssl=/opt/pytest-manylinux/deps" in configure  # the build image's OpenSSL 1.1.1
    assert "PKG_CONFIG_PATH=/opt/pytest-manylinux/deps/lib/pkgconfig" in configure
    assert "OPT='-DNDEBUG -fwrapv -O2 -Wall'" in configure  # no -g, no -O3
    assert "py_cv_module__curses" not in configure
    assert "relocate.py /opt/p 3.11" in steps["relocate"]


def test_curses_is_configured_out_from_313() -> None:
    # 3.13's _cursesmodule.c does not compile against 16.04's ncurses: left out, reported missing.
    for version, out in (("3.12", False), ("3.13", True), ("3.14", True)):
        configure = dict((n, c) for n, c, _ in build_steps(version, "P", "/opt/p", "s.tgz"))["configure"]
        assert ("py_cv_module__curses=n/a py_cv_module__curses_panel=n/a" in configure) is out, version


def test_the_build_image_makes_static_libraries_from_checked_sources() -> None:
    steps = {n: c for n, c, _ in library_steps({"openssl": "o.tgz", "sqlite3": "s.txz", "libzstd": "z.txz"})}
    assert list(steps) == ["packages", "openssl", "sqlite3", "zstd", "link-scripts", "clean"]
    assert (
        "INPUT(/opt/pytest-manylinux/deps/lib/lib${name}_pic.a -ldl -lpthread -lm)" in steps["link-scripts"]
    )
    assert "libffi-dev" in steps["packages"]
    assert "zlib1g-dev" in steps["packages"]
    assert "no-shared" in steps["openssl"]
    assert "-fPIC" in steps["openssl"]
    assert "/opt/pytest-manylinux/deps-src/o.tgz" in steps["openssl"]
    assert "libsqlite3.a" in steps["sqlite3"]
    assert "libzstd.a" in steps["zstd"]
    assert set(LIBRARY_SOURCES) == {"openssl", "sqlite3", "libzstd"}
    assert build_image_ref(load_distros_file().build_distro) == (
        f"pytest-manylinux/python-build:ubuntu_16.04-b{BUILD_IMAGE_RECIPE}"
    )


def test_modules_checked_per_version() -> None:
    assert "_zstd" not in expected_modules("3.13")
    assert "_zstd" in expected_modules("3.14")
    assert {"_ssl", "_sqlite3", "_ctypes", "_curses", "_tkinter"} <= set(expected_modules("3.8"))
    argv = check_argv("3.12", "/opt/p")
    assert argv[:3] == ["/opt/p/bin/python3.12", "-I", "-c"]
    assert argv[-1] == ",".join(expected_modules("3.12"))


def test_the_check_names_what_is_missing() -> None:
    # The check's own code, run by this interpreter on modules it has and one it cannot have.
    out = subprocess.run(
        [sys.executable, "-I", "-c", portable._CHECK, "zlib,_ctypes,_pm_no_such_module"],
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["missing"] == ["_pm_no_such_module"]
    assert "_pm_no_such_module" in out.stderr


# -- relocate.py's rules ----------------------------------------------------------------------


def test_glibc_libraries_are_never_bundled_and_nothing_else_counts_as_glibc() -> None:
    assert {"libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "ld-linux-x86-64.so.2"} <= SYSTEM
    for other in ("libffi.so.6", "libz.so.1", "libstdc++.so.6", "libgcc_s.so.1", "libsqlite3.so.0"):
        assert other not in SYSTEM


def test_carried_libraries_get_names_of_the_same_length_no_distro_uses() -> None:
    assert bundled_name("libffi.so.6") == "pm_ffi.so.6"
    assert bundled_name("libbz2.so.1.0") == "pm_bz2.so.1.0"
    for soname in ("libz.so.1", "libgdbm_compat.so.3", "libsqlite3.so.0"):
        assert len(bundled_name(soname)) == len(soname)
    with pytest.raises(SystemExit, match="only lib"):
        bundled_name("ld-linux-x86-64.so.2")


def _dynamic(path: Path) -> str:
    return subprocess.run(["readelf", "-dW", str(path)], capture_output=True, text=True, check=True).stdout


def test_names_and_rpath_are_edited_in_place(tmp_path: Path) -> None:
    # What relocate.py does to each file: rename what it needs (and its own soname), put the real
    # $ORIGIN path where the link-time placeholder is, and never change the file's size.
    (tmp_path / "m.c").write_text("#include <zlib.h>\nconst char *v(void) { return zlibVersion(); }\n")
    module = tmp_path / "m.so"
    _cc(
        [
            "-shared",
            "-fPIC",
            "-Wl,-soname,libm_test.so.1",
            f"-Wl,--disable-new-dtags,-rpath,{RPATH_PLACEHOLDER}",
            "-o",
            str(module),
            "m.c",
            "-lz",
        ],
        tmp_path,
    )
    size = module.stat().st_size
    table = DynamicStrings(str(module))
    assert "libz.so.1" in table.needed()
    renamed = table.rename({"libz.so.1": "pm_z.so.1", "libm_test.so.1": "pm_m_test.so.1"})
    assert sorted(renamed) == ["libm_test.so.1", "libz.so.1"]
    assert table.set_rpath("$ORIGIN/../..")
    table.save()
    assert module.stat().st_size == size
    dynamic = _dynamic(module)
    assert "Shared library: [pm_z.so.1]" in dynamic
    assert "libz.so.1" not in dynamic
    assert "Library soname: [pm_m_test.so.1]" in dynamic
    assert "(RPATH)              Library rpath: [$ORIGIN/../..]" in dynamic
    assert not DynamicStrings(str(module)).set_rpath("$ORIGIN")  # the placeholder is gone
    with pytest.raises(SystemExit, match="does not fit"):
        DynamicStrings(str(module)).rename({"pm_z.so.1": "a-much-longer-name.so.1"})


# -- archives ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["python/bin/python3.11", "python/bin/python3", "python/lib/python3.11/os.py"], ("python", "3.11")),
        (["python/install/bin/python3.12", "python/build/bin/python3.12x"], ("python/install", "3.12")),
        (["./cpython-3.13.1/bin/python3.13"], ("cpython-3.13.1", "3.13")),
        (["bin/python3.10", "lib/python3.10/os.py"], ("", "3.10")),
    ],
    ids=["install-only", "full-distribution", "dot-slash", "bare-prefix"],
)
def test_find_interpreter(names: list[str], expected: tuple[str, str]) -> None:
    assert find_interpreter(names) == expected


def test_find_interpreter_of_another_version_or_none() -> None:
    with pytest.raises(PortableError, match=r"no bin/python3\.11 in it"):
        find_interpreter(["python/bin/python3.12"], "3.11")
    with pytest.raises(PortableError, match="not a CPython installation"):
        find_interpreter(["usr/bin/perl"])


def _fake_prefix(root: Path, version: str = "3.11", micro: int = 9) -> Path:
    (root / "bin").mkdir(parents=True)
    executable = root / "bin" / f"python{version}"
    executable.write_text("#!/bin/sh\n")
    executable.chmod(0o700)
    (root / "bin" / "python3").symlink_to(f"python{version}")
    include = root / "include" / f"python{version}"
    include.mkdir(parents=True)
    (include / "patchlevel.h").write_text(
        f'#define PY_VERSION              "{version.rstrip("t")}.{micro}"\n'
    )
    lib = root / "lib" / f"python{version}"
    lib.mkdir(parents=True)
    (lib / "os.py").write_text("")
    return root


def test_repack_keeps_the_prefix_only_and_nothing_unsafe(tmp_path: Path) -> None:
    source = _tar(
        tmp_path / "cpython-3.12.7-full.tar.gz",
        {
            "python/install/bin/python3.12": b"#!",
            "python/install/lib/python3.12/os.py": b"",
            "python/build/objects.o": b"",
            "python/install/../../../etc/passwd": b"",
        },
        links={
            "python/install/bin/python3": "python3.12",
            "python/install/lib/escape": "../../../../etc",
            "python/install/lib/absolute": "/etc/passwd",
        },
    )
    assert repack(source, tmp_path / "out.tar.gz") == "3.12"
    with tarfile.open(tmp_path / "out.tar.gz") as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert sorted(members) == ["python/bin/python3", "python/bin/python3.12", "python/lib/python3.12/os.py"]
    for m in members.values():
        assert (m.uid, m.gid) == (0, 0)
        if m.isfile():
            assert m.mode & 0o444 == 0o444  # readable by the unprivileged user the checks run as
    assert members["python/bin/python3.12"].mode & 0o111 == 0o111


def test_analyse_reads_version_and_finds_nothing_to_worry_about_in_a_plain_prefix(tmp_path: Path) -> None:
    repack(_fake_prefix(tmp_path / "prefix"), tmp_path / "p.tar.gz")
    analysis = analyse(tmp_path / "p.tar.gz", "3.11")
    assert analysis.member == "python/bin/python3.11"
    assert analysis.version == (3, 11, 9)
    assert (analysis.unmet, analysis.forbidden, analysis.elf_files) == ((), (), 0)


def _cc(args: list[str], cwd: Path) -> None:
    subprocess.run(["gcc", *args], cwd=cwd, check=True, capture_output=True)


def test_analyse_follows_origin_runpaths_and_names_what_is_missing(tmp_path: Path) -> None:
    # A bundled library beside the interpreter, an extension that finds it through $ORIGIN/../..,
    # one that needs it without a RUNPATH (found nowhere), and a carried libstdc++ (never allowed).
    prefix = _fake_prefix(tmp_path / "prefix")
    lib, dynload = prefix / "lib", prefix / "lib" / "python3.11" / "lib-dynload"
    dynload.mkdir()
    (tmp_path / "dep.c").write_text('#include <stdio.h>\nint dep(void) { return puts("x"); }\n')
    (tmp_path / "ext.c").write_text("int dep(void); int ext(void) { return dep(); }\n")
    dep = lib / "libdep-0a1b2c3d.so.1"
    _cc(["-shared", "-fPIC", "-Wl,-soname,libdep-0a1b2c3d.so.1", "-o", str(dep), "dep.c"], tmp_path)
    common = ["-shared", "-fPIC", "ext.c", f"-L{lib}", "-l:libdep-0a1b2c3d.so.1"]
    _cc(
        [*common, "-Wl,-rpath,$ORIGIN/../..", "-o", str(dynload / "_good.cpython-311-x86_64-linux-gnu.so")],
        tmp_path,
    )
    _cc([*common, "-o", str(dynload / "_lost.cpython-311-x86_64-linux-gnu.so")], tmp_path)
    (lib / "libstdc++.so.6").write_bytes((lib / "libdep-0a1b2c3d.so.1").read_bytes())
    repack(prefix, tmp_path / "p.tar.gz")
    analysis = analyse(tmp_path / "p.tar.gz", "3.11")
    lost = "python/lib/python3.11/lib-dynload/_lost.cpython-311-x86_64-linux-gnu.so"
    assert analysis.unmet == (f"{lost} needs libdep-0a1b2c3d.so.1",)
    assert analysis.forbidden == ("python/lib/libstdc++.so.6",)
    assert "python/lib/libdep-0a1b2c3d.so.1" in analysis.bundled
    assert str(analysis.glibc) == "2.2"  # puts@GLIBC_2.2.5, the x86_64 baseline
    assert analysis.elf_files == 4


def test_analyse_reads_the_executable_behind_a_hard_link(tmp_path: Path) -> None:
    # A free-threaded install: bin/python3.13t is a hard link to bin/python3.13, which the tar stores
    # first. A carried library without an RPATH of its own (pm_outer) finds the one it needs (pm_inner)
    # through the executable's RPATH only, as the loader does.
    prefix = _fake_prefix(tmp_path / "prefix", "3.13")
    lib = prefix / "lib"
    (tmp_path / "inner.c").write_text("int inner(void) { return 1; }\n")
    (tmp_path / "outer.c").write_text("int inner(void); int outer(void) { return inner(); }\n")
    (tmp_path / "main.c").write_text("int main(void) { return 0; }\n")
    _cc(
        ["-shared", "-fPIC", "-Wl,-soname,pm_inner.so.1", "-o", str(lib / "pm_inner.so.1"), "inner.c"],
        tmp_path,
    )
    outer = ["-shared", "-fPIC", "-Wl,-soname,pm_outer.so.1", "outer.c", f"-L{lib}", "-l:pm_inner.so.1"]
    _cc([*outer, "-o", str(lib / "pm_outer.so.1")], tmp_path)
    executable = prefix / "bin" / "python3.13"
    executable.unlink()
    _cc(["main.c", "-Wl,--disable-new-dtags,-rpath,$ORIGIN/../lib", "-o", str(executable)], tmp_path)
    os.link(executable, prefix / "bin" / "python3.13t")
    with tarfile.open(tmp_path / "p.tar.gz", "w:gz") as tar:
        tar.add(prefix, arcname="python")
    with tarfile.open(tmp_path / "p.tar.gz") as tar:
        assert tar.getmember("python/bin/python3.13t").islnk()
    analysis = analyse(tmp_path / "p.tar.gz", "3.13t")
    assert analysis.member == "python/bin/python3.13t"
    assert analysis.unmet == ()


# -- the cache and the sources, in order ---------------------------------------------------------


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PYTEST_MANYLINUX_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path / "no-uv-here"))  # no uv unless a test puts one there
    return tmp_path / "cache" / "python"


def _lines() -> tuple[list[str], Any]:
    lines: list[str] = []
    return lines, lines.append


def test_cache_dir_follows_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_MANYLINUX_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert portable.cache_dir() == tmp_path / "xdg" / "pytest-manylinux" / "python"


def test_a_local_prefix_is_imported_once_and_again_when_it_changes(cache: Path, tmp_path: Path) -> None:
    prefix = _fake_prefix(tmp_path / "prefix")
    lines, progress = _lines()
    first = from_local(prefix, "3.11", None, progress)
    assert first.how == "made"
    assert first.portable.origin == "local"
    assert first.portable.version == (3, 11, 9)
    assert first.portable.archive.parent.parent == cache
    manifest = first.portable.archive.with_name("manifest.json")
    stamp = manifest.stat().st_mtime_ns
    again = from_local(prefix, "3.11", None, progress)
    assert again.how == "cached"
    assert again.portable == first.portable
    assert manifest.stat().st_mtime_ns == stamp
    assert len([line for line in lines if "importing" in line]) == 1
    later = time.time() + 5
    os.utime(prefix / "bin" / "python3.11", (later, later))
    assert from_local(prefix, "3.11", None, progress).how == "made"


def test_a_changed_archive_is_not_trusted(cache: Path, tmp_path: Path) -> None:
    got = from_local(_fake_prefix(tmp_path / "prefix"), "3.11", None, _lines()[1])
    entry = got.portable.archive.parent
    assert read_manifest(entry) == got.portable
    got.portable.archive.write_bytes(b"not the archive it was")
    assert read_manifest(entry) is None


def test_a_local_path_that_is_not_a_prefix(cache: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(PortableError, match=r"no bin/python3\.11 in it"):
        from_local(tmp_path / "empty", "3.11", None, _lines()[1])
    with pytest.raises(PortableError, match="no such file or directory"):
        from_local(tmp_path / "nowhere", "3.11", None, _lines()[1])


def test_a_download_is_cached_only_when_its_checksum_matches(cache: Path, tmp_path: Path) -> None:
    tarball = tmp_path / "cpython-3.11.9.tar.gz"
    repack(_fake_prefix(tmp_path / "prefix"), tarball)
    digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
    with pytest.raises(PortableError, match=r"has sha256 .* not the expected"):
        from_url(tarball.as_uri(), "0" * 64, "3.11", _lines()[1])
    assert not list(cache.glob("download-*"))
    lines, progress = _lines()
    got = from_url(tarball.as_uri(), digest, "3.11", progress)
    assert (got.how, got.portable.origin) == ("made", "download")
    assert any("100% of" in line for line in lines)
    assert from_url(tarball.as_uri(), digest, "3.11", progress).how == "cached"


def _fake_uv(tmp_path: Path, managed: Path) -> None:
    """A `uv` on PATH whose managed pythons live in ``managed``; `uv python install` makes one there."""
    bindir = tmp_path / "no-uv-here"
    bindir.mkdir(exist_ok=True)
    uv = bindir / "uv"
    uv.write_text(
        "#!/bin/sh\nPATH=/usr/bin:/bin\n"
        f'if [ "$1 $2" = "python dir" ]; then echo {managed}; exit 0; fi\n'
        f'if [ "$1 $2" = "python install" ]; then d={managed}/cpython-$3.4-linux-x86_64-gnu; '
        "mkdir -p $d/bin $d/lib && touch $d/bin/python$3 && chmod +x $d/bin/python$3; exit 0; fi\n"
        "exit 2\n"
    )
    uv.chmod(0o755)


class _FakeBuilder(Builder):
    def __init__(self) -> None:
        self.calls: list[str] = []

    def build(self, version: str, spec: PortableSource) -> Obtained:
        self.calls.append(version)
        raise PortableError("the fake builder builds nothing")


def test_sources_in_order_local_uv_download_build(cache: Path, tmp_path: Path) -> None:
    managed = tmp_path / "uv-pythons"
    _fake_prefix(managed / "cpython-3.11.7-linux-x86_64-gnu", micro=7)
    _fake_prefix(managed / "cpython-3.11.9+freethreaded-linux-x86_64-gnu", micro=9)  # never chosen
    tarball = tmp_path / "download.tar.gz"
    repack(_fake_prefix(tmp_path / "downloadable", micro=5), tarball)
    digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
    local = _fake_prefix(tmp_path / "local", micro=3)
    builder = _FakeBuilder()
    progress = _lines()[1]

    everything = PythonConfig(
        sources={"3.11": PortableSource("3.11", path=str(local), url=tarball.as_uri(), sha256=digest)}
    )
    no_local = PythonConfig(sources={"3.11": PortableSource("3.11", url=tarball.as_uri(), sha256=digest)})

    # 1. the configured local path, even where uv and a download are there too
    _fake_uv(tmp_path, managed)
    assert obtain("3.11", everything, builder, progress).portable.version == (3, 11, 3)
    # 2. uv's managed CPython (the newest non-free-threaded one)
    got = obtain("3.11", no_local, builder, progress).portable
    assert (got.origin, got.version) == ("uv", (3, 11, 7))
    # 3. the download, when uv is off
    got = obtain("3.11", PythonConfig(uv=False, sources=no_local.sources), builder, progress).portable
    assert (got.origin, got.version) == ("download", (3, 11, 5))
    # 4. the build, last
    assert builder.calls == []
    with pytest.raises(PortableError, match="the fake builder"):
        obtain("3.11", PythonConfig(uv=False), builder, progress)
    assert builder.calls == ["3.11"]


def test_free_threaded_builds_are_their_own_versions(cache: Path, tmp_path: Path) -> None:
    managed = tmp_path / "uv-pythons"
    _fake_prefix(managed / "cpython-3.13.4-linux-x86_64-gnu", "3.13", micro=4)
    _fake_prefix(managed / "cpython-3.13.5+freethreaded-linux-x86_64-gnu", "3.13t", micro=5)
    assert [p.name for p in portable.uv_installs(managed, "3.13")] == ["cpython-3.13.4-linux-x86_64-gnu"]
    assert [p.name for p in portable.uv_installs(managed, "3.13t")] == [
        "cpython-3.13.5+freethreaded-linux-x86_64-gnu"
    ]
    assert find_interpreter(["python/bin/python3.13", "python/bin/python3.13t"], "3.13t") == (
        "python",
        "3.13t",
    )
    got = from_local(_fake_prefix(tmp_path / "ft", "3.13t"), "3.13t", None, _lines()[1]).portable
    assert (got.short, got.version, got.member) == ("3.13t", (3, 13, 9), "python/bin/python3.13t")
    assert portable.cached_versions() == {"3.13t"}
    configure = {n: c for n, c, _ in build_steps("3.13t", "Python-3.13.5", "/opt/p", "s.tgz")}["configure"]
    assert "--disable-gil" in configure
    assert "--disable-gil" not in {n: c for n, c, _ in build_steps("3.13", "P", "/o", "s")}["configure"]
    assert check_argv("3.14t", "/opt/p")[0] == "/opt/p/bin/python3.14t"
    assert "_zstd" in expected_modules("3.14t")


def test_uv_python_install_when_uv_has_none(cache: Path, tmp_path: Path) -> None:
    managed = tmp_path / "uv-pythons"
    managed.mkdir()
    _fake_uv(tmp_path, managed)
    lines, progress = _lines()
    got = obtain("3.12", PythonConfig(build=False), None, progress)
    assert got.portable.origin == "uv"
    assert "portable CPython 3.12: uv python install 3.12" in lines


def test_no_source_says_why_for_each(cache: Path) -> None:
    with pytest.raises(PortableError) as excinfo:
        obtain("3.11", PythonConfig(build=False), None, _lines()[1])
    assert str(excinfo.value) == (
        "no portable CPython 3.11 could be had: uv is not on PATH; "
        "building from source is off ([python] build = false)"
    )
    with pytest.raises(PortableError, match="building from source needs the container engine"):
        obtain("3.11", PythonConfig(uv=False), None, _lines()[1])


def test_provider_gets_each_version_once_and_remembers_failures(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = portable.obtain

    def counting(version: str, *args: Any) -> Obtained:
        calls.append(version)
        return real(version, *args)

    monkeypatch.setattr(portable, "obtain", counting)
    local = _fake_prefix(tmp_path / "local")
    config = PythonConfig(build=False, uv=False, sources={"3.11": PortableSource("3.11", path=str(local))})
    provider = Provider(config, None, None, _lines()[1])
    assert provider.get("3.11") is provider.get("3.11")
    assert "3.11" in provider.ready()
    for _ in range(2):
        with pytest.raises(PortableError, match=r"no portable CPython 3\.12"):
            provider.get("3.12")
    assert calls == ["3.11", "3.12"]


class _ScriptedBuilder(Builder):
    """A builder whose builds fail (with :class:`BuildFailed`, or a network error) or make a fake prefix."""

    def __init__(self, tmp_path: Path, outcome: str, *, retry: bool = False) -> None:
        super().__init__(None, load_distros_file().build_distro, _lines()[1], retry=retry)  # type: ignore[arg-type]
        self.tmp_path = tmp_path
        self.outcome = outcome
        self.calls = 0

    def _build_into(self, tmp: Path, version: str, spec: PortableSource) -> dict[str, Any]:
        self.calls += 1
        if self.outcome == "fails":
            raise BuildFailed(f"building CPython {version} failed at 'make' (exit 2): _cursesmodule.c: error")
        if self.outcome == "offline":
            raise PortableError("cannot fetch http://deb.debian.org/...: no route to host")
        prefix = _fake_prefix(self.tmp_path / f"built-{self.calls}", version)
        repack(prefix, tmp / portable.ARCHIVE_NAME, version)
        return {"origin": "built", "detail": "a scripted build", "missing": ["_tkinter"]}


def test_a_failed_build_is_remembered_with_its_recipe_and_retried_when_asked(
    cache: Path, tmp_path: Path
) -> None:
    spec = PortableSource("3.11")
    failing = _ScriptedBuilder(tmp_path, "fails")
    assert failing.key("3.11", spec).endswith(f"-archive-r{RECIPE}")
    with pytest.raises(BuildFailed, match=r"_cursesmodule\.c"):
        failing.build("3.11", spec)
    remembered = failing.failure("3.11", spec)
    assert remembered is not None
    assert remembered["recipe"] == RECIPE
    assert "_cursesmodule.c" in remembered["error"]
    # Later runs (a new provider, another session) do not build it again: they say why, and how to retry.
    with pytest.raises(
        PortableError, match=r"not tried again.*python 3\.11 --retry.*_cursesmodule"
    ) as excinfo:
        failing.build("3.11", spec)
    assert not isinstance(excinfo.value, BuildFailed)
    with pytest.raises(PortableError, match="not tried again"):
        obtain("3.11", PythonConfig(uv=False), failing, _lines()[1])
    assert failing.calls == 1
    # --retry builds again; a success replaces the memory of the failure.
    retrying = _ScriptedBuilder(tmp_path, "works", retry=True)
    got = retrying.build("3.11", spec)
    assert (retrying.calls, got.how, got.portable.missing) == (1, "made", ("_tkinter",))
    assert retrying.failure("3.11", spec) is None
    assert read_manifest(cache / retrying.key("3.11", spec)) == got.portable
    assert json.loads(got.portable.archive.with_name("manifest.json").read_text())["missing"] == ["_tkinter"]


def test_a_failure_of_another_recipe_or_of_the_network_is_not_remembered(cache: Path, tmp_path: Path) -> None:
    spec = PortableSource("3.12")
    offline = _ScriptedBuilder(tmp_path, "offline")
    for _ in range(2):
        with pytest.raises(PortableError, match="no route to host"):
            offline.build("3.12", spec)
    assert offline.calls == 2
    assert offline.failure("3.12", spec) is None
    # A failure.json written by another recipe is not this recipe's failure.
    entry = cache / offline.key("3.12", spec)
    entry.mkdir(parents=True)
    (entry / portable.FAILURE_NAME).write_text(json.dumps({"recipe": RECIPE - 1, "error": "old"}))
    works = _ScriptedBuilder(tmp_path, "works")
    assert works.build("3.12", spec).how == "made"


def test_local_sources_from_the_command_line(tmp_path: Path) -> None:
    tarball = tmp_path / "cpython-3.13.tar.gz"
    repack(_fake_prefix(tmp_path / "p313", "3.13"), tarball)
    config = with_local_sources(
        PythonConfig(versions=("3.11",)), [str(tarball), str(_fake_prefix(tmp_path / "p311"))]
    )
    assert config.versions == ("3.11", "3.13")
    assert config.source("3.13").path == str(tarball)
    assert config.source("3.11").path == str(tmp_path / "p311")
    with pytest.raises(PortableError, match="not a CPython installation"):
        with_local_sources(PythonConfig(), [str(tmp_path)])


# -- against the real engine: the CPython 3.11 the project builds ------------------------------------

#: the glibc distros: the portable CPythons are glibc builds (musl distros get their own, tests/test_musl.py)
ALL = [d.name for d in load_distros_file().distros if d.libc is Libc.GLIBC]


@pytest.fixture(scope="session")
def built_311(portable_311: portable.Portable) -> portable.Portable:
    return portable_311


def test_second_use_is_a_cache_hit_without_a_build(engine: Any, built_311: portable.Portable) -> None:
    manifest = built_311.archive.with_name("manifest.json")
    before = (manifest.stat().st_mtime_ns, built_311.archive.stat().st_mtime_ns)

    class NoBuild(Builder):
        def _build_into(self, tmp: Path, version: str, spec: PortableSource) -> dict[str, Any]:
            raise AssertionError("the second use built CPython again")

    lines: list[str] = []
    builder = NoBuild(engine, load_distros_file().build_distro, lines.append)  # type: ignore[arg-type]
    got = obtain("3.11", PythonConfig(uv=False), builder, lines.append)
    assert got.how == "cached"
    assert got.portable == built_311
    assert (manifest.stat().st_mtime_ns, built_311.archive.stat().st_mtime_ns) == before
    assert lines == []


def test_the_build_is_small_and_says_where_it_came_from(built_311: portable.Portable) -> None:
    assert built_311.origin == "built"
    assert built_311.version[:2] == (3, 11)
    assert re.match(
        r"built from python3\.11_3\.11\.\d+\.orig\.tar\.\w+ in ubuntu:16\.04$",
        built_311.detail,
    )
    assert built_311.archive.parent.name == f"built-3.11-ubuntu_16.04-archive-r{RECIPE}"
    assert built_311.size < 20_000_000, built_311.size  # no test suite, static libpython or debug info
    # It runs on the oldest glibc of the matrix: it needs nothing newer than 16.04's 2.23.
    assert built_311.glibc is not None
    assert str(built_311.glibc) <= "2.23"
    assert built_311.warnings == ()
    bundled = {Path(p).name.split(".")[0] for p in built_311.bundled}
    assert {"pm_ffi", "pm_z", "pm_bz2", "pm_lzma"} <= bundled
    # OpenSSL and SQLite of the build image are linked in statically: nothing of theirs to carry
    assert not bundled & {"pm_ssl", "pm_crypto", "pm_sqlite3"}
    manifest = json.loads(built_311.archive.with_name("manifest.json").read_text())
    assert manifest["libraries"]["ssl"].startswith("OpenSSL 1.1.1")
    assert manifest["libraries"]["sqlite3"] >= "3.34"


@pytest.fixture(scope="module")
def unpacked_311(built_311: portable.Portable, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("portable311")
    with tarfile.open(built_311.archive) as tar:
        tar.extractall(root, filter="tar") if hasattr(tarfile, "data_filter") else tar.extractall(root)
    return root


def _readelf(path: Path) -> dict[str, list[str]] | None:
    """NEEDED, RPATH and RUNPATH as binutils' readelf sees them, or None for a file that is not ELF."""
    with path.open("rb") as f:
        if f.read(4) != b"\x7fELF":
            return None
    out = subprocess.run(["readelf", "-dW", str(path)], capture_output=True, text=True, check=True).stdout
    paths = {
        tag: [e for v in re.findall(rf"\({tag}\)\s+Library \w+: \[([^\]]*)\]", out) for e in v.split(":")]
        for tag in ("RPATH", "RUNPATH")
    }
    return {"NEEDED": re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out), **paths}


def test_every_needed_library_is_glibcs_own_or_carried_beside_it(unpacked_311: Path) -> None:
    # Checked with binutils' readelf, independently of the project's own ELF reader, with the
    # loader's rules: a file's RUNPATH alone, or else its RPATH and that of the executable.
    executable = unpacked_311 / "python" / "bin" / "python3.11"
    exe = _readelf(executable)
    assert exe is not None
    assert exe["RPATH"] == ["$ORIGIN/../lib"]
    assert exe["RUNPATH"] == []
    inherited = [Path(e.replace("$ORIGIN", str(executable.parent))) for e in exe["RPATH"]]
    elves = 0
    for path in sorted(p for p in unpacked_311.rglob("*") if p.is_file() and not p.is_symlink()):
        facts = _readelf(path)
        if facts is None:
            continue
        elves += 1
        assert not re.match(r"^(libc\.so|ld-linux|libstdc\+\+|libgcc_s|libm\.so|libpthread)", path.name), path
        own = [Path(e.replace("$ORIGIN", str(path.parent))) for e in facts["RUNPATH"] or facts["RPATH"]]
        dirs = own if facts["RUNPATH"] else own + inherited
        for library in facts["NEEDED"]:
            if library in SYSTEM:
                continue
            assert library.startswith("pm_"), (
                f"{path.relative_to(unpacked_311)} needs {library} of the distro"
            )
            assert any((d / library).is_file() for d in dirs), (
                f"{path.relative_to(unpacked_311)}: {library} not found"
            )
    assert elves > 60  # the interpreter, its ~67 extension modules, the carried libraries


@pytest.fixture(scope="module")
def runners(
    engine: Any, built_311: portable.Portable, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    from pytest_manylinux.engine.runner import DistroRunner, RunConfig, prepare

    tmp = tmp_path_factory.mktemp("payloads")

    matrix = load_distros_file()
    provider = Provider(PythonConfig(uv=False), engine, matrix.build_distro, lambda line: None)
    opened: dict[str, Any] = {}
    try:
        for distro in matrix.distros:
            if distro.name not in ALL:
                continue
            runner = DistroRunner(
                engine, distro, RunConfig(), lambda line: None, lambda w: prepare(w, tmp), portables=provider
            )
            runner.open()
            opened[distro.name] = runner
        yield opened
    finally:
        for runner in opened.values():
            runner.close()


_IMPORT_EVERY_MODULE = r"""
import glob, importlib, os, sys
names = sorted(os.path.basename(p).split(".")[0] for p in glob.glob(os.path.join(
    sys.prefix, "lib", "python%d.%d" % sys.version_info[:2], "lib-dynload", "*.so")))
failed = []
for name in names:
    try:
        importlib.import_module(name)
    except Exception as e:
        failed.append("%s: %s" % (name, e))
import ctypes
ctypes.CDLL(None).getpid()
print(len(names), "modules", failed)
"""


@pytest.mark.parametrize("distro", ALL, ids=ALL)
def test_portable_311_runs_ctypes_and_every_module_on_every_distro(
    runners: dict[str, Any], distro: str
) -> None:
    runner = runners[distro]
    interpreter = runner.bring("3.11")
    assert not isinstance(interpreter, str), interpreter
    assert interpreter.origin == "portable"
    assert interpreter.version[:2] == (3, 11)
    assert interpreter.abi == "cp311"
    assert interpreter.ctypes
    assert runner.bring("3.11") is interpreter  # brought in once per container
    result = runner._container.exec(
        [interpreter.path, "-I", "-c", _IMPORT_EVERY_MODULE], user=runner.user, timeout=120
    )
    assert result.exit_code == 0, result.stderr
    count, _, failed = result.stdout.strip().partition(" modules ")
    assert int(count) > 60, result.stdout
    assert failed == "[]", result.stdout


# -- every version the project builds: each imports a wheel only it can load, on every distro ---------


#: The portable versions checked below, and built by .ci/run before the tests: the default versions whose
#: build has been seen to work, the free-threaded 3.13t and 3.14t included (README, "Interpreters").
CHECKED_VERSIONS = ("3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "3.14", "3.13t", "3.14t")


@pytest.fixture(scope="module")
def every_portable(engine: Any) -> dict[str, portable.Portable | str]:
    """Every checked portable version, built (or found in the cache); a version that cannot be had
    maps to why, so its own test fails with the reason and the others still run."""
    provider = Provider(PythonConfig(uv=False), engine, load_distros_file().build_distro, lambda line: None)
    got: dict[str, portable.Portable | str] = {}
    for version in CHECKED_VERSIONS:
        try:
            got[version] = provider.get(version)
        except PortableError as e:
            got[version] = str(e)
    return got


@pytest.fixture(scope="module")
def full_api_run(
    every_portable: dict[str, portable.Portable | str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """One plugin run, portable interpreters only, on a full-API wheel for each version (cp38 ... cp314t),
    each compiled against the headers its own portable CPython carries. The JSON, wheels by version."""
    root = tmp_path_factory.mktemp("full_api")
    wheels, headers = root / "wheels", root / "headers"
    names = {}
    for version, got in every_portable.items():
        if isinstance(got, str):
            continue
        with tarfile.open(got.archive) as tar:
            members = [m for m in tar.getmembers() if m.name.startswith(f"python/include/python{version}/")]
            safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(headers / version, members=members, **safe)  # type: ignore[arg-type]
        abi = portable_abi(version)[2]
        case = wheelfactory.full_api_case(abi, headers / version / "python" / "include" / f"python{version}")
        names[version] = wheelfactory.build(case, wheels).name
    distros = root / "distros.toml"
    distros.write_text((ROOT / "distros.toml").read_text() + '\n[python]\norder = ["portable"]\nuv = false\n')
    out = root / "results.json"
    done = run_plugin(
        [
            f"--manylinux-wheel={wheels}",
            f"--manylinux-distros-file={distros}",
            f"--manylinux-json={out}",
            "-m",
            "not musl",
            "-q",
        ],
        root,
    )
    assert out.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    document = json.loads(out.read_text())
    by_file = {w["file"]: w for w in document["wheels"]}
    return {version: by_file[name] for version, name in names.items()}


@pytest.mark.engine
@pytest.mark.parametrize("version", CHECKED_VERSIONS, ids=CHECKED_VERSIONS)
def test_each_portable_imports_its_own_full_api_wheel_on_every_distro(
    version: str, every_portable: dict[str, portable.Portable | str], full_api_run: dict[str, Any]
) -> None:
    got = every_portable[version]
    assert not isinstance(got, str), got
    assert got.short == version
    assert got.glibc is not None
    assert str(got.glibc) <= "2.23"  # runs on the oldest distro of the matrix
    assert got.warnings == ()
    # What the build distro cannot make, and nothing else: no Tk anywhere; no curses from 3.12 on (3.12's
    # configure finds no ncursesw in 16.04, 3.13's module does not compile against it: configured out).
    curses = {"_curses", "_curses_panel"} if portable_abi(version)[:2] >= (3, 12) else set()
    assert set(got.missing) == {"_tkinter"} | curses, got.missing
    wheel = full_api_run[version]
    assert wheel["verdict"] == "honest", wheel["summary"]
    rows = {d["name"]: d for d in wheel["distros"]}
    assert sorted(rows) == sorted(ALL)
    for name, row in rows.items():
        assert row["outcome"] == "ok", (name, row["cause"], row["detail"])
        assert row["interpreter"].endswith(f"({'.'.join(map(str, got.version))}, portable)"), row[
            "interpreter"
        ]
        assert f"/bin/python{version} " in row["interpreter"], row["interpreter"]


# -- the cache of builds: one helper for the glibc and the musl entries ---------------------------------


@pytest.mark.parametrize("field", ["recipe", "musl_recipe"])
def test_an_entry_is_published_whole_and_read_back_by_its_own_recipe(tmp_path: Path, field: str) -> None:
    cache = portable.EntryCache(lambda: tmp_path, field, 7)
    tmp = cache.scratch("built-3.13t-x")
    (tmp / portable.ARCHIVE_NAME).write_bytes(b"an archive")
    manifest = {
        "version": "3.13.5",
        "member": "python/bin/python3.13t",
        "origin": "built",
        "detail": "from a tarball",
        "sha256": hashlib.sha256(b"an archive").hexdigest(),
        "size": len(b"an archive"),
    }
    with cache.locked("built-3.13t-x"):
        cache.publish(tmp, tmp_path / "built-3.13t-x", manifest)
    assert not tmp.exists()
    found = cache.read(tmp_path / "built-3.13t-x")
    assert found is not None
    assert (found.version, found.member, found.glibc) == ((3, 13, 5), "python/bin/python3.13t", None)
    assert cache.versions() == {"3.13t"}
    # another recipe's cache (the other libc's builds, or an older recipe) does not see it
    other = portable.EntryCache(lambda: tmp_path, field, 8)
    assert other.read(tmp_path / "built-3.13t-x") is None
    assert other.versions() == frozenset()
    # an archive that differs from its manifest is not there
    (tmp_path / "built-3.13t-x" / portable.ARCHIVE_NAME).write_bytes(b"another")
    assert cache.read(tmp_path / "built-3.13t-x") is None
