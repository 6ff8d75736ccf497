"""Test wheels built with this host's gcc/g++: we know what each really needs because we chose its symbols.

Usage: ``python tests/wheelfactory.py OUTDIR [CASE ...]`` builds the named cases (default: all) and prints
their paths. Tests call :func:`build`. The C/C++ sources are in ``tests/wheelsrc/``; each says why it behaves
as it does, and :data:`CASES` records what ``readelf`` showed for every ELF on the build host (Debian 12:
glibc 2.36, GCC 12, binutils 2.40). The ``*_member``/``*_zip``/``*_record`` helpers at the end craft broken
wheels without a compiler.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import shutil
import stat
import struct
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SRC = HERE / "wheelsrc"
VERSION = "1.0"

# Every member gets this timestamp, and members are written in a fixed order, so a wheel's bytes depend
# only on its contents (the compilers' output is deterministic too: no -g, fixed file names).
_ZIP_DATE = (2020, 1, 1, 0, 0, 0)
# The stable ABI of Python 3.5: one ``.abi3.so`` for every distro python from 3.5 to 3.13.
_LIMITED_API = "-DPy_LIMITED_API=0x03050000"
# -fno-stack-protector and -U_FORTIFY_SOURCE pin the needs against compiler defaults: Ubuntu's gcc turns
# both on, which would add __stack_chk_fail@GLIBC_2.4 and __snprintf_chk@GLIBC_2.3.4. --as-needed is
# Debian's default made explicit, so DT_NEEDED lists only libraries a strong reference really uses.
_CFLAGS = ("-O2", "-fPIC", "-fno-stack-protector", "-U_FORTIFY_SOURCE")
_SHARED = ("-shared", "-Wl,--as-needed")
_MANYLINUX2014 = "manylinux2014_x86_64.manylinux_2_17_x86_64"
_ABI3 = "_core.abi3.so"
_CP311 = "_core.cpython-311-x86_64-linux-gnu.so"


class FactoryError(RuntimeError):
    """A test wheel could not be built: a tool is missing or a compile step failed."""


@dataclass(frozen=True)
class Elf:
    """What one ELF member of a test wheel needs, as ``readelf -V/-d/-lW`` showed it on the build host."""

    #: the member's path inside the wheel
    path: str
    #: highest ``GLIBC_x.y`` version node in ``.gnu.version_r`` (None: asks no glibc version)
    glibc: str | None
    #: highest ``GLIBCXX_x.y.z`` version node (None: does not use libstdc++)
    glibcxx: str | None = None
    #: ``DT_NEEDED`` entries, in file order
    needed: tuple[str, ...] = ("libc.so.6",)
    #: ``DT_RUNPATH``, if any
    runpath: str | None = None
    #: version nodes carrying ``VER_FLG_WEAK`` (a loader only warns when one is missing)
    weak_versions: tuple[str, ...] = ()
    #: ``PT_GNU_STACK`` asks for an executable stack (RWE)
    execstack: bool = False
    #: ``e_machine`` as ``readelf -h`` names it
    machine: str = "Advanced Micro Devices X86-64"
    #: starts with the ELF magic but is not a readable ELF: no other field applies
    corrupt: bool = False


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _highest(versions: Iterable[str | None]) -> str | None:
    present = [v for v in versions if v is not None]
    return max(present, key=_version_key) if present else None


@dataclass(frozen=True)
class Case:
    """One test wheel: how it is tagged, what its ELF files need, and how it should fare on real distros.

    The ``cause_*`` values are the plugin's failure causes: glibc, cxx-abi, missing-library,
    undefined-symbol, crash, timeout, error, missing-dependency.
    """

    #: the key in :data:`CASES`; the project is ``pm_<name>``
    name: str
    #: one line: what happens and why
    expect: str
    #: builds the package's files (not ``.dist-info``) into a scratch directory; see the ``_make_*`` recipes
    recipe: Callable[[_Build], dict[str, bytes]] = field(repr=False, compare=False)
    #: ``tests/wheelsrc`` files the recipe compiles (a cached wheel older than any of them is rebuilt)
    sources: tuple[str, ...] = ()
    #: the wheel file name's tags
    python_tag: str = "cp35"
    abi_tag: str = "abi3"
    platform_tag: str = _MANYLINUX2014
    #: every ELF member (every member starting with ``\\x7fELF``), with what it needs
    elves: tuple[Elf, ...] = ()
    #: the failure cause on distros older than :attr:`needs_glibc` / :attr:`needs_glibcxx`
    cause_below: str | None = None
    #: the failure cause on every distro of the default matrix, whatever its age
    cause_always: str | None = None
    #: glibc from which the loader refuses the wheel although older ones load it (execstack: 2.41)
    refused_from_glibc: str | None = None
    #: ``Requires-Python`` in METADATA
    requires_python: str | None = None
    #: ``Requires-Dist`` lines in METADATA
    requires_dist: tuple[str, ...] = ()
    #: a module raises a Python exception where glibc is older than this (the platform explains it)
    raises_below_glibc: str | None = None
    #: a module's Python code never ends where glibc is older than this (the platform explains it)
    hangs_below_glibc: str | None = None
    #: the wheel's code needs this Python without saying so (no Requires-Python): older interpreters raise
    #: SyntaxError, and a newer one must judge the wheel
    needs_python: str | None = None
    #: modules that raise a Python exception on every distro: the wheel's own behaviour, never the tag's
    own_exceptions: tuple[str, ...] = ()
    #: modules set aside on every distro (a dependency missing, in one of its forms)
    set_aside: tuple[str, ...] = ()
    #: the C library the wheel is tagged for: judged on distros of that libc, skipped (libc) on the others
    libc: str = "glibc"
    #: the musl version from which a musl wheel loads (a function it calls is missing before it)
    needs_musl: str | None = None
    #: symlink members, (path, target): written as zip entries with ``S_IFLNK`` whose bytes are the target,
    #: as a runtime tree zipped by hand is (pip installs each as a file holding the target, pypa/pip#10935)
    links: tuple[tuple[str, str], ...] = ()

    @property
    def project(self) -> str:
        return f"pm_{self.name}"

    @property
    def filename(self) -> str:
        return f"{self.project}-{VERSION}-{self.python_tag}-{self.abi_tag}-{self.platform_tag}.whl"

    @property
    def tags(self) -> tuple[str, ...]:
        """The expanded tag set, as the WHEEL file lists it (``Tag:`` lines)."""
        return tuple(
            f"{py}-{abi}-{plat}"
            for py in self.python_tag.split(".")
            for abi in self.abi_tag.split(".")
            for plat in self.platform_tag.split(".")
        )

    @property
    def purelib(self) -> bool:
        return self.platform_tag == "any"

    @property
    def needs_glibc(self) -> str | None:
        """The highest ``GLIBC_x.y`` any ELF in the wheel needs."""
        return _highest(e.glibc for e in self.elves)

    @property
    def needs_glibcxx(self) -> str | None:
        """The highest ``GLIBCXX_x.y.z`` any ELF in the wheel needs."""
        return _highest(e.glibcxx for e in self.elves)


# -- building ------------------------------------------------------------------------------------------


def _run(cmd: list[str], cwd: Path) -> None:
    try:
        done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    except FileNotFoundError as e:
        raise FactoryError(f"{cmd[0]!r} not found; the test wheels need gcc, g++ and binutils.") from e
    if done.returncode != 0:
        raise FactoryError(f"{' '.join(cmd)} failed with exit code {done.returncode}:\n{done.stderr}")


def _python_includes(version: tuple[int, int] | None) -> list[str]:
    """``-I`` flags for Python headers: this interpreter's, or those of CPython ``version`` exactly."""
    if version is None or sys.version_info[:2] == version:
        return ["-I" + sysconfig.get_paths()["include"]]
    config = shutil.which("python{}.{}-config".format(*version))
    if config is None:
        raise FactoryError(
            "need CPython {}.{} headers (python{}.{}-config) to build this case; run the factory with "
            "that interpreter instead.".format(*version, *version)
        )
    out = subprocess.run([config, "--includes"], capture_output=True, text=True, check=True).stdout
    return out.split()


