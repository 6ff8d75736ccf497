"""The distro matrix: ``distros.toml`` read and validated into :class:`Distro` and :class:`PythonConfig`.

Only ``image`` is required per ``[distro.NAME]`` table; every other key is optional, and so is the
``[python]`` table (where interpreters come from). A distro's libc version is never taken from this
file: it is measured inside the container.
"""

from __future__ import annotations

import fnmatch
import json
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DistrosFileError, SelectionError
from .tags import Libc

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.9/3.10 only
    import tomli as tomllib

#: the default matrix, shipped inside the package (a copy of the repository's distros.toml)
# The repository's root distros.toml is the one source: the wheel ships it beside this module
# (pyproject's force-include); a source checkout or an editable install reads the root file.
_PACKAGED = Path(__file__).with_name("distros.toml")
DEFAULT_DISTROS_FILE = _PACKAGED if _PACKAGED.is_file() else Path(__file__).parents[2] / "distros.toml"

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# An image reference as the engines parse it: [registry[:port]/]path[:tag][@sha256:digest], path
# components lowercase (the distribution project's reference grammar, simplified).
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE_RE = re.compile(
    rf"^(?:(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?/)?"
    rf"{_COMPONENT}(?:/{_COMPONENT})*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})?(?:@sha256:[0-9a-f]{{64}})?$"
)
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
class RootfsRecipe:
    """An image imported from a distro's official root filesystem tarball (Alpine's minirootfs).

    The tarball is used only once its sha256 matches; a download is cached per machine, and a file of
    the same name in ``$PYTEST_MANYLINUX_ROOTFS_DIR`` is used instead of the download (machines that
    reach no mirror).
    """

    #: the tarball: a URL (``https://...``) or a local path
    rootfs: str
    #: its sha256, lower-case hex
    sha256: str

    @property
    def filename(self) -> str:
        """The tarball's file name, e.g. ``alpine-minirootfs-3.20.3-x86_64.tar.gz``."""
        return self.rootfs.rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class DeriveRecipe:
    """How the engine adds what a base image lacks (python3, most often): a container of the base, with
    network, runs the distro's package manager, and the result is committed as a derived image."""

    #: packages installed with the package manager the image has (apt-get, apk, dnf, yum, zypper)
    packages: tuple[str, ...] = ("python3",)
    #: a whole shell command instead (run with ``sh -c`` as root); ``None``: install ``packages``
    command: str | None = None


@dataclass(frozen=True)
class Distro:
    """One distro of the matrix."""

    #: the table name, used in test ids and ``--manylinux-distro``
    name: str
    #: the image reference, e.g. ``ubuntu:16.04``
    image: str
    #: the family (``ubuntu``, ``debian``, ...): a marker; guessed from the image when not given
    family: str
    #: the libc family (a marker); the version is measured in the container
    libc: Libc
    #: free-form tags from the file (``lts``, ``eol``, ...): markers too
    tags: tuple[str, ...] = ()
    #: how to build the image when it is missing, or ``None``
    build: BuildRecipe | RootfsRecipe | None = None
    #: interpreter paths or globs to look for in the image, before the default ones (``None``: none)
    pythons: tuple[str, ...] | None = None
    #: where this distro's interpreters come from, in order (``None``: ``[python].order``); see
    #: :data:`INTERPRETER_ORIGINS`; a one-entry list pins it
    interpreters: tuple[str, ...] | None = None
    #: free-form notes, shown nowhere but the file
    notes: str = ""
    #: what the engine adds to the image before checks run (``None``: the image is used as it is)
    derive: DeriveRecipe | None = None

    @property
    def markers(self) -> tuple[str, ...]:
        """Marker names for ``-m``: the name, family, libc and tags, as identifiers."""
        names = [marker_name(self.name), marker_name(self.family), self.libc.value]
        names += [marker_name(t) for t in self.tags]
        return tuple(dict.fromkeys(n for n in names if n))


