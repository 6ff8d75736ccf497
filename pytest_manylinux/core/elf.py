"""What one ELF file of a wheel needs from the system, read as the dynamic loader reads it.

The only module that touches pyelftools (as auditwheel's ``elfutils`` is for auditwheel). Nothing is
executed and no library of the host is looked at: only the bytes of the file itself.
"""

from __future__ import annotations

import io
import re
import struct
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import IO, NamedTuple

from elftools.elf.enums import ENUM_E_MACHINE, ENUM_E_TYPE

from ..errors import ElfError
from .tags import Libc
from .wheel import Member, WheelInfo, open_member

#: Members larger than this are reported as unreadable rather than read (libtorch_cuda.so is ~1.5 GiB).
SIZE_CAP = 4 << 30

_ELF_MAGIC = b"\x7fELF"
# Inflated bytes stay in memory up to this size, then spill to a temporary file.
_SPOOL_IN_MEMORY = 32 << 20
_CHUNK = 1 << 20

# Bounds on counts read from the file, so that a corrupt or hostile file costs at most time linear in its
# size (every count is also checked against the bytes that are really there).
_MAX_PHDRS = 4096
_MAX_DYNAMIC = 1 << 16
_MAX_SYMBOLS = 1 << 22
_MAX_VERNEED_FILES = 1 << 12
_MAX_VERNAUX = 1 << 16
_MAX_INTERP = 4096
_MAX_STRTAB = 256 << 20

# Program header types and flags (System V gABI, "Program Header").
_PT_LOAD, _PT_DYNAMIC, _PT_INTERP = 1, 2, 3
_PT_GNU_STACK = 0x6474E551
_PF_X = 0x1

# The ELF header after e_ident, and a program header, by ELF class (System V gABI, "ELF Header"): e_type,
# e_machine, e_version, e_entry, e_phoff, e_shoff, e_flags, e_ehsize, e_phentsize, e_phnum, e_shentsize,
# e_shnum, e_shstrndx; p_type, p_flags, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align (ELF64)
# and p_type, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_flags, p_align (ELF32).
_EHDR = {64: "HHIQQQIHHHHHH", 32: "HHIIIIIHHHHHH"}
_PHDR = {
    64: ("IIQQQQQQ", (0, 1, 2, 3, 5)),
    32: ("IIIIIIII", (0, 6, 1, 2, 4)),
}  # type, flags, offset, vaddr, filesz
_EI_CLASS = {1: 32, 2: 64}
_EI_DATA = {1: True, 2: False}  # ELFDATA2LSB, ELFDATA2MSB
# Names for e_type and e_machine: pyelftools' tables (plain dicts), the names ElfFacts has always used.
_E_TYPES = {v: k for k, v in ENUM_E_TYPE.items() if isinstance(v, int)}
_E_MACHINES = {v: k for k, v in ENUM_E_MACHINE.items() if isinstance(v, int)}

# Dynamic tags the loader uses to find what a file needs (gABI "Dynamic Section", GNU extensions).
_DT_NULL = 0
_DT_NEEDED = 1
_DT_HASH = 4
_DT_STRTAB = 5
_DT_SYMTAB = 6
_DT_STRSZ = 10
_DT_SYMENT = 11
_DT_SONAME = 14
_DT_RPATH = 15
_DT_RUNPATH = 29
_DT_GNU_HASH = 0x6FFFFEF5
_DT_VERSYM = 0x6FFFFFF0
_DT_VERNEED = 0x6FFFFFFE
_DT_VERNEEDNUM = 0x6FFFFFFF

# Symbol versioning (LSB Core, "Symbol Versioning"): the hidden bit of a .gnu.version entry, the weak
# flag of a Vernaux entry (ld.so only warns when such a version is missing).
_VERSYM_HIDDEN = 0x8000
_VER_FLG_WEAK = 0x2
_SHN_UNDEF = 0
_STB_WEAK = 2

