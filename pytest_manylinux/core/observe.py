"""Per-distro observations: what the probe saw, classified by cause (pure; no engine here).

The probe reports raw loader lines and import results; this module turns them into
:class:`Finding` values with one evidence line each, and one :class:`Observation` per distro.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

# The line before each JSON document the in-container scripts print: defined once, by the probe.
from ..container.probe import MARKER
from ..errors import ProbeError
from .tags import Libc, LibcVersion

__all__ = ["MARKER"]  # re-exported: the host's parsers and tests take it from here


class Outcome(str, enum.Enum):
    """How one wheel fared on one distro."""

    OK = "ok"
    FAIL = "fail"
    SKIPPED = "skipped"


class Cause(str, enum.Enum):
    """Why a check failed or was skipped; failures first, most telling first."""

    #: the file is linked against the other C library: glibc's libc.so.6 on a musl distro, musl's on glibc
    LIBC_MISMATCH = "libc-mismatch"
    GLIBC = "glibc"  #: version `GLIBC_x' not found
    CXX_ABI = "cxx-abi"  #: GLIBCXX_/CXXABI_/GCC_ version not found, or an undefined C++ symbol
    MISSING_LIBRARY = "missing-library"  #: a DT_NEEDED library is not in the wheel or the image
    UNDEFINED_SYMBOL = "undefined-symbol"  #: a symbol nothing in the process defines
    CRASH = "crash"  #: the import died by a signal
    #: the import did not finish in time, in an extension module's initialisation (or nobody knows where)
    TIMEOUT = "timeout"
    ERROR = "error"  #: any other failure (a loader refusal; an exception the platform explains)
    # Not failures by themselves.
    #: a Python exception at import that no loader message explains, or a hang in Python code: evidence
    #: against the tag only when it differs between distros for the same interpreter (verdict.assess)
    EXCEPTION = "exception"
    # Not failures: reasons a distro (or one module, or one file) could not be judged.
    MISSING_DEPENDENCY = "missing-dependency"  #: something the wheel needs from another project is missing
    #: a library the claimed policy lets a wheel expect from the system (libGL, libX11, ...), which this
    #: image lacks: the image is too small to judge the file, the tag promises nothing more
    SYSTEM_LIBRARY = "system-library"
    #: killed by SIGILL: the module uses instructions this machine's CPU lacks (a CPU-specific variant)
    CPU = "cpu"
    MEMORY = "memory"  #: an import was killed for memory at the container's limit (--manylinux-memory)
    #: an import failed having filled the place it may write to (--manylinux-disk): a limit of this run
    DISK = "disk"
    #: no interpreter here can load the wheel's Python tag, or run its code (a SyntaxError, a stdlib module
    #: the interpreter lacks)
    PYTHON = "python"
    ARCH = "arch"  #: the wheel is for another CPU architecture than the engine's
    LIBC = "libc"  #: the distro's libc family is not the one the wheel is built for
    IMAGE = "image"  #: the image could not be found, pulled or built
    ENGINE = "engine"  #: the engine failed while checking

    @property
    def is_failure(self) -> bool:
        return self in _FAILURES


_FAILURES = (
    Cause.LIBC_MISMATCH,
    Cause.GLIBC,
    Cause.CXX_ABI,
    Cause.MISSING_LIBRARY,
    Cause.UNDEFINED_SYMBOL,
    Cause.CRASH,
    Cause.TIMEOUT,
    Cause.ERROR,
)
_RANK = {cause: i for i, cause in enumerate(Cause)}


@dataclass(frozen=True)
class Finding:
    """One thing that went wrong, with the line that shows it."""

    #: ``load`` (the dynamic loader resolving a file) or ``import`` (Python importing a module)
    check: str
    #: the file (path in the wheel) or module the finding is about
    target: str
    #: the class of the problem
    cause: Cause
    #: the one line that shows it, as the loader or Python said it
    evidence: str
    #: longer output: a traceback, the faulthandler dump
    detail: str = ""

    def to_json(self) -> dict[str, str]:
        return {
            "check": self.check,
            "target": self.target,
            "cause": self.cause.value,
            "evidence": self.evidence,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Interpreter:
    """A Python interpreter found in (or brought into) a distro's container."""

    #: its path in the container
    path: str
    #: ``(major, minor, micro)``
    version: tuple[int, int, int]
    #: ``cpython``, ``pypy``, ...
    implementation: str = "cpython"
    #: the ABI tag part of SOABI, e.g. ``cp35m`` or ``cp313t``
    abi: str = ""
    #: ``distro`` (the image's own), ``image`` (/opt/python), or ``portable`` (brought in)
    origin: str = "distro"
    #: ``import ctypes`` works
    ctypes: bool = True

    @property
    def short(self) -> str:
        return f"{self.implementation}-{self.version[0]}.{self.version[1]}"

    def describe(self) -> str:
        """``/usr/bin/python3 (3.5.2, distro)``: how observations name it (:data:`_DESCRIBED` reads it)."""
        v = ".".join(str(x) for x in self.version)
        return f"{self.path} ({v}, {self.origin})"


_DESCRIBED = re.compile(r"\((?P<major>\d+)\.(?P<minor>\d+)(?:\.\d+)?[^,()]*, (?P<origin>\w+)\)$")