class _Build:
    """A scratch directory and the compile steps recipes use; everything built here is returned as bytes."""

    def __init__(self, tmp: Path, case: Case) -> None:
        self.tmp = tmp
        self.case = case

    def ext(
        self,
        source: str,
        *flags: str,
        limited: bool = True,
        python: tuple[int, int] | None = None,
        libs: Iterable[str] = (),
        cc: str | None = None,
        includes: Iterable[str] | None = None,
    ) -> bytes:
        """Compile ``tests/wheelsrc/<source>`` into an extension module ``<case>._core`` (``cc``: another C
        compiler, e.g. ``musl-gcc``)."""
        compiler = cc or ("g++" if source.endswith(".cc") else "gcc")
        out = self.tmp / "_core.so"
        cmd = [
            compiler,
            *_CFLAGS,
            *_SHARED,
            *([_LIMITED_API] if limited else []),
            f'-DPM_MODULE_NAME="{self.case.project}._core"',
            *(_python_includes(python) if includes is None else includes),
            *flags,
            str(SRC / source),
            "-o",
            str(out),
            *libs,  # after the source, so the linker sees the references before the libraries
        ]
        _run(cmd, self.tmp)
        return out.read_bytes()

    def lib(self, source: str, soname: str, cc: str = "gcc") -> Path:
        """Compile a shared library with ``DT_SONAME`` ``soname``, kept in the scratch dir under that name."""
        out = self.tmp / soname
        cmd = [cc, *_CFLAGS, *_SHARED, f"-Wl,-soname,{soname}", str(SRC / source), "-o", str(out)]
        _run(cmd, self.tmp)
        return out

    def exe(self, source: str) -> bytes:
        """Compile a program the ordinary way (gcc's defaults: PIE, dynamic glibc)."""
        out = self.tmp / "a.out"
        _run(["gcc", *_CFLAGS, "-Wl,--as-needed", str(SRC / source), "-o", str(out)], self.tmp)
        return out.read_bytes()


def _init(case: Case, body: str) -> bytes:
    """The package's ``__init__.py``: Python 3.5 syntax, a docstring saying what the wheel is for."""
    doc = f"{case.project}: test wheel {case.name!r} from tests/wheelfactory.py.\n\n{case.expect}\n"
    return f'"""{doc}"""\n\n{body}'.encode()


_IMPORT_CORE = "from ._core import probe\n"


def _honest(b: _Build, *flags: str) -> dict[str, bytes]:
    p = b.case.project
    return {f"{p}/__init__.py": _init(b.case, _IMPORT_CORE), f"{p}/{_ABI3}": b.ext("honest.c", *flags)}


def _make_honest(b: _Build) -> dict[str, bytes]:
    return _honest(b)


def _make_one_source(source: str, *flags: str) -> Callable[[_Build], dict[str, bytes]]:
    """A recipe for a package that is just ``__init__.py`` and an abi3 ``_core`` built from ``source``."""

    def recipe(b: _Build) -> dict[str, bytes]:
        p = b.case.project
        return {f"{p}/__init__.py": _init(b.case, _IMPORT_CORE), f"{p}/{_ABI3}": b.ext(source, *flags)}

    return recipe


def _make_missing_lib(b: _Build) -> dict[str, bytes]:
    # The stub is linked against under its soname, then left behind in the scratch directory.
    stub = b.lib("absent.c", "libpm_absent.so.1")
    p = b.case.project
    core = b.ext("missing_lib.c", libs=[f"-L{stub.parent}", f"-l:{stub.name}"])
    return {f"{p}/__init__.py": _init(b.case, _IMPORT_CORE), f"{p}/{_ABI3}": core}


# musl (PEP 656): built with Debian's musl-gcc (musl-tools, musl 1.2.3 here), which links the unversioned
# libc.so that musl's loader answers itself. musl has no symbol versions: only the functions a file calls
# say which musl it needs.
MUSL_GCC = "musl-gcc"


def _make_musl(source: str, *flags: str, cc: str = MUSL_GCC) -> Callable[[_Build], dict[str, bytes]]:
    """An abi3 ``_core`` built from ``source`` with ``cc`` (musl-gcc, or gcc for a wheel linked to glibc)."""

    def recipe(b: _Build) -> dict[str, bytes]:
        p = b.case.project
        core = b.ext(source, *flags, cc=cc)
        return {f"{p}/__init__.py": _init(b.case, _IMPORT_CORE), f"{p}/{_ABI3}": core}

    return recipe


def _make_musl_missing_lib(b: _Build) -> dict[str, bytes]:
    stub = b.lib("absent.c", "libpm_absent.so.1", cc=MUSL_GCC)
    p = b.case.project
    core = b.ext("missing_lib.c", libs=[f"-L{stub.parent}", f"-l:{stub.name}"], cc=MUSL_GCC)
    return {f"{p}/__init__.py": _init(b.case, _IMPORT_CORE), f"{p}/{_ABI3}": core}


def _make_policy_library(b: _Build) -> dict[str, bytes]:
    # A stand-in for libGL.so.1, linked against under that soname and left behind: the manylinux policies let
    # a wheel expect libGL from the system, and the minimal distro images do not have it.
    stub = b.lib("gl_stub.c", "libGL.so.1")
    p = b.case.project
    core = b.ext("policy_library.c", libs=[f"-L{stub.parent}", f"-l:{stub.name}"])
    return {f"{p}/__init__.py": _init(b.case, _IMPORT_CORE), f"{p}/{_ABI3}": core}


_LOAD_SIBLINGS = """import ctypes
import os

_HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dll")
# The sibling first, by its file name: the loader then knows it by its soname, libpm_sibling.so.1.
_SIBLING = ctypes.CDLL(os.path.join(_HERE, "libpm_sibling.so"))
_USER = ctypes.CDLL(os.path.join(_HERE, "libpm_user.so.1"))


def probe():
    return _USER.pm_user_answer()
"""


