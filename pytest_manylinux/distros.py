"""The distro matrix: ``distros.toml`` read and validated into :class:`Distro` values.

Only ``image`` is required per ``[distro.NAME]`` table; every other key is optional. A distro's libc
version is never taken from this file: it is measured inside the container.
"""

from __future__ import annotations

import fnmatch
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from .errors import DistrosFileError, SelectionError
from .tags import Libc

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.9/3.10 only
    import tomli as tomllib

#: the default matrix, shipped inside the package (a copy of the repository's distros.toml)
DEFAULT_DISTROS_FILE = Path(__file__).with_name("distros.toml")

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_MARKER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Families whose C library is musl; everything else is assumed glibc until measured.
_MUSL_FAMILIES = frozenset({"alpine", "void-musl", "chimera", "wolfi-musl"})


@dataclass(frozen=True)
class BuildRecipe:
    """How to build a distro's image from its own package archive when it can be neither found nor pulled."""

    #: the debootstrap suite, e.g. ``xenial`` or ``bookworm``
    suite: str
    #: debootstrap script to use instead of the suite's own (e.g. ``gutsy`` for suites newer than debootstrap)
    script: str | None = None
    #: archive mirror; ``None`` uses debootstrap's default for the suite
    mirror: str | None = None
    #: verify the archive's signatures (Ubuntu suites need ``false`` where no Ubuntu keyring is installed)
    check_gpg: bool = True
    #: packages added to the minimal base
    include: tuple[str, ...] = ("python3",)
    #: debootstrap variant
    variant: str = "minbase"


@dataclass(frozen=True)
class Distro:
    """One distro of the matrix."""

    #: the table name, used in test ids and ``--manylinux-distro``
    name: str
    #: the image reference, e.g. ``pytest-manylinux/ubuntu:16.04``
    image: str
    #: the family (``ubuntu``, ``debian``, ...): a marker; guessed from the image when not given
    family: str
    #: the libc family (a marker); the version is measured in the container
    libc: Libc
    #: free-form tags from the file (``lts``, ``eol``, ...): markers too
    tags: tuple[str, ...] = ()
    #: how to build the image when it is missing, or ``None``
    build: BuildRecipe | None = None
    #: interpreters to try in this distro, in order (``None``: the default search)
    pythons: tuple[str, ...] | None = None
    #: free-form notes, shown nowhere but the file
    notes: str = ""

    @property
    def markers(self) -> tuple[str, ...]:
        """Marker names for ``-m``: the name, family, libc and tags, as identifiers."""
        names = [marker_name(self.name), marker_name(self.family), self.libc.value]
        names += [marker_name(t) for t in self.tags]
        return tuple(dict.fromkeys(n for n in names if n))


