"""Portable CPython: a relocatable interpreter brought into distros whose own pythons cannot load a wheel.

Sources, tried in order: a local tarball or prefix named in the config, uv's managed pythons (or
``uv python install``), a download checked against its sha256, and a build from source inside the
oldest distro's container (the source tarball from the config, or the distro archive's own source
package, checked against its ``.dsc``). Every result is verified (no libc or libstdc++ of its own, every
library it needs either glibc's or carried beside it) and cached per machine under a file lock.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import lzma
import os
import posixpath
import re
import shutil
import subprocess
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..container.relocate import RPATH_PLACEHOLDER
from ..container.relocate import SYSTEM as GLIBC_LIBRARIES
from ..core.distros import Distro, PortableSource, PythonConfig
from ..core.elf import read_elf
from ..core.tags import LibcVersion
from ..core.wheel import file_sha256
from ..errors import BuildFailed, ElfError, ImageError, ManylinuxError, PortableError
from .archives import readable_by_all
from .docker import LABEL
from .sharing import Once, cache_root, file_lock

if TYPE_CHECKING:  # pragma: no cover
    from .docker import Engine

Progress = Callable[[str], None]

#: Bumped whenever the build changes what it produces: cached builds of another recipe are rebuilt.
#: It is part of every cache key (``-r2``), so sessions running an older recipe keep their own entries.
RECIPE = 3
#: Where portable interpreters go inside containers, one directory per archive.
CONTAINER_DIR = "/opt/pytest-manylinux/python"
#: The top directory of every cached archive (as python-build-standalone's ``install_only`` tarballs).
TOP = "python"
ARCHIVE_NAME = "python.tar.gz"
MANIFEST_NAME = "manifest.json"
#: Beside a cache entry whose build failed: why, with the recipe, so later runs do not build it again.
FAILURE_NAME = "failure.json"

#: Where a build finds CPython X.Y's source when the config names none: the ``Sources`` index of a
#: suite (``SUITE/COMPONENT``, ``main`` when not said) of the Debian or Ubuntu archive that packages
#: ``python3.X`` (its upstream ``.orig`` tarball is CPython's release tarball). Ubuntu's ``-updates``
#: suites carry the later bug-fix releases. 3.14: sid lists a ``.dsc`` its pool no longer has (a newer
#: upload replaces it), so Ubuntu 25.10's release, whose files stay.
ARCHIVE_SOURCES: Mapping[str, tuple[str, str]] = {
    "3.8": ("http://archive.ubuntu.com/ubuntu", "focal-updates"),
    "3.9": ("http://deb.debian.org/debian", "bullseye"),
    "3.10": ("http://archive.ubuntu.com/ubuntu", "jammy-updates"),
    "3.11": ("http://deb.debian.org/debian", "bookworm"),
    "3.12": ("http://archive.ubuntu.com/ubuntu", "noble-updates"),
    "3.13": ("http://deb.debian.org/debian", "trixie"),
    "3.14": ("http://archive.ubuntu.com/ubuntu", "questing/universe"),
}

# Carrying any of these would replace the distro's own: the very thing under test.
_NEVER_CARRIED = re.compile(
    r"^(ld-linux[^/]*\.so|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|libstdc\+\+\.so|libgcc_s\.so)"
)
_PATCHLEVEL = re.compile(rb'#define\s+PY_VERSION\s+"(\d+)\.(\d+)\.(\d+)')
_EXECUTABLE = re.compile(r"^(?:(.*)/)?bin/python(3\.\d+t?)$")
_HTTP_TIMEOUT = 60
_CHUNK = 1 << 20

# Build dependencies (Debian and Ubuntu package names), installed once into the build image. The
# required ones make ctypes and zlib; the others make optional modules and are installed one by one
# where a suite lacks some of them. pkg-config finds the libraries below; tcl makes SQLite's source.
_REQUIRED_PACKAGES = "build-essential pkg-config perl tcl libffi-dev zlib1g-dev xz-utils"
_OPTIONAL_PACKAGES = "libbz2-dev liblzma-dev libreadline-dev libncursesw5-dev libgdbm-dev uuid-dev"

#: Libraries the oldest distros package too old for current CPython (16.04: OpenSSL 1.0.2, SQLite
#: 3.11, no usable libzstd; 3.10+ needs OpenSSL 1.1.1, 3.13+ SQLite 3.15.2, 3.14's ``_zstd`` zstd
#: 1.4.5): built once into the build image, as static PIC libraries, from the source packages of a
#: Debian suite (each checked against its ``.dsc``). Linked statically, nothing more to carry.
#: (bullseye's libzstd ``.dsc`` is no longer in the pool: bookworm's.)
LIBRARY_SOURCES: Mapping[str, tuple[str, str]] = {
    "openssl": ("http://deb.debian.org/debian", "bullseye"),
    "sqlite3": ("http://deb.debian.org/debian", "bullseye"),
    "libzstd": ("http://deb.debian.org/debian", "bookworm"),
}
#: Where the build image keeps those libraries (headers, ``lib*.a``, pkg-config files).
DEPS_PREFIX = "/opt/pytest-manylinux/deps"
#: Bumped whenever the build image changes: its tag carries it, so a changed image is a new one.
BUILD_IMAGE_RECIPE = 2

#: The extension modules that need a library beyond glibc: the ones a build can lack. The check fails
#: a build without one of ``_REQUIRED_MODULES`` (what wheels import most, and what the build image
#: provides); any other missing one (``_tkinter``: no Tk; ``_curses`` where the build distro's ncurses
#: cannot build it) is recorded in the manifest and reported, never a failed build.
STDLIB_EXTENSIONS = (
    "_bz2",
    "_ctypes",
    "_curses",
    "_curses_panel",
    "_dbm",
    "_decimal",
    "_gdbm",
    "_hashlib",
    "_lzma",
    "_sqlite3",
    "_ssl",
    "_tkinter",
    "_uuid",
    "_zstd",
    "readline",
    "zlib",
)
_REQUIRED_MODULES = ("_bz2", "_ctypes", "_decimal", "_hashlib", "_lzma", "_sqlite3", "_ssl", "zlib")
#: Modules that appeared in a later version: not missing from the versions before it.
_SINCE = {"_zstd": (3, 14)}
#: ``_cursesmodule.c`` of 3.13 and later does not compile against Ubuntu 16.04's ncurses
#: (``-Werror=implicit-function-declaration``): configured out, reported as missing.
_CURSES_OUT_FROM = (3, 13)


# -- values -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Portable:
    """A verified portable CPython in the cache: an archive to put into containers, and what it is."""

    #: ``(major, minor, micro)``
    version: tuple[int, int, int]
    #: the cached archive (a gzipped tar whose members all sit under ``python/``)
    archive: Path
    #: the interpreter inside the archive, e.g. ``python/bin/python3.11``
    member: str
    #: ``local``, ``uv``, ``download`` or ``built``
    origin: str
    #: where exactly it came from, for people
    detail: str
    #: of the archive
    sha256: str
    #: of the archive, in bytes
    size: int
    #: the highest ``GLIBC_`` symbol version its ELF files need (the oldest glibc it runs on)
    glibc: LibcVersion | None = None
    #: the libraries it carries beside the interpreter
    bundled: tuple[str, ...] = ()
    #: needs it leaves to the distro beyond glibc (accepted for supplied interpreters, never for builds)
    warnings: tuple[str, ...] = ()
    #: of :data:`STDLIB_EXTENSIONS`, the ones it lacks (measured by the build's check; () when unknown)
    missing: tuple[str, ...] = ()

    @property
    def short(self) -> str:
        """``3.11``, or ``3.13t`` for a free-threaded build (the name of its ``bin/python3.13t``)."""
        return self.member.rsplit("/python", 1)[-1]

    @property
    def container_dir(self) -> str:
        """The directory the archive is unpacked into inside a container."""
        return f"{CONTAINER_DIR}/{self.sha256[:12]}"

    @property
    def container_path(self) -> str:
        """The interpreter's path inside a container."""
        return f"{self.container_dir}/{self.member}"

    def to_json(self) -> dict[str, Any]:
        return {
            "recipe": RECIPE,
            "version": ".".join(str(x) for x in self.version),
            "member": self.member,
            "origin": self.origin,
            "detail": self.detail,
            "sha256": self.sha256,
            "size": self.size,
            "glibc": str(self.glibc) if self.glibc else None,
            "bundled": list(self.bundled),
            "warnings": list(self.warnings),
            "missing": list(self.missing),
        }