def _make_soname_sibling(b: _Build) -> dict[str, bytes]:
    sibling = b.lib("sibling.c", "libpm_sibling.so.1")
    user = b.tmp / "libpm_user.so.1"
    cmd = [
        "gcc", *_CFLAGS, *_SHARED, "-Wl,-soname,libpm_user.so.1", "-Wl,-rpath,$ORIGIN",
        "-Wl,--enable-new-dtags",
        str(SRC / "sibling_user.c"), "-o", str(user), f"-L{sibling.parent}", f"-l:{sibling.name}",
    ]  # fmt: skip
    _run(cmd, b.tmp)
    p = b.case.project
    return {
        f"{p}/__init__.py": _init(b.case, _LOAD_SIBLINGS),
        f"{p}/dll/libpm_sibling.so": sibling.read_bytes(),
        f"{p}/dll/libpm_user.so.1": user.read_bytes(),
    }


def _make_vendored(b: _Build) -> dict[str, bytes]:
    vendored = b.lib("vendored_lib.c", "libpm_vendored.so.1")
    p = b.case.project
    # No shell is involved, so $ORIGIN reaches the linker as written, for the loader to expand.
    core = b.ext(
        "vendored.c",
        f"-Wl,-rpath,$ORIGIN/../{p}.libs",
        "-Wl,--enable-new-dtags",  # RUNPATH, not the deprecated RPATH
        libs=[f"-L{vendored.parent}", f"-l:{vendored.name}"],
    )
    return {
        f"{p}/__init__.py": _init(b.case, _IMPORT_CORE),
        f"{p}/{_ABI3}": core,
        f"{p}.libs/{vendored.name}": vendored.read_bytes(),
    }


def _make_executable(b: _Build) -> dict[str, bytes]:
    members = _honest(b)
    members[f"{b.case.project}-{VERSION}.data/scripts/pm-tool"] = b.exe("tool.c")
    return members


def _make_execstack(b: _Build) -> dict[str, bytes]:
    return _honest(b, "-Wl,-z,execstack")


def _make_pure(b: _Build) -> dict[str, bytes]:
    body = "def probe():\n    return 'pm_pure ' + str(len(__name__))\n"
    return {f"{b.case.project}/__init__.py": _init(b.case, body)}


def _make_cp311(b: _Build) -> dict[str, bytes]:
    p = b.case.project
    core = b.ext("honest.c", limited=False, python=(3, 11))
    return {f"{p}/__init__.py": _init(b.case, _IMPORT_CORE), f"{p}/{_CP311}": core}


_WALRUS = '''"""Needs Python 3.8: the assignment expression below is a SyntaxError on older interpreters."""


def first_long(words):
    for word in words:
        if (n := len(word)) > 3:
            return n
    return 0
'''


def _make_requires_py38(b: _Build) -> dict[str, bytes]:
    members = _honest(b)
    members[f"{b.case.project}/__init__.py"] = _init(b.case, _IMPORT_CORE + "from . import walrus\n")
    members[f"{b.case.project}/walrus.py"] = _WALRUS.encode()
    return members


def _make_modern_syntax(b: _Build) -> dict[str, bytes]:
    members = _honest(b)
    members[f"{b.case.project}/walrus.py"] = _WALRUS.encode()
    return members


# Imported by the probe as modules of their own (the package's __init__ imports neither).
_OTHER_OS = '''"""The AIX backend: its compiled part ships only in AIX wheels: on Linux this import fails."""

from . import _pm_aix  # noqa: F401
'''
_OUT_OF_CONTEXT = '''"""A helper that refuses to be imported outside the tool that runs it."""

raise LookupError("Could not find the test runner: import this module from inside it")
'''


def _make_own_exception(b: _Build) -> dict[str, bytes]:
    members = _honest(b)
    members[f"{b.case.project}/_aix.py"] = _OTHER_OS.encode()
    members[f"{b.case.project}/_context.py"] = _OUT_OF_CONTEXT.encode()
    return members


_OLD_GLIBC_REFUSED = '''"""Refuses to import on glibc older than 2.28, by asking the C library itself: a
Python exception the platform explains (the same interpreter imports it on newer distros)."""

import os

_GLIBC = tuple(int(x) for x in os.confstr("CS_GNU_LIBC_VERSION").split()[1].split(".")[:2])
if _GLIBC < (2, 28):
    raise RuntimeError("this backend needs glibc 2.28 or newer, found %d.%d" % _GLIBC)
'''


def _make_platform_exception(b: _Build) -> dict[str, bytes]:
    members = _make_cp311(b)
    members[f"{b.case.project}/backend.py"] = _OLD_GLIBC_REFUSED.encode()
    return members


_EVENT_LOOP = '''"""An example script that runs its event loop when imported, as demo modules of game and GUI
libraries do: it never ends, wherever it is imported (the wheel's own behaviour, not its tag's)."""

import time


def main_loop():
    while True:
        time.sleep(0.05)


main_loop()
'''


def _make_python_hang(b: _Build) -> dict[str, bytes]:
    members = _honest(b)
    members[f"{b.case.project}/demo.py"] = _EVENT_LOOP.encode()
    return members


_OLD_GLIBC_WAITS = '''"""Waits forever on glibc older than 2.28, by asking the C library itself: a hang in
Python code that the platform explains (the same interpreter finishes it on newer distros)."""

import os
import time

_GLIBC = tuple(int(x) for x in os.confstr("CS_GNU_LIBC_VERSION").split()[1].split(".")[:2])
while _GLIBC < (2, 28):
    time.sleep(0.05)
'''


def _make_platform_hang(b: _Build) -> dict[str, bytes]:
    members = _make_cp311(b)
    members[f"{b.case.project}/backend.py"] = _OLD_GLIBC_WAITS.encode()
    return members


_NEEDS_NUMPY_CAPI = '''"""What numpy's import_array() raises in an extension built against another numpy (or
none)."""

raise ImportError("numpy._core.multiarray failed to import")
'''
_OPTIONAL_EXTRA = '''"""The backend of the optional extra [torch]: refuses to load without its package."""

raise ImportError("Required package 'pm_optional_torch' not installed")
'''


def _make_dependency_forms(b: _Build) -> dict[str, bytes]:
    members = _honest(b)
    p = b.case.project
    members[f"{p}/_capi.py"] = _NEEDS_NUMPY_CAPI.encode()
    members[f"{p}/_extra.py"] = _OPTIONAL_EXTRA.encode()
    members[f"{p}/_missing.py"] = b"import pm_not_installed_dependency  # noqa: F401\n"
    return members


def _make_missing_dep(b: _Build) -> dict[str, bytes]:
    members = _honest(b)
    body = "import pm_not_installed_dependency\n\n" + _IMPORT_CORE
    members[f"{b.case.project}/__init__.py"] = _init(b.case, body)
    return members


