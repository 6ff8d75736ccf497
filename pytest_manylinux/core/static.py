"""Static analysis of a wheel: what its ELF files need from the system, the floor that predicts, and
where its claim says more than its files allow. Needs no container engine and runs nothing.
"""

from __future__ import annotations

import enum
import os
import posixpath
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import ElfError, WheelError
from .elf import ElfFacts, is_loader, read_elf
from .policy import Policy, PolicyTable, load_policies, split_version_name, version_key
from .tags import Claim, ClaimKind, Libc, LibcVersion, honest_tag
from .wheel import WheelInfo, installed_path, read_wheel

if TYPE_CHECKING:
    from .verdict import Prediction

_LIBSTDCXX_PREFIXES = ("GLIBCXX", "CXXABI")

_K = TypeVar("_K")
_T = TypeVar("_T")


@dataclass(frozen=True)
class FileError:
    """An ELF file of the wheel that could not be read; the rest of the wheel was still analysed."""

    #: the member's path inside the wheel
    path: str
    #: what was wrong, and what to do
    message: str


@dataclass(frozen=True)
class Need:
    """One version one file asks of one system library, with the symbols that ask for it."""

    #: the file (path inside the wheel) that needs it
    file: str
    #: the library it is needed from, e.g. ``libc.so.6``
    library: str
    #: the version, e.g. ``GLIBC_2.34``
    version_name: str
    #: the undefined symbols bound to that version, sorted (may be empty: a version can be asked for
    #: without any symbol, e.g. the base version of a library)
    symbols: tuple[str, ...]
    #: ``VER_FLG_WEAK``: the loader only warns when the version is missing
    weak: bool

    @property
    def symbol(self) -> str | None:
        """The symbol to name in a message: the first one, or ``None``."""
        return self.symbols[0] if self.symbols else None

    @property
    def prefix(self) -> str:
        return split_version_name(self.version_name)[0]

    def describe(self) -> str:
        """``close_range in pkg/_core.so needs GLIBC_2.34``."""
        who = f"{self.symbol} in {self.file}" if self.symbol else self.file
        more = f" (and {len(self.symbols) - 1} more symbols)" if len(self.symbols) > 1 else ""
        weak = " (weak: the loader only warns if it is missing)" if self.weak else ""
        return f"{who} needs {self.version_name} of {self.library}{more}{weak}"


@dataclass(frozen=True)
class Floor:
    """The lowest glibc that satisfies every (non-weak) ``GLIBC_`` need, and the need that sets it."""

    #: the predicted floor, e.g. glibc 2.34
    version: LibcVersion
    #: the file whose need sets it
    file: str
    #: a symbol bound to that version (``None`` if the version is asked for without one)
    symbol: str | None
    #: the version need, e.g. ``GLIBC_2.34``
    version_name: str
    #: always ``False`` for the floor itself; weak needs are reported in :attr:`StaticReport.weak_needs`
    weak: bool

    def describe(self) -> str:
        who = f"{self.symbol} in {self.file}" if self.symbol else self.file
        return f"{who} needs {self.version_name}"


@dataclass(frozen=True)
class LibstdcxxNeeds:
    """The newest libstdc++ the wheel's files ask the system for."""

    #: the highest ``GLIBCXX_`` need (``None``: no file uses libstdc++ symbol versions)
    glibcxx: Need | None
    #: the highest ``CXXABI_`` need
    cxxabi: Need | None
    #: the first GCC release whose libstdc++ provides both, e.g. ``"GCC 11"`` (``None`` if unknown)
    gcc: str | None
    #: the lowest manylinux policy (as its glibc floor) whose libstdc++ allows both; ``None`` if none does
    #: or nothing is needed
    policy: LibcVersion | None

    @property
    def needs(self) -> tuple[Need, ...]:
        return tuple(n for n in (self.glibcxx, self.cxxabi) if n is not None)


@dataclass(frozen=True)
class VendoredLink:
    """A ``DT_NEEDED`` satisfied by a library the wheel ships itself."""

    #: the file whose ``DT_NEEDED`` it is
    file: str
    #: the ``DT_NEEDED`` entry
    library: str
    #: the wheel member that provides it
    provider: str
    #: found through the file's ``$ORIGIN`` RPATH/RUNPATH, as the loader finds it; ``False`` when the
    #: provider is elsewhere in the wheel (it then loads only if something loaded it first)
    on_search_path: bool


@dataclass(frozen=True)
class LibraryNeed:
    """A system library one file needs."""

    #: the file that needs it
    file: str
    #: its soname, e.g. ``libgomp.so.1``
    library: str


@dataclass(frozen=True)
class ArchMismatch:
    """An ELF file built for another machine than the wheel's tag names."""

    #: the file
    file: str
    #: its architecture in tag spelling (``None``: a machine no tag names)
    arch: str | None
    #: its ``e_machine``, e.g. ``EM_AARCH64``
    machine: str
    #: the architecture of the wheel
    expected: str