# e_machine (as pyelftools names it) -> the architecture as wheel tags spell it, by ELF class and
# byte order where they matter. https://packaging.python.org/en/latest/specifications/platform-compatibility-tags/
_ARCHS: dict[str, dict[tuple[int, bool], str]] = {
    "EM_X86_64": {(64, True): "x86_64"},
    "EM_386": {(32, True): "i686"},
    "EM_AARCH64": {(64, True): "aarch64"},
    "EM_ARM": {(32, True): "armv7l"},
    "EM_PPC64": {(64, True): "ppc64le", (64, False): "ppc64"},
    "EM_S390": {(64, False): "s390x"},
    "EM_RISCV": {(64, True): "riscv64"},
    "EM_LOONGARCH": {(64, True): "loongarch64"},
}
# pyelftools names only the machines it knows; LoongArch came late to its table.
_MACHINE_NUMBERS = {258: "EM_LOONGARCH"}

_GLIBC_LOADER_RE = re.compile(r"(^|/)(ld-linux[^/]*\.so\.\d+|ld64\.so\.[12]|ld\.so\.1)$")
_MUSL_LOADER_RE = re.compile(r"(^|/)ld-musl-[^/]+\.so\.1$")
_MUSL_LIBC_RE = re.compile(r"^libc\.musl-[^/]+\.so\.1$")


@dataclass(frozen=True)
class VersionNeed:
    """One symbol version a file asks of a library (an ``Elf_Vernaux`` entry of ``.gnu.version_r``)."""

    #: the version name, e.g. ``"GLIBC_2.34"``
    name: str
    #: ``VER_FLG_WEAK``: the loader only warns when the library lacks this version
    weak: bool = False
    #: the undefined dynamic symbols bound to this version, e.g. ``("close_range",)``, sorted
    symbols: tuple[str, ...] = ()

    @property
    def prefix(self) -> str:
        """What the version is grouped by, as auditwheel's policies: ``GLIBC``, ``GLIBCXX``, ``CXXABI``..."""
        return self.name.partition("_")[0]

    @property
    def version(self) -> str:
        """The part after the prefix, e.g. ``"2.34"`` (``"PRIVATE"`` for ``GLIBC_PRIVATE``)."""
        return self.name.partition("_")[2]


@dataclass(frozen=True)
class ElfFacts:
    """What one ELF file in a wheel is and what it needs from the system, read without running it."""

    #: the member's path inside the wheel
    path: str
    #: the architecture in wheel-tag spelling (``x86_64``, ``aarch64``, ``i686``, ``ppc64le``, ``s390x``,
    #: ``armv7l``...); ``None`` for a machine no wheel tag names
    arch: str | None
    #: ``e_machine`` as pyelftools names it, e.g. ``"EM_X86_64"`` (``"EM_<number>"`` if unknown)
    machine: str
    #: 32 or 64
    elf_class: int
    #: byte order
    little_endian: bool
    #: ``e_type``: ``"ET_DYN"``, ``"ET_EXEC"``, ``"ET_REL"``...
    elf_type: str
    #: a program rather than a library: ``ET_EXEC``, or ``ET_DYN`` with a ``PT_INTERP`` (a PIE)
    is_executable: bool
    #: ``PT_INTERP``, the program loader it asks for, e.g. ``/lib64/ld-linux-x86-64.so.2``
    interpreter: str | None
    #: ``DT_SONAME``
    soname: str | None
    #: ``DT_NEEDED``, in file order
    needed: tuple[str, ...]
    #: ``DT_RPATH``, split on ``:``
    rpath: tuple[str, ...]
    #: ``DT_RUNPATH``, split on ``:``
    runpath: tuple[str, ...]
    #: ``PT_GNU_STACK`` asks for an executable stack (glibc 2.41 refuses to dlopen such a library)
    exec_stack: bool
    #: library -> the versions the file needs of it, in file order (``.gnu.version_r``)
    version_needs: Mapping[str, tuple[VersionNeed, ...]] = field(
        default_factory=dict, compare=False, hash=False
    )
    #: a musl-linked file's strong undefined dynamic symbols bound to no version, sorted: what it needs of
    #: musl, which has no symbol versions (empty for other files)
    unversioned: tuple[str, ...] = field(default=(), compare=False, hash=False)
    #: the undefined dynamic symbols named ``Py*`` or ``_Py*``, sorted: what the file asks of the
    #: interpreter (an abi3 extension may ask only for the stable ABI)
    python_symbols: tuple[str, ...] = ()

    @property
    def is_dynamic(self) -> bool:
        """Whether the file takes part in dynamic linking at all (asks for a library or a version)."""
        return bool(self.needed or self.version_needs or self.interpreter)

    @property
    def libc(self) -> Libc | None:
        """The C library the file was linked against, as far as its needs and loader say."""
        if self.interpreter and _MUSL_LOADER_RE.search(self.interpreter):
            return Libc.MUSL
        # musl-gcc (Debian's musl-tools) links the unversioned libc.so; a glibc file never needs that name.
        if any(_MUSL_LIBC_RE.match(lib) or lib == "libc.so" for lib in self.needed):
            return Libc.MUSL
        if self.interpreter and _GLIBC_LOADER_RE.search(self.interpreter):
            return Libc.GLIBC
        if "libc.so.6" in self.needed or any(n.prefix == "GLIBC" for _, n in self.iter_needs()):
            return Libc.GLIBC
        return None

    def iter_needs(self) -> Iterator[tuple[str, VersionNeed]]:
        """Every (library, version need) pair, libraries in file order."""
        for library, needs in self.version_needs.items():
            for need in needs:
                yield library, need