def _aarch64_elf() -> bytes:
    """A 120-byte ELF64 little-endian ET_DYN for EM_AARCH64, written by hand (no cross compiler here).

    An ELF header and one PT_LOAD program header mapping the file read-only; no sections, no dynamic
    segment. Every header field is valid, so tools classify it by ``e_machine`` before anything else. If it
    were imported on x86_64 anyway, glibc skips a file for another machine as if it were absent: "cannot
    open shared object file: No such file or directory". Its ``expect`` has no cause: the plugin should
    refuse to judge a wheel for another architecture, not report it as failing.
    """
    ehsize, phentsize = 64, 56
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)  # ELFCLASS64, ELFDATA2LSB, EV_CURRENT, SYSV
    header = ident + struct.pack(
        "<HHIQQQIHHHHHH",
        3,  # e_type ET_DYN
        183,  # e_machine EM_AARCH64
        1,  # e_version
        0,  # e_entry
        ehsize,  # e_phoff: the program headers follow the ELF header
        0,  # e_shoff: no section headers
        0,  # e_flags
        ehsize,
        phentsize,
        1,  # e_phnum
        64,  # e_shentsize
        0,  # e_shnum
        0,  # e_shstrndx
    )
    size = ehsize + phentsize
    # PT_LOAD, PF_R, offset 0, vaddr 0, paddr 0, filesz, memsz, align 64 KiB (aarch64's largest page)
    phdr = struct.pack("<IIQQQQQQ", 1, 4, 0, 0, 0, size, size, 0x10000)
    return header + phdr


def _make_aarch64(b: _Build) -> dict[str, bytes]:
    p = b.case.project
    return {f"{p}/__init__.py": _init(b.case, _IMPORT_CORE), f"{p}/{_ABI3}": _aarch64_elf()}


# 32 bytes: the ELF magic and a plausible ELFCLASS64 identification, then text, cut short of the 64-byte
# header, so the loader says "file too short" and an ELF parser fails on it.
_CORRUPT_ELF = b"\x7fELF\x02\x01\x01\x00" + b"truncated: not a whole ELF!!"


def _make_corrupt_elf(b: _Build) -> dict[str, bytes]:
    members = _honest(b)
    members[f"{b.case.project}/_broken.abi3.so"] = _CORRUPT_ELF
    return members


def _cp311_case(name: str, expect: str, recipe: Callable[[_Build], dict[str, bytes]], **more: Any) -> Case:
    """A case whose package is the honest extension built full-API for CPython 3.11 (``_make_cp311``),
    with more in it: only CPython 3.11 can import it, a portable one below Debian 12."""
    return Case(
        name,
        expect,
        recipe,
        _HONEST_SRC,
        python_tag="cp311",
        abi_tag="cp311",
        platform_tag="manylinux_2_17_x86_64",
        elves=(Elf(_CP311, "2.2.5"),),
        **more,
    )


def _index(*cases: Case) -> dict[str, Case]:
    """Index the cases by name; an ELF path without a ``/`` is relative to the case's package directory."""

    def place(elf: Elf, project: str) -> Elf:
        return elf if "/" in elf.path else replace(elf, path=f"{project}/{elf.path}")

    return {c.name: replace(c, elves=tuple(place(e, c.project) for e in c.elves)) for c in cases}


_HONEST_SRC = ("honest.c", "pm_module.h")
_MUSLLINUX_1_1 = "musllinux_1_1_x86_64"
_VENDORED_RUNPATH = "$ORIGIN/../pm_vendored.libs"
# strlen, snprintf and gcc's own weak __cxa_finalize reference are all GLIBC_2.2.5, x86_64's baseline.
_OLD = Elf(_ABI3, "2.2.5")
_MUSL = Elf(_ABI3, None, needed=("libc.so",))