class ProblemKind(str, enum.Enum):
    """What sort of over-claim a :class:`Problem` is."""

    GLIBC = "glibc"  #: a GLIBC_ need above the claimed floor
    MUSL = "musl"  #: a musl function newer than the claimed musl (musl-symbols.json)
    SYMBOL_VERSION = "symbol-version"  #: a GLIBCXX_/CXXABI_/GCC_/... need the claimed policy does not allow
    LIBRARY = "library"  #: a system library the claimed policy does not allow
    LIBC = "libc"  #: a file linked against the other C library
    ARCH = "arch"  #: a file for another machine
    EXEC_STACK = "exec-stack"  #: a library asking for an executable stack
    UNREADABLE = "unreadable"  #: an ELF file that cannot be read, so its needs are unknown
    NO_POLICY = "no-policy"  #: the claimed floor is below every policy for the architecture
    ABI3 = "abi3"  #: an extension of a ``cp3X-abi3`` wheel uses more than 3.X's stable ABI
    PURE_WITH_ELF = "pure-with-elf"  #: a wheel tagged ``any`` with compiled files


_SYMBOL_KINDS = frozenset({ProblemKind.GLIBC, ProblemKind.MUSL, ProblemKind.SYMBOL_VERSION})
#: what makes a claim false on the distros its policy names even where the matrix has none of them: a
#: libstdc++ (or other non-glibc) symbol version, a system library, the other C library
_BREAKS_THE_CLAIM = frozenset({ProblemKind.SYMBOL_VERSION, ProblemKind.LIBRARY, ProblemKind.LIBC})
#: glibc 2.41 is the first to refuse to dlopen a library asking for an executable stack (its NEWS, and
#: FIELD-NOTES.md): every claim promises those distros too
EXEC_STACK_REFUSED_FROM = LibcVersion(2, 41)


@dataclass(frozen=True)
class Problem:
    """One way the wheel's files need more than its claim promises."""

    #: the sort of problem
    kind: ProblemKind
    #: a sentence for users: what, with the values, and what to do
    message: str
    #: the file it is about, if one
    file: str | None = None

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class StaticReport:
    """Everything the wheel's ELF files say about where it can run; :meth:`check` judges a claim by it."""

    #: the wheel's file name
    wheel: str
    #: what the file name promises
    claim: Claim
    #: the architecture the files are judged for: the claim's, or (pure/unknown tags) the files' own
    arch: str | None
    #: the C library the files were linked against (``None``: nothing says)
    libc: Libc | None
    #: every readable ELF file, by path
    files: tuple[ElfFacts, ...]
    #: ELF files that could not be read
    errors: tuple[FileError, ...]
    #: ``DT_NEEDED`` entries satisfied by the wheel's own libraries
    vendored: tuple[VendoredLink, ...]
    #: every versioned need of the system (vendored libraries' versions left out), weak ones included
    system_needs: tuple[Need, ...]
    #: the needs carrying ``VER_FLG_WEAK``: not part of any floor
    weak_needs: tuple[Need, ...]
    #: system libraries needed, per file (vendored ones and the program loader left out)
    system_libraries: tuple[LibraryNeed, ...]
    #: the predicted glibc floor (``None``: no file asks for a glibc version)
    glibc_floor: Floor | None
    #: the newest libstdc++ asked for, and the policy that allows it
    libstdcxx: LibstdcxxNeeds
    #: the lowest policy floor (manylinux, or musllinux for musl files) whose symbol versions and
    #: allow-list satisfy every non-weak need; ``None`` when no policy does
    predicted_policy: LibcVersion | None
    #: the lowest policy floor whose symbol versions alone allow every non-weak need (the allow-list
    #: left out): what auditwheel calls the symbol policy, and the glibc floor the files ask for
    symbol_policy: LibcVersion | None
    #: system libraries outside every policy's allow-list, not shipped in the wheel
    non_policy_libraries: tuple[LibraryNeed, ...]
    #: files for another machine than :attr:`arch`
    arch_mismatches: tuple[ArchMismatch, ...]
    #: shared libraries (not programs) asking for an executable stack
    exec_stack: tuple[str, ...]
    #: the policy table the report was made with
    policies: PolicyTable = field(repr=False, compare=False)
    #: what a user should know that is no problem of the claim (a symlink member installed as a file)
    notes: tuple[str, ...] = ()
    #: the extension modules among :attr:`files` (what the interpreter loads): the abi3 check reads these
    extensions: tuple[str, ...] = ()

    @property
    def predicted_tag(self) -> str | None:
        """The honest perennial tag, e.g. ``manylinux_2_34_x86_64``; ``None`` without a prediction."""
        if self.predicted_policy is None or self.arch is None:
            return None
        return honest_tag(self.libc or Libc.GLIBC, self.predicted_policy, self.arch)

    def blockers(self, policy: Policy) -> list[Problem]:
        """Why ``policy`` does not fit the files (empty: it does). Messages name the policy as the claim."""
        floor = policy.version if policy.libc is Libc.GLIBC else None
        return _needs_problems(self, policy, policy.tag(self.arch or "?"), floor)

    def check(self, claim: Claim | None = None) -> list[Problem]:
        """Every way the files need more than ``claim`` (default: the wheel's own) promises."""
        return _check(self, claim or self.claim)

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data, with the problems of the wheel's own claim."""
        return _to_json(self)


