"""A local wheelhouse: the dependency wheels a wheel under test needs, chosen per interpreter.

A wheel's ``Requires-Dist`` is resolved against the wheelhouse's wheels for the interpreter that will
judge it on a distro (markers evaluated for that interpreter, tags it can load), the way pip would
choose among local files, but without pip and without network. Nothing here touches a container.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from packaging.markers import Marker, UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from ..errors import WheelError
from .interpreters import supported_pairs
from .observe import Interpreter
from .wheel import WheelInfo, read_wheel


@dataclass(frozen=True)
class Resolution:
    """The dependency wheels for one (wheel, interpreter), and the requirements nothing satisfies."""

    #: wheels to put on the import path, dependencies of dependencies included, in resolution order
    wheels: tuple[WheelInfo, ...] = ()
    #: requirements the wheelhouse cannot satisfy for this interpreter, each with why
    unsatisfied: tuple[str, ...] = ()


def read_wheelhouse(paths: Iterable[str | Path]) -> tuple[tuple[WheelInfo, ...], tuple[str, ...]]:
    """Every ``*.whl`` in the given directories (or files), read; and one error line per unreadable one.

    A directory that does not exist is a :class:`WheelError` naming it: a typo must not silently turn
    every dependency into a skip.
    """
    wheels: list[WheelInfo] = []
    errors: list[str] = []
    for path in map(Path, paths):
        if path.is_dir():
            files = sorted(path.glob("*.whl"))
        elif path.is_file() and path.suffix == ".whl":
            files = [path]
        else:
            raise WheelError(
                f"wheelhouse {str(path)!r} is neither a directory nor a .whl file; "
                "check --manylinux-wheelhouse"
            )
        for file in files:
            try:
                wheels.append(read_wheel(file))
            except WheelError as e:
                errors.append(str(e))
    return tuple(wheels), tuple(errors)


def marker_environment(interpreter: Interpreter, machine: str | None) -> dict[str, str]:
    """PEP 508 marker values for an interpreter in a Linux container (what it would report itself)."""
    full = ".".join(str(x) for x in interpreter.version)
    cpython = interpreter.implementation == "cpython"
    return {
        "implementation_name": interpreter.implementation,
        "implementation_version": full,
        "os_name": "posix",
        "platform_machine": machine or "x86_64",
        "platform_python_implementation": "CPython" if cpython else interpreter.implementation.capitalize(),
        "platform_release": "",
        "platform_system": "Linux",
        "platform_version": "",
        "python_full_version": full,
        "python_version": f"{interpreter.version[0]}.{interpreter.version[1]}",
        "sys_platform": "linux",
        "extra": "",
    }


def _platform_fits(platform: str, machine: str | None) -> bool:
    # Any Linux build for the container's machine will do: the wheel under test is what is judged,
    # so a dependency is not held to a glibc floor here (its own failures surface as the import's).
    if platform == "any":
        return True
    if not platform.startswith(("manylinux", "musllinux", "linux")):
        return False
    return machine is None or platform.endswith("_" + machine)


def _version_of(wheel: WheelInfo) -> Version | None:
    try:
        return Version(wheel.claim.version)
    except InvalidVersion:
        return None


def _candidates(
    requirement: Requirement, wheelhouse: Iterable[WheelInfo], interpreter: Interpreter, machine: str | None
) -> tuple[list[WheelInfo], str]:
    """Wheels satisfying ``requirement`` for this interpreter, best first; or none and why."""
    name = canonicalize_name(requirement.name)
    named = [w for w in wheelhouse if canonicalize_name(w.claim.name) == name]
    if not named:
        return [], f"{requirement}: no {name} wheel in the wheelhouse"
    pairs = supported_pairs(interpreter)
    fitting = []
    for wheel in named:
        version = _version_of(wheel)
        if version is None or not requirement.specifier.contains(version, prereleases=True):
            continue
        if not any(
            (t.interpreter, t.abi) in pairs and _platform_fits(t.platform, machine) for t in wheel.claim.tags
        ):
            continue
        fitting.append(wheel)
    if not fitting:
        found = ", ".join(w.filename for w in named)
        return [], f"{requirement}: none of {found} fits {interpreter.short} ({interpreter.abi or 'no abi'})"
    # Newest version first; among equal versions the most specific wheel (a binary one before py3-none-any).
    fitting.sort(key=lambda w: (_version_of(w), any(t.abi != "none" for t in w.claim.tags)), reverse=True)
    return fitting, ""


def resolve(
    wheel: WheelInfo, wheelhouse: Iterable[WheelInfo], interpreter: Interpreter, machine: str | None = None
) -> Resolution:
    """The wheelhouse wheels ``wheel`` needs under ``interpreter``, transitively (pure).

    Requirements whose marker is false for the interpreter are not needed; extras requested by a
    requirement are followed. The first (newest) fitting wheel is taken: this is a test harness, not a
    backtracking resolver, and a wheelhouse usually holds one version of each project.
    """
    house = tuple(wheelhouse)
    environment = marker_environment(interpreter, machine)
    chosen: dict[str, WheelInfo] = {canonicalize_name(wheel.claim.name): wheel}
    unsatisfied: list[str] = []
    queue: list[tuple[WheelInfo, frozenset[str]]] = [(wheel, frozenset())]
    while queue:
        current, extras = queue.pop(0)
        for line in current.requires_dist:
            try:
                requirement = Requirement(line)
            except InvalidRequirement:
                unsatisfied.append(f"{line}: not a valid requirement (in {current.filename})")
                continue
            if requirement.marker is not None and not _marker_holds(requirement.marker, environment, extras):
                continue
            name = canonicalize_name(requirement.name)
            if name in chosen:
                continue
            found, why = _candidates(requirement, house, interpreter, machine)
            if not found:
                unsatisfied.append(why)
                continue
            chosen[name] = found[0]
            queue.append((found[0], frozenset(canonicalize_name(e) for e in requirement.extras)))
    return Resolution(tuple(w for w in chosen.values() if w is not wheel), tuple(unsatisfied))


def _marker_holds(marker: Marker, environment: dict[str, str], extras: frozenset[str]) -> bool:
    try:
        if not extras:
            return marker.evaluate(environment)
        return any(marker.evaluate({**environment, "extra": extra}) for extra in extras)
    except (UndefinedComparison, UndefinedEnvironmentName):
        return False  # a marker this environment cannot answer: the requirement is not for it