@dataclass(frozen=True)
class Obtained:
    """A portable CPython as one call got it: from the cache, or just made."""

    portable: Portable
    #: ``cached`` (nothing was fetched or built) or ``made`` (imported, downloaded or built just now)
    how: str
    seconds: float


@dataclass(frozen=True)
class Analysis:
    """What the ELF files of a portable CPython archive need, read without running anything."""

    member: str
    version: tuple[int, int, int]
    glibc: LibcVersion | None
    bundled: tuple[str, ...]
    #: needs neither glibc nor the archive meets: "FILE needs LIB"
    unmet: tuple[str, ...]
    #: libraries it carries that only the distro may provide (libc, libstdc++, ...)
    forbidden: tuple[str, ...]
    elf_files: int


# -- the cache ----------------------------------------------------------------------------------


def cache_dir() -> Path:
    """``python`` in the cache (:func:`~.sharing.cache_root`), created if need be."""
    path = cache_root() / "python"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class EntryCache:
    """A directory of interpreter builds, one entry each (the archive and its manifest), made once per
    machine: the glibc builds (``python``) and the musl ones (``python-musl``). An entry of another
    recipe, or whose archive differs from its manifest, is not there."""

    #: the directory (resolved at each use: the environment decides it)
    directory: Callable[[], Path]
    #: the manifest's field that holds the recipe number, and the number this code makes
    recipe_field: str
    recipe: int

    def read(self, entry: Path, stamp: str | None = None) -> Portable | None:
        """The entry's interpreter, or None when it is missing, of another recipe or stamp, or corrupt."""
        try:
            data = json.loads((entry / MANIFEST_NAME).read_text())
            archive = entry / ARCHIVE_NAME
            if data.get(self.recipe_field) != self.recipe or (
                stamp is not None and data.get("stamp") != stamp
            ):
                return None
            if archive.stat().st_size != data["size"] or file_sha256(archive) != data["sha256"]:
                return None
            major, minor, micro = (int(x) for x in str(data["version"]).split("."))
            return Portable(
                version=(major, minor, micro),
                archive=archive,
                member=str(data["member"]),
                origin=str(data["origin"]),
                detail=str(data["detail"]),
                sha256=str(data["sha256"]),
                size=int(data["size"]),
                glibc=LibcVersion.parse(data["glibc"]) if data.get("glibc") else None,
                bundled=tuple(data.get("bundled", [])),
                warnings=tuple(data.get("warnings", [])),
                missing=tuple(data.get("missing", [])),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def versions(self) -> frozenset[str]:
        """The X.Y versions (``3.13t`` for a free-threaded one) the cache holds an entry for (unverified:
        a hint for choosing, not a promise)."""
        found = set()
        for manifest in self.directory().glob(f"*/{MANIFEST_NAME}"):
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                data = json.loads(manifest.read_text())
                if data.get(self.recipe_field) == self.recipe:
                    found.add(str(data["member"]).rsplit("/python", 1)[-1])
        return frozenset(found)

    @contextlib.contextmanager
    def locked(self, key: str) -> Iterator[None]:
        """An exclusive lock on one entry, across processes (xdist workers, parallel sessions)."""
        with file_lock(self.directory() / f".{key}.lock"):
            yield

    def scratch(self, key: str) -> Path:
        """An empty directory to make entry ``key`` in, then :meth:`publish` (or remove) it."""
        tmp = self.directory() / f".{key}.tmp-{os.getpid()}-{threading.get_ident()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        return tmp

    def publish(self, tmp: Path, entry: Path, manifest: dict[str, Any]) -> None:
        """Write the manifest (with this recipe) into ``tmp`` and make it entry ``entry``, whole."""
        manifest = {**manifest, self.recipe_field: self.recipe}
        (tmp / MANIFEST_NAME).write_text(json.dumps(manifest, indent=1) + "\n")
        shutil.rmtree(entry, ignore_errors=True)
        tmp.rename(entry)


#: the glibc builds and the archives brought in
CACHE = EntryCache(cache_dir, "recipe", RECIPE)


def read_manifest(entry: Path, stamp: str | None = None) -> Portable | None:
    """The cache entry's interpreter, or None when it is missing, of another recipe or stamp, or corrupt."""
    return CACHE.read(entry, stamp)


def cached_versions() -> frozenset[str]:
    """The X.Y versions the cache holds an entry for (unverified: a hint for choosing, not a promise)."""
    return CACHE.versions()


def read_failure(entry: Path) -> dict[str, Any] | None:
    """The remembered failure of the build of cache entry ``entry``, or None (never failed, or retried)."""
    try:
        data = json.loads((entry / FAILURE_NAME).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("recipe") == RECIPE else None


def _remember_failure(entry: Path, key: str, version: str, error: BuildFailed, seconds: float) -> None:
    entry.mkdir(parents=True, exist_ok=True)
    document = {
        "recipe": RECIPE,
        "key": key,
        "version": version,
        "failed": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "seconds": round(seconds, 1),
        "error": str(error),
    }
    part = entry / f".{FAILURE_NAME}.{os.getpid()}"
    part.write_text(json.dumps(document, indent=1) + "\n")
    part.replace(entry / FAILURE_NAME)


def _failed_before(version: str, failure: dict[str, Any]) -> PortableError:
    error = str(failure.get("error", "?"))
    return PortableError(
        f"building CPython {version} failed on {failure.get('failed', '?')} with this recipe "
        f"({failure.get('key')}), so it is not tried again; after fixing the cause, "
        f"`python -m pytest_manylinux python {version} --retry` builds it again. It failed with: {error}"
    )


def _entry(
    key: str,
    version: str,
    make: Callable[[Path], dict[str, Any]],
    progress: Progress,
    *,
    stamp: str | None = None,
    strict: bool = False,
    retry: bool | None = None,
) -> Obtained:
    """The cache entry ``key``, made by ``make(tmpdir)`` (which writes the archive) if it is not there.

    ``make`` runs at most once per machine at a time: the entry is re-read under the lock, so a
    process that waited for another's build finds it done. With ``retry`` not None (builds), a
    :class:`BuildFailed` is remembered beside the entry and raised again without building, unless
    ``retry`` is true.
    """
    started = time.monotonic()
    entry = cache_dir() / key
    found = read_manifest(entry, stamp)
    if found is None:
        with CACHE.locked(key):
            found = read_manifest(entry, stamp)
            if found is None:
                failure = read_failure(entry) if retry is not None else None
                if failure is not None and not retry:
                    raise _failed_before(version, failure)
                try:
                    found = _make_entry(entry, key, version, make, progress, stamp=stamp, strict=strict)
                except BuildFailed as e:
                    if retry is not None:
                        _remember_failure(entry, key, version, e, time.monotonic() - started)
                    raise
                return Obtained(found, "made", time.monotonic() - started)
    return Obtained(found, "cached", time.monotonic() - started)


def _make_entry(
    entry: Path,
    key: str,
    version: str,
    make: Callable[[Path], dict[str, Any]],
    progress: Progress,
    *,
    stamp: str | None,
    strict: bool,
) -> Portable:
    tmp = CACHE.scratch(key)
    try:
        extra = make(tmp)
        archive = tmp / ARCHIVE_NAME
        analysis = analyse(archive, version)
        if analysis.forbidden:
            raise PortableError(
                f"the CPython {version} from {extra['detail']} carries {', '.join(analysis.forbidden)}: "
                "it would replace the distro's own, which is what the checks are about. "
                "Use a build without them."
            )
        if strict and analysis.unmet:
            raise BuildFailed(
                f"the CPython {version} built from {extra['detail']} "
                "still needs libraries of the build distro: " + "; ".join(analysis.unmet[:10])
            )
        portable = Portable(
            version=analysis.version,
            archive=entry / ARCHIVE_NAME,
            member=analysis.member,
            origin=str(extra["origin"]),
            detail=str(extra["detail"]),
            sha256=file_sha256(archive),
            size=archive.stat().st_size,
            glibc=analysis.glibc,
            bundled=analysis.bundled,
            warnings=analysis.unmet,
            missing=tuple(extra.get("missing", ())),
        )
        for warning in analysis.unmet[:5]:
            progress(f"  note: {warning} (from the distro, where it may be missing)")
        manifest = dict(portable.to_json(), stamp=stamp, created=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        manifest.update({k: v for k, v in extra.items() if k not in manifest})
        CACHE.publish(tmp, entry, manifest)
        return portable
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# -- archives: normalising and reading ----------------------------------------------------------


def find_interpreter(names: list[str], version: str | None = None) -> tuple[str, str]:
    """The prefix and ``X.Y`` of the interpreter among archive member names (``python/bin/python3.11``)."""
    found = []
    for name in names:
        match = _EXECUTABLE.match(name.lstrip("./") if name.startswith("./") else name)
        if match and (version is None or match.group(2) == version):
            found.append((match.group(1) or "", match.group(2)))
    if not found:
        wanted = f"bin/python{version}" if version else "bin/python3.X"
        raise PortableError(f"no {wanted} in it: not a CPython installation (a prefix or a tarball of one)")
    return min(found, key=lambda f: (len(f[0]), f[0]))


def _safe(name: str) -> bool:
    return not name.startswith("/") and ".." not in name.split("/")


def repack(source: Path, dest: Path, version: str | None = None) -> str:
    """Write a tarball or prefix ``source`` as ``dest`` (gzipped tar, everything under ``python/``).

    Only the prefix that holds ``bin/pythonX.Y`` is kept (python-build-standalone's full archives hold
    build files beside it); unsafe names and links pointing outside are dropped. Returns ``X.Y``.
    """
    with gzip.open(dest, "wb", compresslevel=6) as raw, tarfile.open(fileobj=raw, mode="w") as out:
        if source.is_dir():
            names = [str(p.relative_to(source)) for p in (source / "bin").glob("python3.*")]
            _prefix, found = find_interpreter(names, version)
            out.add(source, arcname=TOP, filter=readable_by_all)
            return found
        with tarfile.open(source, "r:*") as tar:
            names = tar.getnames()
        prefix, found = find_interpreter(names, version)
        lead = f"{prefix}/" if prefix else ""
        with tarfile.open(source, "r|*") as tar:
            for info in tar:
                name = info.name[2:] if info.name.startswith("./") else info.name
                if not (name == prefix or name.startswith(lead)) or not _safe(name):
                    continue
                new = TOP + "/" + name[len(lead) :] if name != prefix else TOP
                if info.issym():
                    target = posixpath.normpath(posixpath.join(posixpath.dirname(new), info.linkname))
                    if info.linkname.startswith("/") or not (target == TOP or target.startswith(TOP + "/")):
                        continue
                elif info.islnk():
                    link = info.linkname[2:] if info.linkname.startswith("./") else info.linkname
                    if not link.startswith(lead):
                        continue
                    info.linkname = TOP + "/" + link[len(lead) :]
                elif not (info.isfile() or info.isdir()):
                    continue
                info.name = new.rstrip("/")
                out.addfile(readable_by_all(info), tar.extractfile(info) if info.isfile() else None)
        return found


def _search_dirs(member: str, entries: tuple[str, ...]) -> list[str]:
    here = posixpath.dirname(member)
    dirs = []
    for entry in entries:
        entry = entry.replace("${ORIGIN}", "$ORIGIN")
        if entry.startswith("$ORIGIN"):
            dirs.append(posixpath.normpath(here + entry[len("$ORIGIN") :]))
    return dirs


def analyse(archive: Path, version: str | None = None) -> Analysis:
    """Read every ELF file of a portable CPython archive: what it needs, and whether the archive meets it."""
    facts = []
    files: set[str] = set()
    patchlevel = None
    names = []
    hardlinks: dict[str, str] = {}
    with tarfile.open(archive, "r|*") as tar:
        for info in tar:
            names.append(info.name)
            if info.issym() or info.islnk():
                files.add(info.name)
                if info.islnk():
                    hardlinks[info.name] = info.linkname
                continue
            if not info.isfile():
                continue
            files.add(info.name)
            stream = tar.extractfile(info)
            assert stream is not None
            if info.name.endswith("/patchlevel.h"):
                match = _PATCHLEVEL.search(stream.read())
                if match:
                    patchlevel = tuple(int(x) for x in match.groups())
                continue
            try:
                elf = read_elf(stream, info.name, info.size)
            except ElfError as e:
                raise PortableError(f"{archive}: {e}") from e
            if elf is not None:
                facts.append(elf)
    prefix, found = find_interpreter(names, version)
    member = f"{prefix}/bin/python{found}" if prefix else f"bin/python{found}"
    major, minor = (int(x) for x in found.rstrip("t").split("."))
    full = (
        (major, minor, patchlevel[2])
        if patchlevel and patchlevel[:2] == (major, minor)
        else (major, minor, 0)
    )
    # A free-threaded install's bin/python3.13t is a hard link to bin/python3.13 (CPython's Makefile), and
    # the tar holds the file's data under the name that sorts first.
    executable = next((f for f in facts if f.path == hardlinks.get(member, member)), None)
    inherited = executable.rpath if executable is not None and not executable.runpath else ()
    floor: LibcVersion | None = None
    unmet = []
    bundled = []
    forbidden = []
    for elf in facts:
        base = posixpath.basename(elf.path)
        if elf.soname or ".so" in base:
            if _NEVER_CARRIED.match(base):
                forbidden.append(elf.path)
            elif "/lib-dynload/" not in elf.path and elf.path.count("/site-packages/") == 0:
                bundled.append(elf.path)
        dirs = _search_dirs(elf.path, elf.runpath or (elf.rpath + inherited))
        for needed in elf.needed:
            if needed in GLIBC_LIBRARIES or any(f"{d}/{needed}" in files for d in dirs):
                continue
            unmet.append(f"{elf.path} needs {needed}")
        for _library, need in elf.iter_needs():
            if need.prefix == "GLIBC" and re.match(r"^\d+\.\d+", need.version):
                version_need = LibcVersion.parse(need.version)
                floor = version_need if floor is None or version_need > floor else floor
    return Analysis(
        member, full, floor, tuple(sorted(bundled)), tuple(unmet), tuple(sorted(forbidden)), len(facts)
    )


# -- downloads ----------------------------------------------------------------------------------


def _http_get(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=_HTTP_TIMEOUT) as response:
            return bytes(response.read())
    except (urllib.error.URLError, OSError) as e:
        raise PortableError(f"cannot fetch {url}: {e}") from e


def download(url: str, dest: Path, sha256: str, progress: Progress, what: str) -> Path:
    """Fetch ``url`` to ``dest``, showing progress; it is kept only when its sha256 is ``sha256``."""
    part = dest.with_name(dest.name + ".part")
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=_HTTP_TIMEOUT) as response, part.open("wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            done, shown = 0, 0
            progress(f"  downloading {what}: {url}" + (f" ({total / 1e6:.1f} MB)" if total else ""))
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if total and done * 4 // total > shown:
                    shown = done * 4 // total
                    progress(f"  {what}: {done * 100 // total}% of {total / 1e6:.1f} MB")
    except (urllib.error.URLError, OSError) as e:
        part.unlink(missing_ok=True)
        raise PortableError(f"cannot download {what} from {url}: {e}") from e
    if digest.hexdigest() != sha256:
        part.unlink(missing_ok=True)
        raise PortableError(
            f"{what} from {url} has sha256 {digest.hexdigest()}, not the expected {sha256}; it was discarded"
        )
    part.replace(dest)
    return dest


# -- the distro archive's source packages -------------------------------------------------------


@dataclass(frozen=True)
class SourcePackage:
    """One source package as a ``Sources`` index lists it."""

    name: str
    version: str
    #: the pool directory, e.g. ``pool/main/p/python3.11``
    directory: str
    #: file name -> sha256
    files: Mapping[str, str] = field(default_factory=dict)

    @property
    def dsc(self) -> str:
        return next(name for name in self.files if name.endswith(".dsc"))


def _field(stanza: str, name: str) -> str | None:
    """One field of a deb822 stanza, continuation lines joined with newlines."""
    match = re.search(rf"^{re.escape(name)}:[ \t]*(.*(?:\n[ \t].*)*)", stanza, re.MULTILINE)
    return match.group(1) if match else None


def _checksums(value: str | None) -> dict[str, str]:
    files = {}
    for line in (value or "").splitlines():
        parts = line.split()
        if len(parts) == 3 and re.match(r"^[0-9a-f]{64}$", parts[0]):
            files[parts[2]] = parts[0]
    return files


def _upstream_key(version: str) -> tuple[int, ...]:
    # "3.11.2-6+deb12u8" -> (3, 11, 2, 6, 12, 8): good enough to pick the newest of a suite's stanzas.
    version = version.split(":", 1)[-1]
    return tuple(int(x) for x in re.findall(r"\d+", version))


def parse_sources_index(text: str, package: str) -> SourcePackage:
    """The newest stanza of ``package`` in a ``Sources`` index (a suite lists a package once or twice)."""
    best: SourcePackage | None = None
    for stanza in re.split(r"\n\s*\n", text):
        if _field(stanza, "Package") != package:
            continue
        candidate = SourcePackage(
            name=package,
            version=(_field(stanza, "Version") or "").strip(),
            directory=(_field(stanza, "Directory") or "").strip(),
            files=_checksums(_field(stanza, "Checksums-Sha256")),
        )
        if not any(name.endswith(".dsc") for name in candidate.files) or not candidate.directory:
            continue
        if best is None or _upstream_key(candidate.version) >= _upstream_key(best.version):
            best = candidate
    if best is None:
        raise PortableError(f"the index lists no source package {package!r} with a .dsc")
    return best


def parse_dsc(text: str) -> dict[str, str]:
    """File name -> sha256 from a ``.dsc`` (its ``Checksums-Sha256`` field; a PGP armour is fine)."""
    files = _checksums(_field(text, "Checksums-Sha256"))
    if not files:
        raise PortableError("the .dsc has no Checksums-Sha256 field")
    return files


def orig_tarball(files: Mapping[str, str]) -> str:
    """The upstream tarball among a source package's files (not its signature, not a component tarball)."""
    for name in sorted(files):
        if re.search(r"\.orig\.tar\.(gz|xz|bz2)$", name):
            return name
    raise PortableError(f"no .orig.tar.* among {sorted(files)}")


def _read_index(base: str, suite: str, progress: Progress) -> str:
    name, _, component = suite.partition("/")
    index_url = f"{base}/dists/{name}/{component or 'main'}/source/Sources.xz"
    progress(f"  reading the {suite} source index: {index_url}")
    try:
        return lzma.decompress(_http_get(index_url)).decode("utf-8", "replace")
    except lzma.LZMAError as e:
        raise PortableError(f"{index_url} is not an xz file: {e}") from e


def fetch_source_package(
    base: str, suite: str, index: str, name: str, workdir: Path, progress: Progress
) -> tuple[Path, dict[str, str]]:
    """The upstream tarball of source package ``name`` of a suite (``index``: its ``Sources``), checked
    against the sha256 its ``.dsc`` lists, the ``.dsc`` against the index."""
    package = parse_sources_index(index, name)
    dsc_url = f"{base}/{package.directory}/{package.dsc}"
    dsc = _http_get(dsc_url)
    if hashlib.sha256(dsc).hexdigest() != package.files[package.dsc]:
        raise PortableError(f"{dsc_url} does not match the sha256 the {suite} index gives for it")
    listed = parse_dsc(dsc.decode("utf-8", "replace"))
    tarball_name = orig_tarball(listed)
    tarball = download(
        f"{base}/{package.directory}/{tarball_name}",
        workdir / tarball_name,
        listed[tarball_name],
        progress,
        tarball_name,
    )
    return tarball, {
        "tarball": tarball_name,
        "sha256": listed[tarball_name],
        "dsc": dsc_url,
        "package": f"{package.name} {package.version} ({suite})",
    }


def fetch_archive_source(version: str, workdir: Path, progress: Progress) -> tuple[Path, dict[str, str]]:
    """CPython X.Y's release tarball from the distro archive, checked against the ``.dsc`` that lists it."""
    release = version.rstrip("t")  # a free-threaded build is made from the same source
    if release not in ARCHIVE_SOURCES:
        raise PortableError(
            f'no distro archive source is known for CPython {version}; set source = "PATH_OR_URL" '
            f'(and source-sha256) in [python.portable."{version}"] of distros.toml'
        )
    base, suite = ARCHIVE_SOURCES[release]
    index = _read_index(base, suite, progress)
    return fetch_source_package(base, suite, index, f"python{release}", workdir, progress)


def source_tree(tarball: Path) -> tuple[str, str]:
    """The top directory and the ``X.Y.Z`` version of a CPython source tarball (``Python-3.11.2``)."""
    with tarfile.open(tarball, "r|*") as tar:
        for info in tar:
            top = info.name.lstrip("./").split("/", 1)[0]
            match = re.match(r"^Python-(\d+\.\d+\.\d+)", top)
            if not match:
                break
            return top, match.group(1)
    raise PortableError(f"{tarball.name} is not a CPython source tarball (no top directory Python-X.Y.Z)")


# -- the build ----------------------------------------------------------------------------------


def expected_modules(version: str) -> tuple[str, ...]:
    """The :data:`STDLIB_EXTENSIONS` CPython X.Y has."""
    wanted = tuple(int(x) for x in version.rstrip("t").split("."))
    return tuple(m for m in STDLIB_EXTENSIONS if wanted >= _SINCE.get(m, (0,)))


#: Run by the freshly built interpreter: every module of :func:`expected_modules` imported, the
#: missing ones named; the versions of the libraries linked in, for the manifest.
_CHECK = r"""
import importlib, json, sys
missing, libraries = [], {}
for name in sys.argv[1].split(","):
    try:
        importlib.import_module(name)
    except ImportError as e:
        missing.append(name)
        print("%s: %s" % (name, e), file=sys.stderr)
try:
    import ssl, sqlite3
    libraries = {"ssl": ssl.OPENSSL_VERSION, "sqlite3": sqlite3.sqlite_version}
except ImportError:
    pass
print(json.dumps({"missing": missing, "libraries": libraries}))
"""


def build_steps(version: str, top: str, prefix: str, tarball: str) -> list[tuple[str, str, int]]:
    """The build, as (name, shell command, timeout in seconds) run in order in the build image's container."""
    tree = f"/build/{top}"
    major, minor = (int(x) for x in version.rstrip("t").split("."))
    deps = DEPS_PREFIX
    # Every file gets a placeholder RPATH that relocate.py overwrites with an $ORIGIN path. The
    # libraries of the build image are static: found first through -L, linked in.
    variables = [
        f"CPPFLAGS=-I{deps}/include",
        f"LDFLAGS='-L{deps}/lib -Wl,--disable-new-dtags,-rpath,{RPATH_PLACEHOLDER}'",
        f"PKG_CONFIG_PATH={deps}/lib/pkgconfig",
        "LIBS='-ldl -lpthread'",  # what the static OpenSSL and SQLite need, for configure's link tests
        # configure's default is -g -O3: no debug info (stripped anyway) and -O2 cost less to build.
        "OPT='-DNDEBUG -fwrapv -O2 -Wall'",
    ]
    if (major, minor) >= _CURSES_OUT_FROM:
        variables += ["py_cv_module__curses=n/a", "py_cv_module__curses_panel=n/a"]
    if version.endswith("t"):
        variables.append("--disable-gil")  # free-threaded: bin/python3.13t, ABI cp313t
    return [
        ("unpack", f"tar -xf /opt/pytest-manylinux/build/{tarball} -C /build", 600),
        (
            "configure",
            # No --enable-optimizations (PGO would triple the build time); no test suite where
            # --disable-test-modules exists (3.10+), the rest is trimmed after the install.
            f"cd {tree} && ./configure --prefix={prefix} --without-ensurepip --with-openssl={deps} "
            + " ".join(variables)
            + " $(grep -q -- --disable-test-modules configure && echo --disable-test-modules)",
            900,
        ),
        ("make", f"cd {tree} && make -j$(nproc)", 5400),
        ("install", f"cd {tree} && make install", 1800),
        ("relocate", f"python3 /opt/pytest-manylinux/build/relocate.py {prefix} {version}", 900),
    ]


def check_argv(version: str, prefix: str) -> list[str]:
    """The command that checks a build: its output is the JSON :data:`_CHECK` prints."""
    return [f"{prefix}/bin/python{version}", "-I", "-c", _CHECK, ",".join(expected_modules(version))]


def _logged(name: str, command: str) -> str:
    # Each step's output goes to a log in the container; only its tail comes back, and only on failure.
    log = f"/build/{name}.log"
    return f"mkdir -p /build && ( {command} ) >{log} 2>&1 || {{ tail -n 40 {log}; exit 1; }}"


def _inputs(files: Mapping[str, Path | bytes], workdir: Path) -> Path:
    """A tar of ``files`` (path in the container -> local file or content) to put at ``/``."""
    archive = workdir / "inputs.tar"
    with tarfile.open(archive, "w") as tar:
        for name, what in files.items():
            if isinstance(what, Path):
                tar.add(what, arcname=name.lstrip("/"), filter=readable_by_all)
            else:
                info = readable_by_all(tarfile.TarInfo(name.lstrip("/")))
                info.size = len(what)
                tar.addfile(info, io.BytesIO(what))
    return archive


# -- the build image: the build distro, its build dependencies and the libraries it lacks -------


def build_image_ref(distro: Distro) -> str:
    """The build image made from ``distro``'s image: ``pytest-manylinux/python-build:ubuntu_16.04-b1``."""
    slug = re.sub(r"[^A-Za-z0-9.-]+", "_", distro.image.rsplit("/", 1)[-1])
    return f"pytest-manylinux/python-build:{slug}-b{BUILD_IMAGE_RECIPE}"


def _pkg_config(name: str, version: str, libs: str, description: str) -> bytes:
    return (
        f"prefix={DEPS_PREFIX}\nlibdir=${{prefix}}/lib\nincludedir=${{prefix}}/include\n\n"
        f"Name: {name}\nDescription: {description}\nVersion: {version}\n"
        f"Libs: -L${{libdir}} {libs}\nCflags: -I${{includedir}}\n"
    ).encode()


def library_steps(tarballs: Mapping[str, str]) -> list[tuple[str, str, int]]:
    """The build image's making, as (name, shell command, timeout): packages, then static PIC libraries."""
    install = "apt-get install -y -qq --no-install-recommends"
    src = "/opt/pytest-manylinux/deps-src"
    deps = DEPS_PREFIX

    def unpack(name: str) -> str:
        tree = f"/build/{name}"
        return (
            f"mkdir -p {tree} && tar -xf {src}/{tarballs[name]} -C {tree} --strip-components=1 && cd {tree}"
        )

    sqlite_flags = " ".join(
        f"-DSQLITE_{flag}"
        for flag in (
            "ENABLE_FTS3",
            "ENABLE_FTS4",
            "ENABLE_FTS5",
            "ENABLE_JSON1",
            "ENABLE_RTREE",
            "ENABLE_COLUMN_METADATA",
            "ENABLE_LOAD_EXTENSION",
            "THREADSAFE=1",
        )
    )
    return [
        (
            "packages",
            f"apt-get update -qq && {install} {_REQUIRED_PACKAGES} && ({install} {_OPTIONAL_PACKAGES} || "
            f'for p in {_OPTIONAL_PACKAGES}; do {install} $p || echo "unavailable: $p"; done)',
            1800,
        ),
        (
            "openssl",
            # Only the libraries (build_libs, install_dev): no programs, tests or manuals.
            f"{unpack('openssl')} && ./config --prefix={deps} --libdir=lib --openssldir=/usr/lib/ssl "
            "no-shared no-tests -fPIC && make -j$(nproc) build_libs && make install_dev",
            3600,
        ),
        (
            "sqlite3",
            # The amalgamation (tclsh makes it from the source tree), compiled as one object.
            f"{unpack('sqlite3')} && ./configure --disable-tcl --disable-shared && make sqlite3.c && "
            f"gcc -O2 -fPIC {sqlite_flags} -c sqlite3.c -o sqlite3.o && "
            f"ar rcs {deps}/lib/libsqlite3.a sqlite3.o "
            f"&& cp sqlite3.h sqlite3ext.h {deps}/include/",
            1800,
        ),
        (
            "zstd",
            f"{unpack('libzstd')}/lib && make -j$(nproc) libzstd.a CFLAGS='-O2 -fPIC' && "
            f"cp libzstd.a {deps}/lib/ && cp zstd.h zdict.h zstd_errors.h {deps}/include/",
            1800,
        ),
        (
            "link-scripts",
            # configure's link tests put LIBS (and pkg-config's libraries, in LDFLAGS) before -lssl or
            # -lsqlite3: a static archive's own needs would stay unresolved. Each lib*.a becomes a linker
            # script naming the archive and what it needs after it, wherever -lNAME appears.
            f"cd {deps}/lib && for name in ssl crypto sqlite3 zstd; do mv lib$name.a lib${{name}}_pic.a && "
            f'echo "INPUT({deps}/lib/lib${{name}}_pic.a -ldl -lpthread -lm)" > lib$name.a; done',
            60,
        ),
        ("clean", f"rm -rf /build {src} /var/lib/apt/lists/*", 600),
    ]


def _upstream(version: str) -> str:
    match = re.match(r"^(?:\d+:)?(\d+(?:\.\d+)*)", version)
    return match.group(1) if match else version


def ensure_build_image(engine: Engine, distro: Distro, progress: Progress) -> str:
    """The build image of ``distro`` (:func:`build_image_ref`), made once per machine; its reference."""
    from .docker import Limits
    from .images import ensure_image, image_lock

    ref = build_image_ref(distro)
    if engine.image_id(ref) is not None:
        return ref
    with image_lock(ref):
        if engine.image_id(ref) is not None:
            return ref
        base_ref = ensure_image(engine, distro, progress).ref  # with python3 (derived where the table says)
        started = time.monotonic()
        progress(
            f"build image {ref}: {distro.image} with build tools, OpenSSL, SQLite and zstd (once per machine)"
        )
        workdir = Path(tempfile.mkdtemp(prefix="pm-build-image-"))
        try:
            indexes: dict[tuple[str, str], str] = {}
            files: dict[str, Path | bytes] = {}
            tarballs, packages, versions = {}, {}, {}
            for name, (base, suite) in LIBRARY_SOURCES.items():
                if (base, suite) not in indexes:
                    indexes[base, suite] = _read_index(base, suite, progress)
                index = indexes[base, suite]
                tarball, info = fetch_source_package(base, suite, index, name, workdir, progress)
                files[f"/opt/pytest-manylinux/deps-src/{tarball.name}"] = tarball
                tarballs[name] = tarball.name
                packages[name] = info["package"]
                versions[name] = _upstream(parse_sources_index(index, name).version)
            sqlite, zstd = versions["sqlite3"], versions["libzstd"]
            pkgconfig = f"{DEPS_PREFIX}/lib/pkgconfig"
            libs = "-lsqlite3 -lm -ldl -lpthread"
            files[f"{pkgconfig}/sqlite3.pc"] = _pkg_config("SQLite", sqlite, libs, "SQL database engine")
            files[f"{pkgconfig}/libzstd.pc"] = _pkg_config(
                "zstd", zstd, "-lzstd -lpthread", "fast lossless compression"
            )
            limits = Limits(memory="4g", pids=4096, user=None)
            with engine.container(base_ref, "python-build-image", limits, build=True) as box:
                with _inputs(files, workdir).open("rb") as f:
                    box.put_archive("/", f)
                for name, command, timeout in library_steps(tarballs):
                    step_started = time.monotonic()
                    result = box.exec(["sh", "-c", _logged(name, command)], env=_BUILD_ENV, timeout=timeout)
                    if result.exit_code != 0:
                        raise ImageError(
                            f"making the build image {ref} failed at {name!r} (exit {result.exit_code}):\n"
                            f"{(result.stdout + result.stderr)[-3000:]}"
                        )
                    progress(f"  {ref}: {name} done in {time.monotonic() - step_started:.0f}s")
                cpu = box.cpu_seconds()
                box.commit(
                    ref,
                    [
                        'CMD ["/bin/sh"]',
                        f"LABEL {LABEL}.built-from={json.dumps(distro.image)}",
                        f"LABEL {LABEL}.libraries={json.dumps('; '.join(packages.values()))}",
                    ],
                )
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        cpu_text = f", {cpu:.0f} CPU-seconds" if cpu is not None else ""
        progress(f"build image {ref} made in {time.monotonic() - started:.0f}s{cpu_text}")
        return ref


_BUILD_ENV = {"DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}


class Builder:
    """Builds CPython from source in the build distro's build image (network on, root), then verifies it."""

    def __init__(self, engine: Engine, distro: Distro, progress: Progress, *, retry: bool = False) -> None:
        self.engine = engine
        self.distro = distro
        self.progress = progress
        #: build again even where a build of this recipe failed before
        self.retry = retry

    def key(self, version: str, spec: PortableSource) -> str:
        """The cache entry: by the image built in (not the distro's name), the source and the recipe."""
        source = "archive"
        if spec.source:
            source = hashlib.sha256(f"{spec.source}\0{spec.source_sha256}".encode()).hexdigest()[:12]
        image = re.sub(r"[^A-Za-z0-9.-]+", "_", self.distro.image)
        return f"built-{version}-{image}-{source}-r{RECIPE}"

    def failure(self, version: str, spec: PortableSource) -> dict[str, Any] | None:
        """The remembered failure of this version's build, if it failed with this recipe."""
        return read_failure(cache_dir() / self.key(version, spec))

    def build(self, version: str, spec: PortableSource) -> Obtained:
        return _entry(
            self.key(version, spec),
            version,
            lambda tmp: self._build_into(tmp, version, spec),
            self.progress,
            strict=True,
            retry=self.retry,
        )

    def _source(self, version: str, spec: PortableSource, workdir: Path) -> tuple[Path, dict[str, str]]:
        if spec.source is None:
            return fetch_archive_source(version, workdir, self.progress)
        if "://" in spec.source:
            assert spec.source_sha256 is not None  # distros.toml requires it for a URL
            name = spec.source.rsplit("/", 1)[-1] or "source.tar"
            path = download(spec.source, workdir / name, spec.source_sha256, self.progress, name)
            return path, {"tarball": name, "sha256": spec.source_sha256, "url": spec.source}
        path = Path(spec.source).expanduser()
        if not path.is_file():
            raise PortableError(f'source = {spec.source!r} of [python.portable."{version}"]: no such file')
        digest = file_sha256(path)
        if spec.source_sha256 and digest != spec.source_sha256:
            raise PortableError(f"{path} has sha256 {digest}, not source-sha256 {spec.source_sha256}")
        return path, {"tarball": path.name, "sha256": digest, "path": str(path)}

    def _build_into(self, tmp: Path, version: str, spec: PortableSource) -> dict[str, Any]:
        from .docker import Limits

        started = time.monotonic()
        workdir = Path(tempfile.mkdtemp(prefix=f"pytest-manylinux-python-{version}-"))
        steps: dict[str, float] = {}
        try:
            self.progress(
                f"portable CPython {version}: building from source in {self.distro.name} "
                "(a few minutes, once per machine)"
            )
            tarball, source = self._source(version, spec, workdir)
            top, full = source_tree(tarball)
            if not full.startswith(version.rstrip("t") + "."):
                raise PortableError(f"{tarball.name} holds CPython {full}, not {version}")
            image = ensure_build_image(self.engine, self.distro, self.progress)
            prefix = f"{CONTAINER_DIR}/cpython-{full}"
            limits = Limits(memory="4g", pids=4096, user=None)
            relocate = Path(__file__).parent.parent.joinpath("container", "relocate.py")
            inputs = {
                f"/opt/pytest-manylinux/build/{tarball.name}": tarball,
                "/opt/pytest-manylinux/build/relocate.py": relocate,
            }
            with self.engine.container(image, f"build-python-{version}", limits, build=True) as box:
                with _inputs(inputs, workdir).open("rb") as f:
                    box.put_archive("/", f)
                for name, command, timeout in build_steps(version, top, prefix, tarball.name):
                    step_started = time.monotonic()
                    self.progress(f"  {version} on {self.distro.name}: {name}")
                    result = box.exec(["sh", "-c", _logged(name, command)], env=_BUILD_ENV, timeout=timeout)
                    if result.exit_code != 0:
                        raise BuildFailed(
                            f"building CPython {full} in {image} failed at {name!r} "
                            f"(exit {result.exit_code}):\n{(result.stdout + result.stderr)[-3000:]}"
                        )
                    steps[name] = round(time.monotonic() - step_started, 1)
                    self.progress(f"  {version} on {self.distro.name}: {name} done in {steps[name]:.0f}s")
                checked = box.exec(check_argv(version, prefix), env=_BUILD_ENV, timeout=120)
                try:
                    report = json.loads(checked.stdout.strip().splitlines()[-1])
                except (ValueError, IndexError):
                    report = None
                if checked.exit_code != 0 or not isinstance(report, dict):
                    raise BuildFailed(
                        f"the CPython {full} built in {image} fails its own check "
                        f"(exit {checked.exit_code}):\n"
                        f"{(checked.stdout + checked.stderr)[-3000:]}"
                    )
                missing = [str(m) for m in report.get("missing", [])]
                lacking = [m for m in _REQUIRED_MODULES if m in missing]
                if lacking:
                    raise BuildFailed(
                        f"the CPython {full} built in {image} lacks {', '.join(lacking)}, "
                        "which every build must "
                        f"have:\n{checked.stderr[-3000:]}"
                    )
                if missing:
                    self.progress(
                        f"  {version}: without {', '.join(missing)} (the build distro cannot make them)"
                    )
                cpu = box.cpu_seconds()
                built = box.save_archive(prefix, workdir / "built.tar")
            repack(built, tmp / ARCHIVE_NAME, version)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        seconds = time.monotonic() - started
        cpu_text = f" ({cpu:.0f} CPU-seconds)" if cpu is not None else ""
        self.progress(f"portable CPython {full} built in {seconds:.0f}s{cpu_text}")
        return {
            "origin": "built",
            "detail": f"built from {source['tarball']} in {self.distro.image}",
            "source": source,
            "build_distro": self.distro.name,
            "build_image": image,
            "seconds": round(seconds, 1),
            "steps": steps,
            "cpu_seconds": round(cpu, 1) if cpu is not None else None,
            "missing": missing,
            "libraries": report.get("libraries", {}),
        }


# -- supplied interpreters: a local file or prefix, uv, a download ------------------------------


def _stamp(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def from_local(
    path: Path, version: str, sha256: str | None, progress: Progress, *, origin: str = "local"
) -> Obtained:
    """A tarball or unpacked prefix on this machine, imported into the cache (again when it changes)."""
    path = path.expanduser().resolve()
    if not path.exists():
        raise PortableError(
            f"{path}: no such file or directory (a portable CPython {version} tarball or prefix)"
        )
    marker = path / "bin" / f"python{version}" if path.is_dir() else path
    if path.is_dir() and not marker.exists():
        raise PortableError(f"{path}: no bin/python{version} in it: not a CPython {version} prefix")
    if sha256 and path.is_file() and file_sha256(path) != sha256:
        raise PortableError(f"{path}: its sha256 is not the configured {sha256}")
    key = f"{origin}-{hashlib.sha256(str(path).encode()).hexdigest()[:16]}"

    def make(tmp: Path) -> dict[str, Any]:
        progress(f"portable CPython {version}: importing {path}")
        repack(path, tmp / ARCHIVE_NAME, version)
        return {"origin": origin, "detail": f"{origin} {path}", "source": {"path": str(path)}}

    return _entry(key, version, make, progress, stamp=_stamp(marker))


def uv_installs(base: Path, version: str) -> list[Path]:
    """uv-managed CPython X.Y prefixes under ``base`` (``uv python dir``), newest first.

    ``X.Yt`` asks for the free-threaded ones (``cpython-3.13.5+freethreaded-linux-x86_64-gnu``), ``X.Y``
    never gets them.
    """
    release = version.rstrip("t")
    variant = "+freethreaded" if version.endswith("t") else ""
    found = []
    for prefix in base.glob(f"cpython-{release}.*-linux-x86_64-gnu"):
        match = re.match(rf"^cpython-{re.escape(release)}\.(\d+){re.escape(variant)}-linux", prefix.name)
        if match and (prefix / "bin" / f"python{version}").exists():
            found.append((int(match.group(1)), prefix))
    return [p for _, p in sorted(found, reverse=True)]


def _uv(argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


def from_uv(version: str, progress: Progress, *, install: bool = True) -> tuple[Obtained | None, str]:
    """uv's managed CPython X.Y (``uv python install`` when uv has none yet), or None and why not."""
    uv = shutil.which("uv")
    if uv is None:
        return None, "uv is not on PATH"
    try:
        answer = _uv([uv, "python", "dir"], 30)
        if answer.returncode != 0:
            return None, f"`uv python dir` failed: {answer.stderr.strip()[-300:]}"
        base = Path(answer.stdout.strip())
        installs = uv_installs(base, version)
        if not installs and install:
            progress(f"portable CPython {version}: uv python install {version}")
            answer = _uv([uv, "python", "install", version], 900)
            if answer.returncode != 0:
                return None, f"`uv python install {version}` failed: {answer.stderr.strip()[-300:]}"
            installs = uv_installs(base, version)
    except (OSError, subprocess.SubprocessError) as e:
        return None, f"uv failed: {e}"
    if not installs:
        return None, f"uv has no CPython {version} in {base}"
    return from_local(installs[0], version, None, progress, origin="uv"), ""


def from_url(url: str, sha256: str, version: str, progress: Progress) -> Obtained:
    """A tarball downloaded once, checked against its sha256, and cached."""

    def make(tmp: Path) -> dict[str, Any]:
        name = url.rsplit("/", 1)[-1] or "python.tar.gz"
        progress(f"portable CPython {version}: downloading {url}")
        fetched = download(url, tmp / name, sha256, progress, name)
        repack(fetched, tmp / ARCHIVE_NAME, version)
        fetched.unlink()
        return {"origin": "download", "detail": f"download {url}", "source": {"url": url, "sha256": sha256}}

    return _entry(f"download-{sha256[:16]}", version, make, progress)


def obtain(version: str, config: PythonConfig, builder: Builder | None, progress: Progress) -> Obtained:
    """The portable CPython X.Y from the first source that has it (see the module docstring)."""
    spec = config.source(version)
    if spec.path:
        return from_local(Path(spec.path), version, spec.sha256, progress)
    reasons = []
    if config.uv:
        found, why = from_uv(version, progress)
        if found is not None:
            return found
        reasons.append(why)
    if spec.url:
        assert spec.sha256 is not None  # distros.toml requires it
        try:
            return from_url(spec.url, spec.sha256, version, progress)
        except PortableError as e:
            reasons.append(str(e))
    if not config.build:
        reasons.append("building from source is off ([python] build = false)")
    elif builder is None:
        reasons.append("building from source needs the container engine and a glibc distro to build on")
    else:
        return builder.build(version, spec)
    raise PortableError(f"no portable CPython {version} could be had: {'; '.join(reasons)}")


def local_source(path: Path) -> PortableSource:
    """A ``--manylinux-python-source`` path as a source of the CPython version it holds."""
    path = path.expanduser().resolve()
    try:
        if path.is_dir():
            names = [f"bin/{p.name}" for p in (path / "bin").glob("python3.*")]
        else:
            with tarfile.open(path, "r:*") as tar:
                names = tar.getnames()
        _prefix, version = find_interpreter(names)
    except (OSError, tarfile.TarError) as e:
        raise PortableError(f"{path}: cannot read it as a CPython tarball or prefix: {e}") from e
    except PortableError as e:
        raise PortableError(f"{path}: {e}") from e
    return PortableSource(version, path=str(path))


def with_local_sources(config: PythonConfig, paths: list[str]) -> PythonConfig:
    """``config`` with each path as the local source of the version it holds (before any other source)."""
    if not paths:
        return config
    sources = dict(config.sources)
    versions = list(config.versions)
    for text in paths:
        spec = local_source(Path(text))
        sources[spec.version] = replace(config.source(spec.version), path=spec.path, sha256=None)
        if spec.version not in versions:
            versions.append(spec.version)
    return replace(config, sources=sources, versions=tuple(versions))


# -- one session's interpreters -----------------------------------------------------------------


class Provider:
    """Portable CPythons for one session: each version obtained once, by the first thread that needs it."""

    def __init__(
        self,
        config: PythonConfig,
        engine: Engine | None,
        build_distro: Distro | None,
        progress: Progress,
        *,
        musl_build_distro: Distro | None = None,
        retry: bool = False,
    ) -> None:
        from .musl import MuslBuilder, MuslProvider

        self.config = config
        self.progress = progress
        self.builder = (
            Builder(engine, build_distro, progress, retry=retry)
            if engine is not None and build_distro
            else None
        )
        #: the CPythons for musl distros (built with musl-gcc; see musl.py)
        self.musl = MuslProvider(
            config.versions,
            MuslBuilder(engine, musl_build_distro, progress)
            if engine is not None and musl_build_distro and config.build
            else None,
        )
        self._obtained: Once[str, Obtained] = Once()
        self._lock = threading.Lock()
        self._cached: frozenset[str] | None = None

    @property
    def versions(self) -> tuple[str, ...]:
        return self.config.versions

    def ready(self) -> frozenset[str]:
        """Versions to be had without a download or build: obtained this session, or in the cache."""
        with self._lock:
            if self._cached is None:
                self._cached = cached_versions()
            return self._cached | self._obtained.done()

    def get(self, version: str) -> Portable:
        """The portable CPython X.Y; a failure is remembered, so a broken build is not retried per distro."""

        def compute() -> Obtained:
            try:
                return obtain(version, self.config, self.builder, self.progress)
            except ManylinuxError:
                raise
            except Exception as e:  # a bug or an engine hiccup: still a reason, never a hang
                raise PortableError(f"{type(e).__name__}: {e}") from e

        return self._obtained.get(version, compute).portable