# -- analysis ------------------------------------------------------------------------------------------


def analyze(wheel: WheelInfo, *, policies: PolicyTable | None = None) -> StaticReport:
    """Predict the floor of ``wheel`` from its ELF members; unreadable files become :attr:`errors`.

    The members were read with the wheel (:attr:`WheelInfo.elf`, in the pass that checked their hashes);
    a WheelInfo without them has them read now. Raises :class:`WheelError` only if the zip itself cannot
    be reopened.
    """
    table = policies or load_policies()
    read = wheel.elf if wheel.elf is not None else _read_elf_members(wheel)
    files: list[ElfFacts] = []
    errors: list[FileError] = []
    for path in sorted(read):
        facts = read[path]
        if isinstance(facts, str):
            errors.append(FileError(path, facts))
        else:
            files.append(facts)
    install_paths = {m.path: installed_path(m.role, m.scheme_path, wheel.dist_info) for m in wheel.members}
    report = build_report(wheel.filename, wheel.claim, files, errors, install_paths, table)
    extensions = tuple(sorted(m.path for m in wheel.extension_members))
    return replace(report, notes=wheel.notes, extensions=extensions)


def _read_elf_members(wheel: WheelInfo) -> dict[str, ElfFacts | str]:
    """Every ELF member's facts (or why it cannot be read), for a WheelInfo read without them."""
    read: dict[str, ElfFacts | str] = {}
    # One open zip for every member: wheel.open_member reopens the zip and re-reads its central directory
    # on each call, ~12 ms per member for a wheel of 1,400 files such as scipy's (10x the ELF reading).
    try:
        zf = zipfile.ZipFile(wheel.path)
    except (zipfile.BadZipFile, OSError) as e:
        raise WheelError(
            f"{wheel.path}: cannot reopen the wheel ({e}); was it changed while being read?"
        ) from e
    with zf:
        for member in wheel.elf_members:
            try:
                with zf.open(member.path) as stream:
                    facts = read_elf(stream, member.path, member.size)
            except ElfError as e:
                read[member.path] = str(e)
                continue
            except (KeyError, zipfile.BadZipFile, OSError, EOFError, zlib.error) as e:
                raise WheelError(f"{wheel.path}: cannot read member {member.path!r} ({e}).") from e
            if facts is not None:
                read[member.path] = facts
    return read


def build_report(
    wheel: str,
    claim: Claim,
    files: Iterable[ElfFacts],
    errors: Iterable[FileError] = (),
    install_paths: dict[str, str] | None = None,
    policies: PolicyTable | None = None,
) -> StaticReport:
    """Build the report from facts already read (what :func:`analyze` does after reading the wheel).

    ``install_paths`` maps a file's wheel path to where it is installed (default: the wheel path), which
    decides what its ``$ORIGIN`` search path reaches.
    """
    table = policies or load_policies()
    facts = tuple(sorted(files, key=lambda f: f.path))
    paths = install_paths or {}
    arch = claim.arch or _most_common(f.arch for f in facts)
    mismatches = tuple(
        ArchMismatch(f.path, f.arch, f.machine, arch) for f in facts if arch is not None and f.arch != arch
    )
    usable = [f for f in facts if arch is None or f.arch == arch]
    libc = _libc_of(claim, usable)

    vendored, system_libraries = _resolve_libraries(usable, paths)
    vendored_pairs = {(v.file, v.library) for v in vendored}
    system_needs = tuple(
        Need(f.path, library, need.name, need.symbols, need.weak)
        for f in usable
        for library, need in f.iter_needs()
        if (f.path, library) not in vendored_pairs
    )
    strong = [n for n in system_needs if not n.weak]
    policy_list = table.for_arch(libc, arch) if (libc is not None and arch is not None) else ()

    libstdcxx = _libstdcxx(strong, policy_list, arch, table)
    report = StaticReport(
        wheel=wheel,
        claim=claim,
        arch=arch,
        libc=libc,
        files=facts,
        errors=tuple(sorted(errors, key=lambda e: e.path)),
        vendored=vendored,
        system_needs=system_needs,
        weak_needs=tuple(n for n in system_needs if n.weak),
        system_libraries=system_libraries,
        glibc_floor=_glibc_floor(strong),
        libstdcxx=libstdcxx,
        predicted_policy=None,
        symbol_policy=None,
        non_policy_libraries=tuple(
            lib
            for lib in system_libraries
            if not any(p.allows_library(arch or "", lib.library) for p in table.policies if p.libc is libc)
        ),
        arch_mismatches=mismatches,
        exec_stack=tuple(f.path for f in usable if f.exec_stack and not f.is_executable),
        policies=table,
    )
    if not usable:
        return report
    blockers = {p: report.blockers(p) for p in policy_list}
    predicted = next((p.version for p in policy_list if not blockers[p]), None)
    symbol = next(
        (p.version for p in policy_list if not any(b.kind in _SYMBOL_KINDS for b in blockers[p])), None
    )
    if libc is Libc.MUSL:
        from .musl import musl_need

        need = musl_need(usable)
        if need is not None:  # the policies hold no musl symbols: the measured ones raise the floor
            predicted = max(predicted, need.version) if predicted is not None else None
            symbol = max(symbol, need.version) if symbol is not None else need.version
    return replace(report, predicted_policy=predicted, symbol_policy=symbol)


