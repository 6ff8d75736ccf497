"""Choosing the interpreter that judges a wheel on a distro: one that can load its Python tag.

An interpreter outside the wheel's ``Requires-Python``, or one whose tags do not include the wheel's
(interpreter, abi) pairs, cannot judge it: the distro is skipped with that reason, not failed.
"""

from __future__ import annotations

from typing import Iterable

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
    pairs: frozenset[tuple[str, str]], requires_python: str | None, candidates: Iterable[Interpreter]
) -> tuple[Interpreter | None, str]:
    """The first candidate that loads one of ``pairs`` within Requires-Python, or None and why not."""
    reasons = []
    for interpreter in candidates:
        if not pairs & supported_pairs(interpreter):
            reasons.append(f"{interpreter.path} is {interpreter.short} ({interpreter.abi})")
            continue
        if not requires_python_allows(requires_python, interpreter):
            reasons.append(f"{interpreter.path} is {interpreter.short}, outside Requires-Python {requires_python}")
            continue
        return interpreter, ""
    wanted = ", ".join(sorted(f"{i}-{a}" for i, a in pairs))
    found = "; ".join(reasons) if reasons else "no python interpreter in the image"
    return None, f"no interpreter here can load {wanted}: {found}"