def is_loader(soname: str) -> bool:
    """Whether ``soname`` is a program loader (``ld-linux-x86-64.so.2``, ``ld64.so.2``, ``ld-musl-*``).

    Files ask the loader for versions (``GLIBC_2.3`` of ``ld-linux-x86-64.so.2`` for ``__tls_get_addr``), and
    every glibc has one, so auditwheel leaves it out of both the allow-list and the symbol check.
    """
    return bool(_GLIBC_LOADER_RE.search(soname) or _MUSL_LOADER_RE.search(soname))


class _Undefined(NamedTuple):
    """One undefined ``.dynsym`` entry, as much of it as the facts use."""

    name: str
    #: the ``.gnu.version`` index without the hidden bit (0 when the file has no ``.gnu.version``)
    version: int
    #: ``STB_WEAK``: the loader leaves it unresolved rather than fail when nothing defines it
    weak: bool


class _Truncated(Exception):
    """A read went past the end of the file."""


class _ForwardSpool:
    """A seekable view of a forward-only stream that inflates bytes only as far as anything asks.

    Why not copy the whole member first: the loader's view of a file is its ELF header, program headers,
    ``PT_DYNAMIC`` and the tables ``.dynamic`` points at, all in the loaded part of the file; ``.symtab``,
    debug info and section headers (commonly most of an unstripped library) come after it. Reading
    lazily, the member is inflated only up to the end of ``.dynamic``. What was inflated is kept (the
    tables ``.dynamic`` points at come before it in the file) in a ``SpooledTemporaryFile``, so memory
    stays bounded for a very large library.
    """

    def __init__(self, source: IO[bytes], size: int) -> None:
        self._source = source
        self._size = size
        # Closed by close(), which read_elf calls in a finally: the spool lives as long as this object.
        self._store = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115
        self._have = 0
        self._pos = 0

    def _fill(self, end: int) -> None:
        end = min(end, self._size)
        while self._have < end:
            want = min(max(end - self._have, _CHUNK), self._size - self._have)
            chunk = self._source.read(want)
            if not chunk:
                self._size = self._have  # the stream is shorter than the zip said
                return
            self._store.seek(self._have)
            self._store.write(chunk)
            self._have += len(chunk)

    def pread(self, offset: int, length: int) -> bytes:
        """Exactly ``length`` bytes at ``offset``, or :class:`_Truncated`."""
        if offset < 0 or length < 0 or offset + length > self._size:
            raise _Truncated(
                f"{length} bytes at offset {offset:#x} are past the end of the file ({self._size} bytes)"
            )
        self._fill(offset + length)
        if offset + length > self._have:
            raise _Truncated(f"the file ends at {self._have} bytes, before offset {offset + length:#x}")
        self._store.seek(offset)
        return self._store.read(length)

    # The file-object protocol, as much as read_elf uses of it.
    def read(self, n: int = -1) -> bytes:
        end = self._size if n is None or n < 0 else min(self._size, self._pos + n)
        self._fill(end)
        end = min(end, self._have)
        if end <= self._pos:
            return b""
        self._store.seek(self._pos)
        data = self._store.read(end - self._pos)
        self._pos += len(data)
        return data

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        self._store.close()


