"""Choosing the interpreter that judges a wheel on a distro: one that can load its Python tag.

Candidates come in the configured order (the distro's own pythons, an image's ``/opt/python`` ones,
then a portable CPython brought in). An interpreter outside the wheel's ``Requires-Python``, or one
whose tags do not include the wheel's (interpreter, abi) pairs, cannot judge it: when none can, the
distro is skipped with that reason, not failed.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Collection, Iterable, Sequence

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import compatible_tags, cpython_tags

from .observe import Interpreter


def supported_pairs(interpreter: Interpreter) -> frozenset[tuple[str, str]]:
    """The (interpreter, abi) pairs an interpreter loads, as pip would compute them for it."""
    version = interpreter.version[:2]
    if interpreter.implementation == "cpython":
        abis = [interpreter.abi] if interpreter.abi else []
        tags = list(cpython_tags(version, abis=abis, platforms=["any"]))
        tags += compatible_tags(version, interpreter=f"cp{version[0]}{version[1]}", platforms=["any"])
    else:
        tags = list(compatible_tags(version, platforms=["any"]))
    return frozenset((t.interpreter, t.abi) for t in tags)


def requires_python_allows(requires_python: str | None, interpreter: Interpreter) -> bool:
    if not requires_python:
        return True
    try:
        spec = SpecifierSet(requires_python)
    except InvalidSpecifier:
        return True  # a malformed Requires-Python is pip's problem, not a reason to skip
    return spec.contains(".".join(str(x) for x in interpreter.version), prereleases=True)


def choose(
    pairs: frozenset[tuple[str, str]],
    requires_python: str | None,
    candidates: Iterable[Interpreter],
    none_found: str = "no python interpreter in the image",
) -> tuple[Interpreter | None, str]:
    """The first candidate that loads one of ``pairs`` within Requires-Python, or None and why not."""
    reasons = []
    for interpreter in candidates:
        if not pairs & supported_pairs(interpreter):
            reasons.append(f"{interpreter.path} is {interpreter.short} ({interpreter.abi})")
            continue
        if not requires_python_allows(requires_python, interpreter):
            reasons.append(
                f"{interpreter.path} is {interpreter.short}, outside Requires-Python {requires_python}"
            )
            continue
        return interpreter, ""
    wanted = ", ".join(sorted(f"{i}-{a}" for i, a in pairs))
    found = "; ".join(reasons) if reasons else none_found
    return None, f"no interpreter here can load {wanted}: {found}"


def matches(entry: str, interpreter: Interpreter) -> bool:
    """Whether an interpreter order entry (``distro``, ``image``, or a path or glob) names ``interpreter``."""
    if entry in ("distro", "image", "portable"):
        return interpreter.origin == entry
    return fnmatch.fnmatchcase(interpreter.path, entry)


def in_order(order: Sequence[str], found: Iterable[Interpreter]) -> list[list[Interpreter]]:
    """The found interpreters grouped by order entry, each at its first matching entry ("portable": none)."""
    found = list(found)
    taken: set[int] = set()
    groups = []
    for entry in order:
        group = []
        if entry != "portable":
            for i, interpreter in enumerate(found):
                if i not in taken and matches(entry, interpreter):
                    taken.add(i)
                    group.append(interpreter)
        groups.append(group)
    return groups


def portable_abi(version: str) -> tuple[int, int, str]:
    """``"3.13t"`` -> ``(3, 13, "cp313t")``: a portable version's numbers and ABI (``t``: free-threaded)."""
    major, minor = (int(x) for x in version.rstrip("t").split("."))
    return major, minor, f"cp{major}{minor}{'t' if version.endswith('t') else ''}"


def _version_allowed(requires_python: str | None, version: str) -> bool:
    # The micro version is unknown until the interpreter is had: X.Y passes when X.Y.0 or a late
    # micro does; the interpreter itself is checked again once it is measured.
    major, minor, _abi = portable_abi(version)
    return any(
        requires_python_allows(requires_python, Interpreter("", (major, minor, micro))) for micro in (0, 99)
    )


def portable_version(
    pairs: frozenset[tuple[str, str]],
    requires_python: str | None,
    versions: Sequence[str],
    ready: Collection[str] = (),
) -> tuple[str | None, str]:
    """Which portable CPython X.Y to bring in for a wheel, or None and why none.

    A wheel for one version (``cp311-cp311``) gets that one. A wheel many versions load (``abi3``,
    ``py3``) gets the first of them that is ``ready`` (in this container, or cached: no build), else the
    first in ``versions`` order.
    """
    fits = []
    for version in versions:
        major, minor, abi = portable_abi(version)
        candidate = Interpreter("", (major, minor, 0), abi=abi, origin="portable")
        if pairs & supported_pairs(candidate) and _version_allowed(requires_python, version):
            fits.append(version)
    if not fits:
        wanted = ", ".join(sorted(f"{i}-{a}" for i, a in pairs))
        offered = ", ".join(versions) if versions else "none"
        limit = f" within Requires-Python {requires_python}" if requires_python else ""
        return None, f"no portable CPython can load {wanted}{limit} (versions configured: {offered})"
    for version in fits:
        if version in ready:
            return version, ""
    return fits[0], ""