@dataclass(frozen=True)
class DistroFacts:
    """What was measured inside a distro's container (never taken from distros.toml)."""

    libc: Libc | None
    libc_version: LibcVersion | None
    machine: str
    loader: str | None
    glibcxx: str | None = None
    cxxabi: str | None = None
    interpreters: tuple[Interpreter, ...] = ()
    #: interpreters that were found but could not run, with their error
    broken: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Observation:
    """How one wheel fared on one distro."""

    distro: str
    image: str
    outcome: Outcome
    cause: Cause | None = None
    #: one line: the decisive evidence, or why it was skipped
    detail: str = ""
    libc: Libc | None = None
    libc_version: LibcVersion | None = None
    findings: tuple[Finding, ...] = ()
    #: the interpreter that ran the imports, described
    interpreter: str = ""
    glibcxx: str | None = None
    #: how long this wheel's checks took in the container (its loader runs and imports)
    seconds: float = 0.0
    #: non-failure notes (modules set aside, an interpreter that could not run the wheel's code, ...)
    notes: tuple[str, ...] = field(default=())
    #: exceptions the platform explains, as (module, a distro where the same import works with the same
    #: Python): set by :func:`verdict.assess` from the other distros, counted as failures here
    counted: tuple[tuple[str, str], ...] = ()

    @property
    def python(self) -> tuple[int, int, str] | None:
        """The judging interpreter as (major, minor, origin), from :attr:`interpreter`; None if none ran."""
        match = _DESCRIBED.search(self.interpreter)
        if match is None:
            return None
        return int(match["major"]), int(match["minor"]), match["origin"]

    @property
    def checked(self) -> bool:
        """Whether the wheel's checks ran here (the outcome is ok or fail, not a skip)."""
        return self.outcome is not Outcome.SKIPPED

    def raw(self) -> Observation:
        """The observation as the distro alone made it: no exception counted by comparison with others."""
        if not self.counted:
            return self
        return summarized(replace(self, counted=()))

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.distro,
            "image": self.image,
            "libc": self.libc.value if self.libc else None,
            "libc_version": str(self.libc_version) if self.libc_version else None,
            "glibcxx": self.glibcxx,
            "outcome": self.outcome.value,
            "cause": self.cause.value if self.cause else None,
            "detail": self.detail,
            "interpreter": self.interpreter,
            "seconds": round(self.seconds, 3),
            "findings": [f.to_json() for f in self.findings],
            "notes": list(self.notes),
            "counted": [{"module": module, "works_on": where} for module, where in self.counted],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Observation:
        return cls(
            distro=str(data["name"]),
            image=str(data.get("image", "")),
            outcome=Outcome(data["outcome"]),
            cause=Cause(data["cause"]) if data.get("cause") else None,
            detail=str(data.get("detail", "")),
            libc=Libc(data["libc"]) if data.get("libc") else None,
            libc_version=LibcVersion.parse(data["libc_version"]) if data.get("libc_version") else None,
            findings=tuple(
                Finding(f["check"], f["target"], Cause(f["cause"]), f["evidence"], f.get("detail", ""))
                for f in data.get("findings", [])
            ),
            interpreter=str(data.get("interpreter", "")),
            glibcxx=data.get("glibcxx"),
            seconds=float(data.get("seconds", 0.0)),
            notes=tuple(data.get("notes", [])),
            counted=tuple((str(c["module"]), str(c["works_on"])) for c in data.get("counted", [])),
        )


def skipped(
    distro: str, image: str, cause: Cause, detail: str, facts: DistroFacts | None = None
) -> Observation:
    """An observation for a distro that could not judge the wheel."""
    return Observation(
        distro,
        image,
        Outcome.SKIPPED,
        cause,
        detail,
        libc=facts.libc if facts else None,
        libc_version=facts.libc_version if facts else None,
        glibcxx=facts.glibcxx if facts else None,
    )


# -- reading the probe ------------------------------------------------------------------------


def parse_probe_documents(stdout: str) -> list[dict[str, Any]]:
    """Every whole JSON document the probe printed after a marker line, in order (``check``: one per wheel).

    A document cut short (the probe was killed while printing it) ends the list.
    """
    documents = []
    for chunk in stdout.split(MARKER)[1:]:
        try:
            document = json.loads(chunk.strip().splitlines()[0])
        except (ValueError, IndexError):
            break
        if not isinstance(document, dict):
            break
        documents.append(document)
    return documents


PROGRESS = "@@pytest-manylinux-progress@@ "


def _signal_name(number: int) -> str:
    import signal

    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def document_from_progress(
    stdout: str, plan: str, modules: Iterable[str], exit_code: int, stopped: float | None = None
) -> dict[str, Any] | None:
    """The check of ``plan`` as far as the probe got, when it died before printing its result; None when it
    was not importing a module of that wheel then.

    Only an import runs the wheel's code, so a probe that dies (``exit_code``: the exec's, 128 + the signal)
    while a module is being imported was ended by that module: an import that signals every process it
    may signal (``kill(-1, SIGKILL)``). The module is reported as crashing with that signal: the one the
    probe said it was importing, or, when it died before it could say so, the first of ``modules`` (the
    plan's, in the order they are imported) without a result. ``stopped``:
    the probe answered nothing until a watchdog killed it that many seconds in (``kill(-1, SIGSTOP)``).
    """
    loads: list[Any] | None = None
    imported: list[dict[str, Any]] = []
    current = None
    for line in stdout.splitlines():
        if not line.startswith(PROGRESS):
            continue
        try:
            record = json.loads(line[len(PROGRESS) :])
        except ValueError:
            continue
        if not isinstance(record, dict) or record.get("plan") != plan:
            continue
        if isinstance(record.get("loads"), list):
            loads = record["loads"]
        elif isinstance(record.get("importing"), str):
            current = record["importing"]
        elif isinstance(record.get("imported"), dict):
            imported.append(record["imported"])
            current = None
    if current is None and loads is not None:
        done = {r.get("module") for r in imported}
        current = next((m for m in modules if m not in done), None)
    if current is None or loads is None:
        return None  # it died checking files with the loader, which runs none of the wheel's code
    how = f"with {_signal_name(exit_code - 128)}" if exit_code > 128 else f"(exit status {exit_code})"
    culprit = {
        "module": current,
        "ok": False,
        "type": "signal",
        "signal": _signal_name(exit_code - 128) if exit_code > 128 else "",
        "message": f"ended the checking process {how}: its code signals processes outside the import "
        "(every process it may signal)",
    }
    if stopped is not None:
        culprit["signal"] = "SIGSTOP"
        culprit["message"] = (
            "stopped the checking process: its code signals processes outside the import (every process "
            f"it may signal); it was killed after {stopped:.0f} s"
        )
    return {"plan": plan, "loads": loads, "imports": [*imported, culprit], "probe_died": True}


