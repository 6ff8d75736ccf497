"""A wheel file read safely: its members, metadata and importable modules, checked against RECORD.

Nothing of the wheel is executed here. Members are streamed, never loaded whole, so memory stays
bounded for very large wheels; unsafe member paths are refused before anything is laid out. A symlink
member is read as pip installs it: a regular file holding the link's target (pypa/pip#10935).
"""

from __future__ import annotations

import base64
import csv
import email.parser
import hashlib
import io
import lzma
import os
import re
import stat
import struct
import threading
import zipfile
import zlib
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Union, cast

from ..errors import ElfError, WheelError
from .tags import Claim, read_claim

if TYPE_CHECKING:
    from .elf import ElfFacts

_CHUNK = 1 << 20


def _inflate_module() -> Any:
    """zlib-ng's zlib where it is installed (twice as fast at inflating: the extra ``fast``), else zlib."""
    try:
        from zlib_ng import zlib_ng
    except ImportError:
        return zlib
    return zlib_ng


_INFLATE = _inflate_module()


# What zipfile raises for a damaged archive or member besides BadZipFile: truncated or corrupt
# streams (EOFError, zlib/lzma errors, OSError from bz2), zip features it does not implement
# (NotImplementedError: "compressed patched data", unknown compression methods), an encrypted
# member (RuntimeError), and offsets that make no sense (ValueError, struct.error).
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    OSError,
    EOFError,
    zlib.error,
    _INFLATE.error,
    lzma.LZMAError,
    NotImplementedError,
    RuntimeError,
    ValueError,
    struct.error,
)
_ELF_MAGIC = b"\x7fELF"
# The suffixes CPython on Linux loads extension modules from, most specific first
# (importlib.machinery.EXTENSION_SUFFIXES: '.cpython-311-x86_64-linux-gnu.so', '.abi3.so', '.so').
_EXTENSION_RE = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(\.[A-Za-z0-9_-]+)?\.so$")
_IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Role:
    """Where a member goes when installed (the wheel spec's install schemes)."""

    PURELIB = "purelib"
    PLATLIB = "platlib"
    SCRIPTS = "scripts"
    DATA = "data"
    HEADERS = "headers"
    METADATA = "metadata"


@dataclass(frozen=True)
class Member:
    """One file in a wheel."""

    #: the path inside the zip
    path: str
    #: uncompressed size in bytes
    size: int
    #: the install scheme the file belongs to (a :class:`Role` value)
    role: str
    #: the path relative to that scheme's directory (``pkg/_core.so`` for ``pkg/_core.so``)
    scheme_path: str
    #: the file starts with the ELF magic
    is_elf: bool
    #: the zip entry carries an executable bit
    executable: bool
    #: the zip entry is a symlink (``S_IFLNK``): installed, as pip does, as a file holding its target
    symlink: bool = False


#: what reading one ELF member gave: its facts, or the message saying why it cannot be read
ElfRead = Union["ElfFacts", str]


@dataclass(frozen=True)
class WheelInfo:
    """Everything the plugin needs to know about one wheel, read without executing it."""

    #: the wheel on disk
    path: Path
    #: what the file name promises
    claim: Claim
    #: sha256 of the whole file: how results from different jobs are matched
    sha256: str
    #: the file's size in bytes
    size: int
    #: the ``.dist-info`` directory name
    dist_info: str
    #: ``Requires-Python`` from METADATA, or ``None``
    requires_python: str | None
    #: ``Requires-Dist`` lines from METADATA, as written
    requires_dist: tuple[str, ...]
    #: ``Root-Is-Purelib`` from WHEEL
    root_is_purelib: bool
    #: every file member
    members: tuple[Member, ...]
    #: importable modules, packages before their submodules (``__main__`` left out: importing it runs it)
    modules: tuple[str, ...]
    #: the subset of :attr:`modules` that are extension modules
    extensions: tuple[str, ...]
    #: what a user should know that is no problem of the claim (a symlink member installed as a file)
    notes: tuple[str, ...] = ()
    #: every ELF member as read in the same pass as its hash: path -> its facts, or why it could not be
    #: read (``None``: not read with the wheel, as for a WheelInfo made by hand; static analysis reads them)
    elf: Mapping[str, ElfRead] | None = field(default=None, compare=False, repr=False)

    @property
    def filename(self) -> str:
        return self.claim.filename

    @property
    def elf_members(self) -> tuple[Member, ...]:
        return tuple(m for m in self.members if m.is_elf)

    @property
    def extension_members(self) -> tuple[Member, ...]:
        """The members that are extension modules (what the interpreter loads and resolves ``Py*`` for)."""
        return tuple(
            m
            for m in self.members
            if m.role in (Role.PURELIB, Role.PLATLIB) and (_module_of(m.scheme_path) or ("", False))[1]
        )

    @property
    def top_level(self) -> tuple[str, ...]:
        return tuple(sorted({m.split(".", 1)[0] for m in self.modules}))

    @property
    def requirement_names(self) -> tuple[str, ...]:
        """The projects ``Requires-Dist`` names, every extra's too, as written (``numpy``, ``torch``)."""
        names = (re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line) for line in self.requires_dist)
        return tuple(dict.fromkeys(m.group(1) for m in names if m))