#: Every test wheel, by name. The versions are what readelf showed on the build host; WHY each case behaves
#: as it does is in its ``expect`` and, at more length, in the comment at the top of its source file.
#: An ELF that makes no strong reference into libc (cxx_new, missing_lib, undefined, nonpolicy) has no
#: libc.so.6 in DT_NEEDED and no GLIBC_ need (glibc None): --as-needed drops it, and the interpreter
#: process has libc loaded anyway. nonpolicy's only version need is OMP_1.0 from libgomp.so.1.
CASES: dict[str, Case] = _index(
    Case(
        "honest",
        "needs GLIBC_2.2.5 only and claims 2.17: imports on every distro",
        _make_honest,
        _HONEST_SRC,
        elves=(_OLD,),
    ),
    Case(
        "glibc_new",
        "calls close_range (GLIBC_2.34) but claims 2.17: 'version GLIBC_2.34 not found' on glibc < 2.34",
        _make_one_source("glibc_new.c"),
        ("glibc_new.c", "pm_module.h"),
        elves=(Elf(_ABI3, "2.34"),),
        cause_below="glibc",
    ),
    Case(
        "cxx_new",
        "std::to_chars(double) needs GLIBCXX_3.4.29 from the distro's libstdc++: fails where it is older",
        _make_one_source("cxx_new.cc"),
        ("cxx_new.cc", "pm_module.h"),
        elves=(Elf(_ABI3, None, glibcxx="3.4.29", needed=("libstdc++.so.6",)),),
        cause_below="cxx-abi",
    ),
    Case(
        "underclaim",
        "the honest extension (GLIBC_2.2.5) claiming 2.35: works on distros its tag rules out",
        _make_honest,
        _HONEST_SRC,
        platform_tag="manylinux_2_35_x86_64",
        elves=(_OLD,),
    ),
    Case(
        "crash",
        "PyInit calls abort(): SIGABRT on every distro",
        _make_one_source("crash.c"),
        ("crash.c", "pm_module.h"),
        elves=(_OLD,),
        cause_always="crash",
    ),
    Case(
        "hang",
        "PyInit sleeps forever: times out on every distro",
        _make_one_source("hang.c"),
        ("hang.c", "pm_module.h"),
        elves=(_OLD,),
        cause_always="timeout",
    ),
    Case(
        "missing_lib",
        "needs libpm_absent.so.1, which no distro has and the wheel does not ship",
        _make_missing_lib,
        ("missing_lib.c", "absent.c", "pm_module.h"),
        elves=(Elf(_ABI3, None, needed=("libpm_absent.so.1",)),),
        cause_always="missing-library",
    ),
    Case(
        "undefined",
        "calls pm_nowhere_defined(), defined nowhere: 'undefined symbol' at import (RTLD_NOW) everywhere",
        _make_one_source("undefined.c"),
        ("undefined.c", "pm_module.h"),
        elves=(Elf(_ABI3, None, needed=()),),
        cause_always="undefined-symbol",
    ),
    Case(
        "vendored",
        "old-glibc extension loading pm_vendored.libs/libpm_vendored.so.1 (RUNPATH), which needs GLIBC_2.34",
        _make_vendored,
        ("vendored.c", "vendored_lib.c", "pm_module.h"),
        elves=(
            Elf(_ABI3, "2.2.5", needed=("libpm_vendored.so.1", "libc.so.6"), runpath=_VENDORED_RUNPATH),
            Elf("pm_vendored.libs/libpm_vendored.so.1", "2.34"),
        ),
        cause_below="glibc",
    ),
    Case(
        "executable",
        "old-glibc extension plus .data/scripts/pm-tool, which needs GLIBC_2.34 (__libc_start_main)",
        _make_executable,
        (*_HONEST_SRC, "tool.c"),
        elves=(_OLD, Elf("pm_executable-1.0.data/scripts/pm-tool", "2.34")),
        cause_below="glibc",
    ),
    Case(
        "execstack",
        "old-glibc extension asking for an executable stack: glibc 2.41 refuses to dlopen it",
        _make_execstack,
        _HONEST_SRC,
        elves=(Elf(_ABI3, "2.2.5", execstack=True),),
        refused_from_glibc="2.41",
    ),
    Case(
        "nonpolicy",
        "-fopenmp: needs libgomp.so.1, outside the manylinux allow-list and absent from minbase images",
        _make_one_source("nonpolicy.c", "-fopenmp"),
        ("nonpolicy.c", "pm_module.h"),
        elves=(Elf(_ABI3, None, needed=("libgomp.so.1",)),),
        cause_always="missing-library",
    ),
    Case(
        "weak",
        "weak close_range reference, yet GNU ld writes a non-weak GLIBC_2.34 need: fails like glibc_new",
        _make_one_source("weak.c"),
        ("weak.c", "pm_module.h"),
        elves=(Elf(_ABI3, "2.34"),),
        cause_below="glibc",
    ),
    Case(
        "pure",
        "one pure-Python module, Python 3.5 syntax: imports everywhere",
        _make_pure,
        python_tag="py3",
        abi_tag="none",
        platform_tag="any",
    ),
    Case(
        "linux_tag",
        "the honest extension tagged linux_x86_64: no portability promise at all",
        _make_honest,
        _HONEST_SRC,
        platform_tag="linux_x86_64",
        elves=(_OLD,),
    ),
    _cp311_case(
        "cp311",
        "full-API extension named _core.cpython-311-x86_64-linux-gnu.so: only CPython 3.11 can import it",
        _make_cp311,
    ),
    Case(
        "requires_py38",
        "abi3 extension and walrus.py (:=), Requires-Python >=3.8: SyntaxError before 3.8, no ABI failure",
        _make_requires_py38,
        _HONEST_SRC,
        platform_tag="manylinux_2_17_x86_64",
        elves=(_OLD,),
        requires_python=">=3.8",
    ),
    Case(
        "missing_dep",
        "honest extension whose __init__ imports pm_not_installed_dependency, declared in Requires-Dist only",
        _make_missing_dep,
        _HONEST_SRC,
        elves=(_OLD,),
        requires_dist=("pm-not-installed-dependency",),
        # every module is set aside; the loader still judges the extension on every distro
        set_aside=("pm_missing_dep", "pm_missing_dep._core"),
    ),
    Case(
        "modern_syntax",
        "abi3 extension and walrus.py (:=) without Requires-Python: SyntaxError before 3.8, "
        "judged by a newer one",
        _make_modern_syntax,
        _HONEST_SRC,
        platform_tag="manylinux_2_17_x86_64",
        elves=(_OLD,),
        needs_python="3.8",
    ),
    Case(
        "own_exception",
        "honest extension, an AIX module without its compiled part and a helper raising LookupError: "
        "not the tag's",
        _make_own_exception,
        _HONEST_SRC,
        elves=(_OLD,),
        own_exceptions=("pm_own_exception._aix", "pm_own_exception._context"),
    ),
    _cp311_case(
        "platform_exception",
        "cp311 extension and backend.py raising RuntimeError below glibc 2.28: "
        "the same Python works on newer ones",
        _make_platform_exception,
        raises_below_glibc="2.28",
    ),
    Case(
        "python_hang",
        "honest extension and a demo module whose event loop runs at import, on every distro: not the tag's",
        _make_python_hang,
        _HONEST_SRC,
        elves=(_OLD,),
        own_exceptions=("pm_python_hang.demo",),
    ),
    _cp311_case(
        "platform_hang",
        "cp311 extension and backend.py waiting forever below glibc 2.28: the same Python finishes it on "
        "newer ones",
        _make_platform_hang,
        hangs_below_glibc="2.28",
    ),
    Case(
        "dependency_forms",
        "honest extension; modules needing numpy's C API, an optional extra and a missing module: set aside",
        _make_dependency_forms,
        _HONEST_SRC,
        elves=(_OLD,),
        requires_dist=("pm-not-installed-dependency", 'pm-optional-torch; extra == "torch"'),
        set_aside=("pm_dependency_forms._capi", "pm_dependency_forms._extra", "pm_dependency_forms._missing"),
    ),
    Case(
        "policy_library",
        "needs libGL.so.1, which the manylinux policies let wheels expect and minimal images lack: set aside",
        _make_policy_library,
        ("policy_library.c", "gl_stub.c", "pm_module.h"),
        elves=(Elf(_ABI3, None, needed=("libGL.so.1",)),),
    ),
    Case(
        "soname_sibling",
        "ctypes loads dll/libpm_sibling.so (soname .so.1), then dll/libpm_user.so.1 which needs that soname",
        _make_soname_sibling,
        ("sibling.c", "sibling_user.c"),
        python_tag="py3",
        abi_tag="none",
        platform_tag="manylinux2014_x86_64",
        elves=(
            Elf("pm_soname_sibling/dll/libpm_sibling.so", None, needed=()),
            Elf(
                "pm_soname_sibling/dll/libpm_user.so.1",
                None,
                needed=("libpm_sibling.so.1",),
                runpath="$ORIGIN",
            ),
        ),
    ),
    Case(
        "thread_atexit",
        "tagged manylinux1 (glibc 2.5) but calls __cxa_thread_atexit_impl (GLIBC_2.18): "
        "works on the whole matrix",
        _make_one_source("thread_atexit.c"),
        ("thread_atexit.c", "pm_module.h"),
        platform_tag="manylinux1_x86_64",
        elves=(Elf(_ABI3, "2.18"),),
    ),
    Case(
        "aarch64",
        "tagged aarch64, _core.abi3.so a hand-written EM_AARCH64 ELF: not for x86_64 distros, not to be run",
        _make_aarch64,
        platform_tag="manylinux_2_17_aarch64",
        elves=(Elf(_ABI3, None, needed=(), machine="AArch64"),),
    ),
    Case(
        "abi3_beyond",
        "cp35-abi3, but calls PyUnicode_AsUTF8AndSize (stable ABI from 3.10) and PyUnicode_AsUTF8 (not in it)"
        ": imports on every distro python, an abi3 problem for static analysis",
        _make_one_source("abi3_beyond.c"),
        ("abi3_beyond.c", "pm_module.h"),
        elves=(_OLD,),
    ),
    Case(
        "symlink",
        "honest wheel plus pm_symlink/lib/libpm_core.so, a symlink member to ../_core.abi3.so: installed as "
        "pip does, as a file holding the link's text, so it imports everywhere and the report notes the link",
        _make_honest,
        _HONEST_SRC,
        elves=(_OLD,),
        links=(("pm_symlink/lib/libpm_core.so", "../_core.abi3.so"),),
    ),
    Case(
        "corrupt_elf",
        "honest wheel plus _broken.abi3.so, 32 bytes from an ELF magic: loading it fails, 'file too short'",
        _make_corrupt_elf,
        _HONEST_SRC,
        elves=(_OLD, Elf("_broken.abi3.so", None, needed=(), corrupt=True)),
        cause_always="error",
    ),
    Case(
        "musl_honest",
        "built with musl-gcc, calls snprintf and strlen (in every musl), claims musllinux_1_1: "
        "imports on every Alpine",
        _make_musl("honest.c"),
        _HONEST_SRC,
        platform_tag=_MUSLLINUX_1_1,
        elves=(_MUSL,),
        libc="musl",
    ),
    Case(
        "musl_new",
        "built with musl-gcc, calls reallocarray (musl 1.2.2) but claims musllinux_1_1: "
        "'Error relocating ...: reallocarray: symbol not found' on Alpine 3.12 (musl 1.1.24)",
        _make_musl("musl_new.c"),
        ("musl_new.c", "pm_module.h"),
        platform_tag=_MUSLLINUX_1_1,
        elves=(_MUSL,),
        libc="musl",
        needs_musl="1.2.2",
    ),
    Case(
        "musl_glibc",
        "tagged musllinux_1_1 but built with gcc against glibc, with Debian's default _FORTIFY_SOURCE=2: "
        "musl's loader answers libc.so.6 itself, but not __snprintf_chk (glibc-only): libc-mismatch on "
        "every Alpine",
        _make_musl("honest.c", "-D_FORTIFY_SOURCE=2", cc="gcc"),
        _HONEST_SRC,
        platform_tag=_MUSLLINUX_1_1,
        elves=(Elf(_ABI3, "2.3.4"),),
        libc="musl",
        cause_always="libc-mismatch",
    ),
    Case(
        "musl_missing_lib",
        "built with musl-gcc, needs libpm_absent.so.1, which no Alpine has and the wheel does not ship",
        _make_musl_missing_lib,
        ("missing_lib.c", "absent.c", "pm_module.h"),
        platform_tag=_MUSLLINUX_1_1,
        elves=(Elf(_ABI3, None, needed=("libpm_absent.so.1",)),),
        libc="musl",
        cause_always="missing-library",
    ),
)