def parse_probe_output(stdout: str, what: str) -> dict[str, Any]:
    """The JSON document after the probe's marker line."""
    _, marker, rest = stdout.rpartition(MARKER)
    if not marker:
        raise ProbeError(f"the probe printed no result for {what}; its output ended with: {stdout[-500:]!r}")
    try:
        document = json.loads(rest.strip().splitlines()[0])
    except (ValueError, IndexError) as e:
        raise ProbeError(f"the probe's result for {what} is not JSON: {rest[:300]!r}") from e
    if not isinstance(document, dict):
        raise ProbeError(f"the probe's result for {what} is not a JSON object: {rest[:300]!r}")
    return document


def _abi_of(soabi: str, version: tuple[int, int, int]) -> str:
    # SOABI is "cpython-35m-x86_64-linux-gnu" or "cpython-313t-x86_64-linux-gnu".
    match = re.match(r"^cpython-(\d+)([a-z]*)", soabi)
    if match:
        return f"cp{match.group(1)}{match.group(2)}"
    return f"cp{version[0]}{version[1]}"


def interpreter_from_json(data: dict[str, Any], origin: str) -> Interpreter:
    version = tuple(int(x) for x in data["version"][:3])
    assert len(version) == 3
    return Interpreter(
        path=str(data["path"]),
        version=(version[0], version[1], version[2]),
        implementation=str(data.get("implementation", "cpython")),
        abi=_abi_of(str(data.get("soabi", "")), (version[0], version[1], version[2])),
        origin=origin,
        ctypes=bool(data.get("ctypes", True)),
    )


def facts_from_json(document: dict[str, Any]) -> DistroFacts:
    libc = Libc(document["libc"]) if document.get("libc") in ("glibc", "musl") else None
    version = LibcVersion.parse(document["libc_version"]) if document.get("libc_version") else None
    interpreters = []
    broken = []
    for data in document.get("interpreters", []):
        if "error" in data:
            broken.append((str(data.get("path")), str(data["error"])))
            continue
        origin = "image" if str(data.get("path", "")).startswith("/opt/python/") else "distro"
        interpreters.append(interpreter_from_json(data, origin))
    stdcxx = document.get("libstdcxx") or {}
    return DistroFacts(
        libc=libc,
        libc_version=version,
        machine=str(document.get("machine", "")),
        loader=document.get("loader"),
        glibcxx=stdcxx.get("glibcxx"),
        cxxabi=stdcxx.get("cxxabi"),
        interpreters=tuple(interpreters),
        broken=tuple(broken),
    )


# -- classifying ------------------------------------------------------------------------------

_VERSION_NOT_FOUND = re.compile(
    r"(?:(?P<lib>[^\s:]+): )?version [`'](?P<version>[^'`]+)' not found(?: \(required by (?P<by>[^)]+)\))?"
)
_NOT_FOUND_LIB = re.compile(r"^(?P<lib>\S+) => not found")
_CANNOT_OPEN = re.compile(r"(?P<lib>[^\s:]+): cannot open shared object file")
_UNDEFINED = re.compile(r"undefined symbol: (?P<symbol>[^\s,]+)(?:\s+\((?P<by>[^)]+)\))?")
_SYMBOL_VERSION = re.compile(
    r"^symbol (?P<symbol>\S+), version (?P<version>\S+) not defined in file (?P<lib>\S+)"
    r"(?: with link time reference)?(?:\s+\((?P<by>[^)]+)\))?"
)
_EXECSTACK = re.compile(r"(?P<by>[^\s:]+): cannot enable executable stack")
# musl's loader (``ld-musl-x86_64.so.1 --list FILE``, and dlopen's errors): no symbol versions, so a
# function newer than the distro's musl is a symbol not found at relocation.
_MUSL_RELOCATING = re.compile(r"Error relocating (?P<by>[^:]+): (?P<symbol>[^\s:]+): symbol not found")
_MUSL_LOADING = re.compile(
    r"Error loading shared library (?P<lib>[^\s:]+): (?P<why>[^(]+?)(?:\s+\(needed by (?P<by>[^)]+)\))?$"
)
#: Sonames only glibc provides (musl's loader answers the unversioned libc.so, libm.so, ... itself).
GLIBC_SONAMES = frozenset(
    [
        "libc.so.6",
        "libm.so.6",
        "libpthread.so.0",
        "libdl.so.2",
        "librt.so.1",
        "libutil.so.1",
        "libresolv.so.2",
        "libcrypt.so.1",
        "libmvec.so.1",
        "ld-linux-x86-64.so.2",
        "ld-linux-aarch64.so.1",
        "ld-linux.so.2",
        "ld64.so.2",
    ]
)
_MUSL_SONAME = re.compile(r"^(?:libc\.musl-[^/]+\.so\.1|ld-musl-[^/]+\.so\.1|libc\.so)$")


def libc_of_soname(soname: str) -> Libc | None:
    """The C library a needed soname belongs to, when only one of them provides it."""
    if soname in GLIBC_SONAMES:
        return Libc.GLIBC
    if _MUSL_SONAME.match(soname):
        return Libc.MUSL
    return None


def _missing(lib: str, by: str | None) -> tuple[Cause, str]:
    libc = libc_of_soname(_base(lib))
    if libc is not None:
        return Cause.LIBC_MISMATCH, f"{lib} not found{_by(by)}: linked against {libc.value}, not this libc"
    return Cause.MISSING_LIBRARY, f"{lib} not found"  # the evidence line says which file needs it


