"""Portable CPython for musl distros (Alpine): built with ``musl-gcc`` in a glibc distro's container.

Alpine's minirootfs has no python, and its package mirrors may be out of reach; so, as for cp311 wheels
on old glibc, a CPython is brought in. It is built from the same source tarball as the glibc one, in
the build distro's container (Ubuntu 20.04: its ``musl-tools`` is musl 1.1.24, the oldest musl of the
matrix, so one build runs from Alpine 3.12 to 3.20), with libffi and zlib from the Debian archive built
statically into it: the result needs nothing but musl's ``libc.so``. It is checked, cached per
machine apart from the glibc builds, and brought into containers like them.
"""

from __future__ import annotations

import hashlib
import lzma
import re
import shutil
import tarfile
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..core.distros import Distro
from ..core.elf import read_elf
from ..core.wheel import file_sha256
from ..errors import ElfError, ManylinuxError, PortableError
from . import portable as glibc_portable
from .portable import (
    ARCHIVE_NAME,
    CONTAINER_DIR,
    EntryCache,
    Portable,
    analyse,
    download,
    fetch_archive_source,
    parse_dsc,
    parse_sources_index,
    repack,
    source_tree,
)
from .sharing import Once

if TYPE_CHECKING:  # pragma: no cover
    from .docker import Engine

Progress = Callable[[str], None]

#: Bumped whenever the build changes what it produces.
RECIPE = 1
#: What a musl build may need from the distro: musl's libc, under the names musl-gcc and Alpine give it.
MUSL_SYSTEM = frozenset({"libc.so", "libc.musl-x86_64.so.1", "ld-musl-x86_64.so.1"})
#: Libraries linked statically into the build, as (Debian source package, top directory prefix).
#: Their orig tarballs come from this suite's source index, checked against the ``.dsc`` that lists them.
STATIC_DEPENDENCIES: Mapping[str, str] = {"zlib": "zlib-", "libffi": "libffi-"}
DEPENDENCY_ARCHIVE = ("http://deb.debian.org/debian", "bookworm")
#: Modules the build must import in the build container (through musl's loader) before it is cached.
MUST_IMPORT = "ctypes, zlib, json, decimal, hashlib, select, socket"

# No build-essential: it brings glibc's headers and development libraries (libc6-dev, libcrypt-dev), which
# CPython's setup.py would find and mix into a musl build. gcc alone (without its recommended libc6-dev)
# is all musl-gcc needs.
_PACKAGES = "musl-tools gcc make linux-libc-dev pkg-config xz-utils bzip2"
# musl-gcc sees musl's headers only; CPython and libffi include a few kernel headers (linux/limits.h,
# ...), which are libc-neutral: they are added after musl's own. --print-multiarch is answered empty so
# that configure takes musl's triplet (x86_64-linux-musl, the extension suffix Alpine's python has), and
# so that setup.py (which asks -print-multiarch) adds no /usr/include/x86_64-linux-gnu: glibc's headers.
_WRAPPER = (
    "#!/bin/sh\n"
    'case "$1" in --print-multiarch|-print-multiarch) exit 0;; esac\n'
    'exec musl-gcc -idirafter /opt/kernel-headers "$@"\n'
)


def cache_dir() -> Path:
    """``python-musl`` beside the glibc builds' cache directory."""
    path = glibc_portable.cache_dir().parent / "python-musl"
    path.mkdir(parents=True, exist_ok=True)
    return path


#: the musl builds: their own recipe number decides (the glibc builds' may change without touching them)
CACHE = EntryCache(cache_dir, "musl_recipe", RECIPE)


def read_manifest(entry: Path) -> Portable | None:
    """The cached musl build in ``entry``, or None when it is missing, of another recipe, or corrupt."""
    return CACHE.read(entry)


def cached_versions() -> frozenset[str]:
    """The X.Y versions built for musl on this machine (a hint for choosing a version)."""
    return CACHE.versions()


def fetch_dependency(package: str, workdir: Path, progress: Progress) -> tuple[Path, dict[str, str]]:
    """A Debian source package's upstream tarball, checked against its ``.dsc`` (itself against the index)."""
    base, suite = DEPENDENCY_ARCHIVE
    index_url = f"{base}/dists/{suite}/main/source/Sources.xz"
    try:
        index = lzma.decompress(glibc_portable._http_get(index_url)).decode("utf-8", "replace")
    except lzma.LZMAError as e:
        raise PortableError(f"{index_url} is not an xz file: {e}") from e
    source = parse_sources_index(index, package)
    dsc_url = f"{base}/{source.directory}/{source.dsc}"
    dsc = glibc_portable._http_get(dsc_url)
    if hashlib.sha256(dsc).hexdigest() != source.files[source.dsc]:
        raise PortableError(f"{dsc_url} does not match the sha256 the {suite} index gives for it")
    listed = parse_dsc(dsc.decode("utf-8", "replace"))
    names = [n for n in listed if ".orig." in n and not n.endswith(".asc")]
    if len(names) != 1:
        raise PortableError(f"{dsc_url} lists {names!r}: expected one upstream tarball")
    name = names[0]
    path = download(f"{base}/{source.directory}/{name}", workdir / name, listed[name], progress, name)
    return path, {"tarball": name, "sha256": listed[name], "package": f"{package} {source.version} ({suite})"}