def _safe_name(wheel: Path, info: zipfile.ZipInfo) -> str:
    name = info.filename
    if not name:
        raise WheelError(f"{wheel}: a member has an empty name (or one that starts with a NUL byte).")
    if name.startswith("/") or name.startswith("\\") or re.match(r"^[A-Za-z]:", name):
        raise WheelError(f"{wheel}: member {name!r} has an absolute path; refusing to unpack it.")
    parts = name.replace("\\", "/").split("/")
    if ".." in parts:
        raise WheelError(f"{wheel}: member {name!r} escapes the wheel with '..'; refusing to unpack it.")
    if "\x00" in name:
        raise WheelError(f"{wheel}: member {name!r} has a NUL byte in its name.")
    return name


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def symlink_note(name: str) -> str:
    """The note for a symlink member, which is installed as pip installs it: never as a link.

    pip (and pypa/installer, which lays wheels out here) writes the member's bytes, the link's target, to
    a regular file (pypa/pip#10935). Nothing on disk points anywhere, and the ELF reader sees the target's
    text, never the file it names.
    """
    return f"member {name} is a symlink; installed as pip does, as a file holding its target"


def _open_zip(path: Path) -> zipfile.ZipFile:
    if not path.is_file():
        raise WheelError(f"{path}: no such wheel file; check the path given to --manylinux-wheel.")
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as e:
        raise WheelError(f"{path}: not a valid zip file ({e}); is the wheel truncated or not a wheel?") from e
    except _ZIP_ERRORS as e:
        raise WheelError(f"{path}: cannot read the wheel ({type(e).__name__}: {e}).") from e


def _find_dist_info(path: Path, names: list[str], claim: Claim) -> str:
    dirs = sorted({n.split("/", 1)[0] for n in names if n.split("/", 1)[0].endswith(".dist-info")})
    if not dirs:
        raise WheelError(
            f"{path}: no .dist-info directory; this is not a wheel (missing WHEEL/RECORD metadata)."
        )
    if len(dirs) > 1:
        wanted = [d for d in dirs if d.lower().replace("-", "_").startswith(claim.name.replace("-", "_"))]
        if len(wanted) != 1:
            raise WheelError(f"{path}: several .dist-info directories {dirs!r}; a wheel has exactly one.")
        return wanted[0]
    return dirs[0]


def _read_text(zf: zipfile.ZipFile, path: Path, member: str) -> str:
    try:
        data = zf.read(member)
    except KeyError:
        raise WheelError(f"{path}: missing {member!r}; the wheel's metadata is incomplete.") from None
    except _ZIP_ERRORS as e:
        raise WheelError(
            f"{path}: cannot read {member!r} ({e}); the wheel is corrupt, or uses a zip feature "
            "a wheel may not."
        ) from e
    return data.decode("utf-8", errors="replace")