def _most_common(values: Iterable[str | None]) -> str | None:
    counts = Counter(v for v in values if v is not None)
    return min(counts, key=lambda v: (-counts[v], v)) if counts else None


def _libc_of(claim: Claim, files: Iterable[ElfFacts]) -> Libc | None:
    found = Counter(f.libc for f in files if f.libc is not None)
    if claim.libc is not None and (claim.libc in found or not found):
        return claim.libc
    if found:
        return min(found, key=lambda libc: (-found[libc], libc.value))
    return Libc.GLIBC if any(f.is_dynamic for f in files) else None


def _resolve_libraries(
    files: list[ElfFacts], install_paths: dict[str, str]
) -> tuple[tuple[VendoredLink, ...], tuple[LibraryNeed, ...]]:
    """Split every ``DT_NEEDED`` into those the wheel satisfies itself and those the system must.

    A library counts as vendored when a file of the wheel has its name as file name or ``DT_SONAME``:
    through the needing file's ``$ORIGIN`` RPATH/RUNPATH (what the loader searches), or anywhere in the
    wheel. The latter is kept because the loader also reuses a library already loaded under that
    soname (a package's ``__init__`` preloading ``pkg.libs/``, or an extension that needs it loaded
    first), and auditwheel does the same; :attr:`VendoredLink.on_search_path` tells them apart.
    """
    by_name: dict[str, list[ElfFacts]] = {}
    for f in files:
        for name in {posixpath.basename(f.path), f.soname}:
            if name:
                by_name.setdefault(name, []).append(f)
    location = {f.path: install_paths.get(f.path, f.path) for f in files}
    vendored: list[VendoredLink] = []
    system: list[LibraryNeed] = []
    for f in files:
        search = _search_dirs(f, location[f.path])
        for library in f.needed:
            # A file may need its own soname (freetype and harfbuzz built against each other): the loader
            # answers that with the file itself.
            providers = [p for p in by_name.get(library, []) if p.path != f.path or f.soname == library]
            on_path = [
                p
                for p in providers
                if posixpath.dirname(location[p.path]) in search and posixpath.basename(p.path) == library
            ]
            if on_path:
                vendored.append(VendoredLink(f.path, library, on_path[0].path, True))
            elif providers:
                vendored.append(VendoredLink(f.path, library, providers[0].path, False))
            elif not is_loader(library):
                system.append(LibraryNeed(f.path, library))
    return tuple(vendored), tuple(system)


def _search_dirs(f: ElfFacts, install_path: str) -> set[str]:
    """The directories inside the wheel the loader searches for ``f``'s needs: its ``$ORIGIN`` entries.

    RUNPATH replaces RPATH when both are present (ld.so(8)); entries without ``$ORIGIN`` point outside
    the wheel (or at the current directory) and are left out.
    """
    origin = posixpath.dirname(install_path)
    dirs = set()
    for entry in f.runpath or f.rpath:
        if "$ORIGIN" not in entry and "${ORIGIN}" not in entry:
            continue
        expanded = posixpath.normpath(entry.replace("${ORIGIN}", origin).replace("$ORIGIN", origin))
        if not expanded.startswith("../") and expanded != "..":
            dirs.add(expanded)
    return dirs


def _version_sort_key(version_name: str) -> tuple[int, ...]:
    return version_key(split_version_name(version_name)[1]) or ()


def _highest(needs: Iterable[Need], prefix: str) -> Need | None:
    """The need with the highest numbered ``prefix`` version; among equals, the first by file and symbol."""
    candidates = sorted(
        (n for n in needs if n.prefix == prefix and version_key(split_version_name(n.version_name)[1])),
        key=lambda n: (n.file, n.symbol or ""),
    )
    return max(candidates, key=lambda n: _version_sort_key(n.version_name)) if candidates else None


def _glibc_floor(needs: Iterable[Need]) -> Floor | None:
    need = _highest(needs, "GLIBC")
    if need is None:
        return None
    version = LibcVersion.parse(split_version_name(need.version_name)[1])
    return Floor(version, need.file, need.symbol, need.version_name, need.weak)


def _gcc_name(release: str) -> str:
    """``11.1.0`` -> ``GCC 11`` (since GCC 5, x.1.0 is a series' first release), ``9.3.0`` -> ``GCC 9.3``."""
    parts = [int(p) for p in release.split(".")]
    if parts[0] >= 5 and parts[1:] in ([1, 0], [1]):
        return f"GCC {parts[0]}"
    while len(parts) > 2 and parts[-1] == 0:
        parts.pop()
    return "GCC " + ".".join(str(p) for p in parts)


