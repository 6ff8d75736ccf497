"""Per-distro observations: what the probe saw, classified by cause (pure; no engine here).

The probe reports raw loader lines and import results; this module turns them into
:class:`Finding` values with one evidence line each, and one :class:`Observation` per distro.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from .errors import ProbeError
from .tags import Libc, LibcVersion

MARKER = "@@pytest-manylinux-result@@"


class Outcome(str, enum.Enum):
    """How one wheel fared on one distro."""

    OK = "ok"
    FAIL = "fail"
    SKIPPED = "skipped"


class Cause(str, enum.Enum):
    """Why a check failed or was skipped; failures first, most telling first."""

    GLIBC = "glibc"  #: version `GLIBC_x' not found
    CXX_ABI = "cxx-abi"  #: GLIBCXX_/CXXABI_/GCC_ version not found, or an undefined C++ symbol
    MISSING_LIBRARY = "missing-library"  #: a DT_NEEDED library is not in the wheel or the image
    UNDEFINED_SYMBOL = "undefined-symbol"  #: a symbol nothing in the process defines
    CRASH = "crash"  #: the import died by a signal
    TIMEOUT = "timeout"  #: the import did not finish in time
    ERROR = "error"  #: any other failure (an exception at import, a loader refusal)
    # Not failures: reasons a distro could not judge the wheel.
    MISSING_DEPENDENCY = "missing-dependency"  #: a module the wheel does not contain is not installed
    MEMORY = "memory"  #: an import was killed for memory at the container's limit (--manylinux-memory)
    PYTHON = "python"  #: no interpreter in the image can load the wheel's Python tag
    ARCH = "arch"  #: the wheel is for another CPU architecture than the engine's
    LIBC = "libc"  #: the distro's libc family is not the one the wheel is built for
    IMAGE = "image"  #: the image could not be found, pulled or built
    ENGINE = "engine"  #: the engine failed while checking

    @property
    def is_failure(self) -> bool:
        return self in _FAILURES


_FAILURES = (
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
        v = ".".join(str(x) for x in self.version)
        return f"{self.path} ({v}, {self.origin})"


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
    #: non-failure notes (missing dependencies, weak symbols, ...)
    notes: tuple[str, ...] = field(default=())

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
        )


def skipped(distro: str, image: str, cause: Cause, detail: str, facts: DistroFacts | None = None) -> Observation:
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
        return Cause.MISSING_LIBRARY, f"{match['lib']} not found"
    match = _CANNOT_OPEN.search(text)
    if match:
        return Cause.MISSING_LIBRARY, f"{match['lib']} not found"
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


def classify_import(result: dict[str, Any], wheel_modules: Iterable[str]) -> Finding | None:
    """The finding of one module's import, or None when it imported."""
    if result.get("ok"):
        return None
    module = str(result["module"])
    kind = result.get("type", "")
    message = str(result.get("message", ""))
    detail = str(result.get("traceback") or result.get("stderr") or "")
    if kind == "timeout":
        return Finding("import", module, Cause.TIMEOUT, f"import {module}: {message}", detail)
    if kind == "signal":
        return Finding("import", module, Cause.CRASH, f"import {module} {message}", detail)
    if kind == "memory":
        # A resource limit of this run, not a property of the wheel on this distro: no judgement.
        return Finding("import", module, Cause.MEMORY, f"import {module} was {message}", detail)
    if kind == "exit":
        return Finding("import", module, Cause.ERROR, message, detail)
    missing = result.get("missing")
    if missing and kind in ("ModuleNotFoundError", "ImportError") and message.startswith("No module named"):
        top = str(missing).split(".", 1)[0]
        ours = {m.split(".", 1)[0] for m in wheel_modules}
        if top not in ours:
            return Finding(
                "import",
                module,
                Cause.MISSING_DEPENDENCY,
                f"{kind}: {message} (a dependency, not part of the wheel)",
                detail,
            )
    found = classify_message(message)
    if found is not None:
        return Finding("import", module, found[0], f"import {module}: {found[1]}", f"{kind}: {message}\n{detail}")
    # A chained error ("initialization failed" caused by a missing dependency) names its cause
    # only in the traceback.
    if re.search(r"No module named '([^']+)'", detail) and kind in ("ImportError", "ModuleNotFoundError"):
        name = re.findall(r"No module named '([^']+)'", detail)[-1]
        ours = {m.split(".", 1)[0] for m in wheel_modules}
        if name.split(".", 1)[0] not in ours:
            return Finding("import", module, Cause.MISSING_DEPENDENCY, f"{kind}: {message} (needs {name!r})", detail)
    return Finding("import", module, Cause.ERROR, f"{kind}: {message}", detail)