# zipfile's local file header ("<4s2B4HL2L2H"): signature, versions, flags, method, time, date, CRC-32,
# sizes, then the lengths of the name and the extra field that come before the data.
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
_LOCAL_MAGIC = b"PK\x03\x04"
# General purpose flags zipfile refuses or decrypts: encrypted (0x1), patched data (0x20), strong
# encryption (0x40). A member with any of them goes through zipfile, which says what it is.
_UNUSUAL = 0x1 | 0x20 | 0x40
_COMPRESSED_CHUNK = 256 << 10


class _MemberStream:
    """A stored or deflated member's bytes, read with ``pread`` and inflated with :data:`_INFLATE`.

    What zipfile's ZipExtFile does for these two methods (the local header checked against the central
    directory, the CRC-32 checked at the end), with zlib-ng when it is installed, and safe to use from
    several threads on one file descriptor. Every other method, and encryption, goes through zipfile.
    """

    def __init__(self, fd: int, info: zipfile.ZipInfo) -> None:
        header = os.pread(fd, _LOCAL_HEADER.size, info.header_offset)
        if len(header) != _LOCAL_HEADER.size:
            raise zipfile.BadZipFile(f"truncated local header of {info.filename!r}")
        fields = _LOCAL_HEADER.unpack(header)
        if fields[0] != _LOCAL_MAGIC:
            raise zipfile.BadZipFile(f"bad magic number for member {info.filename!r}")
        name_length, extra_length = fields[10], fields[11]
        raw = os.pread(fd, name_length, info.header_offset + _LOCAL_HEADER.size)
        name = raw.decode("utf-8" if info.flag_bits & 0x800 else "cp437", "replace")
        if name != info.orig_filename:
            raise zipfile.BadZipFile(
                f"file name in directory {info.orig_filename!r} and header {name!r} differ"
            )
        self._fd = fd
        self._name = info.filename
        self._at = info.header_offset + _LOCAL_HEADER.size + name_length + extra_length
        self._left_in = info.compress_size
        self._left_out = info.file_size
        self._crc = 0
        self._expected_crc = info.CRC
        self._inflater = _INFLATE.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None

    def _compressed(self, n: int) -> bytes:
        data = os.pread(self._fd, min(n, self._left_in), self._at)
        if not data and self._left_in > 0:
            raise EOFError(f"{self._name!r}: the file ends inside the member")
        self._at += len(data)
        self._left_in -= len(data)
        return data

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            return b"".join(iter(lambda: self.read(_CHUNK), b""))
        if self._left_out <= 0 or n == 0:
            return b""
        n = min(n, self._left_out)
        if self._inflater is None:
            data = self._compressed(n)
        else:
            data = b""
            while not data:
                source = self._inflater.unconsumed_tail or self._compressed(_COMPRESSED_CHUNK)
                if not source:
                    break  # the compressed data ended before the member's size was reached
                data = self._inflater.decompress(source, n)
                if self._inflater.eof:
                    break
        if not data:
            raise EOFError(
                f"{self._name!r}: the compressed data ends before the member's {self._left_out} last bytes"
            )
        self._left_out -= len(data)
        self._crc = zlib.crc32(data, self._crc)
        if self._left_out == 0 and self._crc != self._expected_crc:
            raise zipfile.BadZipFile(f"Bad CRC-32 for file {self._name!r}")
        return data

    def close(self) -> None:
        pass

    def __enter__(self) -> _MemberStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _StreamFailed(Exception):
    """The zip stream under the ELF reader failed: the wheel's fault, not the ELF file's."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


class _Tee:
    """A member's stream that hashes every byte it hands out, after a first chunk already read and hashed.

    The ELF reader reads through it, so the bytes it needs are inflated once, for the hash and for it.
    """

    def __init__(self, stream: IO[bytes], first: bytes, digest: hashlib._Hash) -> None:
        self._stream = stream
        self._first = first
        self._digest = digest
        self.read_after_first = 0

    def read(self, n: int = -1) -> bytes:
        if self._first:
            data, self._first = (self._first, b"") if n < 0 else (self._first[:n], self._first[n:])
            return data
        try:
            data = self._stream.read(n)
        except _ZIP_ERRORS as e:
            raise _StreamFailed(e) from e
        self._digest.update(data)
        self.read_after_first += len(data)
        return data


def _read_member(
    stream: IO[bytes], info: zipfile.ZipInfo, read_elf: bool
) -> tuple[str, int, bool, ElfRead | None]:
    """One pass over a member: its RECORD hash, its size, whether it is ELF, and (ELF) what it needs.

    Each byte is inflated once: the ELF reader takes what it needs (headers and dynamic tables, at the
    start of the file) from the same stream the hash reads, and the rest is only hashed.
    """
    digest = hashlib.sha256()
    elf: ElfRead | None = None
    with stream:
        first = stream.read(_CHUNK)
        digest.update(first)
        size = len(first)
        is_elf = first[:4] == _ELF_MAGIC and not _is_symlink(info)
        if is_elf and read_elf:
            from .elf import read_elf as read

            tee = _Tee(stream, first, digest)
            try:
                elf = read(cast(IO[bytes], tee), info.filename, info.file_size)
            except ElfError as e:
                elf = str(e)
            except _StreamFailed as e:
                raise e.cause from e
            size += tee.read_after_first
        while True:
            chunk = stream.read(_CHUNK)
            if not chunk:
                break
            digest.update(chunk)
            size += len(chunk)
    encoded = base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode("ascii")
    return "sha256=" + encoded, size, is_elf, elf


def _read_members(
    path: Path, zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], read_elf: bool, workers: int
) -> list[tuple[str, int, bool, ElfRead | None] | BaseException]:
    """:func:`_read_member` for every member, in their order, largest first over ``workers`` threads.

    Inflating, hashing and ``pread`` release the GIL, so threads use every core on one file descriptor.
    A member that cannot be read gives its exception, so the caller reports the first in the zip's
    order, as a serial read would.
    """
    lock = threading.Lock()  # zipfile's own reader (other compressions) is not for several threads

    def one(info: zipfile.ZipInfo) -> tuple[str, int, bool, ElfRead | None] | BaseException:
        try:
            if (
                info.compress_type in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
                and not info.flag_bits & _UNUSUAL
            ):
                return _read_member(cast(IO[bytes], _MemberStream(fd, info)), info, read_elf)
            with lock:
                return _read_member(zf.open(info), info, read_elf)
        except _ZIP_ERRORS as e:
            return e

    workers = max(1, min(workers, len(infos)))
    with path.open("rb") as f:
        fd = f.fileno()
        if workers == 1:
            return [one(info) for info in infos]
        order = sorted(range(len(infos)), key=lambda i: -infos[i].compress_size)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="wheel-read") as pool:
            results = dict(zip(order, pool.map(one, (infos[i] for i in order))))
        return [results[i] for i in range(len(infos))]


def file_sha256(path: Path) -> str:
    """The sha256 of a file, hex, read in chunks (a wheel, an interpreter archive, a rootfs tarball)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_record_hash(path: Path, name: str, recorded: str, actual: str) -> None:
    algorithm, _, _value = recorded.partition("=")
    if algorithm != "sha256":
        # RECORD may use any hashlib algorithm of sha256 strength or better (PEP 376/627).
        return
    if recorded != actual:
        raise WheelError(
            f"{path}: {name!r} does not match its RECORD hash ({recorded} recorded, {actual} found); "
            "the wheel was modified after it was built. Rebuild it."
        )