def _libstdcxx(
    needs: list[Need], policy_list: tuple[Policy, ...], arch: str | None, table: PolicyTable
) -> LibstdcxxNeeds:
    glibcxx = _highest(needs, "GLIBCXX")
    cxxabi = _highest(needs, "CXXABI")
    wanted = [n for n in (glibcxx, cxxabi) if n is not None]
    releases = [table.gcc_release(n.version_name) for n in wanted]
    gcc: str | None = None
    if wanted and all(r is not None for r in releases):
        newest = max((r for r in releases if r is not None), key=lambda r: version_key(r.gcc) or ())
        gcc = _gcc_name(newest.gcc)
    if not wanted:
        return LibstdcxxNeeds(None, None, None, None)
    manylinux = [p for p in policy_list if p.libc is Libc.GLIBC]
    policy = next(
        (p.version for p in manylinux if all(p.allows_version(arch or "", n.version_name) for n in wanted)),
        None,
    )
    return LibstdcxxNeeds(glibcxx, cxxabi, gcc, policy)


def predict(wheel: WheelInfo, report: StaticReport | None = None) -> Prediction:
    """The summary :func:`verdict.judge` takes: the glibc the symbols need, the policy, the claim's problems.

    ``floor`` is the highest ``GLIBC_`` version the files ask for (``GLIBC_2.18`` says 2.18, though the
    lowest policy allowing it is manylinux_2_24): an observation refutes only that. ``policy`` is the
    lowest policy whose symbol versions allow every need (:attr:`StaticReport.symbol_policy`): the honest
    tag. ``over`` holds what the claim's policy lacks beyond glibc versions: libstdc++ (and other) symbol
    versions, system libraries outside its allow-list, the other C library; the other ``problems`` (arch
    mismatches, unreadable files, an executable stack) are shown beside the verdict. ``report`` is
    :func:`analyze`'s for this wheel, when the caller has it already.
    """
    from .verdict import Prediction

    report = report or analyze(wheel)
    floor = report.glibc_floor
    problems = report.check()
    policy = report.symbol_policy
    claim = wheel.claim
    if not report.files and not report.errors and claim.libc is not None and claim.arch is not None:
        # No compiled file at all (a platform tag on pure Python): nothing can fail to load, so any policy
        # holds; the lowest one is the honest tag.
        lowest = report.policies.for_arch(claim.libc, claim.arch)
        policy = lowest[0].version if lowest else None
    version, reason = (floor.version, floor.describe()) if floor is not None else (None, "")
    if claim.libc is not None and report.libc is not None and report.libc is not claim.libc:
        # Linked against the other C library: no version of the claimed one makes it load (``over`` says so).
        version, reason, policy = None, f"linked against {report.libc.value}, not {claim.libc.value}", None
    elif report.libc is Libc.MUSL:
        # musl has no symbol versions: the functions a file calls say which musl it needs (musl.py).
        from .musl import musl_need

        need = musl_need(report.files)
        if need is not None:
            version, reason = need.version, need.describe()
            policy = max(policy, need.version) if policy is not None else need.version
    refused = tuple(p.message for p in problems if p.kind is ProblemKind.EXEC_STACK)
    return Prediction(
        floor=version,
        reason=reason or ("no ELF files" if not report.files else ""),
        weak=tuple(n.describe() for n in report.weak_needs),
        problems=tuple(
            p.message
            for p in problems
            if p.kind not in _SYMBOL_KINDS | _BREAKS_THE_CLAIM
            and p.kind not in (ProblemKind.EXEC_STACK, ProblemKind.ABI3)
        ),
        policy=policy,
        over=tuple(p.message for p in problems if p.kind in _BREAKS_THE_CLAIM),
        refused_from=EXEC_STACK_REFUSED_FROM if refused else None,
        refused=refused,
        notes=report.notes,
        abi3=tuple(p.message for p in problems if p.kind is ProblemKind.ABI3),
    )


@dataclass(frozen=True)
class Analysis:
    """One wheel read and analysed by an :class:`Analyzer`: its report, or why it could not be read."""

    #: the wheel file
    path: Path
    #: the wheel as read (``None`` if it could not be)
    wheel: WheelInfo | None
    #: its static report (``None`` if the wheel could not be read)
    report: StaticReport | None
    #: why the wheel could not be read
    error: WheelError | None = None


