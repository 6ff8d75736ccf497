"""The ELF boundary: facts read from the factory wheels' files, and bad ELF never crashing or hanging it."""

from __future__ import annotations

import io
import random
import struct
import time
import zipfile
from pathlib import Path

import pytest
import wheelfactory

from pytest_manylinux.core import elf
from pytest_manylinux.core.elf import ElfFacts, read_elf, read_elf_member
from pytest_manylinux.core.tags import Libc
from pytest_manylinux.core.wheel import read_wheel
from pytest_manylinux.errors import ElfError

# readelf -h's names for e_machine (what the factory records) -> pyelftools' names (what ElfFacts holds)
_MACHINES = {"Advanced Micro Devices X86-64": "EM_X86_64", "AArch64": "EM_AARCH64"}
_ELVES = [(name, elf) for name, case in wheelfactory.CASES.items() for elf in case.elves]


def member_bytes(wheel: Path, member: str) -> bytes:
    with zipfile.ZipFile(wheel) as zf:
        return zf.read(member)


def facts_of(data: bytes, path: str = "pkg/x.so") -> ElfFacts | None:
    return read_elf(io.BytesIO(data), path, len(data))


# -- helpers that find and patch fields of an ELF64 little-endian file (what gcc builds here) ----------


def _loads_and_dynamic(data: bytes) -> tuple[list[tuple[int, int, int]], int, int]:
    phoff, phentsize, phnum = struct.unpack_from("<Q", data, 0x20)[0], *struct.unpack_from("<HH", data, 0x36)
    loads, dynamic = [], (0, 0)
    for i in range(phnum):
        p_type, _flags, offset, vaddr, _paddr, filesz = struct.unpack_from(
            "<IIQQQQ", data, phoff + i * phentsize
        )
        if p_type == 1:
            loads.append((vaddr, offset, filesz))
        elif p_type == 2:
            dynamic = (offset, filesz)
    return loads, *dynamic


def dynamic_entries(data: bytes) -> list[tuple[int, int, int]]:
    """(file offset of the entry, d_tag, d_val) of every ``.dynamic`` entry up to DT_NULL."""
    _loads, offset, size = _loads_and_dynamic(data)
    entries = []
    for at in range(offset, offset + size, 16):
        tag, value = struct.unpack_from("<qQ", data, at)
        if tag == 0:
            break
        entries.append((at, tag, value))
    return entries


def file_offset(data: bytes, vaddr: int) -> int:
    loads, _offset, _size = _loads_and_dynamic(data)
    return next(vaddr - start + offset for start, offset, filesz in loads if start <= vaddr < start + filesz)


def weaken(data: bytes, version: str) -> bytes:
    """Set ``VER_FLG_WEAK`` on the ``.gnu.version_r`` entry for ``version``, as a linker that honours
    weak references would (GNU ld does not: see tests/wheelsrc/weak.c)."""
    patched = bytearray(data)
    table = {tag: value for _at, tag, value in dynamic_entries(data)}
    strtab = file_offset(data, table[5])
    at = file_offset(data, table[0x6FFFFFFE])
    for _ in range(table[0x6FFFFFFF]):
        _ver, count, _file, aux, next_ = struct.unpack_from("<HHIII", data, at)
        aux_at = at + aux
        for _ in range(count):
            _hash, flags, _other, name, aux_next = struct.unpack_from("<IHHII", data, aux_at)
            if data[strtab + name :].split(b"\0", 1)[0].decode() == version:
                struct.pack_into("<H", patched, aux_at + 4, flags | 0x2)
                return bytes(patched)
            aux_at += aux_next
        at += next_
    raise AssertionError(f"no version need {version!r}")


def set_dynamic(data: bytes, tag: int, value: int) -> bytes:
    patched = bytearray(data)
    at = next(at for at, t, _v in dynamic_entries(data) if t == tag)
    struct.pack_into("<Q", patched, at + 8, value)
    return bytes(patched)