def _role_of(name: str, dist_info: str, root_is_purelib: bool) -> tuple[str, str]:
    data_dir = dist_info[: -len(".dist-info")] + ".data"
    top, _, rest = name.partition("/")
    if top == dist_info:
        return Role.METADATA, rest
    if top == data_dir:
        scheme, _, inner = rest.partition("/")
        if scheme in (Role.PURELIB, Role.PLATLIB, Role.SCRIPTS, Role.DATA, Role.HEADERS):
            return scheme, inner
        return Role.DATA, rest
    return (Role.PURELIB if root_is_purelib else Role.PLATLIB), name


def _module_of(scheme_path: str) -> tuple[str, bool] | None:
    """The module a library file provides, and whether it is an extension; None if not importable."""
    parts = scheme_path.split("/")
    filename = parts[-1]
    packages = parts[:-1]
    if not all(_IDENTIFIER_RE.match(p) for p in packages):
        return None  # e.g. pkg.libs/ or a data directory: not importable
    if filename.endswith(".py"):
        stem = filename[:-3]
        if not _IDENTIFIER_RE.match(stem) or stem == "__main__":
            return None
        if stem == "__init__":
            return (".".join(packages), False) if packages else None
        return ".".join([*packages, stem]), False
    match = _EXTENSION_RE.match(filename)
    if match and filename.startswith("lib") and filename.count(".") == 1:
        # libfoo.so beside a package's modules (torch/lib/libc10.so) is a shared library the
        # extensions link, not a module: CPython would refuse to import it (no PyInit_libfoo).
        return None
    if match:
        if match["name"] == "__init__":  # a compiled package (mypyc, Cython): the package itself
            return (".".join(packages), True) if packages else None
        return ".".join([*packages, match["name"]]), True
    return None