def _version_cause(version: str) -> Cause:
    if version.startswith("GLIBC_"):
        return Cause.GLIBC
    if version.startswith(("GLIBCXX_", "CXXABI_", "GCC_")):
        return Cause.CXX_ABI
    # Another library's symbol version (OPENSSL_3.0.0, ...): the library there is too old.
    return Cause.MISSING_LIBRARY


def _base(path: str | None) -> str:
    return (path or "").rsplit("/", 1)[-1]


def _by(path: str | None) -> str:
    return f" (needed by {path})" if path else ""


def classify_message(text: str) -> tuple[Cause, str] | None:
    """Classify one loader or ImportError message: (cause, a one-line headline) or None."""
    match = _SYMBOL_VERSION.search(text)
    if match:
        return _version_cause(match["version"]), (
            f"{match['symbol']}@{match['version']} is not in {_base(match['lib'])}{_by(match['by'])}"
        )
    match = _VERSION_NOT_FOUND.search(text)
    if match:
        lib = f"{_base(match['lib'])} lacks " if match["lib"] else ""
        return _version_cause(match["version"]), f"{lib}{match['version']}{_by(match['by'])}"
    match = _NOT_FOUND_LIB.search(text)
    if match:
        return _missing(match["lib"], None)
    match = _CANNOT_OPEN.search(text)
    if match:
        return _missing(match["lib"], None)
    match = _MUSL_LOADING.search(text)
    if match:
        return _missing(match["lib"], match["by"])
    match = _MUSL_RELOCATING.search(text)
    if match:
        symbol = match["symbol"]
        cause = Cause.CXX_ABI if symbol.startswith("_Z") else Cause.UNDEFINED_SYMBOL
        return cause, f"undefined symbol {symbol} in {match['by']}"
    match = _UNDEFINED.search(text)
    if match:
        symbol = match["symbol"]
        # An undefined mangled C++ name means the C++ runtime there lacks it: an ABI mismatch.
        cause = Cause.CXX_ABI if symbol.startswith("_Z") else Cause.UNDEFINED_SYMBOL
        where = f" in {match['by']}" if match["by"] else ""
        return cause, f"undefined symbol {symbol}{where}"
    match = _EXECSTACK.search(text)
    if match:
        return Cause.ERROR, f"{match['by']}: the loader refuses its executable stack"
    return None


def classify_load(load: dict[str, Any]) -> list[Finding]:
    """Findings from one file's loader trace."""
    findings = []
    for line in load.get("lines", []):
        found = classify_message(line)
        cause, headline = found if found else (Cause.ERROR, line)
        findings.append(Finding("load", str(load["path"]), cause, headline, line))
    return findings