def minimal_elf(elf_class: int, little: bool, machine: int, e_type: int = 3) -> bytes:
    """An ELF header and one PT_LOAD, no dynamic segment: enough for the machine and class to be read."""
    order = "<" if little else ">"
    ident = b"\x7fELF" + bytes([2 if elf_class == 64 else 1, 1 if little else 2, 1, 0]) + bytes(8)
    if elf_class == 64:
        header = ident + struct.pack(
            order + "HHIQQQIHHHHHH", e_type, machine, 1, 0, 64, 0, 0, 64, 56, 1, 64, 0, 0
        )
        return header + struct.pack(order + "IIQQQQQQ", 1, 4, 0, 0, 0, 120, 120, 0x1000)
    header = ident + struct.pack(
        order + "HHIIIIIHHHHHH", e_type, machine, 1, 0, 52, 0, 0, 52, 32, 1, 40, 0, 0
    )
    return header + struct.pack(order + "IIIIIIII", 1, 0, 0, 0, 84, 84, 4, 0x1000)


# -- the factory's files, as readelf saw them ----------------------------------------------------------


@pytest.mark.parametrize(("case", "elf"), _ELVES, ids=[f"{c}:{e.path.rsplit('/', 1)[-1]}" for c, e in _ELVES])
def test_facts_match_what_readelf_showed(case: str, elf: wheelfactory.Elf, wheels: dict[str, Path]) -> None:
    info = read_wheel(wheels[case])
    member = next(m for m in info.members if m.path == elf.path)
    if elf.corrupt:
        with pytest.raises(ElfError, match=elf.path.replace(".", r"\.")):
            read_elf_member(info, member)
        return
    facts = read_elf_member(info, member)
    assert facts is not None
    assert facts.path == elf.path
    assert facts.machine == _MACHINES[elf.machine]
    assert facts.needed == elf.needed
    assert facts.runpath == ((elf.runpath,) if elf.runpath else ())
    assert facts.exec_stack is elf.execstack
    glibc = [n for lib, n in facts.iter_needs() if n.prefix == "GLIBC"]
    highest = max((tuple(map(int, n.version.split("."))) for n in glibc), default=None)
    assert highest == (wheelfactory._version_key(elf.glibc) if elf.glibc else None)
    glibcxx = [n.version for _lib, n in facts.iter_needs() if n.prefix == "GLIBCXX"]
    assert max(glibcxx, key=wheelfactory._version_key, default=None) == elf.glibcxx
    assert {n.name for _lib, n in facts.iter_needs() if n.weak} == set(elf.weak_versions)


def test_symbols_are_bound_to_their_versions(wheels: dict[str, Path]) -> None:
    facts = facts_of(member_bytes(wheels["glibc_new"], "pm_glibc_new/_core.abi3.so"))
    assert facts is not None
    needs = {n.name: n for n in facts.version_needs["libc.so.6"]}
    assert needs["GLIBC_2.34"].symbols == ("close_range",)
    assert "strlen" in needs["GLIBC_2.2.5"].symbols
    assert facts.libc is Libc.GLIBC
    assert facts.arch == "x86_64"
    assert (facts.elf_class, facts.little_endian, facts.elf_type) == (64, True, "ET_DYN")
    assert not facts.is_executable
    assert facts.interpreter is None


def test_libstdcxx_symbol_is_named(wheels: dict[str, Path]) -> None:
    facts = facts_of(member_bytes(wheels["cxx_new"], "pm_cxx_new/_core.abi3.so"))
    assert facts is not None
    needs = {n.name: n for n in facts.version_needs["libstdc++.so.6"]}
    assert needs["GLIBCXX_3.4.29"].symbols == ("_ZSt8to_charsPcS_d",)


def test_unversioned_are_the_strong_undefined_symbols_bound_to_no_version(wheels: dict[str, Path]) -> None:
    facts = facts_of(member_bytes(wheels["musl_honest"], "pm_musl_honest/_core.abi3.so"))
    assert facts is not None
    assert facts.libc is Libc.MUSL
    # readelf --dyn-syms also shows __cxa_finalize and _ITM_(de)registerTMCloneTable undefined, WEAK
    # (crtbegin's): a weak reference may stay unresolved, so it asks nothing of musl.
    python = ("PyModule_Create2", "PyUnicode_FromString", "Py_GetVersion")
    assert facts.unversioned == (*python, "snprintf", "strlen")
    assert facts.python_symbols == python


def as_if_musl_linked(data: bytes) -> bytes:
    """A glibc-linked file whose ``DT_NEEDED`` says ``libc.so`` (what musl-gcc links), same length: its
    ``.gnu.version`` is kept, so every reader of ``.dynsym`` runs on it."""
    at = data.index(b"libc.so.6\0")
    return data[:at] + b"libc.so\0" + data[at + len(b"libc.so") + 1 :]