def read_wheel(
    path: str | Path, *, check_record: bool = True, read_elf: bool = True, workers: int | None = None
) -> WheelInfo:
    """Read and validate a wheel; raise :class:`WheelError` naming the file and the problem.

    Each member is inflated once, on ``workers`` threads (default: every core): hashed for RECORD and,
    with ``read_elf``, its ELF facts read from the same bytes (:attr:`WheelInfo.elf`).
    """
    path = Path(path)
    claim = read_claim(path.name)
    with _open_zip(path) as zf:
        try:
            # Not ZipInfo.is_dir(): it fails on a member with an empty name, which _safe_name refuses.
            infos = [i for i in zf.infolist() if not i.filename.endswith("/")]
        except _ZIP_ERRORS as e:
            raise WheelError(f"{path}: cannot list the zip's members ({e}); the wheel is corrupt.") from e
        names = [_safe_name(path, i) for i in infos]
        if len(set(names)) != len(names):
            dupes = sorted({n for n in names if names.count(n) > 1})
            raise WheelError(f"{path}: duplicate members {dupes!r}; refusing an ambiguous wheel.")
        dist_info = _find_dist_info(path, names, claim)
        wheel_meta = email.parser.Parser().parsestr(_read_text(zf, path, f"{dist_info}/WHEEL"))
        metadata = email.parser.Parser().parsestr(_read_text(zf, path, f"{dist_info}/METADATA"))
        record_text = _read_text(zf, path, f"{dist_info}/RECORD")
        try:
            record = {row[0]: row for row in csv.reader(io.StringIO(record_text, newline="")) if row}
        except csv.Error as e:
            message = f"{dist_info}/RECORD is not a valid CSV file ({e}); rebuild the wheel."
            raise WheelError(f"{path}: {message}") from e
        root_is_purelib = (wheel_meta.get("Root-Is-Purelib") or "true").strip().lower() == "true"

        members: list[Member] = []
        elf: dict[str, ElfRead] = {}
        results = _read_members(path, zf, infos, read_elf, workers or os.cpu_count() or 1)
        for info, result in zip(infos, results):
            name = info.filename
            if isinstance(result, BaseException):
                raise WheelError(
                    f"{path}: cannot read member {name!r} ({result}); the wheel is truncated or corrupt, or "
                    "uses a zip feature wheels may not (encryption, an unusual compression)."
                ) from result
            actual, size, is_elf, facts = result
            if facts is not None:
                elf[name] = facts
            if check_record:
                signature = name.startswith(dist_info + "/") and name.rsplit("/", 1)[-1] in (
                    "RECORD.jws",
                    "RECORD.p7s",
                )
                row = record.get(name)
                if row is None and not signature:
                    raise WheelError(
                        f"{path}: {name!r} is not listed in RECORD; "
                        "the wheel was modified after it was built."
                    )
                if row is not None and len(row) >= 2 and row[1]:
                    _check_record_hash(path, name, row[1], actual)
            role, scheme_path = _role_of(name, dist_info, root_is_purelib)
            executable = bool((info.external_attr >> 16) & 0o111)
            members.append(Member(name, size, role, scheme_path, is_elf, executable, _is_symlink(info)))
        if check_record:
            present = set(names)
            missing = sorted(n for n in record if n not in present and not n.endswith("/"))
            if missing:
                raise WheelError(f"{path}: RECORD lists files the wheel does not contain: {missing[:5]!r}.")

    modules: dict[str, bool] = {}
    for m in members:
        if m.role in (Role.PURELIB, Role.PLATLIB):
            found = _module_of(m.scheme_path)
            if found is not None:
                modules[found[0]] = modules.get(found[0], False) or found[1]
    ordered = tuple(sorted(modules, key=lambda n: (n.count("."), n)))
    return WheelInfo(
        path=path,
        claim=claim,
        sha256=file_sha256(path),
        size=path.stat().st_size,
        dist_info=dist_info,
        requires_python=(metadata.get("Requires-Python") or None),
        requires_dist=tuple(metadata.get_all("Requires-Dist") or ()),
        root_is_purelib=root_is_purelib,
        members=tuple(members),
        modules=ordered,
        extensions=tuple(n for n in ordered if modules[n]),
        notes=tuple(symlink_note(m.path) for m in members if m.symlink),
        elf=elf if read_elf else None,
    )


