"""abi3 claims checked statically: an extension of a ``cp3X-abi3`` wheel may use only CPython's stable ABI
as of 3.X (PEP 384, PEP 652).

The stable ABI is CPython's own list, ``Misc/stable_abi.toml`` (``stable_abi.toml`` beside this file), taken
unchanged from the Debian source package python3.13 3.13.5-2+deb13u5, original tarball
``python3.13_3.13.5.orig.tar.xz`` (sha256 93e583f243454e6e9e4588ca2c2662206ad961659863277afcdb96801647d640),
that is, CPython 3.13.5. Every function and data item it lists carries the version that added it; the
loader resolves an extension's undefined ``Py*``/``_Py*`` symbols against the interpreter, and only the
stable ABI of 3.X is promised to every CPython from 3.X on: a symbol added later, or outside it, may be
missing or different in one of them, and the import then fails there.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..errors import ManylinuxError
from .elf import ElfFacts
from .tags import Claim

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.9 and 3.10
    import tomli as tomllib

#: where the stable ABI list comes from, for messages and the README
SOURCE = "CPython 3.13.5's Misc/stable_abi.toml"
_DATA = Path(__file__).with_name("stable_abi.toml")
# Feature macros (stable_abi.toml's [feature_macro.*]) never defined on Linux: items under them are not
# part of the stable ABI a Linux CPython exports. Py_REF_DEBUG is defined only in debug builds.
_NOT_ON_LINUX = frozenset({"MS_WINDOWS", "Py_REF_DEBUG"})


class StableAbiError(ManylinuxError):
    """The stable ABI data shipped with the plugin is missing or malformed (a broken installation)."""


@dataclass(frozen=True)
class StableAbi:
    """The symbols of the stable ABI, each with the CPython version (major, minor) that added it."""

    #: symbol -> (3, minor) of the release that added it
    added: Mapping[str, tuple[int, int]]

    def since(self, symbol: str) -> tuple[int, int] | None:
        """The version that added ``symbol`` to the stable ABI, or ``None`` if it is not in it."""
        return self.added.get(symbol)


@lru_cache(maxsize=1)
def load_stable_abi(path: Path = _DATA) -> StableAbi:
    """Read ``stable_abi.toml``: its functions and data (what an extension can link against)."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise StableAbiError(
            f"{path}: cannot read the stable ABI list ({e}); reinstall pytest-manylinux"
        ) from e
    added: dict[str, tuple[int, int]] = {}
    for kind in ("function", "data"):
        for name, item in (document.get(kind) or {}).items():
            if item.get("ifdef") in _NOT_ON_LINUX:
                continue
            try:
                major, minor = (int(x) for x in str(item["added"]).split("."))
            except (KeyError, ValueError) as e:
                raise StableAbiError(f"{path}: [{kind}.{name}] has no 'added' version like '3.2'") from e
            added[name] = (major, minor)
    if not added:
        raise StableAbiError(f"{path}: no [function.*] or [data.*] items; reinstall pytest-manylinux")
    return StableAbi(added)


def claimed_abi3(claim: Claim) -> tuple[int, int] | None:
    """The oldest CPython a ``cp3X-abi3`` tag promises (the lowest X among its tags), or ``None``."""
    versions = [
        (int(t.interpreter[2]), int(t.interpreter[3:]))
        for t in claim.tags
        if t.abi == "abi3" and t.interpreter.startswith("cp3") and t.interpreter[3:].isdigit()
    ]
    return min(versions) if versions else None


@dataclass(frozen=True)
class Abi3Use:
    """One symbol an extension of an abi3 wheel takes from the interpreter beyond what the claim allows."""

    #: the file (path inside the wheel)
    file: str
    #: the symbol, e.g. ``PyUnicode_AsUTF8``
    symbol: str
    #: the version that added it to the stable ABI (``None``: not in the stable ABI at all)
    since: tuple[int, int] | None

    def describe(self, claimed: tuple[int, int]) -> str:
        wanted = f"cp{claimed[0]}{claimed[1]}-abi3"
        if self.since is None:
            return (
                f"{wanted}: {self.file} uses {self.symbol}, which is not in CPython's stable ABI "
                f"({SOURCE}): the extension may break on another CPython release; use the limited API only "
                "(Py_LIMITED_API) or tag the wheel for one interpreter (cp3X-cp3X)"
            )
        since = f"{self.since[0]}.{self.since[1]}"
        hex_version = f"0x{claimed[0]:02X}{claimed[1]:02X}0000"
        return (
            f"{wanted}: {self.file} uses {self.symbol}, in the stable ABI only from CPython {since}: "
            f"CPython {claimed[0]}.{claimed[1]} need not provide it; build with "
            f"Py_LIMITED_API={hex_version} or tag the wheel cp{self.since[0]}{self.since[1]}-abi3"
        )


def check(
    claim: Claim, files: Iterable[ElfFacts], extensions: Iterable[str], abi: StableAbi | None = None
) -> list[Abi3Use]:
    """Every symbol an extension module uses beyond the stable ABI of the abi3 version ``claim`` names.

    ``extensions`` are the paths of the wheel's extension modules: only they are loaded by the interpreter
    (a vendored library's ``Py*`` symbols would be resolved the same way, but abi3audit too audits what
    the interpreter imports). Empty when the wheel makes no abi3 claim.
    """
    claimed = claimed_abi3(claim)
    if claimed is None:
        return []
    table = abi or load_stable_abi()
    wanted = set(extensions)
    uses: list[Abi3Use] = []
    for f in sorted(files, key=lambda f: f.path):
        if f.path not in wanted:
            continue
        for symbol in f.python_symbols:
            since = table.since(symbol)
            if since is None or since > claimed:
                uses.append(Abi3Use(f.path, symbol, since))
    return uses