#: Top-level modules of CPython's standard library from 3.5 to 3.14 (3.11's ``sys.stdlib_module_names``, the
#: ones older releases had and the ones later releases added). An interpreter that lacks one (a portable
#: CPython built without ``_curses``, a distro python split into packages: ``distutils``, ``tkinter``) cannot
#: judge code that imports it; that says nothing about the platform.
STDLIB_MODULES = frozenset(
    [
        "__future__",
        "_abc",
        "_aix_support",
        "_ast",
        "_asyncio",
        "_bisect",
        "_blake2",
        "_bootlocale",
        "_bootsubprocess",
        "_bz2",
        "_codecs",
        "_codecs_cn",
        "_codecs_hk",
        "_codecs_iso2022",
        "_codecs_jp",
        "_codecs_kr",
        "_codecs_tw",
        "_collections",
        "_collections_abc",
        "_colorize",
        "_compat_pickle",
        "_compression",
        "_contextvars",
        "_crypt",
        "_csv",
        "_ctypes",
        "_curses",
        "_curses_panel",
        "_datetime",
        "_dbm",
        "_decimal",
        "_dummy_thread",
        "_elementtree",
        "_frozen_importlib",
        "_frozen_importlib_external",
        "_functools",
        "_gdbm",
        "_hashlib",
        "_heapq",
        "_hmac",
        "_imp",
        "_interpchannels",
        "_interpqueues",
        "_interpreters",
        "_io",
        "_ios_support",
        "_json",
        "_locale",
        "_lsprof",
        "_lzma",
        "_markupbase",
        "_md5",
        "_msi",
        "_multibytecodec",
        "_multiprocessing",
        "_opcode",
        "_opcode_metadata",
        "_operator",
        "_osx_support",
        "_overlapped",
        "_pickle",
        "_posixshmem",
        "_posixsubprocess",
        "_py_abc",
        "_pydatetime",
        "_pydecimal",
        "_pyio",
        "_pylong",
        "_pyrepl",
        "_queue",
        "_random",
        "_remote_debugging",
        "_scproxy",
        "_sha1",
        "_sha2",
        "_sha256",
        "_sha3",
        "_sha512",
        "_signal",
        "_sitebuiltins",
        "_socket",
        "_sqlite3",
        "_sre",
        "_ssl",
        "_stat",
        "_statistics",
        "_string",
        "_strptime",
        "_struct",
        "_suggestions",
        "_symtable",
        "_sysconfig",
        "_thread",
        "_threading_local",
        "_tkinter",
        "_tokenize",
        "_tracemalloc",
        "_typing",
        "_uuid",
        "_warnings",
        "_weakref",
        "_weakrefset",
        "_winapi",
        "_wmi",
        "_zoneinfo",
        "_zstd",
        "abc",
        "aifc",
        "annotationlib",
        "antigravity",
        "argparse",
        "array",
        "ast",
        "asynchat",
        "asyncio",
        "asyncore",
        "atexit",
        "audioop",
        "base64",
        "bdb",
        "binascii",
        "binhex",
        "bisect",
        "builtins",
        "bz2",
        "cProfile",
        "calendar",
        "cgi",
        "cgitb",
        "chunk",
        "cmath",
        "cmd",
        "code",
        "codecs",
        "codeop",
        "collections",
        "colorsys",
        "compileall",
        "compression",
        "concurrent",
        "configparser",
        "contextlib",
        "contextvars",
        "copy",
        "copyreg",
        "crypt",
        "csv",
        "ctypes",
        "curses",
        "dataclasses",
        "datetime",
        "dbm",
        "decimal",
        "difflib",
        "dis",
        "distutils",
        "doctest",
        "dummy_threading",
        "email",
        "encodings",
        "ensurepip",
        "enum",
        "errno",
        "faulthandler",
        "fcntl",
        "filecmp",
        "fileinput",
        "fnmatch",
        "formatter",
        "fractions",
        "ftplib",
        "functools",
        "gc",
        "genericpath",
        "getopt",
        "getpass",
        "gettext",
        "glob",
        "graphlib",
        "grp",
        "gzip",
        "hashlib",
        "heapq",
        "hmac",
        "html",
        "http",
        "idlelib",
        "imaplib",
        "imghdr",
        "imp",
        "importlib",
        "inspect",
        "io",
        "ipaddress",
        "itertools",
        "json",
        "keyword",
        "lib2to3",
        "linecache",
        "locale",
        "logging",
        "lzma",
        "macpath",
        "mailbox",
        "mailcap",
        "marshal",
        "math",
        "mimetypes",
        "mmap",
        "modulefinder",
        "msilib",
        "msvcrt",
        "multiprocessing",
        "netrc",
        "nis",
        "nntplib",
        "nt",
        "ntpath",
        "nturl2path",
        "numbers",
        "opcode",
        "operator",
        "optparse",
        "os",
        "ossaudiodev",
        "parser",
        "pathlib",
        "pdb",
        "pickle",
        "pickletools",
        "pipes",
        "pkgutil",
        "platform",
        "plistlib",
        "poplib",
        "posix",
        "posixpath",
        "pprint",
        "profile",
        "pstats",
        "pty",
        "pwd",
        "py_compile",
        "pyclbr",
        "pydoc",
        "pydoc_data",
        "pyexpat",
        "queue",
        "quopri",
        "random",
        "re",
        "readline",
        "reprlib",
        "resource",
        "rlcompleter",
        "runpy",
        "sched",
        "secrets",
        "select",
        "selectors",
        "shelve",
        "shlex",
        "shutil",
        "signal",
        "site",
        "smtpd",
        "smtplib",
        "sndhdr",
        "socket",
        "socketserver",
        "spwd",
        "sqlite3",
        "sre_compile",
        "sre_constants",
        "sre_parse",
        "ssl",
        "stat",
        "statistics",
        "string",
        "stringprep",
        "struct",
        "subprocess",
        "sunau",
        "symbol",
        "symtable",
        "sys",
        "sysconfig",
        "syslog",
        "tabnanny",
        "tarfile",
        "telnetlib",
        "tempfile",
        "termios",
        "textwrap",
        "this",
        "threading",
        "time",
        "timeit",
        "tkinter",
        "token",
        "tokenize",
        "tomllib",
        "trace",
        "traceback",
        "tracemalloc",
        "tty",
        "turtle",
        "turtledemo",
        "types",
        "typing",
        "unicodedata",
        "unittest",
        "urllib",
        "uu",
        "uuid",
        "venv",
        "warnings",
        "wave",
        "weakref",
        "webbrowser",
        "winreg",
        "winsound",
        "wsgiref",
        "xdrlib",
        "xml",
        "xmlrpc",
        "zipapp",
        "zipfile",
        "zipimport",
        "zlib",
        "zoneinfo",
    ]
)

# Ways a module says it needs another project that is not there, besides ModuleNotFoundError: the C-API
# import of a dependency (numpy's import_array: "numpy._core.multiarray failed to import"), and optional
# extras that refuse to load ("Required package 'torch' not installed", "pip install foo").
_FAILED_TO_IMPORT = re.compile(r"(?P<name>[A-Za-z_][\w.]*) failed to import")
# Cython's check of a dependency's ABI: "numpy.dtype size changed, may indicate binary incompatibility"
_SIZE_CHANGED = re.compile(r"(?P<name>[A-Za-z_][\w]*)\.\w+ size changed, may indicate binary incompatibility")
_ASKS_TO_INSTALL = re.compile(
    r"(?i)\b(?:not installed|pip install|please install|is required|are required"
    r"|requires? (?:the )?\S+ package)"
)
_QUOTED = re.compile(r"[`'\"](?P<name>[A-Za-z_][\w.-]*)[`'\"]")
_IMPORT_ERRORS = ("ImportError", "ModuleNotFoundError")
#: how a module's evidence starts when the interpreter cannot parse its code (a newer Python may)
CANNOT_PARSE = "this python cannot parse"


def _normalized(name: str) -> str:
    # PEP 503 project names; module names compare the same way (dashes and dots as underscores).
    return re.sub(r"[-_.]+", "_", name).lower()


@dataclass(frozen=True)
class _Context:
    """What classifying one wheel's import results needs to know about the wheel."""

    #: the wheel's top-level modules
    ours: frozenset[str]
    #: normalized names of the projects the wheel requires (Requires-Dist, every extra)
    requirements: frozenset[str]
    #: where other wheels (the wheelhouse's dependencies) are laid out in the container; a path under it is
    #: a dependency's file ("": unknown)
    others: str = ""

    def foreign(self, path: str | None) -> bool:
        return bool(self.others and path and path.startswith(self.others))