def open_member(wheel: WheelInfo, member: Member) -> IO[bytes]:
    """A stream of one member's bytes; the caller closes it (and with it the zip)."""
    zf = _open_zip(wheel.path)
    try:
        stream = zf.open(member.path)
    except (KeyError, *_ZIP_ERRORS) as e:
        zf.close()
        raise WheelError(f"{wheel.path}: cannot open member {member.path!r} ({e}).") from e
    # A raw stream of bytes: what callers read from an IO[bytes], which typeshed does not see in RawIOBase.
    return cast(IO[bytes], _ClosingStream(stream, zf))


class _ClosingStream(io.RawIOBase):
    """A member stream that also closes its zip file."""

    def __init__(self, stream: IO[bytes], owner: zipfile.ZipFile) -> None:
        self._stream = stream
        self._owner = owner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        try:
            self._stream.close()
            self._owner.close()
        finally:
            super().close()


#: Where a laid-out wheel lives inside a container, relative to the wheel's directory.
SCHEME_DIRS = {
    "purelib": "site",
    "platlib": "site",
    "scripts": "bin",
    "data": "data",
    "headers": "include",
}


def installed_path(role: str, scheme_path: str, dist_info: str) -> str:
    """Where a member lands relative to the install prefix (:func:`lay_out`'s ``target``).

    purelib and platlib share site-packages, so ``$ORIGIN/../pkg.libs`` from ``pkg/`` reaches a
    ``pkg.libs/`` directory whichever scheme it came from. Other schemes get their own root
    (``bin/``, ``data/``...), as :data:`SCHEME_DIRS` says; metadata goes in ``site/DIST_INFO/``.
    """
    if role == Role.METADATA:
        return f"{SCHEME_DIRS[Role.PURELIB]}/{dist_info}/{scheme_path}"
    return f"{SCHEME_DIRS.get(role, role)}/{scheme_path}"


def lay_out(wheel: WheelInfo, target: Path, interpreter: str) -> Path:
    """Install the wheel's files under ``target`` with pypa/installer, as pip would lay them out.

    installer does exactly the layout (schemes, ``.data`` directories, script wrappers, RECORD) and
    nothing else: no tag check (the point is to try the wheel where pip would refuse it), no network,
    no dependency resolution, no code of the wheel run. ``interpreter`` goes into script shebangs.
    """
    from installer import install
    from installer.destinations import SchemeDictionaryDestination
    from installer.sources import WheelFile

    scheme = {key: str(target / sub) for key, sub in SCHEME_DIRS.items()}
    destination = SchemeDictionaryDestination(scheme, interpreter=interpreter, script_kind="posix")
    try:
        with WheelFile.open(wheel.path) as source:
            install(source, destination, additional_metadata={"INSTALLER": b"pytest-manylinux\n"})
    except Exception as e:  # installer raises plain exceptions for many malformed inputs
        raise WheelError(f"{wheel.path}: cannot lay the wheel out ({type(e).__name__}: {e}).") from e
    return target