class Analyzer:
    """Reads and analyses wheels on every core; the results come back in the order the wheels were given.

    Wheels are read side by side, the largest first (a large wheel started last would be read alone at
    the end), each on ``workers // wheels-at-once`` threads of its own for its members, so one large wheel
    uses every core and many small ones do too.
    """

    def __init__(self, workers: int | None = None, policies: PolicyTable | None = None) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.policies = policies

    def _one(self, path: Path, member_workers: int) -> Analysis:
        try:
            wheel = read_wheel(path, workers=member_workers)
        except WheelError as e:
            return Analysis(path, None, None, e)
        return Analysis(path, wheel, analyze(wheel, policies=self.policies))

    def run(self, paths: Iterable[str | Path]) -> Iterator[Analysis]:
        """Each wheel's :class:`Analysis`, in the order of ``paths``, once it and those before are done."""
        wanted = [Path(p) for p in paths]
        if not wanted:
            return
        at_once = min(self.workers, len(wanted))
        member_workers = max(1, self.workers // at_once)
        if at_once == 1:
            for path in wanted:
                yield self._one(path, member_workers)
            return

        def size(path: Path) -> int:
            try:
                return path.stat().st_size
            except OSError:
                return 0

        with ThreadPoolExecutor(max_workers=at_once, thread_name_prefix="analyze") as pool:
            futures: dict[int, Future[Analysis]] = {}
            for i in sorted(range(len(wanted)), key=lambda i: -size(wanted[i])):
                futures[i] = pool.submit(self._one, wanted[i], member_workers)
            for i in range(len(wanted)):
                yield futures[i].result()


# -- judging a claim -----------------------------------------------------------------------------------


def _highest_per(items: Iterable[tuple[_K, str, _T]]) -> dict[_K, _T]:
    """Of (key, version name, item) triples, each key's item with the highest numbered version (the first
    among equals), keys in the order first seen."""
    best: dict[_K, tuple[tuple[int, ...], _T]] = {}
    for key, version_name, item in items:
        rank = _version_sort_key(version_name)
        if key not in best or rank > best[key][0]:
            best[key] = (rank, item)
    return {key: item for key, (_rank, item) in best.items()}


def _highest_per_file(needs: Iterable[Need]) -> list[Need]:
    """The highest need of each (file, prefix), so one file's many GLIBC_ needs make one problem."""
    best = _highest_per(((n.file, n.prefix), n.version_name, n) for n in needs)
    return [best[k] for k in sorted(best)]


def _needs_problems(
    report: StaticReport, policy: Policy, tag: str, floor: LibcVersion | None
) -> list[Problem]:
    """The non-weak needs and system libraries that ``policy`` does not allow, as problems of ``tag``.

    ``GLIBC_x.y`` needs are compared with ``floor`` (the claimed glibc, which PEP 600 lets be any
    version); every other version, and a non-numeric ``GLIBC_PRIVATE``, must be listed in the policy,
    as auditwheel requires.
    """
    arch = report.arch or ""
    too_new: list[Need] = []
    for need in report.system_needs:
        if need.weak:
            continue
        prefix, version = split_version_name(need.version_name)
        if prefix == "GLIBC" and floor is not None and version_key(version) is not None:
            if LibcVersion.parse(version) > floor:
                too_new.append(need)
        elif not policy.allows_version(arch, need.version_name):
            too_new.append(need)
    problems = [_version_problem(report, need, policy, tag, floor) for need in _highest_per_file(too_new)]
    for lib in report.system_libraries:
        if policy.allows_library(arch, lib.library):
            continue
        later = next(
            (p for p in report.policies.for_arch(policy.libc, arch) if p.allows_library(arch, lib.library)),
            None,
        )
        if later is not None:
            message = (
                f"{tag}: {lib.file} needs {lib.library}, which {policy.name} does not let a wheel expect "
                f"from the system ({later.name} and later do); claim {later.tag(arch)} or vendor the library"
            )
        else:
            message = (
                f"{tag}: {lib.file} needs {lib.library}, which is neither in the wheel nor on the "
                f"{policy.libc.value} allow-list, so minimal distros lack it; vendor it into the wheel "
                "(auditwheel repair does)"
            )
        problems.append(Problem(ProblemKind.LIBRARY, message, lib.file))
    return problems


def _version_problem(
    report: StaticReport, need: Need, policy: Policy, tag: str, floor: LibcVersion | None
) -> Problem:
    arch = report.arch or ""
    prefix, version = split_version_name(need.version_name)
    symbol = f" ({need.symbol})" if need.symbol else ""
    honest = report.predicted_tag or "a newer policy"
    if prefix == "GLIBC" and version_key(version) is not None:
        return Problem(
            ProblemKind.GLIBC,
            f"{tag} claims glibc {floor} but {need.file} needs {need.version_name}{symbol}; "
            f"build against an older glibc (a manylinux image) or claim {honest}",
            need.file,
        )
    if prefix == "GLIBC":
        return Problem(
            ProblemKind.SYMBOL_VERSION,
            f"{tag}: {need.file} needs {need.version_name}{symbol}, glibc's internal interface, which no "
            "distro promises to keep; do not link against glibc internals",
            need.file,
        )
    release = report.policies.gcc_release(need.version_name)
    gcc = f", {_gcc_name(release.gcc)}'s libstdc++" if release is not None else ""
    allowed = policy.max_version(arch, prefix)
    limit = (
        f"{policy.name} allows up to {allowed}" if allowed else f"{policy.name} allows no {prefix}_ version"
    )
    return Problem(
        ProblemKind.SYMBOL_VERSION,
        f"{tag}: {need.file} needs {need.version_name}{symbol}{gcc}, but {limit}; "
        f"build with an older toolchain (a manylinux image) or claim {honest}",
        need.file,
    )


def _abi3_problems(report: StaticReport, claim: Claim) -> list[Problem]:
    from .abi3 import check, claimed_abi3

    claimed = claimed_abi3(claim)
    if claimed is None:
        return []
    return [
        Problem(ProblemKind.ABI3, use.describe(claimed), use.file)
        for use in check(claim, report.files, report.extensions)
    ]


def _check(report: StaticReport, claim: Claim) -> list[Problem]:
    problems: list[Problem] = [Problem(ProblemKind.UNREADABLE, e.message, e.path) for e in report.errors]
    problems.extend(_abi3_problems(report, claim))
    if claim.kind is ClaimKind.PURE:
        if report.files:
            paths = ", ".join(f.path for f in report.files)
            problems.append(
                Problem(
                    ProblemKind.PURE_WITH_ELF,
                    f"{claim.filename} is tagged {claim.platform.tag} but contains compiled files ({paths}); "
                    "a wheel with ELF files needs a platform tag such as manylinux_X_Y_ARCH",
                )
            )
        return problems
    if claim.arch is not None:
        for f in report.files:
            if f.arch != claim.arch:
                built_for = f.arch or f.machine
                message = f"{f.path} is built for {built_for} but the wheel is tagged {claim.arch}"
                problems.append(Problem(ProblemKind.ARCH, message, f.path))
    if (
        claim.kind not in (ClaimKind.MANYLINUX, ClaimKind.MUSLLINUX)
        or claim.floor is None
        or claim.libc is None
    ):
        return problems
    arch = claim.arch or report.arch or ""
    tag = claim.platform.tag
    for f in report.files:
        if f.libc is not None and f.libc is not claim.libc and f.arch == arch:
            problems.append(
                Problem(
                    ProblemKind.LIBC,
                    f"{tag} promises {claim.libc.value} but {f.path} is linked against {f.libc.value}; "
                    f"build it for {claim.libc.value}",
                    f.path,
                )
            )
    if claim.libc is Libc.MUSL:
        from .musl import musl_need

        need = musl_need(f for f in report.files if f.arch == arch)
        if need is not None and need.version > claim.floor:
            honest = honest_tag(Libc.MUSL, need.version, arch)
            problems.append(
                Problem(
                    ProblemKind.MUSL,
                    f"{tag} claims musl {claim.floor} but {need.describe()}; build against an older musl "
                    f"or claim {honest}",
                    need.file,
                )
            )
    governing = report.policies.governing(claim.libc, arch, claim.floor)
    if governing is None:
        lowest = report.policies.for_arch(claim.libc, arch)
        hint = f"the lowest is {lowest[0].tag(arch)}" if lowest else f"there is none for {arch}"
        problems.append(
            Problem(
                ProblemKind.NO_POLICY,
                f"{tag}: no {claim.libc.value} policy at {claim.floor} or below; {hint}",
            )
        )
        return problems
    problems.extend(
        _needs_problems(report, governing, tag, claim.floor if claim.libc is Libc.GLIBC else None)
    )
    if claim.libc is Libc.GLIBC:
        for path in report.exec_stack:
            problems.append(
                Problem(
                    ProblemKind.EXEC_STACK,
                    f"{path} asks for an executable stack (PT_GNU_STACK with PF_X): "
                    f"glibc {EXEC_STACK_REFUSED_FROM} and newer refuse to dlopen it, "
                    f"though {tag} promises those distros; "
                    "relink with -Wl,-z,noexecstack",
                    path,
                )
            )
    return problems


# -- output --------------------------------------------------------------------------------------------


def _need_json(need: Need | None) -> dict[str, Any] | None:
    if need is None:
        return None
    return {
        "file": need.file,
        "library": need.library,
        "version": need.version_name,
        "symbols": list(need.symbols),
        "weak": need.weak,
    }


def _facts_json(f: ElfFacts) -> dict[str, Any]:
    return {
        "path": f.path,
        "arch": f.arch,
        "machine": f.machine,
        "class": f.elf_class,
        "little_endian": f.little_endian,
        "type": f.elf_type,
        "executable": f.is_executable,
        "interpreter": f.interpreter,
        "libc": f.libc.value if f.libc else None,
        "soname": f.soname,
        "needed": list(f.needed),
        "rpath": list(f.rpath),
        "runpath": list(f.runpath),
        "exec_stack": f.exec_stack,
        "version_needs": {
            library: [{"version": n.name, "weak": n.weak, "symbols": list(n.symbols)} for n in needs]
            for library, needs in f.version_needs.items()
        },
    }


def _to_json(r: StaticReport) -> dict[str, Any]:
    problems = r.check()
    floor = r.glibc_floor
    return {
        "wheel": r.wheel,
        "claim": {
            "tag": r.claim.platform.tag,
            "kind": r.claim.kind.value,
            "libc": r.claim.libc.value if r.claim.libc else None,
            "floor": str(r.claim.floor) if r.claim.floor else None,
            "arch": r.claim.arch,
        },
        "arch": r.arch,
        "libc": r.libc.value if r.libc else None,
        "predicted": {
            "policy": str(r.predicted_policy) if r.predicted_policy else None,
            "symbol_policy": str(r.symbol_policy) if r.symbol_policy else None,
            "tag": r.predicted_tag,
            "glibc_floor": None
            if floor is None
            else {
                "version": str(floor.version),
                "file": floor.file,
                "symbol": floor.symbol,
                "version_name": floor.version_name,
                "weak": floor.weak,
            },
            "libstdcxx": {
                "glibcxx": _need_json(r.libstdcxx.glibcxx),
                "cxxabi": _need_json(r.libstdcxx.cxxabi),
                "gcc": r.libstdcxx.gcc,
                "policy": str(r.libstdcxx.policy) if r.libstdcxx.policy else None,
            },
            "weak_needs": [_need_json(n) for n in r.weak_needs],
        },
        "non_policy_libraries": [{"file": n.file, "library": n.library} for n in r.non_policy_libraries],
        "system_libraries": [{"file": n.file, "library": n.library} for n in r.system_libraries],
        "vendored": [
            {"file": v.file, "library": v.library, "provider": v.provider, "on_search_path": v.on_search_path}
            for v in r.vendored
        ],
        "arch_mismatches": [
            {"file": m.file, "arch": m.arch, "machine": m.machine, "expected": m.expected}
            for m in r.arch_mismatches
        ],
        "exec_stack": list(r.exec_stack),
        "files": [_facts_json(f) for f in r.files],
        "errors": [{"path": e.path, "message": e.message} for e in r.errors],
        "problems": [{"kind": p.kind.value, "file": p.file, "message": p.message} for p in problems],
        "notes": list(r.notes),
        "ok": not problems,
    }


def _summary(f: ElfFacts, vendored: set[str]) -> list[str]:
    kind = "program" if f.is_executable else ("shared object" if f.elf_type == "ET_DYN" else f.elf_type)
    lines = [f"{f.path}  [{f.arch or f.machine}, {kind}{', exec-stack' if f.exec_stack else ''}]"]
    if f.needed:
        lines.append("  needs: " + ", ".join(n + (" (in wheel)" if n in vendored else "") for n in f.needed))
    search = [*(f"RPATH {p}" for p in f.rpath), *(f"RUNPATH {p}" for p in f.runpath)]
    if search:
        lines.append("  search: " + ", ".join(search))
    for library, needs in f.version_needs.items():
        highest = _highest_per((n.prefix, n.name, n) for n in needs)
        shown = ", ".join(
            f"{n.name}" + (f" ({n.symbols[0]})" if n.symbols else "") + (" weak" if n.weak else "")
            for n in highest.values()
        )
        lines.append(f"  {library}: up to {shown}")
    return lines


def format_report(report: StaticReport, *, verbose: bool = False) -> str:
    """The report as text for a terminal: claim, prediction, the files and symbols behind it, problems."""
    r = report
    out = [r.wheel, f"  claim:      {r.claim.describe()}"]
    if not r.files and not r.errors:
        out.append("  predicted:  no ELF files: nothing to predict")
    else:
        tag = r.predicted_tag or (
            "none: no policy allows these needs" if r.files else "unknown: no readable ELF file"
        )
        out.append(f"  predicted:  {tag}")
        if r.glibc_floor is not None:
            out.append(f"    glibc: {r.glibc_floor.describe()}")
        elif r.libc is Libc.MUSL:
            from .musl import load_symbols, musl_need

            newest = musl_need(r.files)
            out.append(
                f"    musl: {newest.describe()}"
                if newest is not None
                else f"    musl: every musl function the files call is in musl {load_symbols().base}"
            )
        cxx = r.libstdcxx
        for need in cxx.needs:
            gcc = f", {cxx.gcc}'s libstdc++" if cxx.gcc else ""
            out.append(f"    libstdc++: {need.describe()}{gcc}")
        if cxx.needs:
            allowed = honest_tag(Libc.GLIBC, cxx.policy, r.arch or "?") if cxx.policy else "no policy"
            out.append(f"    libstdc++ allowed from: {allowed}")
        for need in r.weak_needs:
            out.append(f"    weak, not counted: {need.describe()}")
        for lib in r.non_policy_libraries:
            out.append(f"    outside the allow-list: {lib.library} (needed by {lib.file})")
    if verbose and (r.files or r.errors):
        vendored = {v.library for v in r.vendored}
        out.append("  files:")
        out.extend("    " + line for f in r.files for line in _summary(f, vendored))
        out.extend(f"    {e.path}  [unreadable: see below]" for e in r.errors)
    out.extend(f"  note: {note}" for note in r.notes)
    problems = r.check()
    if problems:
        out.append(f"  over-claims ({len(problems)} problem{'s' if len(problems) != 1 else ''}):")
        out.extend(f"    - {p.message}" for p in problems)
    else:
        out.append("  ok: the files need no more than the claim promises" if r.claim.makes_claim else "  ok")
    return "\n".join(out)