class _Reader:
    """Decodes the loader's view of one ELF file from a :class:`_ForwardSpool`."""

    def __init__(self, spool: _ForwardSpool, path: str) -> None:
        self.spool = spool
        self.path = path
        # The ELF header and the program headers are decoded with struct, as pypa/packaging's _elffile
        # does: building pyelftools' ELFFile (its construct structs for every section and note type) cost
        # more than the rest of the reading on a wheel of a hundred small libraries. The loader never reads
        # section headers, and reaching them means inflating the whole member, so none are read. The
        # tables .dynamic points at are decoded with struct too, bounded by the bytes really present:
        # pyelftools' iterators for them loop until a terminator and parse each entry in Python, ~100x
        # slower on a library with 10k symbols and unbounded on a corrupt one.
        ident = spool.pread(0, 16)
        bits = _EI_CLASS.get(ident[4])
        little = _EI_DATA.get(ident[5])
        if bits is None or little is None:
            raise ElfError(
                self._bad(f"EI_CLASS {ident[4]} / EI_DATA {ident[5]} is no ELF class and byte order")
            )
        self.bits: int = bits
        self.little: bool = little
        self.order = "<" if self.little else ">"
        self.loads: list[tuple[int, int, int]] = []  # (vaddr, offset, filesz) of each PT_LOAD
        self._undefined: list[_Undefined] | None = None  # .dynsym's undefined entries, once read

    def facts(self) -> ElfFacts:
        layout = self.order + _EHDR[self.bits]
        fields = struct.unpack(layout, self.spool.pread(16, struct.calcsize(layout)))
        e_type, e_machine, phoff, phentsize, phnum = fields[0], fields[1], fields[4], fields[8], fields[9]
        machine = _E_MACHINES.get(e_machine) or _MACHINE_NUMBERS.get(e_machine, f"EM_{e_machine}")
        elf_type = _E_TYPES.get(e_type, str(e_type))
        arch = _ARCHS.get(machine, {}).get((self.bits, self.little))

        dynamic: tuple[int, int] | None = None
        interp: str | None = None
        exec_stack = False
        if phnum >= 0xFFFF or phnum > _MAX_PHDRS:
            raise ElfError(self._bad(f"claims {phnum} program headers"))
        phdr, picks = _PHDR[self.bits]
        size = struct.calcsize(phdr)
        if phnum and phentsize != size:
            raise ElfError(self._bad(f"program header size {phentsize} (expected {size})"))
        table = self.spool.pread(phoff, phnum * size)
        for entry in struct.iter_unpack(self.order + phdr, table):
            kind, flags, offset, vaddr, filesz = (entry[i] for i in picks)
            if kind == _PT_LOAD:
                self.loads.append((vaddr, offset, filesz))
            elif kind == _PT_DYNAMIC:
                dynamic = (offset, filesz)
            elif kind == _PT_INTERP:
                raw = self.spool.pread(offset, min(filesz, _MAX_INTERP))
                interp = raw.split(b"\0", 1)[0].decode("utf-8", "replace")
            elif kind == _PT_GNU_STACK:
                exec_stack = bool(flags & _PF_X)

        needed: list[str] = []
        rpath: tuple[str, ...] = ()
        runpath: tuple[str, ...] = ()
        soname: str | None = None
        version_needs: dict[str, tuple[VersionNeed, ...]] = {}
        unversioned: tuple[str, ...] = ()
        python_symbols: tuple[str, ...] = ()
        if dynamic is not None:
            tags = self._dynamic(*dynamic)
            strings = self._strtab(tags)
            for tag, value in tags:
                if tag == _DT_NEEDED:
                    needed.append(self._string(strings, value))
                elif tag == _DT_SONAME:
                    soname = self._string(strings, value)
                elif tag == _DT_RPATH:
                    rpath = tuple(p for p in self._string(strings, value).split(":") if p)
                elif tag == _DT_RUNPATH:
                    runpath = tuple(p for p in self._string(strings, value).split(":") if p)
            version_needs = self._version_needs(dict(tags), strings)
            musl = any(_MUSL_LIBC_RE.match(n) or n == "libc.so" for n in needed) or bool(
                interp and _MUSL_LOADER_RE.search(interp)
            )
            if musl:  # glibc files say what they need through versions; reading more would cost
                unversioned = self._unversioned(dict(tags), strings)
            python_symbols = self._python_symbols(dict(tags), strings)

        return ElfFacts(
            path=self.path,
            arch=arch,
            machine=machine,
            elf_class=self.bits,
            little_endian=self.little,
            elf_type=elf_type,
            is_executable=elf_type == "ET_EXEC" or (elf_type == "ET_DYN" and interp is not None),
            interpreter=interp,
            soname=soname,
            needed=tuple(needed),
            rpath=rpath,
            runpath=runpath,
            exec_stack=exec_stack,
            version_needs=MappingProxyType(version_needs),
            unversioned=unversioned,
            python_symbols=python_symbols,
        )

    # -- the dynamic segment and the tables it points at -----------------------------------------------

    def _bad(self, what: str) -> str:
        return _unreadable(self.path, what)

    def _dynamic(self, offset: int, size: int) -> list[tuple[int, int]]:
        entry = 16 if self.bits == 64 else 8
        count = min(size // entry, _MAX_DYNAMIC)
        data = self.spool.pread(offset, count * entry)
        tags: list[tuple[int, int]] = []
        for tag, value in struct.iter_unpack(self.order + ("qQ" if self.bits == 64 else "iI"), data):
            if tag == _DT_NULL:
                break
            tags.append((tag, value))
        return tags

    def _offset(self, vaddr: int, length: int = 1) -> int:
        """The file offset of a virtual address, through the ``PT_LOAD`` that maps it (as ld.so does)."""
        for start, offset, filesz in self.loads:
            if start <= vaddr and vaddr + length <= start + filesz:
                return vaddr - start + offset
        raise ElfError(self._bad(f"address {vaddr:#x} is in no loaded segment"))

    def _strtab(self, tags: list[tuple[int, int]]) -> bytes:
        table = dict(tags)
        if _DT_STRTAB not in table:
            return b""
        size = table.get(_DT_STRSZ, 0)
        if not 0 < size <= _MAX_STRTAB:
            raise ElfError(self._bad(f"DT_STRSZ is {size}"))
        return self.spool.pread(self._offset(table[_DT_STRTAB], size), size)

    def _string(self, strings: bytes, index: int) -> str:
        if index >= len(strings):
            raise ElfError(self._bad(f"string offset {index:#x} is outside the dynamic string table"))
        end = strings.find(b"\0", index)
        return strings[index : end if end >= 0 else len(strings)].decode("utf-8", "replace")

    def _symbol_count(self, table: dict[int, int]) -> int:
        """How many entries ``.dynsym`` has, from the hash tables as the loader knows it."""
        if _DT_HASH in table:
            _nbucket, nchain = struct.unpack(
                self.order + "II", self.spool.pread(self._offset(table[_DT_HASH], 8), 8)
            )
            return int(nchain)
        if _DT_GNU_HASH in table:
            return self._gnu_hash_count(self._offset(table[_DT_GNU_HASH], 16))
        if _DT_STRTAB in table and table[_DT_STRTAB] > table[_DT_SYMTAB]:
            # No hash table: linkers put .dynstr right after .dynsym (what readelf -D assumes too).
            entsize = table.get(_DT_SYMENT, 24 if self.bits == 64 else 16)
            return (table[_DT_STRTAB] - table[_DT_SYMTAB]) // max(entsize, 1)
        raise ElfError(self._bad("no DT_HASH or DT_GNU_HASH to size the dynamic symbol table"))

    def _gnu_hash_count(self, offset: int) -> int:
        # DT_GNU_HASH holds no count: the highest bucket starts the last hash chain, whose last entry has
        # bit 0 set (https://sourceware.org/legacy-ml/binutils/2006-10/msg00377.html).
        nbuckets, symoffset, bloom_size, _shift = struct.unpack(
            self.order + "IIII", self.spool.pread(offset, 16)
        )
        if nbuckets > _MAX_SYMBOLS or bloom_size > _MAX_SYMBOLS:
            raise ElfError(self._bad(f"GNU hash table with {nbuckets} buckets and {bloom_size} bloom words"))
        buckets_at = offset + 16 + bloom_size * (self.bits // 8)
        buckets = struct.unpack(f"{self.order}{nbuckets}I", self.spool.pread(buckets_at, 4 * nbuckets))
        last = max(buckets, default=0)
        if last < symoffset:
            return int(symoffset)
        chain_at = buckets_at + 4 * nbuckets + 4 * (last - symoffset)
        steps = 0
        while True:
            batch = max(1, min(1024, _MAX_SYMBOLS - last - steps))
            if last + steps >= _MAX_SYMBOLS:
                raise ElfError(self._bad("GNU hash chain runs past any plausible symbol count"))
            try:
                words = struct.unpack(
                    f"{self.order}{batch}I", self.spool.pread(chain_at + 4 * steps, 4 * batch)
                )
            except _Truncated:
                words = struct.unpack(self.order + "I", self.spool.pread(chain_at + 4 * steps, 4))
            for word in words:
                steps += 1
                if word & 1:
                    return int(last + steps)

    def _version_needs(self, table: dict[int, int], strings: bytes) -> dict[str, tuple[VersionNeed, ...]]:
        if _DT_VERNEED not in table:
            return {}
        # Elf32_Verneed and Elf64_Verneed are the same 16 bytes; so are the Vernaux entries.
        needs: dict[int, tuple[str, str, bool]] = {}  # version index -> (library, version, weak)
        order: dict[str, list[tuple[int, str, bool]]] = {}
        offset = self._offset(table[_DT_VERNEED], 16)
        aux_total = 0
        for _ in range(min(table.get(_DT_VERNEEDNUM, _MAX_VERNEED_FILES), _MAX_VERNEED_FILES)):
            _version, count, file_name, aux, next_ = struct.unpack(
                self.order + "HHIII", self.spool.pread(offset, 16)
            )
            library = self._string(strings, file_name)
            entries = order.setdefault(library, [])
            aux_at = offset + aux
            for _ in range(count):
                aux_total += 1
                if aux_total > _MAX_VERNAUX:
                    raise ElfError(self._bad("more version needs than any real file has"))
                _hash, flags, other, name, aux_next = struct.unpack(
                    self.order + "IHHII", self.spool.pread(aux_at, 16)
                )
                version = self._string(strings, name)
                weak = bool(flags & _VER_FLG_WEAK)
                needs[other & ~_VERSYM_HIDDEN] = (library, version, weak)
                entries.append((other & ~_VERSYM_HIDDEN, version, weak))
                if aux_next == 0:
                    break
                aux_at += aux_next
            if next_ == 0:
                break
            offset += next_
        symbols = self._bound_symbols(table, strings, needs)
        return {
            library: tuple(
                VersionNeed(version, weak, tuple(sorted(symbols.get(index, ()))))
                for index, version, weak in entries
            )
            for library, entries in order.items()
        }

    def _unversioned(self, table: dict[int, int], strings: bytes) -> tuple[str, ...]:
        """The strong undefined dynamic symbols bound to no version (all of a C file linked against musl; a
        C++ one still has GLIBCXX_ versions for its libstdc++ symbols, and none for musl's)."""
        # A weak undefined symbol may stay unresolved. Version indexes 0 and 1 are "local" and "global":
        # no version (0 too when the file has no .gnu.version at all).
        found = {
            s.name
            for s in self._undefined_symbols(table, strings)
            if s.name and not s.weak and s.version <= 1
        }
        return tuple(sorted(found))

    def _undefined_symbols(self, table: dict[int, int], strings: bytes) -> list[_Undefined]:
        """Every undefined ``.dynsym`` entry, read and unpacked once for everything that asks."""
        if self._undefined is not None:
            return self._undefined
        self._undefined = []
        if _DT_SYMTAB not in table:
            return self._undefined
        entsize = 24 if self.bits == 64 else 16
        if table.get(_DT_SYMENT, entsize) != entsize:
            raise ElfError(self._bad(f"DT_SYMENT is {table[_DT_SYMENT]}, not {entsize}"))
        count = self._symbol_count(table)
        if count > _MAX_SYMBOLS:
            raise ElfError(self._bad(f"claims {count} dynamic symbols"))
        symtab = self.spool.pread(self._offset(table[_DT_SYMTAB], count * entsize), count * entsize)
        if _DT_VERSYM in table:
            versym = self.spool.pread(self._offset(table[_DT_VERSYM], 2 * count), 2 * count)
            versions: tuple[int, ...] = struct.unpack(f"{self.order}{count}H", versym)
        else:
            versions = (0,) * count
        # Elf64_Sym: name, info, other, shndx, value, size; Elf32_Sym: name, value, size, info, other, shndx
        layout = "IBBHQQ" if self.bits == 64 else "IIIBBH"
        name_at, info_at, shndx_at = (0, 1, 3) if self.bits == 64 else (0, 3, 5)
        for i, entry in enumerate(struct.iter_unpack(self.order + layout, symtab)):
            if i == 0 or entry[shndx_at] != _SHN_UNDEF:
                continue
            self._undefined.append(
                _Undefined(
                    self._string(strings, entry[name_at]),
                    versions[i] & ~_VERSYM_HIDDEN,
                    entry[info_at] >> 4 == _STB_WEAK,  # st_info's high nibble is the binding
                )
            )
        return self._undefined

    def _bound_symbols(
        self, table: dict[int, int], strings: bytes, needs: Mapping[int, tuple[str, str, bool]]
    ) -> dict[int, set[str]]:
        """Version index -> the undefined dynamic symbols bound to it (``.dynsym`` with ``.gnu.version``)."""
        if _DT_SYMTAB not in table or _DT_VERSYM not in table or not needs:
            return {}
        bound: dict[int, set[str]] = {}
        for symbol in self._undefined_symbols(table, strings):
            if symbol.version in needs:
                bound.setdefault(symbol.version, set()).add(symbol.name)
        return bound

    def _python_symbols(self, table: dict[int, int], strings: bytes) -> tuple[str, ...]:
        """The undefined ``Py*``/``_Py*`` symbols: what the file asks of the interpreter that loads it."""
        if _DT_SYMTAB not in table or not any(k in table for k in (_DT_HASH, _DT_GNU_HASH)):
            return ()  # no way to size .dynsym, and nothing else needed it: no Python symbols known
        names = {symbol.name for symbol in self._undefined_symbols(table, strings)}
        return tuple(sorted(n for n in names if n.startswith(("Py", "_Py"))))


def _unreadable(path: str, what: str) -> str:
    return (
        f"{path!r} starts like an ELF file but cannot be read: {what}. It is truncated or corrupt, so "
        "what it needs is unknown; rebuild the wheel (the rest of the wheel was still analysed)."
    )


def _check_size(path: str, size: int, size_cap: int) -> None:
    if size > size_cap:
        raise ElfError(
            f"{path!r} is {size} bytes, over the {size_cap}-byte limit of the ELF analysis; "
            "pass a larger size_cap to analyse it."
        )


def read_elf(stream: IO[bytes], path: str, size: int, *, size_cap: int = SIZE_CAP) -> ElfFacts | None:
    """Read one file's :class:`ElfFacts` from a forward-only ``stream`` of ``size`` bytes.

    Returns ``None`` when the file is not ELF; raises :class:`ElfError` naming ``path`` when it starts
    like ELF but cannot be read, and never anything else for any content.
    """
    _check_size(path, size, size_cap)
    spool = _ForwardSpool(stream, size)
    try:
        if spool.read(4) != _ELF_MAGIC:
            return None
        header = 64 if spool.read(1) == b"\x02" else 52  # EI_CLASS: ELFCLASS64 or ELFCLASS32
        if size < header:
            raise ElfError(
                _unreadable(path, f"it is {size} bytes, shorter than an ELF header ({header} bytes)")
            )
        return _Reader(spool, path).facts()
    except ElfError:
        raise
    except (_Truncated, struct.error, ValueError, KeyError, IndexError, OverflowError) as e:
        raise ElfError(_unreadable(path, str(e) or type(e).__name__)) from e
    finally:
        spool.close()


def read_elf_member(wheel: WheelInfo, member: Member, *, size_cap: int = SIZE_CAP) -> ElfFacts | None:
    """:func:`read_elf` for one member of a wheel, streamed out of the zip."""
    _check_size(member.path, member.size, size_cap)
    with open_member(wheel, member) as stream:
        return read_elf(stream, member.path, member.size, size_cap=size_cap)
