"""musl pieces: distros measured without a python, and which musl a file's symbols need.

An Alpine image has no interpreter until a portable one is brought in, yet its libc must be known first
(to choose that interpreter, or to skip a glibc wheel there). musl's loader prints its version when run
with no argument; the shell command below asks it, and :func:`musl_facts` reads the answer. musl has no
symbol versions either: the symbols each musl exports are kept as data (``musl-symbols.json``, measured
from Alpine's own libc), and :func:`musl_need` finds the newest musl a file's calls need.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import PolicyError
from .elf import ElfFacts
from .observe import DistroFacts
from .tags import Libc, LibcVersion

#: Run with ``/bin/sh -c`` in a container that has no python: each musl loader with its banner, then
#: the machine. (``ld-musl-x86_64.so.1`` with no argument prints "musl libc (x86_64)" and "Version X.Y.Z"
#: to stderr and exits 1.)
SHELL_PROBE = (
    'for l in /lib/ld-musl-*.so.1; do [ -e "$l" ] || continue; echo "loader: $l"; "$l" 2>&1; done; '
    'echo "machine: $(uname -m)"'
)
_LOADER = re.compile(r"^loader: (?P<path>/\S+)$", re.MULTILINE)
_VERSION = re.compile(r"^Version (?P<version>\d+\.\d+(?:\.\d+)?)\s*$", re.MULTILINE)
_MACHINE = re.compile(r"^machine: (?P<machine>\S+)$", re.MULTILINE)


def musl_facts(output: str) -> DistroFacts | None:
    """The facts :data:`SHELL_PROBE` printed, or None when the image has no musl loader."""
    loader = _LOADER.search(output)
    if loader is None:
        return None
    version = _VERSION.search(output, loader.end())
    machine = _MACHINE.search(output)
    return DistroFacts(
        libc=Libc.MUSL,
        libc_version=LibcVersion.parse(version["version"]) if version else None,
        machine=machine["machine"] if machine else "",
        loader=loader["path"],
    )


# -- which musl a file's symbols need ------------------------------------------------------------------

_SYMBOLS_FILE = Path(__file__).with_name("musl-symbols.json")


@dataclass(frozen=True)
class MuslSymbols:
    """The symbols each musl of the matrix exports, as measured (``musl-symbols.json``)."""

    #: the oldest musl measured, e.g. ``1.1.24``
    base: str
    #: what it exports
    base_symbols: frozenset[str]
    #: musl version -> the symbols it added, oldest version first
    added: tuple[tuple[str, frozenset[str]], ...]

    def first_with(self, symbol: str) -> str | None:
        """The first measured musl that exports ``symbol`` (``None``: none does, or it is older than all)."""
        if symbol in self.base_symbols:
            return self.base
        return next((version for version, names in self.added if symbol in names), None)


@functools.lru_cache(maxsize=1)
def load_symbols(path: Path = _SYMBOLS_FILE) -> MuslSymbols:
    """Read and check ``musl-symbols.json`` (x86_64: the only architecture measured)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        table = data["x86_64"]
        base = str(table["base"]["musl"])
        added = tuple(
            (str(version), frozenset(str(s) for s in names)) for version, names in table["added"].items()
        )
        symbols = frozenset(str(s) for s in table["base"]["symbols"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise PolicyError(f"{path}: not a musl symbol table ({e}); reinstall pytest-manylinux") from e
    versions = [LibcVersion.parse(base)] + [LibcVersion.parse(v) for v, _ in added]
    if versions != sorted(versions) or not symbols:
        raise PolicyError(f"{path}: musl versions out of order or no base symbols")
    return MuslSymbols(base, symbols, added)


@dataclass(frozen=True)
class MuslNeed:
    """The newest musl function a file calls: what its tag must claim at least."""

    #: the musl version that added it, e.g. ``1.2.2``
    musl: str
    file: str
    symbol: str

    @property
    def version(self) -> LibcVersion:
        """As a musllinux floor: ``1.2.2`` -> 1.2."""
        return LibcVersion.parse(self.musl)

    def describe(self) -> str:
        return f"{self.symbol} in {self.file} needs musl {self.musl}"


def musl_need(files: Iterable[ElfFacts], symbols: MuslSymbols | None = None) -> MuslNeed | None:
    """The need for the newest musl among musl-linked files' undefined symbols, or None (all in the oldest).

    Symbols no measured musl exports are left out: they come from other libraries, or the interpreter.
    """
    table = symbols or load_symbols()
    order = {table.base: 0, **{v: i + 1 for i, (v, _) in enumerate(table.added)}}
    best: MuslNeed | None = None
    for f in files:
        if f.libc is not Libc.MUSL:
            continue
        for symbol in f.unversioned:
            first = table.first_with(symbol)
            if first is None or first == table.base:
                continue
            if best is None or order[first] > order[best.musl]:
                best = MuslNeed(first, f.path, symbol)
    return best