def build_steps(
    version: str, top: str, prefix: str, tarballs: Mapping[str, str]
) -> list[tuple[str, str, int]]:
    """The build, as (name, shell command, timeout in seconds) run in order in the build container."""
    inputs = "/opt/pytest-manylinux/build"
    deps = "/opt/pytest-manylinux/musl-deps"
    flags = 'CC=musl-cc CFLAGS="-fPIC -O2"'
    wrapper = _WRAPPER.replace("\n", "\\n")
    return [
        (
            "packages",
            # Ubuntu keeps musl-tools in universe, which a minbase image does not list.
            "(grep -q '^deb .*ubuntu' /etc/apt/sources.list && sed -i 's/ main$/ main universe/' "
            "/etc/apt/sources.list || true) && apt-get update -qq && "
            f"apt-get install -y -qq --no-install-recommends {_PACKAGES}",
            1800,
        ),
        (
            "toolchain",
            "mkdir -p /opt/kernel-headers /build && ln -sf /usr/include/linux /usr/include/asm-generic "
            "/opt/kernel-headers/ && "
            "ln -sf /usr/include/$(gcc -print-multiarch)/asm /opt/kernel-headers/asm && "
            f"printf '{wrapper}' > /usr/local/bin/musl-cc && chmod +x /usr/local/bin/musl-cc && "
            "musl-gcc -v 2>&1 | tail -1 && "
            "{ test ! -e /usr/include/stdio.h || "
            "{ echo 'glibc headers are installed: they would mix in'; exit 1; }; }",
            120,
        ),
        ("unpack", " && ".join(f"tar -xf {inputs}/{t} -C /build" for t in tarballs.values()), 600),
        (
            "zlib",
            f"cd /build/{STATIC_DEPENDENCIES['zlib']}* && {flags} ./configure --static --prefix={deps} "
            "&& make -j2 && make install",
            900,
        ),
        (
            "libffi",
            f"cd /build/{STATIC_DEPENDENCIES['libffi']}* && {flags} ./configure "
            "--disable-shared --enable-static "
            f"--with-pic --prefix={deps} --libdir={deps}/lib --disable-docs --disable-multi-os-directory "
            "&& make -j2 && make install",
            900,
        ),
        (
            "configure",
            f"cd /build/{top} && PKG_CONFIG_LIBDIR={deps}/lib/pkgconfig CC=musl-cc CPPFLAGS=-I{deps}/include "
            f"LDFLAGS=-L{deps}/lib ./configure --prefix={prefix} --without-ensurepip "
            "$(grep -q -- --disable-test-modules configure && echo --disable-test-modules)",
            900,
        ),
        ("make", f"cd /build/{top} && make -j2", 5400),
        ("install", f"cd /build/{top} && make install && rm -rf {prefix}/lib/python{version}/test", 1800),
        # musl-tools brings musl's loader (/lib/ld-musl-*): the build runs in the build distro too.
        ("check", f"{prefix}/bin/python{version} -I -c 'import {MUST_IMPORT}'", 120),
    ]


def _inputs(tarballs: list[Path], workdir: Path) -> Path:
    archive = workdir / "inputs.tar"
    with tarfile.open(archive, "w") as tar:
        for tarball in tarballs:
            tar.add(tarball, arcname=f"opt/pytest-manylinux/build/{tarball.name}")
    return archive


def musl_needs(archive: Path) -> list[str]:
    """``FILE needs LIB`` for every library an ELF file of the archive needs beyond musl's libc."""
    unmet = []
    with tarfile.open(archive, "r|*") as tar:
        for info in tar:
            if not info.isfile():
                continue
            stream = tar.extractfile(info)
            assert stream is not None
            try:
                elf = read_elf(stream, info.name, info.size)
            except ElfError as e:
                raise PortableError(f"{archive}: {e}") from e
            if elf is None:
                continue
            unmet += [f"{info.name} needs {n}" for n in elf.needed if n not in MUSL_SYSTEM]
    return unmet