def _chain(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The exception and the ones behind it, as the probe describes them (older documents: the top one)."""
    chain = result.get("chain")
    if isinstance(chain, list) and chain:
        return [link for link in chain if isinstance(link, dict)]
    kind = str(result.get("type", ""))
    syntax = kind in ("SyntaxError", "IndentationError", "TabError")
    links = [
        {
            "type": kind,
            "message": str(result.get("message", "")),
            "name": result.get("missing"),
            "syntax": syntax,
        }
    ]
    # A chained error ("initialization failed" caused by a missing dependency) named its cause only in the
    # traceback before the probe described chains.
    for name in re.findall(r"No module named '([^']+)'", str(result.get("traceback") or "")):
        links.append({"type": "ModuleNotFoundError", "message": f"No module named {name!r}", "name": name})
    return links


def _set_aside(result: dict[str, Any], links: list[dict[str, Any]], context: _Context) -> Finding | None:
    """A finding that sets the module aside (a dependency, an interpreter unable to run the code), or None."""
    module = str(result["module"])
    kind = str(result.get("type", ""))
    message = str(result.get("message", ""))
    detail = str(result.get("traceback") or result.get("stderr") or "")
    for link in links:
        if link.get("syntax"):
            where = f" {link['file']}" if link.get("file") else ""
            evidence = f"{CANNOT_PARSE}{where}: {link.get('type')}: {link.get('message')}"
            return Finding("import", module, Cause.PYTHON, evidence, detail)
    for link in links:
        name = str(link.get("name") or "")
        text = str(link.get("message", ""))
        if link.get("type") not in _IMPORT_ERRORS or not name or not text.startswith("No module named"):
            continue
        top = name.split(".", 1)[0]
        if top in context.ours:
            continue  # a module of the wheel itself is missing: the wheel's own behaviour
        if top in STDLIB_MODULES:
            evidence = f"this python lacks the standard library module {name!r} ({link.get('type')}: {text})"
            return Finding("import", module, Cause.PYTHON, evidence, detail)
        note = "(a dependency, not part of the wheel)" if link is links[0] else f"(needs {name!r})"
        # Python 3.5 raises a plain ImportError where later ones raise ModuleNotFoundError: one evidence for
        # both,
        # so the same missing dependency reads the same on every distro.
        said = (
            "ModuleNotFoundError" if kind == "ImportError" and message.startswith("No module named") else kind
        )
        return Finding("import", module, Cause.MISSING_DEPENDENCY, f"{said}: {message} {note}", detail)
    for link in links:
        text = str(link.get("message", ""))
        if context.foreign(link.get("file")):
            evidence = f"{kind}: {message} (raised by a dependency's code: {link.get('file')})"
            return Finding("import", module, Cause.MISSING_DEPENDENCY, evidence, detail)
        match = _SIZE_CHANGED.search(text)
        if link.get("type") not in _IMPORT_ERRORS and match is None:
            continue
        match = match or _FAILED_TO_IMPORT.search(text)
        if match and match["name"].split(".", 1)[0] not in context.ours:
            name = match["name"]
            evidence = (
                f"{kind}: {message} (the C API of {name.split('.', 1)[0]!r}, a dependency, does not fit here)"
            )
            return Finding("import", module, Cause.MISSING_DEPENDENCY, evidence, detail)
        named = [q["name"] for q in _QUOTED.finditer(text)]
        wanted = [
            n for n in named if _normalized(n) in context.requirements and n.split(".")[0] not in context.ours
        ]
        if wanted or (
            _ASKS_TO_INSTALL.search(text) and any(n.split(".")[0] not in context.ours for n in named)
        ):
            name = (wanted or [n for n in named if n.split(".")[0] not in context.ours])[0]
            evidence = f"{kind}: {message} (an optional dependency, {name!r}, is not installed)"
            return Finding("import", module, Cause.MISSING_DEPENDENCY, evidence, detail)
    return None


def classify_import(
    result: dict[str, Any],
    wheel_modules: Iterable[str],
    requirements: Iterable[str] = (),
    others: str = "",
) -> Finding | None:
    """The finding of one module's import, or None when it imported.

    In order: a signal, a hang or a memory kill; loader evidence anywhere in the exception chain (a missing
    ``GLIBC_`` version, library or symbol: the platform's answer, kept with its cause; a dependency's file
    failing to load is the dependency's); an interpreter that cannot run the code (a ``SyntaxError``, a
    missing stdlib module) and a missing dependency in any of its forms, which set the module aside; and
    otherwise a Python exception (:attr:`Cause.EXCEPTION`), which counts only by comparison across distros.
    ``requirements`` are the wheel's Requires-Dist names; ``others`` where dependencies are laid out.
    """
    if result.get("ok"):
        return None
    module = str(result["module"])
    kind = str(result.get("type", ""))
    message = str(result.get("message", ""))
    detail = str(result.get("traceback") or result.get("stderr") or "")
    if kind == "timeout":
        hang = result.get("hang") or {}
        detail = str(hang.get("stack") or detail)
        if hang.get("where") == "python":
            # Python code that never ends (an example script's event loop, a wait for input): like an
            # exception, the wheel's own unless the same Python finishes it on a newer platform.
            return Finding("import", module, Cause.EXCEPTION, f"import {module}: hang: {message}", detail)
        return Finding("import", module, Cause.TIMEOUT, f"import {module}: {message}", detail)
    if result.get("disk") and kind != "memory":
        # A resource limit of this run, like memory: whatever else failed followed from the full disk.
        return Finding("import", module, Cause.DISK, f"import {module} failed: {result['disk']}", detail)
    if kind == "signal" and result.get("signal") == "SIGILL":
        # The CPU, not the distro: a module built for instructions this machine lacks (faiss's AVX-512
        # variant, imported directly rather than through the loader that picks one the CPU has).
        evidence = f"import {module} {message}: it uses instructions this machine's CPU lacks"
        return Finding("import", module, Cause.CPU, evidence, detail)
    if kind == "signal":
        return Finding("import", module, Cause.CRASH, f"import {module} {message}", detail)
    if kind == "memory":
        # A resource limit of this run, not a property of the wheel on this distro: no judgement.
        return Finding("import", module, Cause.MEMORY, f"import {module} was {message}", detail)
    if kind == "exit":
        # sys.exit() is an exception like any other; os._exit() at import ends the importer.
        return Finding("import", module, Cause.EXCEPTION, f"import {module}: {message}", detail)
    context = _Context(
        ours=frozenset(m.split(".", 1)[0] for m in wheel_modules),
        requirements=frozenset(_normalized(r) for r in requirements),
        others=others,
    )
    links = _chain(result)
    for link in links:
        found = classify_message(str(link.get("message", "")))
        if found is None:
            continue
        if context.others and context.others in str(link.get("message", "")):
            # The file that fails to load is a dependency's (ours are named relative to the wheel by now).
            evidence = f"{kind}: {message} (a dependency does not load here: {found[1]})"
            return Finding("import", module, Cause.MISSING_DEPENDENCY, evidence, detail)
        return Finding(
            "import", module, found[0], f"import {module}: {found[1]}", f"{kind}: {message}\n{detail}"
        )
    aside = _set_aside(result, links, context)
    if aside is not None:
        return aside
    return Finding("import", module, Cause.EXCEPTION, f"import {module}: {kind}: {message}", detail)


def _decisive(findings: Iterable[Finding]) -> Finding | None:
    ordered = sorted(findings, key=lambda f: (_RANK[f.cause], f.check != "import"))
    return ordered[0] if ordered else None


def _relative(document: Any, root: str) -> Any:
    """The probe's document with container paths of the wheel shown relative to the wheel.

    Library files (purelib/platlib) are laid out under ``site/``: they are named as in the wheel.
    """
    if isinstance(document, str):
        text = document.replace(root.rstrip("/") + "/site/", "").replace(root.rstrip("/") + "/", "")
        return text[len("site/") :] if text.startswith("site/") else text
    if isinstance(document, list):
        return [_relative(x, root) for x in document]
    if isinstance(document, dict):
        return {k: _relative(v, root) for k, v in document.items()}
    return document


def _counted(finding: Finding, works_on: str) -> Finding:
    """An exception (or a hang in Python code) the platform explains, as the failure it then is."""
    evidence = f"{finding.evidence} (the same import works on {works_on} with the same Python)"
    hang = finding.evidence.startswith(f"import {finding.target}: hang: ")
    return Finding(
        finding.check, finding.target, Cause.TIMEOUT if hang else Cause.ERROR, evidence, finding.detail
    )


def summarized(observation: Observation) -> Observation:
    """The observation's outcome, cause and detail made from its findings (and :attr:`Observation.counted`).

    A failure cause decides (the most telling one first); an exception decides only when counted. Without
    one, a checked distro is ``ok``: set-aside modules and uncounted exceptions are notes and findings, not
    outcomes. Skips (nothing could be judged) are left as they are.
    """
    if observation.outcome is Outcome.SKIPPED:
        return observation
    counted = dict(observation.counted)
    failures = [f for f in observation.findings if f.cause.is_failure]
    failures += [
        _counted(f, counted[f.target])
        for f in observation.findings
        if f.cause is Cause.EXCEPTION and f.target in counted
    ]
    decisive = _decisive(failures)
    if decisive is None:
        return replace(observation, outcome=Outcome.OK, cause=None, detail="")
    where = f"{decisive.target}: " if decisive.target not in decisive.evidence else ""
    more = f" (+{len(failures) - 1} more)" if len(failures) > 1 else ""
    return replace(
        observation, outcome=Outcome.FAIL, cause=decisive.cause, detail=where + decisive.evidence + more
    )


#: the causes that set a module (or a file) aside: nothing is concluded about it, the rest is judged
SET_ASIDE = (Cause.MISSING_DEPENDENCY, Cause.PYTHON, Cause.SYSTEM_LIBRARY, Cause.CPU)


def _expected_by_policy(findings: Iterable[Finding], expected: frozenset[str]) -> list[Finding]:
    """Findings of libraries the claimed policy lets the wheel expect from the system, as set-aside ones.

    The symbols such a library would have defined are undefined in the same file's trace: they cannot be
    judged either, and are set aside with it.
    """
    out = []
    lacking: dict[tuple[str, str], str] = {}
    for f in findings:
        match = re.match(r"^(?:import \S+: )?(?P<lib>\S+) not found$", f.evidence)
        if f.cause is Cause.MISSING_LIBRARY and match and match["lib"] in expected:
            evidence = (
                f"{match['lib']} is not in this image, "
                "though the claimed tag lets a wheel expect it from the "
                "system; add it to the image to judge what needs it"
            )
            lacking.setdefault((f.check, f.target), evidence)
            f = Finding(f.check, f.target, Cause.SYSTEM_LIBRARY, evidence, f.detail)
        out.append(f)
    undefined = (Cause.UNDEFINED_SYMBOL, Cause.CXX_ABI)
    return [
        Finding(f.check, f.target, Cause.SYSTEM_LIBRARY, lacking[(f.check, f.target)], f.detail)
        if f.cause in undefined
        and f.evidence.startswith("undefined symbol")
        and (f.check, f.target) in lacking
        else f
        for f in out
    ]


def set_aside_notes(findings: Iterable[Finding], remedy: str = "") -> list[str]:
    """One note per reason modules were set aside (a missing dependency, a Python that cannot run them)."""
    groups: dict[str, list[str]] = {}
    for f in findings:
        if f.cause in SET_ASIDE:
            reason = (
                f.evidence
                if f.cause is not Cause.MISSING_DEPENDENCY or not remedy
                else f"{f.evidence}; {remedy}"
            )
            groups.setdefault(reason, []).append(f.target)
    notes = []
    for reason, modules in groups.items():
        shown = ", ".join(modules[:3]) + (f" and {len(modules) - 3} more" if len(modules) > 3 else "")
        notes.append(f"set aside: {shown}: {reason}")
    return notes


def leftover_notes(imports: Iterable[dict[str, Any]]) -> list[str]:
    """One note per module whose import left processes running (killed when its check ended) or printed
    more than the check keeps: not about the tag, but worth knowing."""
    notes = []
    for result in imports:
        count = result.get("leftovers")
        if isinstance(count, int) and count > 0:
            what = f"{count} process{'es' if count != 1 else ''}"
            notes.append(
                f"{result.get('module')}: its import left {what} running; killed when the import ended"
            )
    return notes


def _remedy(unsatisfied: tuple[str, ...] | None) -> str:
    if unsatisfied is None:
        return (
            "supply it with --manylinux-wheelhouse DIR (a directory of wheels), or use an image that has it"
        )
    if unsatisfied:
        return "the wheelhouse cannot satisfy " + "; ".join(unsatisfied)
    return "not declared in Requires-Dist, so the wheelhouse was not asked for it"


def _libc_mismatches(findings: list[Finding], linked: Mapping[str, str], here: Libc) -> list[Finding]:
    """Failures of files linked against the other C library, relabelled ``libc-mismatch``.

    musl's loader answers ``libc.so.6`` itself, so a glibc-linked file on Alpine fails on a glibc-only
    symbol (``__snprintf_chk``, ``gnu_get_libc_version``) rather than on a missing library; the file's
    own needs say why.
    """
    foreign = {path: libc for path, libc in linked.items() if libc != here.value}
    if not foreign:
        return findings
    out = []
    for f in findings:
        path = next(
            (p for p in foreign if f.target == p or p in f.evidence or p in f.detail),
            None,
        )
        if path is not None and f.cause.is_failure and f.cause is not Cause.LIBC_MISMATCH:
            evidence = f"{path} is linked against {foreign[path]}, not this {here.value}: {f.evidence}"
            f = replace(f, cause=Cause.LIBC_MISMATCH, evidence=evidence)
        out.append(f)
    return out


def observation_from_check(
    distro: str,
    image: str,
    facts: DistroFacts,
    document: dict[str, Any],
    wheel_modules: Iterable[str],
    interpreter: Interpreter,
    seconds: float,
    root: str = "",
    supplied: tuple[str, ...] = (),
    unsatisfied: tuple[str, ...] | None = None,
    requirements: Iterable[str] = (),
    expected: frozenset[str] = frozenset(),
    linked: Mapping[str, str] | None = None,
) -> Observation:
    """Classify a probe ``check`` result into an observation.

    A module whose import needs something this distro's check lacks (a dependency, an interpreter that can
    run its code) is set aside with the reason; the distro is still judged on every other module and every
    ELF file, and skipped only when nothing of the wheel could be judged. ``supplied`` names the dependency
    wheels put on the import path from the wheelhouse; ``unsatisfied`` the requirements the wheelhouse could
    not meet (``None``: no wheelhouse given); ``requirements`` the wheel's Requires-Dist names; ``expected``
    the libraries the claimed tag's policy lets a wheel expect from the system (one the image lacks sets
    what needs it aside: PEP 600 promises nothing about such an image). ``linked`` maps the wheel's ELF
    files (paths under ``root``) to the C library each is linked against: a failure of a file linked
    against the other C library than this distro's is that (``libc-mismatch``), whatever the loader said.
    """
    others = root.rstrip("/").rsplit("/", 1)[0] + "/" if root else ""
    if root:
        document = _relative(document, root)
    modules = tuple(wheel_modules)
    findings: list[Finding] = []
    notes: list[str] = [f"dependencies from the wheelhouse: {', '.join(supplied)}"] if supplied else []
    loads = document.get("loads", [])
    for load in loads:
        if load.get("static"):
            notes.append(f"{load['path']} is statically linked: nothing for the loader to resolve")
        findings += classify_load(load)
    imported = 0
    for result in document.get("imports", []):
        finding = classify_import(result, modules, requirements, others)
        if finding is None:
            imported += 1
        else:
            findings.append(finding)
    findings = _expected_by_policy(findings, expected)
    if linked and facts.libc is not None:
        # Named as the findings name files: relative to the wheel (library files without ``site/``).
        files = {
            _relative(f"{root.rstrip('/')}/{path}", root) if root else path: libc
            for path, libc in linked.items()
        }
        findings = _libc_mismatches(findings, files, facts.libc)
    remedy = _remedy(unsatisfied)
    notes += set_aside_notes(findings, remedy)
    notes += leftover_notes(document.get("imports", []))
    common = dict(
        libc=facts.libc,
        libc_version=facts.libc_version,
        findings=tuple(findings),
        interpreter=interpreter.describe(),
        glibcxx=facts.glibcxx,
        seconds=seconds,
        notes=tuple(notes),
    )
    observation = summarized(Observation(distro, image, Outcome.OK, **common))  # type: ignore[arg-type]
    if observation.outcome is Outcome.FAIL:
        return observation
    for cause, option in ((Cause.MEMORY, "--manylinux-memory"), (Cause.DISK, "--manylinux-disk")):
        limited = [f for f in findings if f.cause is cause]
        if limited:
            detail = f"{limited[0].evidence}; raise {option} to judge this distro"
            return replace(observation, outcome=Outcome.SKIPPED, cause=cause, detail=detail)
    # Judged: the loader resolved the wheel's ELF files here, or a module imported (or raised an exception
    # of its own, which is evidence once compared with the other distros).
    judged = bool(loads) or imported > 0 or any(f.cause is Cause.EXCEPTION for f in findings)
    aside = [f for f in findings if f.cause in SET_ASIDE]
    if judged or not aside:
        return observation
    first = next((f for f in aside if f.cause is Cause.MISSING_DEPENDENCY), aside[0])
    detail = f"{first.evidence}; {remedy}" if first.cause is Cause.MISSING_DEPENDENCY else first.evidence
    return replace(observation, outcome=Outcome.SKIPPED, cause=first.cause, detail=detail)