#: Wheels whose import misbehaves towards the machine that checks it (issue 16), each otherwise honest
#: (GLIBC_2.2.5 only, manylinux2014): a check must stay bounded, judge them right and name the culprit.
#: Kept apart from :data:`CASES` (the whole matrix run): tests/test_hostile.py runs them beside the honest
#: wheel. ``cause_always`` is the cause each gets on every distro, ``disk`` being a limit of the run.
HOSTILE: dict[str, Case] = _index(
    Case(
        "writer",
        "PyInit writes 3 GiB to /tmp: stopped at the check's disk bound (OSError ENOSPC), reported as 'disk'",
        _make_one_source("writer.c"),
        ("writer.c", "pm_module.h"),
        elves=(_OLD,),
        cause_always="disk",
    ),
    Case(
        "noisy",
        "PyInit prints 400 MiB to stdout, then imports: honest, whatever it prints",
        _make_one_source("noisy.c"),
        ("noisy.c", "pm_module.h"),
        elves=(_OLD,),
    ),
    Case(
        "daemon",
        "PyInit leaves a daemon (fork, setsid, fork) holding the importer's pipes: honest, judged at once",
        _make_one_source("daemon.c"),
        ("daemon.c", "pm_module.h"),
        elves=(_OLD,),
    ),
    Case(
        "swarm",
        "PyInit forks sleeping children until the pid limit stops it: honest, judged at once, all killed",
        _make_one_source("swarm.c"),
        ("swarm.c", "pm_module.h"),
        elves=(_OLD,),
    ),
    Case(
        "killer",
        "PyInit sends SIGKILL to every process it may signal, the probe included: a crash by SIGKILL",
        _make_one_source("killer.c"),
        ("killer.c", "pm_module.h"),
        elves=(_OLD,),
        cause_always="crash",
    ),
    Case(
        "stopper",
        "PyInit sends SIGSTOP to every process it may signal, the probe included: a crash by SIGSTOP",
        _make_one_source("stopper.c"),
        ("stopper.c", "pm_module.h"),
        elves=(_OLD,),
        cause_always="crash",
    ),
)


# -- writing wheels ------------------------------------------------------------------------------------


def record_hash(data: bytes) -> str:
    """A RECORD hash: ``sha256=`` and the urlsafe base64 digest without padding (PEP 376, PEP 427)."""
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")


def _default_mode(name: str) -> int:
    executable = name.endswith(".so") or ".so." in name or "/scripts/" in name
    return stat.S_IFREG | (0o755 if executable else 0o644)


def make_zip(
    path: Path,
    members: Mapping[str, bytes],
    *,
    record: bool = True,
    modes: Mapping[str, int] | None = None,
    tamper: str | None = None,
) -> Path:
    """Write ``members`` (name -> bytes, in that order) as a zip, then the RECORD of ``*.dist-info/``.

    ``modes`` overrides the full ``st_mode`` of a member (file type included: ``stat.S_IFLNK | 0o777``
    makes a symlink whose content is its target); the default is a regular file, 0o755 for shared
    libraries and scripts and 0o644 otherwise. ``record=False`` leaves RECORD out; ``tamper`` names a
    member whose RECORD row gets the hash of other bytes.
    """
    files = dict(members)
    if record:
        dist_info = next(n.split("/", 1)[0] for n in files if n.split("/", 1)[0].endswith(".dist-info"))
        rows = []
        for name, data in files.items():
            digest = record_hash(b"tampered" + data) if name == tamper else record_hash(data)
            rows.append(f"{name},{digest},{len(data)}\n")
        rows.append(f"{dist_info}/RECORD,,\n")
        files[f"{dist_info}/RECORD"] = "".join(rows).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.external_attr = ((modes or {}).get(name, _default_mode(name))) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so installers read the mode bits
            zf.writestr(info, data)
    return path


