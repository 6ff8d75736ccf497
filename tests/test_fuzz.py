"""Property tests of the two readers that parse untrusted bytes: elf.py and wheel.py.

Real files (the factory's ELF files and wheels) are mutated by hypothesis: truncated, bytes and
fields overwritten, bytes inserted and deleted, zip structures rebuilt with hostile names and modes.
Whatever the bytes, a reader returns a result or raises its own error type (errors.py), and it does
so quickly. The run is bounded and derandomized, so CI sees the same examples every time.
"""

from __future__ import annotations

import io
import stat
import struct
import time
import warnings
import zipfile
from pathlib import Path
from typing import Callable

import pytest
import wheelfactory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_manylinux.core.elf import ElfFacts, read_elf
from pytest_manylinux.core.wheel import WheelInfo, read_wheel
from pytest_manylinux.errors import ElfError, WheelError

#: bounded, reproducible, no example database written into the project
BOUNDED = settings(
    max_examples=300,
    deadline=2000,  # ms per example: a hang (or quadratic blow-up) fails the test
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: the factory cases whose ELF files the mutations start from: an extension, C++, a vendored library
#: with its RUNPATH, an executable, a hand-written aarch64 file
_ELF_CASES = ("honest", "cxx_new", "vendored", "executable", "aarch64")


@pytest.fixture(scope="module")
def elf_seeds(wheels: dict[str, Path]) -> list[bytes]:
    seeds = []
    for case in _ELF_CASES:
        with zipfile.ZipFile(wheels[case]) as zf:
            seeds += [zf.read(elf.path) for elf in wheelfactory.CASES[case].elves]
    return seeds


def _mutate(seed: bytes, data: st.DataObject, hot: int) -> bytes:
    """``seed`` changed a few times, mostly in its first ``hot`` bytes (headers, tables)."""
    blob = bytearray(seed)
    for _ in range(data.draw(st.integers(1, 6), label="mutations")):
        kind = data.draw(st.sampled_from(["byte", "field", "insert", "delete", "truncate"]), label="kind")
        if not blob:
            break
        limit = min(len(blob), hot) if data.draw(st.booleans(), label="in-headers") else len(blob)
        at = data.draw(st.integers(0, max(0, limit - 1)), label="at")
        if kind == "byte":
            blob[at] = data.draw(st.integers(0, 255), label="value")
        elif kind == "field":
            # A whole 2/4/8-byte field set to an extreme or arbitrary value: sizes, counts, offsets.
            width = data.draw(st.sampled_from([2, 4, 8]), label="width")
            top = (1 << (8 * width)) - 1
            value = data.draw(
                st.one_of(st.sampled_from([0, 1, top, top // 2 + 1]), st.integers(0, top)), label="value"
            )
            blob[at : at + width] = value.to_bytes(width, "little")[: len(blob) - at]
        elif kind == "insert":
            blob[at:at] = data.draw(st.binary(min_size=1, max_size=64), label="inserted")
        elif kind == "delete":
            del blob[at : at + data.draw(st.integers(1, 64), label="deleted")]
        else:
            del blob[at:]
    return bytes(blob)


def _read_elf(data: bytes) -> ElfFacts | None:
    started = time.monotonic()
    facts, error = None, ""
    try:
        facts = read_elf(io.BytesIO(data), "pkg/fuzzed.so", len(data))
    except ElfError as e:
        error = str(e)
    assert time.monotonic() - started < 2.0
    assert not error or "'pkg/fuzzed.so'" in error, "an ELF error names the file"
    return facts


@BOUNDED
@given(data=st.data())
def test_mutated_elf_gives_facts_or_an_elf_error(elf_seeds: list[bytes], data: st.DataObject) -> None:
    seed = data.draw(st.sampled_from(elf_seeds), label="seed")
    _read_elf(_mutate(seed, data, hot=0x1000))


@BOUNDED
@given(
    header=st.binary(min_size=0, max_size=512),
    elf_class=st.sampled_from([b"\x01", b"\x02", b"\x00", b"\xff"]),
)
def test_random_bytes_after_the_elf_magic(header: bytes, elf_class: bytes) -> None:
    _read_elf(b"\x7fELF" + elf_class + header)


@BOUNDED
@given(
    phnum=st.integers(0, 0xFFFF),
    phoff=st.integers(0, (1 << 64) - 1),
    phentsize=st.integers(0, 0xFFFF),
    little=st.booleans(),
)
def test_program_header_table_anywhere(phnum: int, phoff: int, phentsize: int, little: bool) -> None:
    order = "<" if little else ">"
    ident = b"\x7fELF\x02" + (b"\x01" if little else b"\x02") + b"\x01" + bytes(9)
    header = ident + struct.pack(
        order + "HHIQQQIHHHHHH", 3, 62, 1, 0, phoff, 0, 0, 64, phentsize, phnum, 64, 0, 0
    )
    _read_elf(header + bytes(256))


# -- wheels --------------------------------------------------------------------------------------------

#: a file name read_claim accepts, so every example reaches the zip
_NAME = "pm_fuzz-1.0-cp35-abi3-manylinux2014_x86_64.whl"


@pytest.fixture(scope="module")
def wheel_seeds(wheels: dict[str, Path]) -> list[bytes]:
    return [wheels[case].read_bytes() for case in ("honest", "vendored", "pure")]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Callable[[bytes], Path]:
    path = tmp_path_factory.mktemp("fuzz") / _NAME

    def write(data: bytes) -> Path:
        path.write_bytes(data)
        return path

    return write


def _read_wheel(path: Path) -> WheelInfo | None:
    started = time.monotonic()
    info, error = None, ""
    try:
        info = read_wheel(path)
    except WheelError as e:
        error = str(e)
    assert time.monotonic() - started < 2.0
    assert not error or str(path) in error, "a wheel error names the file"
    return info


@BOUNDED
@given(data=st.data())
def test_mutated_wheel_reads_or_gives_a_wheel_error(
    wheel_seeds: list[bytes], scratch: Callable[[bytes], Path], data: st.DataObject
) -> None:
    seed = data.draw(st.sampled_from(wheel_seeds), label="seed")
    # The zip's directory is at its end: mutations land there as often as in the local headers.
    mutated = _mutate(seed, data, hot=len(seed))
    if data.draw(st.booleans(), label="in-directory"):
        tail = len(seed) - min(len(seed), 2048)
        mutated = seed[:tail] + _mutate(seed[tail:], data, hot=2048)
    _read_wheel(scratch(mutated))


_NAMES = st.one_of(
    st.sampled_from(
        ["pm_fuzz/__init__.py", "pm_fuzz/_core.abi3.so", "pm_fuzz-1.0.data/scripts/tool", "a/../b.py"]
    ),
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=40),
    st.sampled_from(
        ["../x.py", "/abs.py", "C:/x.py", "\\\\x.py", "pm_fuzz/\x00.py", "pm_fuzz-1.0.dist-info/RECORD"]
    ),
)
_MODES = st.sampled_from(
    [0o644, 0o755, stat.S_IFREG | 0o644, stat.S_IFLNK | 0o777, stat.S_IFDIR | 0o755, 0o170777]
)


@BOUNDED
@given(
    members=st.lists(st.tuples(_NAMES, st.binary(max_size=256), _MODES), max_size=6),
    record=st.one_of(st.none(), st.binary(max_size=512), st.text(max_size=512).map(str.encode)),
    wheel_meta=st.one_of(st.just(b"Wheel-Version: 1.0\nRoot-Is-Purelib: false\n"), st.binary(max_size=128)),
    compression=st.sampled_from(
        [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]
    ),
)
def test_hostile_zip_layouts(
    scratch: Callable[[bytes], Path],
    members: list[tuple[str, bytes, int]],
    record: bytes | None,
    wheel_meta: bytes,
    compression: int,
) -> None:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w", compression) as zf:
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns of the duplicate names it writes
        files = [*members, ("pm_fuzz-1.0.dist-info/METADATA", b"Name: pm_fuzz\n", 0o644)]
        files.append(("pm_fuzz-1.0.dist-info/WHEEL", wheel_meta, 0o644))
        if record is not None:
            files.append(("pm_fuzz-1.0.dist-info/RECORD", record, 0o644))
        for name, content, mode in files:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = mode << 16
            info.create_system = 3
            info.compress_type = compression
            zf.writestr(info, content)
    _read_wheel(scratch(buffer.getvalue()))


def test_seeds_are_read_as_they_are(
    elf_seeds: list[bytes], wheel_seeds: list[bytes], scratch: Callable[[bytes], Path]
) -> None:
    """The mutations start from files the readers accept unchanged."""
    assert all(isinstance(_read_elf(seed), ElfFacts) for seed in elf_seeds)
    assert all(isinstance(_read_wheel(scratch(seed)), WheelInfo) for seed in wheel_seeds)