def test_symbol_tables_are_read_once_for_every_fact_drawn_from_them(
    wheels: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = as_if_musl_linked(member_bytes(wheels["glibc_new"], "pm_glibc_new/_core.abi3.so"))
    table = {tag: value for _at, tag, value in dynamic_entries(data)}
    dynsym, versym = file_offset(data, table[6]), file_offset(data, table[0x6FFFFFF0])  # DT_SYMTAB, DT_VERSYM
    reads: list[int] = []
    pread = elf._ForwardSpool.pread

    def counted(self: elf._ForwardSpool, offset: int, length: int) -> bytes:
        reads.append(offset)
        return pread(self, offset, length)

    monkeypatch.setattr(elf._ForwardSpool, "pread", counted)
    facts = facts_of(data)
    assert facts is not None
    assert facts.libc is Libc.MUSL
    # strlen and close_range are bound to GLIBC_ versions, the weak ones are left out: only Python's remain.
    python = ("PyLong_FromLong", "PyModule_Create2", "Py_GetVersion")
    assert facts.unversioned == python
    assert facts.python_symbols == python
    needs = {n.name: n.symbols for n in facts.version_needs["libc.so"]}
    assert needs["GLIBC_2.34"] == ("close_range",)
    assert (reads.count(dynsym), reads.count(versym)) == (1, 1)


def test_a_pie_program_is_an_executable(wheels: dict[str, Path]) -> None:
    facts = facts_of(member_bytes(wheels["executable"], "pm_executable-1.0.data/scripts/pm-tool"))
    assert facts is not None
    assert facts.is_executable
    assert facts.elf_type == "ET_DYN"
    assert facts.interpreter == "/lib64/ld-linux-x86-64.so.2"
    assert any(
        n.name == "GLIBC_2.34" and "__libc_start_main" in n.symbols for n in facts.version_needs["libc.so.6"]
    )


def test_vendored_library_soname(wheels: dict[str, Path]) -> None:
    facts = facts_of(member_bytes(wheels["vendored"], "pm_vendored.libs/libpm_vendored.so.1"))
    assert facts is not None
    assert facts.soname == "libpm_vendored.so.1"


def test_weak_version_flag(wheels: dict[str, Path]) -> None:
    data = weaken(member_bytes(wheels["glibc_new"], "pm_glibc_new/_core.abi3.so"), "GLIBC_2.34")
    facts = facts_of(data)
    assert facts is not None
    flags = {n.name: n.weak for n in facts.version_needs["libc.so.6"]}
    assert flags == {"GLIBC_2.2.5": False, "GLIBC_2.34": True}


@pytest.mark.parametrize(
    ("elf_class", "little", "machine", "arch", "name"),
    [
        (64, True, 62, "x86_64", "EM_X86_64"),
        (32, True, 3, "i686", "EM_386"),
        (64, True, 183, "aarch64", "EM_AARCH64"),
        (32, True, 40, "armv7l", "EM_ARM"),
        (64, True, 21, "ppc64le", "EM_PPC64"),
        (64, False, 21, "ppc64", "EM_PPC64"),
        (64, False, 22, "s390x", "EM_S390"),
        (64, True, 243, "riscv64", "EM_RISCV"),
        (64, True, 258, "loongarch64", "EM_LOONGARCH"),
        (32, False, 8, None, "EM_MIPS"),
    ],
    ids=[
        "x86_64",
        "i686",
        "aarch64",
        "armv7l",
        "ppc64le",
        "ppc64",
        "s390x",
        "riscv64",
        "loongarch64",
        "mips",
    ],
)
def test_architecture_in_tag_spelling(
    elf_class: int, little: bool, machine: int, arch: str | None, name: str
) -> None:
    facts = facts_of(minimal_elf(elf_class, little, machine))
    assert facts is not None
    assert (facts.arch, facts.machine, facts.elf_class, facts.little_endian) == (
        arch,
        name,
        elf_class,
        little,
    )
    assert facts.needed == ()
    assert facts.libc is None


def test_et_exec_is_an_executable() -> None:
    facts = facts_of(minimal_elf(64, True, 62, e_type=2))
    assert facts is not None
    assert facts.is_executable


@pytest.mark.parametrize(
    "data",
    [b"", b"#!/bin/sh\necho hi\n", b"\x7fEL", b"PK\x03\x04 not an elf"],
    ids=["empty", "script", "three-magic-bytes", "zip"],
)
def test_non_elf_is_skipped(data: bytes) -> None:
    assert facts_of(data) is None


# -- bad ELF: a clear per-file error, never a crash or a hang ------------------------------------------


def _assert_bounded(data: bytes) -> None:
    started = time.monotonic()
    error = None
    try:
        facts_of(data, "pkg/bad.so")
    except ElfError as e:
        error = str(e)
    assert time.monotonic() - started < 2.0
    if error is not None:
        assert "'pkg/bad.so'" in error
        assert "rebuild the wheel" in error


def test_every_truncation_is_an_error_or_facts(wheels: dict[str, Path]) -> None:
    data = member_bytes(wheels["vendored"], "pm_vendored/_core.abi3.so")
    for cut in [*range(0, 200, 7), *range(200, len(data), max(1, len(data) // 150))]:
        _assert_bounded(data[:cut])


def test_truncated_header_says_so() -> None:
    with pytest.raises(ElfError, match=r"36 bytes, shorter than an ELF header \(64 bytes\)"):
        facts_of(wheelfactory._CORRUPT_ELF, "pkg/_broken.so")


def test_random_corruption_is_an_error_or_facts(wheels: dict[str, Path]) -> None:
    data = member_bytes(wheels["cxx_new"], "pm_cxx_new/_core.abi3.so")
    tables_end = dynamic_entries(data)[-1][0] + 16
    rng = random.Random(600)
    for _ in range(400):
        mutant = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            at = rng.randrange(0, 0x800) if rng.random() < 0.7 else rng.randrange(0, tables_end)
            mutant[at] = rng.randrange(256)
        _assert_bounded(bytes(mutant))


@pytest.mark.parametrize(
    ("tag", "value", "message"),
    [
        (10, 1 << 40, "DT_STRSZ"),
        (5, 0xDEAD0000, "in no loaded segment"),
        (0x6FFFFFFF, 1 << 40, ""),
        (0x6FFFFEF5, 0x10, ""),
    ],
    ids=["huge-strtab", "strtab-nowhere", "huge-verneednum", "gnu-hash-elsewhere"],
)
def test_pathological_dynamic_values(tag: int, value: int, message: str, wheels: dict[str, Path]) -> None:
    data = set_dynamic(member_bytes(wheels["glibc_new"], "pm_glibc_new/_core.abi3.so"), tag, value)
    started = time.monotonic()
    error = ""
    try:
        facts_of(data)
    except ElfError as e:
        error = str(e)
    assert time.monotonic() - started < 2.0
    assert message in error


def test_huge_program_header_count() -> None:
    data = bytearray(minimal_elf(64, True, 62))
    struct.pack_into("<H", data, 0x38, 0xFFFF)
    with pytest.raises(ElfError, match="65535 program headers"):
        facts_of(bytes(data))


def test_size_cap() -> None:
    with pytest.raises(ElfError, match="over the 100-byte limit"):
        read_elf(io.BytesIO(minimal_elf(64, True, 62)), "pkg/big.so", 120, size_cap=100)


class _CountingStream(io.RawIOBase):
    def __init__(self, data: bytes) -> None:
        self.inner = io.BytesIO(data)
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        chunk = self.inner.read(len(buffer))
        buffer[: len(chunk)] = chunk
        self.consumed += len(chunk)
        return len(chunk)


def test_reads_only_up_to_the_dynamic_section(wheels: dict[str, Path]) -> None:
    """Bytes after what the loader reads (debug info, .symtab, section headers) are never inflated."""
    data = member_bytes(wheels["glibc_new"], "pm_glibc_new/_core.abi3.so")
    debug_info = bytes(64 << 20)  # stands for what an unstripped library carries after .dynamic
    stream = _CountingStream(data + debug_info)
    facts = read_elf(stream, "pkg/_core.so", len(data) + len(debug_info))  # type: ignore[arg-type]
    assert facts is not None
    assert facts.needed == ("libc.so.6",)
    assert stream.consumed < len(data) + (2 << 20)