def dist_info(
    project: str,
    tags: Iterable[str],
    *,
    purelib: bool,
    summary: str = "",
    requires_python: str | None = None,
    requires_dist: Iterable[str] = (),
    version: str = VERSION,
) -> dict[str, bytes]:
    """METADATA and WHEEL of ``<project>-<version>.dist-info`` (RECORD is written by :func:`make_zip`)."""
    metadata = ["Metadata-Version: 2.1", f"Name: {project}", f"Version: {version}"]
    if summary:
        metadata.append(f"Summary: {summary}")
    if requires_python:
        metadata.append(f"Requires-Python: {requires_python}")
    metadata += [f"Requires-Dist: {req}" for req in requires_dist]
    wheel = [
        "Wheel-Version: 1.0",
        "Generator: pytest-manylinux tests/wheelfactory.py",
        f"Root-Is-Purelib: {'true' if purelib else 'false'}",
        *(f"Tag: {tag}" for tag in tags),
    ]
    base = f"{project}-{version}.dist-info"
    return {
        f"{base}/METADATA": ("\n".join(metadata) + "\n\n").encode(),
        f"{base}/WHEEL": ("\n".join(wheel) + "\n").encode(),
    }


def _newest_input(case: Case) -> float:
    inputs = [Path(__file__).resolve(), *(SRC / s for s in case.sources)]
    return max(p.stat().st_mtime for p in inputs)


def variant(case: str, name: str) -> Case:
    """``CASES[case]`` as project ``pm_<name>``: same sources, flags and tags, its own module and bytes.

    The benchmark (benchmarks/matrix.py) builds several wheels whose checks cost the same this way.
    """
    base = CASES[case]
    old, new = f"{base.project}/", f"pm_{name}/"

    def moved(elf: Elf) -> Elf:
        return replace(elf, path=new + elf.path.removeprefix(old)) if elf.path.startswith(old) else elf

    return replace(base, name=name, elves=tuple(map(moved, base.elves)))


def full_api_case(abi: str, include: Path) -> Case:
    """The ``cp311`` case for any CPython ABI (``cp38``, ``cp313t``): a full-API extension only that
    interpreter imports, compiled against the headers in ``include`` (``include/python3.X`` of a portable
    CPython, so no interpreter of that version is needed here)."""
    suffix = f"_core.cpython-{abi[2:]}-x86_64-linux-gnu.so"

    def recipe(b: _Build) -> dict[str, bytes]:
        core = b.ext("honest.c", limited=False, includes=[f"-I{include}"])
        return {
            f"{b.case.project}/__init__.py": _init(b.case, _IMPORT_CORE),
            f"{b.case.project}/{suffix}": core,
        }

    return Case(
        f"full_{abi}",
        f"full-API extension named {suffix}: only CPython {abi} can import it",
        recipe,
        _HONEST_SRC,
        python_tag=abi.rstrip("t"),
        abi_tag=abi,
        platform_tag="manylinux_2_17_x86_64",
        elves=(Elf(suffix, "2.2.5"),),
    )


def build(case: str | Case, outdir: Path) -> Path:
    """Build the wheel of ``CASES[case]`` (or of a :class:`Case`, e.g. a :func:`variant`) in ``outdir``.

    A wheel already there and newer than its sources and this script is returned as it is. The file appears
    atomically (written aside, then renamed), so parallel test workers may build the same case.
    """
    if isinstance(case, Case):
        spec = case
    else:
        try:
            spec = CASES[case] if case in CASES else HOSTILE[case]
        except KeyError:
            raise FactoryError(
                f"no test wheel case {case!r}; the cases are: {', '.join([*CASES, *HOSTILE])}"
            ) from None
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    target = outdir / spec.filename
    if target.exists() and target.stat().st_mtime > _newest_input(spec):
        return target
    with tempfile.TemporaryDirectory(prefix=f"{spec.project}-") as tmp:
        members = spec.recipe(_Build(Path(tmp), spec))
    members.update(
        dist_info(
            spec.project,
            spec.tags,
            purelib=spec.purelib,
            summary=spec.expect,
            requires_python=spec.requires_python,
            requires_dist=spec.requires_dist,
        )
    )
    members.update((path, target.encode()) for path, target in spec.links)
    aside = outdir / f".{spec.filename}.{os.getpid()}.tmp"
    ordered = dict(sorted(members.items(), key=lambda item: (".dist-info/" in item[0], item[0])))
    make_zip(aside, ordered, modes={path: stat.S_IFLNK | 0o777 for path, _ in spec.links})
    os.replace(aside, target)
    return target


# -- broken wheels, no compiler needed -----------------------------------------------------------------


def _pure_members(project: str, extra: Mapping[str, bytes] | None = None) -> dict[str, bytes]:
    members = {f"{project}/__init__.py": b"VALUE = 1\n", **(extra or {})}
    members.update(dist_info(project, ["py3-none-any"], purelib=True))
    return members


def _bad(outdir: Path, project: str) -> Path:
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    return outdir / f"{project}-{VERSION}-py3-none-any.whl"


def not_a_zip(outdir: Path) -> Path:
    """A ``.whl`` that is a text file."""
    path = _bad(outdir, "pm_not_a_zip")
    path.write_bytes(b"This is not a zip file, whatever its name says.\n")
    return path


def truncated_zip(outdir: Path) -> Path:
    """A valid pure wheel cut in half: the central directory at the end of the zip is gone."""
    path = _bad(outdir, "pm_truncated_zip")
    filler = {f"pm_truncated_zip/data{i}.py": f"DATA = {i}\n".encode() * 50 for i in range(8)}
    make_zip(path, _pure_members("pm_truncated_zip", filler))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def escaping_member(outdir: Path) -> Path:
    """A wheel with a member ``../evil.py`` (listed in RECORD with its right hash): unpacking it escapes."""
    path = _bad(outdir, "pm_escaping_member")
    return make_zip(path, _pure_members("pm_escaping_member", {"../evil.py": b"EVIL = 1\n"}))


def absolute_member(outdir: Path) -> Path:
    """A wheel with a member ``/tmp/evil.py`` (listed in RECORD with its right hash)."""
    path = _bad(outdir, "pm_absolute_member")
    return make_zip(path, _pure_members("pm_absolute_member", {"/tmp/evil.py": b"EVIL = 1\n"}))


def symlink_member(outdir: Path) -> Path:
    """A wheel whose ``pm_symlink_member/link.py`` is a symlink entry (S_IFLNK) pointing at /etc/passwd.

    Not a bad wheel: pip installs the member as a file holding ``/etc/passwd`` (pypa/pip#10935), a link to
    nothing; so does the plugin, with a note.
    """
    path = _bad(outdir, "pm_symlink_member")
    link = "pm_symlink_member/link.py"
    members = _pure_members("pm_symlink_member", {link: b"/etc/passwd"})
    return make_zip(path, members, modes={link: stat.S_IFLNK | 0o777})


def no_record(outdir: Path) -> Path:
    """A wheel with METADATA and WHEEL but no RECORD."""
    path = _bad(outdir, "pm_no_record")
    return make_zip(path, _pure_members("pm_no_record"), record=False)