#: The words an interpreter order may hold besides paths: the distro's own pythons, the ones an image
#: carries in ``/opt/python`` (pypa/manylinux images), and a portable CPython brought in.
INTERPRETER_ORIGINS = ("distro", "image", "portable")
#: The CPython versions a portable interpreter may be brought in for when ``[python].versions`` is not set.
#: ``t`` marks a free-threaded build (``--disable-gil``, ABI ``cp313t``), last: only ``cp3XYt`` wheels use it.
DEFAULT_PORTABLE_VERSIONS = ("3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "3.14", "3.13t", "3.14t")
_VERSION_RE = re.compile(r"^3\.(\d|1\d)t?$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class PortableSource:
    """Where a portable CPython X.Y may come from (a ``[python.portable."X.Y"]`` table)."""

    #: ``"3.11"``
    version: str
    #: a local tarball (``.tar``, ``.tar.gz``, ``.tar.xz``, ...) or an unpacked prefix holding
    #: ``bin/pythonX.Y``
    path: str | None = None
    #: a tarball to download
    url: str | None = None
    #: the download's sha256 (required with ``url``; checked for ``path`` when given)
    sha256: str | None = None
    #: the CPython source tarball a build uses (a path or URL), instead of the distro archive's
    source: str | None = None
    #: the source tarball's sha256 (required when ``source`` is a URL)
    source_sha256: str | None = None


@dataclass(frozen=True)
class PythonConfig:
    """Where interpreters come from (the ``[python]`` table); the defaults hold when it is absent."""

    #: the default order for every distro (a distro's ``interpreters`` replaces it)
    order: tuple[str, ...] = INTERPRETER_ORIGINS
    #: versions a portable CPython may be brought in for (empty: none is)
    versions: tuple[str, ...] = DEFAULT_PORTABLE_VERSIONS
    #: the distro whose container builds CPython from source (``None``: the first glibc distro of the file)
    build_on: str | None = None
    #: build from source when no other source has the version
    build: bool = True
    #: look in uv's managed pythons, and let ``uv python install`` fetch one, where uv is on PATH
    uv: bool = True
    #: per-version sources, by ``"X.Y"``
    sources: Mapping[str, PortableSource] = field(default_factory=dict, compare=False, hash=False)

    def source(self, version: str) -> PortableSource:
        return self.sources.get(version) or PortableSource(version)


@dataclass(frozen=True)
class DistrosFile:
    """A whole distros.toml: the matrix, oldest first as written, and the ``[python]`` settings."""

    distros: tuple[Distro, ...]
    python: PythonConfig = PythonConfig()

    @property
    def build_distro(self) -> Distro | None:
        """Where CPython is built from source: ``[python].build-on``, else the first glibc distro."""
        if self.python.build_on is not None:
            return next(d for d in self.distros if d.name == self.python.build_on)
        return next((d for d in self.distros if d.libc is Libc.GLIBC), None)

    @property
    def musl_build_distro(self) -> Distro | None:
        """Where CPython is built for musl: ``ubuntu-20.04``, whose musl-tools is musl 1.1.24 (Alpine 3.12's).

        A build against a newer musl would need symbols older Alpines lack; none is tried elsewhere.
        """
        return next((d for d in self.distros if d.name == "ubuntu-20.04" and d.libc is Libc.GLIBC), None)


def check_image_reference(ref: str) -> str:
    """``ref`` when it parses as an image reference; else a ValueError saying how one is written."""
    if not _IMAGE_RE.match(ref):
        raise ValueError(
            f"{ref!r} is not an image reference; write [REGISTRY[:PORT]/]NAME[:TAG] in lowercase, "
            "e.g. ubuntu:22.04 or registry.example:5000/team/ubuntu:22.04"
        )
    return ref


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


_KNOWN_KEYS = {"image", "family", "libc", "tags", "build", "derive", "python", "interpreters", "notes"}
_DERIVE_KEYS = {"packages", "command"}
#: a package name as apt, apk, dnf and zypper spell them (no shell metacharacters: they go into a command)
_PACKAGE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+_:=~-]*$")
_BUILD_KEYS = {"debootstrap", "script", "mirror", "check-gpg", "include", "variant"}
_ROOTFS_KEYS = {"rootfs", "sha256"}


def _fail(path: Path, where: str, message: str) -> DistrosFileError:
    return DistrosFileError(f"{path}: {where}: {message}")


_EXAMPLES = {"image": "debian:12", "debootstrap": "bookworm"}


def _string(path: Path, where: str, table: dict[str, Any], key: str, required: bool = False) -> str | None:
    if key not in table:
        if required:
            example = _EXAMPLES.get(key, "...")
            raise _fail(path, where, f'missing required key {key!r} (e.g. {key} = "{example}")')
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


def _rootfs(path: Path, where: str, value: dict[str, Any]) -> RootfsRecipe:
    unknown = sorted(set(value) - _ROOTFS_KEYS)
    if unknown:
        raise _fail(path, where, f"unknown key(s) {unknown!r} beside rootfs; known: {sorted(_ROOTFS_KEYS)!r}")
    rootfs = _string(path, where, value, "rootfs", required=True)
    sha256 = _sha256(path, where, value, "sha256")
    if sha256 is None:
        raise _fail(
            path,
            where,
            'rootfs needs sha256 = "...": a root filesystem is only imported once its checksum matches',
        )
    assert rootfs is not None
    return RootfsRecipe(rootfs, sha256)


def _build(path: Path, where: str, value: Any) -> BuildRecipe | RootfsRecipe:
    if not isinstance(value, dict):
        raise _fail(path, where, f'expected a table like {{ debootstrap = "bookworm" }}, got {value!r}')
    if "rootfs" in value:
        return _rootfs(path, where, value)
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


def _derive(path: Path, where: str, value: Any) -> DeriveRecipe:
    if not isinstance(value, dict):
        raise _fail(path, where, f'expected a table like {{ packages = ["python3"] }}, got {value!r}')
    unknown = sorted(set(value) - _DERIVE_KEYS)
    if unknown:
        raise _fail(path, where, f"unknown key(s) {unknown!r}; known: {sorted(_DERIVE_KEYS)!r}")
    if "packages" in value and "command" in value:
        raise _fail(path, where, "give packages or command, not both (a command installs what it needs)")
    command = _string(path, where, value, "command")
    if command is not None:
        return DeriveRecipe(packages=(), command=command)
    packages = _strings(path, f"{where}.packages", value.get("packages", ["python3"]))
    if not packages:
        raise _fail(path, f"{where}.packages", 'expected at least one package, e.g. ["python3"]')
    for package in packages:
        if not _PACKAGE_RE.match(package):
            raise _fail(path, f"{where}.packages", f"{package!r} is not a package name")
    return DeriveRecipe(packages=packages)


def _distro(path: Path, name: str, table: Any) -> Distro:
    where = f"[distro.{name}]"
    if not _NAME_RE.match(name):
        raise _fail(path, where, f"distro name {name!r} must be letters, digits, '.', '_' or '-'")
    if not isinstance(table, dict):
        raise _fail(path, where, f'expected a table with at least image = "...", got {table!r}')
    unknown = sorted(set(table) - _KNOWN_KEYS)
    if unknown:
        raise _fail(path, where, f"unknown key(s) {unknown!r}; known keys: {sorted(_KNOWN_KEYS)!r}")
    image = _string(path, where, table, "image", required=True)
    assert image is not None
    try:
        check_image_reference(image)
    except ValueError as e:
        raise _fail(path, f"{where}.image", str(e)) from None
    family = _string(path, where, table, "family") or family_of_image(image)
    libc_text = _string(path, where, table, "libc")
    if libc_text is None:
        libc = Libc.MUSL if family in _MUSL_FAMILIES else Libc.GLIBC
    else:
        try:
            libc = Libc(libc_text)
        except ValueError:
            raise _fail(path, f"{where}.libc", f'expected "glibc" or "musl", got {libc_text!r}') from None
    tags = _strings(path, f"{where}.tags", table.get("tags", []))
    for tag in tags:
        if not _MARKER_RE.match(marker_name(tag)):
            raise _fail(path, f"{where}.tags", f"tag {tag!r} cannot be a marker name")
    build = _build(path, f"{where}.build", table["build"]) if "build" in table else None
    derive = _derive(path, f"{where}.derive", table["derive"]) if "derive" in table else None
    pythons = _strings(path, f"{where}.python", table["python"]) if "python" in table else None
    interpreters = (
        _order(path, f"{where}.interpreters", table["interpreters"]) if "interpreters" in table else None
    )
    notes = _string(path, where, table, "notes") or ""
    return Distro(name, image, family, libc, tags, build, pythons, interpreters, notes, derive)


def _order(path: Path, where: str, value: Any) -> tuple[str, ...]:
    entries = _strings(path, where, value)
    for entry in entries:
        if entry not in INTERPRETER_ORIGINS and not entry.startswith("/"):
            raise _fail(
                path,
                where,
                f"{entry!r} is neither one of {list(INTERPRETER_ORIGINS)!r} "
                "nor an absolute interpreter path or glob",
            )
    if not entries:
        raise _fail(path, where, 'expected at least one entry, e.g. ["distro", "portable"]')
    return entries


def _bool(path: Path, where: str, table: dict[str, Any], key: str, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise _fail(path, f"{where}.{key}", f"expected true or false, got {value!r}")
    return value


def _version(path: Path, where: str, value: Any) -> str:
    if not isinstance(value, str) or not _VERSION_RE.match(value):
        raise _fail(
            path, where, f'expected a CPython version like "3.11" (or "3.13t", free-threaded), got {value!r}'
        )
    return value


def _sha256(path: Path, where: str, table: dict[str, Any], key: str) -> str | None:
    value = _string(path, where, table, key)
    if value is not None and not _SHA256_RE.match(value.lower()):
        raise _fail(path, f"{where}.{key}", f"expected 64 hexadecimal digits, got {value!r}")
    return value.lower() if value else None


_PORTABLE_KEYS = {"path", "url", "sha256", "source", "source-sha256"}


def _portable(path: Path, version: str, table: Any) -> PortableSource:
    where = f"[python.portable.{version}]"
    _version(path, where, version)
    if not isinstance(table, dict):
        raise _fail(
            path, where, f'expected a table like {{ path = "/srv/cpython-{version}.tar.gz" }}, got {table!r}'
        )
    unknown = sorted(set(table) - _PORTABLE_KEYS)
    if unknown:
        raise _fail(path, where, f"unknown key(s) {unknown!r}; known: {sorted(_PORTABLE_KEYS)!r}")
    source = PortableSource(
        version,
        path=_string(path, where, table, "path"),
        url=_string(path, where, table, "url"),
        sha256=_sha256(path, where, table, "sha256"),
        source=_string(path, where, table, "source"),
        source_sha256=_sha256(path, where, table, "source-sha256"),
    )
    if source.url and not source.sha256:
        raise _fail(
            path, where, 'url needs sha256 = "...": a download is only used once its checksum matches'
        )
    if source.source and "://" in source.source and not source.source_sha256:
        raise _fail(
            path,
            where,
            'a source URL needs source-sha256 = "...": a download is only used once its checksum matches',
        )
    return source


_PYTHON_KEYS = {"order", "versions", "build-on", "build", "uv", "portable"}


def _python(path: Path, value: Any, distros: tuple[Distro, ...]) -> PythonConfig:
    where = "[python]"
    if not isinstance(value, dict):
        raise _fail(path, where, f"expected a table, got {value!r}")
    unknown = sorted(set(value) - _PYTHON_KEYS)
    if unknown:
        raise _fail(path, where, f"unknown key(s) {unknown!r}; known: {sorted(_PYTHON_KEYS)!r}")
    order = _order(path, f"{where}.order", value["order"]) if "order" in value else INTERPRETER_ORIGINS
    versions: tuple[str, ...] = DEFAULT_PORTABLE_VERSIONS
    if "versions" in value:
        raw = value["versions"]
        if not isinstance(raw, list):
            raise _fail(path, f"{where}.versions", f'expected a list like ["3.11", "3.12"], got {raw!r}')
        versions = tuple(_version(path, f"{where}.versions", v) for v in raw)
    build_on = _string(path, where, value, "build-on")
    if build_on is not None:
        by_name = {d.name: d for d in distros}
        if build_on not in by_name:
            raise _fail(
                path, f"{where}.build-on", f"no distro named {build_on!r}; known: {', '.join(by_name)}"
            )
        if by_name[build_on].libc is not Libc.GLIBC:
            raise _fail(
                path,
                f"{where}.build-on",
                f"{build_on!r} is not a glibc distro; portable CPython is built for glibc",
            )
    portable = value.get("portable", {})
    if not isinstance(portable, dict):
        raise _fail(path, f"{where}.portable", f'expected [python.portable."X.Y"] tables, got {portable!r}')
    sources = {version: _portable(path, version, table) for version, table in portable.items()}
    return PythonConfig(
        order=order,
        versions=versions,
        build_on=build_on,
        build=_bool(path, where, value, "build", True),
        uv=_bool(path, where, value, "uv", True),
        sources=sources,
    )


def load_distros(path: str | Path | None = None) -> tuple[Distro, ...]:
    """Read a distros file (the default matrix when ``path`` is None), oldest entries first as written."""
    return load_distros_file(path).distros


def load_distros_file(path: str | Path | None = None) -> DistrosFile:
    """Read a whole distros file: the matrix and the ``[python]`` settings."""
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
    unknown = sorted(set(data) - {"distro", "python"})
    if unknown:
        raise _fail(
            path,
            "top level",
            f"unknown table(s) {unknown!r}; distros go in [distro.NAME] tables, interpreters in [python]",
        )
    tables = data.get("distro")
    if not isinstance(tables, dict) or not tables:
        raise _fail(path, "top level", 'no [distro.NAME] tables; add at least one with image = "..."')
    distros = tuple(_distro(path, name, table) for name, table in tables.items())
    python = _python(path, data["python"], distros) if "python" in data else PythonConfig()
    return DistrosFile(distros, python)


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


# -- a matrix of ready images (``images --push``) --------------------------------------------------------


def pushed_reference(prefix: str, image: str) -> str:
    """Where ``image`` goes under ``REGISTRY/PREFIX``: ``ubuntu:16.04`` -> ``REGISTRY/PREFIX/ubuntu:16.04``"""
    name = image.split("@", 1)[0].rsplit("/", 1)[-1]
    if ":" not in name:
        name += ":latest"
    return check_image_reference(f"{prefix.rstrip('/')}/{name}")


def ready_matrix(path: str | Path | None, pushed: Mapping[str, str]) -> str:
    """The distros file at ``path`` (the default matrix when None) with each distro of ``pushed`` pointing
    at its ready image (name -> reference): no derive (the image has what it added), and a build that
    includes what the derive would have added, for a machine that reaches neither registry."""
    path = Path(path) if path is not None else DEFAULT_DISTROS_FILE
    load_distros_file(path)  # validated first: a rewrite of a bad file would hide where it is bad
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    for name, ref in pushed.items():
        table = data["distro"][name]
        table["image"] = ref
        derive = table.pop("derive", None)
        build = table.get("build")
        if isinstance(build, dict) and isinstance(derive, dict) and "command" not in derive:
            include = build.get("include", ["python3"])
            include = [include] if isinstance(include, str) else include
            added = derive.get("packages", ["python3"])
            added = [added] if isinstance(added, str) else added
            build["include"] = list(dict.fromkeys([*include, *added]))
        elif derive is not None:
            table.pop("build", None)  # a command derive cannot be replayed by debootstrap
    header = (
        "# The distro matrix with ready images (python3 included): written by\n"
        "# `python -m pytest_manylinux images --push`. Point pytest at it with\n"
        "# --manylinux-distros-file or the manylinux_distros_file ini setting.\n\n"
    )
    return header + dump_matrix(data)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as TOML")


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def dump_matrix(data: Mapping[str, Any]) -> str:
    """A distros.toml document of ``data`` as :func:`load_distros_file` reads it: a ``[distro.NAME]``
    table per distro (its build and derive tables inline), ``[python]`` and its ``portable`` tables."""
    lines: list[str] = []

    def table(header: str, values: Mapping[str, Any]) -> None:
        lines.append(f"[{header}]")
        lines.extend(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in values.items())
        lines.append("")

    for name, values in data["distro"].items():
        table(f"distro.{_toml_key(name)}", values)
    if "python" in data:
        python = dict(data["python"])
        portable = python.pop("portable", {})
        table("python", python)
        for version, values in portable.items():
            table(f"python.portable.{_toml_key(version)}", values)
    return "\n".join(lines)