def marker_name(text: str) -> str:
    """``ubuntu-16.04`` -> ``ubuntu_16_04``: a name ``-m`` expressions and ``pytest.mark`` accept."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", text)
    if name and name[0].isdigit():
        name = "_" + name
    return name


def family_of_image(image: str) -> str:
    """Guess the family from an image reference: ``registry.example/ubuntu:22.04`` -> ``ubuntu``."""
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    repo = last.split(":", 1)[0]
    return repo.lower() or "unknown"


_KNOWN_KEYS = {"image", "family", "libc", "tags", "build", "python", "notes"}
_BUILD_KEYS = {"debootstrap", "script", "mirror", "check-gpg", "include", "variant"}


def _fail(path: Path, where: str, message: str) -> DistrosFileError:
    return DistrosFileError(f"{path}: {where}: {message}")


_EXAMPLES = {"image": "debian:12", "debootstrap": "bookworm"}


def _string(path: Path, where: str, table: dict[str, Any], key: str, required: bool = False) -> str | None:
    if key not in table:
        if required:
            example = _EXAMPLES.get(key, "...")
            raise _fail(path, where, f"missing required key {key!r} (e.g. {key} = \"{example}\")")
        return None
    value = table[key]
    if not isinstance(value, str) or not value.strip():
        raise _fail(path, f"{where}.{key}", f"expected a non-empty string, got {value!r}")
    return value.strip()


def _strings(path: Path, where: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _fail(path, where, f"expected a list of strings, got {value!r}")
    return tuple(value)


def _build(path: Path, where: str, value: Any) -> BuildRecipe:
    if not isinstance(value, dict):
        raise _fail(path, where, f"expected a table like {{ debootstrap = \"bookworm\" }}, got {value!r}")
    unknown = sorted(set(value) - _BUILD_KEYS)
    if unknown:
        raise _fail(path, where, f"unknown key(s) {unknown!r}; known: {sorted(_BUILD_KEYS)!r}")
    suite = _string(path, where, value, "debootstrap", required=True)
    check_gpg = value.get("check-gpg", True)
    if not isinstance(check_gpg, bool):
        raise _fail(path, f"{where}.check-gpg", f"expected true or false, got {check_gpg!r}")
    include = _strings(path, f"{where}.include", value.get("include", ["python3"]))
    assert suite is not None
    return BuildRecipe(
        suite=suite,
        script=_string(path, where, value, "script"),
        mirror=_string(path, where, value, "mirror"),
        check_gpg=check_gpg,
        include=include,
        variant=_string(path, where, value, "variant") or "minbase",
    )


def _distro(path: Path, name: str, table: Any) -> Distro:
    where = f"[distro.{name}]"
    if not _NAME_RE.match(name):
        raise _fail(path, where, f"distro name {name!r} must be letters, digits, '.', '_' or '-'")
    if not isinstance(table, dict):
        raise _fail(path, where, f"expected a table with at least image = \"...\", got {table!r}")
    unknown = sorted(set(table) - _KNOWN_KEYS)
    if unknown:
        raise _fail(path, where, f"unknown key(s) {unknown!r}; known keys: {sorted(_KNOWN_KEYS)!r}")
    image = _string(path, where, table, "image", required=True)
    assert image is not None
    family = _string(path, where, table, "family") or family_of_image(image)
    libc_text = _string(path, where, table, "libc")
    if libc_text is None:
        libc = Libc.MUSL if family in _MUSL_FAMILIES else Libc.GLIBC
    else:
        try:
            libc = Libc(libc_text)
        except ValueError:
            raise _fail(path, f"{where}.libc", f"expected \"glibc\" or \"musl\", got {libc_text!r}") from None
    tags = _strings(path, f"{where}.tags", table.get("tags", []))
    for tag in tags:
        if not _MARKER_RE.match(marker_name(tag)):
            raise _fail(path, f"{where}.tags", f"tag {tag!r} cannot be a marker name")
    build = _build(path, f"{where}.build", table["build"]) if "build" in table else None
    pythons = _strings(path, f"{where}.python", table["python"]) if "python" in table else None
    notes = _string(path, where, table, "notes") or ""
    return Distro(name, image, family, libc, tags, build, pythons, notes)


def load_distros(path: str | Path | None = None) -> tuple[Distro, ...]:
    """Read a distros file (the default matrix when ``path`` is None), oldest entries first as written."""
    path = Path(path) if path is not None else DEFAULT_DISTROS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DistrosFileError(f"{path}: no such distros file; check --manylinux-distros-file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise DistrosFileError(f"{path}: cannot read the distros file ({e})") from e
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise DistrosFileError(f"{path}: not valid TOML: {e}") from e
    unknown = sorted(set(data) - {"distro"})
    if unknown:
        raise _fail(path, "top level", f"unknown table(s) {unknown!r}; distros go in [distro.NAME] tables")
    tables = data.get("distro")
    if not isinstance(tables, dict) or not tables:
        raise _fail(path, "top level", "no [distro.NAME] tables; add at least one with image = \"...\"")
    return tuple(_distro(path, name, table) for name, table in tables.items())


def select(distros: Iterable[Distro], patterns: Iterable[str]) -> tuple[Distro, ...]:
    """Narrow the matrix to distros whose name matches any glob; each pattern must match something."""
    distros = tuple(distros)
    patterns = [p for p in patterns if p]
    if not patterns:
        return distros
    chosen: set[str] = set()
    for pattern in patterns:
        matched = {d.name for d in distros if fnmatch.fnmatchcase(d.name, pattern)}
        if not matched:
            names = ", ".join(d.name for d in distros)
            raise SelectionError(f"--manylinux-distro {pattern!r} matches no distro; known: {names}")
        chosen |= matched
    return tuple(d for d in distros if d.name in chosen)