class MuslBuilder:
    """Builds CPython X.Y for musl in the build distro's container, then verifies and caches it."""

    def __init__(self, engine: Engine, distro: Distro, progress: Progress) -> None:
        self.engine = engine
        self.distro = distro
        self.progress = progress

    def key(self, version: str) -> str:
        """The cache entry: by the release built in, the image's name without its registry or owner
        (``ubuntu:20.04`` is the same Ubuntu 20.04, and the same musl-tools, wherever it comes from)."""
        release = self.distro.image.split("@", 1)[0].rsplit("/", 1)[-1]
        return f"musl-{version}-{re.sub(r'[^A-Za-z0-9.-]+', '_', release)}"

    def get(self, version: str) -> Portable:
        """The cached build, or a new one (once per machine: other processes wait for it)."""
        entry = cache_dir() / self.key(version)
        found = read_manifest(entry)
        if found is None:
            with CACHE.locked(self.key(version)):
                found = read_manifest(entry)
                if found is None:
                    found = self._make(entry, version)
        return found

    def _make(self, entry: Path, version: str) -> Portable:
        tmp = CACHE.scratch(entry.name)
        try:
            extra = self._build_into(tmp, version)
            archive = tmp / ARCHIVE_NAME
            unmet = musl_needs(archive)
            if unmet:
                raise PortableError(
                    f"the musl CPython {version} built in {self.distro.name} needs more than musl's libc: "
                    + "; ".join(unmet[:10])
                )
            analysis = analyse(archive, version)
            digest = file_sha256(archive)
            portable = Portable(
                version=analysis.version,
                archive=entry / ARCHIVE_NAME,
                member=analysis.member,
                origin="built",
                detail=str(extra["detail"]),
                sha256=digest,
                size=archive.stat().st_size,
            )
            manifest = dict(
                portable.to_json(),
                libc="musl",
                created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                **{k: v for k, v in extra.items() if k != "detail"},
            )
            CACHE.publish(tmp, entry, manifest)
            return portable
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _build_into(self, tmp: Path, version: str) -> dict[str, Any]:
        from .docker import Limits
        from .images import ensure_image

        started = time.monotonic()
        workdir = Path(tempfile.mkdtemp(prefix=f"pytest-manylinux-musl-python-{version}-"))
        try:
            self.progress(
                f"portable CPython {version} for musl: building from source with musl-gcc in "
                f"{self.distro.name} (several minutes, once per machine)"
            )
            tarball, source = fetch_archive_source(version, workdir, self.progress)
            top, full = source_tree(tarball)
            if not full.startswith(version + "."):
                raise PortableError(f"{tarball.name} holds CPython {full}, not {version}")
            sources = {"cpython": source}
            tarballs = {"cpython": tarball}
            for package in STATIC_DEPENDENCIES:
                tarballs[package], sources[package] = fetch_dependency(package, workdir, self.progress)
            ref = ensure_image(self.engine, self.distro, self.progress).ref
            prefix = f"{CONTAINER_DIR}/cpython-{full}-musl"
            limits = Limits(memory="4g", pids=4096, user=None)
            steps = build_steps(version, top, prefix, {k: p.name for k, p in tarballs.items()})
            with self.engine.container(ref, f"build-musl-python-{version}", limits, build=True) as box:
                with _inputs(list(tarballs.values()), workdir).open("rb") as f:
                    box.put_archive("/", f)
                env = {
                    "DEBIAN_FRONTEND": "noninteractive",
                    "LC_ALL": "C",
                    "PATH": "/usr/local/bin:/usr/bin:/bin",
                }
                for name, command, timeout in steps:
                    step_started = time.monotonic()
                    self.progress(f"  {version} for musl on {self.distro.name}: {name}")
                    result = box.exec(
                        ["sh", "-c", glibc_portable._logged(name, command)], env=env, timeout=timeout
                    )
                    if result.exit_code != 0:
                        raise PortableError(
                            f"building CPython {full} for musl in {self.distro.name} failed at {name!r} "
                            f"(exit {result.exit_code}):\n{(result.stdout + result.stderr)[-3000:]}"
                        )
                    took = time.monotonic() - step_started
                    self.progress(f"  {version} for musl on {self.distro.name}: {name} done in {took:.0f}s")
                built = box.save_archive(prefix, workdir / "built.tar")
            repack(built, tmp / ARCHIVE_NAME, version)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        seconds = time.monotonic() - started
        self.progress(f"portable CPython {full} for musl built in {seconds:.0f}s")
        return {
            "detail": (
                f"built for musl from {sources['cpython']['tarball']} with musl-gcc in {self.distro.image}"
            ),
            "source": sources,
            "build_distro": self.distro.name,
            "build_image": self.distro.image,
            "seconds": round(seconds, 1),
        }


#: The version built when a wheel loads several (abi3, py3): one build serves them all.
PREFERRED = "3.11"


class MuslProvider:
    """Portable CPythons for musl distros in one session: each version obtained once, by the first asker."""

    def __init__(self, versions: tuple[str, ...], builder: MuslBuilder | None) -> None:
        # The preferred version first: portable_version takes the first that fits when none is built yet.
        self.versions = tuple(sorted(versions, key=lambda v: v != PREFERRED))
        self.builder = builder
        self._obtained: Once[str, Portable] = Once()

    def ready(self) -> frozenset[str]:
        """Versions to be had without a build: built on this machine, or obtained this session."""
        return cached_versions() | self._obtained.done()

    def get(self, version: str) -> Portable:
        """The musl CPython X.Y; a failed build is remembered, so it is not retried per distro."""
        return self._obtained.get(version, lambda: self._obtain(version))

    def _obtain(self, version: str) -> Portable:
        if self.builder is None:
            raise PortableError(
                "a CPython for musl is built in a glibc distro's container: it needs the engine "
                "and the matrix's ubuntu-20.04 (musl-tools 1.1.24)"
            )
        try:
            return self.builder.get(version)
        except ManylinuxError:
            raise
        except Exception as e:  # a bug or an engine hiccup: still a reason, never a hang
            raise PortableError(f"{type(e).__name__}: {e}") from e