def record_mismatch(outdir: Path) -> Path:
    """A wheel whose ``__init__.py`` does not match the sha256 RECORD lists for it (size still right)."""
    path = _bad(outdir, "pm_record_mismatch")
    return make_zip(path, _pure_members("pm_record_mismatch"), tamper="pm_record_mismatch/__init__.py")


def dependency_wheel(
    outdir: Path,
    project: str,
    *,
    version: str = VERSION,
    tag: str = "py3-none-any",
    requires_dist: Iterable[str] = (),
    body: bytes = b"VALUE = 1\n",
    console_scripts: Mapping[str, str] | None = None,
) -> Path:
    """A small wheel of one package (for a wheelhouse, or users' own tests): nothing is compiled.

    ``console_scripts`` maps script names to ``module:function`` entry points (``entry_points.txt``).
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    members = {f"{project}/__init__.py": body}
    if console_scripts:
        lines = ["[console_scripts]", *(f"{name} = {target}" for name, target in console_scripts.items())]
        members[f"{project}-{version}.dist-info/entry_points.txt"] = ("\n".join(lines) + "\n").encode()
    members.update(
        dist_info(project, [tag], purelib=tag.endswith("-any"), requires_dist=requires_dist, version=version)
    )
    return make_zip(outdir / f"{project}-{version}-{tag}.whl", members)


#: The broken-wheel makers, by name.
BAD_WHEELS: dict[str, Callable[[Path], Path]] = {
    f.__name__: f
    for f in (
        not_a_zip,
        truncated_zip,
        escaping_member,
        absolute_member,
        no_record,
        record_mismatch,
    )
}

#: What each broken wheel's error says, beyond naming the file.
BAD_WHEEL_PROBLEMS: dict[str, str] = {
    "not_a_zip": "not a valid zip file",
    "truncated_zip": "not a valid zip file",
    "escaping_member": "'../evil.py' escapes the wheel",
    "absolute_member": "'/tmp/evil.py' has an absolute path",
    "no_record": "missing 'pm_no_record-1.0.dist-info/RECORD'",
    "record_mismatch": "'pm_record_mismatch/__init__.py' does not match its RECORD hash",
}


# -- wheels for the fault and isolation tests ------------------------------------------------------------
# Python-only, but tagged manylinux so that the plugin runs them on every distro (a pure wheel makes no
# claim and is not run). Their code runs on Python 3.5 (Ubuntu 16.04): no f-strings.

_FAULT_TAG = "py3-none-manylinux_2_17_x86_64"


def _fault_wheel(outdir: Path, project: str, members: Mapping[str, bytes]) -> Path:
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    files = {**members, **dist_info(project, [_FAULT_TAG], purelib=False)}
    return make_zip(outdir / f"{project}-{VERSION}-{_FAULT_TAG}.whl", files)


def greedy(outdir: Path, megabytes: int = 1024) -> Path:
    """A wheel whose import fills ``megabytes`` of memory: killed for memory below that limit."""
    code = '"""Fills %d MiB at import (touched, so it is resident)."""\nHOG = b"x" * (%d << 20)\n'
    members = {"pm_greedy/__init__.py": (code % (megabytes, megabytes)).encode()}
    return _fault_wheel(outdir, "pm_greedy", members)


_INSIDE = '''"""Reports what the import sees of its sandbox, failing on purpose so the report carries it."""
import json, os, socket


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError as e:
        return "unreadable: %s" % e


def _first(*paths):
    for path in paths:
        value = _read(path)
        if not value.startswith("unreadable"):
            return value
    return None


def _status(key):
    for line in _read("/proc/self/status").splitlines():
        if line.startswith(key + ":"):
            return line.split(":", 1)[1].strip()


def _connect():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(3)
    try:
        s.connect(("1.1.1.1", 53))
        return "connected"
    except OSError as e:
        return "%s: %s" % (type(e).__name__, e)
    finally:
        s.close()


def _write_root():
    try:
        with open("/pm_inside", "w") as f:
            f.write("x")
        return "written"
    except OSError as e:
        return "%s: %s" % (type(e).__name__, e)


def _size(path):
    st = os.statvfs(path)
    return st.f_blocks * st.f_frsize


SEEN = {
    "write_root": _write_root(),
    "tmp_size": _size("/tmp"),
    "uid": os.getuid(),
    "euid": os.geteuid(),
    "cap_eff": _status("CapEff"),
    "no_new_privs": _status("NoNewPrivs"),
    "interfaces": sorted(l.split(":")[0].strip() for l in _read("/proc/net/dev").splitlines()[2:]),
    "connect": _connect(),
    "memory_limit": _first("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"),
    "pids_max": _first("/sys/fs/cgroup/pids.max", "/sys/fs/cgroup/pids/pids.max"),
    "pid1": _read("/proc/1/comm"),
}
raise RuntimeError("PM_INSIDE " + json.dumps(SEEN, sort_keys=True))
'''


def inside(outdir: Path) -> Path:
    """A wheel whose import reports its user, capabilities, network and limits, in its error message."""
    return _fault_wheel(outdir, "pm_inside", {"pm_inside/__init__.py": _INSIDE.encode()})


def big_data(outdir: Path, megabytes: int) -> Path:
    """A wheel with a ``megabytes`` data member of zeros (deflates ~1000:1, so writing it is quick).

    The member is streamed into the zip, so the test process never holds it either.
    """
    project = "pm_big_data"
    base = f"{project}-{VERSION}.dist-info"
    path = Path(outdir) / f"{project}-{VERSION}-{_FAULT_TAG}.whl"
    path.parent.mkdir(parents=True, exist_ok=True)
    small = {f"{project}/__init__.py": b"VALUE = 1\n", **dist_info(project, [_FAULT_TAG], purelib=False)}
    chunk = bytes(1 << 20)
    digest = hashlib.sha256()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open(_zip_info(f"{project}/zeros.bin"), "w", force_zip64=True) as member:
            for _ in range(megabytes):
                member.write(chunk)
                digest.update(chunk)
        zeros = base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()
        rows = [f"{project}/zeros.bin,sha256={zeros},{megabytes << 20}"]
        for name, data in small.items():
            zf.writestr(_zip_info(name), data)
            rows.append(f"{name},{record_hash(data)},{len(data)}")
        zf.writestr(_zip_info(f"{base}/RECORD"), "".join(f"{row}\n" for row in [*rows, f"{base}/RECORD,,"]))
    return path


def _zip_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.external_attr = (stat.S_IFREG | 0o644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("outdir", type=Path, help="where the wheels go (created if missing)")
    parser.add_argument("cases", nargs="*", metavar="CASE", help=f"default: all of {', '.join(CASES)}")
    args = parser.parse_args(argv)
    unknown = [c for c in args.cases if c not in CASES and c not in HOSTILE]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(map(repr, unknown))}; choose from {', '.join(CASES)}")
    for case in args.cases or CASES:
        print(build(case, args.outdir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