def _decisive(findings: Iterable[Finding]) -> Finding | None:
    ordered = sorted(findings, key=lambda f: (_RANK[f.cause], f.check != "import"))
    return ordered[0] if ordered else None


def _relative(document: Any, root: str) -> Any:
    """The probe's document with container paths of the wheel shown relative to the wheel.

    Library files (purelib/platlib) are laid out under ``site/``: they are named as in the wheel.
    """
    if isinstance(document, str):
        text = document.replace(root.rstrip("/") + "/site/", "").replace(root.rstrip("/") + "/", "")
        return text[len("site/"):] if text.startswith("site/") else text
    if isinstance(document, list):
        return [_relative(x, root) for x in document]
    if isinstance(document, dict):
        return {k: _relative(v, root) for k, v in document.items()}
    return document


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
) -> Observation:
    """Classify a probe ``check`` result into an observation.

    ``supplied`` names the dependency wheels put on the import path from the wheelhouse;
    ``unsatisfied`` the requirements the wheelhouse could not meet (``None``: no wheelhouse given).
    """
    if root:
        document = _relative(document, root)
    modules = tuple(wheel_modules)
    findings: list[Finding] = []
    notes: list[str] = [f"dependencies from the wheelhouse: {', '.join(supplied)}"] if supplied else []
    for load in document.get("loads", []):
        if load.get("static"):
            notes.append(f"{load['path']} is statically linked: nothing for the loader to resolve")
        findings += classify_load(load)
    for result in document.get("imports", []):
        finding = classify_import(result, modules)
        if finding is not None:
            findings.append(finding)
    failures = [f for f in findings if f.cause.is_failure]
    decisive = _decisive(failures)
    common = dict(
        libc=facts.libc,
        libc_version=facts.libc_version,
        findings=tuple(findings),
        interpreter=interpreter.describe(),
        glibcxx=facts.glibcxx,
        seconds=seconds,
        notes=tuple(notes),
    )
    if decisive is not None:
        where = f"{decisive.target}: " if decisive.target not in decisive.evidence else ""
        more = f" (+{len(failures) - 1} more)" if len(failures) > 1 else ""
        detail = where + decisive.evidence + more
        return Observation(distro, image, Outcome.FAIL, decisive.cause, detail, **common)  # type: ignore[arg-type]
    memory = [f for f in findings if f.cause is Cause.MEMORY]
    if memory:
        detail = f"{memory[0].evidence}; raise --manylinux-memory to judge this distro"
        return Observation(distro, image, Outcome.SKIPPED, Cause.MEMORY, detail, **common)  # type: ignore[arg-type]
    missing = [f for f in findings if f.cause is Cause.MISSING_DEPENDENCY]
    if missing:
        if unsatisfied is None:
            remedy = "supply it with --manylinux-wheelhouse DIR (a directory of wheels), or use an image that has it"
        elif unsatisfied:
            remedy = "the wheelhouse cannot satisfy " + "; ".join(unsatisfied)
        else:
            remedy = "not declared in Requires-Dist, so the wheelhouse was not asked for it"
        detail = f"{missing[0].evidence}; {remedy}"
        return Observation(distro, image, Outcome.SKIPPED, Cause.MISSING_DEPENDENCY, detail, **common)  # type: ignore[arg-type]
    return Observation(distro, image, Outcome.OK, None, "", **common)  # type: ignore[arg-type]
