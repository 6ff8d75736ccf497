"""tags.py: a wheel file name read as a libc floor (PEP 600 perennial tags, legacy aliases, PEP 656)."""

from __future__ import annotations

import pytest
from packaging.tags import Tag

from pytest_manylinux.core.tags import (
    ClaimKind,
    Libc,
    LibcVersion,
    honest_tag,
    parse_platform,
    read_claim,
)
from pytest_manylinux.errors import WheelError


def _wheel(platform: str, python: str = "cp35", abi: str = "abi3") -> str:
    return f"pm_demo-1.0-{python}-{abi}-{platform}.whl"


# -- one platform tag -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "kind", "libc", "version", "arch"),
    [
        ("manylinux_2_17_x86_64", ClaimKind.MANYLINUX, Libc.GLIBC, LibcVersion(2, 17), "x86_64"),
        ("manylinux_2_34_aarch64", ClaimKind.MANYLINUX, Libc.GLIBC, LibcVersion(2, 34), "aarch64"),
        ("manylinux_2_5_i686", ClaimKind.MANYLINUX, Libc.GLIBC, LibcVersion(2, 5), "i686"),
        ("musllinux_1_2_x86_64", ClaimKind.MUSLLINUX, Libc.MUSL, LibcVersion(1, 2), "x86_64"),
        ("musllinux_1_1_ppc64le", ClaimKind.MUSLLINUX, Libc.MUSL, LibcVersion(1, 1), "ppc64le"),
    ],
    ids=["glibc-2.17-x86_64", "glibc-2.34-aarch64", "glibc-2.5-i686", "musl-1.2-x86_64", "musl-1.1-ppc64le"],
)
def test_perennial_tag_is_a_floor(
    platform: str, kind: ClaimKind, libc: Libc, version: LibcVersion, arch: str
) -> None:
    claim = parse_platform(platform)
    assert (claim.tag, claim.kind, claim.libc, claim.version, claim.arch) == (
        platform,
        kind,
        libc,
        version,
        arch,
    )


@pytest.mark.parametrize(
    ("platform", "version"),
    [
        ("manylinux1_x86_64", LibcVersion(2, 5)),
        ("manylinux2010_x86_64", LibcVersion(2, 12)),
        ("manylinux2014_x86_64", LibcVersion(2, 17)),
    ],
    ids=["manylinux1", "manylinux2010", "manylinux2014"],
)
def test_legacy_alias_means_its_glibc_floor(platform: str, version: LibcVersion) -> None:
    claim = parse_platform(platform)
    assert claim.kind is ClaimKind.MANYLINUX
    assert claim.libc is Libc.GLIBC
    assert claim.version == version
    assert claim.arch == "x86_64"


def test_legacy_alias_keeps_its_arch() -> None:
    assert parse_platform("manylinux2014_aarch64").arch == "aarch64"
    assert parse_platform("manylinux1_i686").arch == "i686"


@pytest.mark.parametrize(
    ("platform", "kind", "arch"),
    [
        ("linux_x86_64", ClaimKind.LINUX, "x86_64"),
        ("any", ClaimKind.PURE, None),
        ("macosx_11_0_arm64", ClaimKind.OTHER, None),
        ("win_amd64", ClaimKind.OTHER, None),
    ],
    ids=["linux", "pure", "macos", "windows"],
)
def test_tags_without_floor(platform: str, kind: ClaimKind, arch: str | None) -> None:
    claim = parse_platform(platform)
    assert claim.kind is kind
    assert claim.version is None
    assert claim.libc is None
    assert claim.arch == arch


# -- a wheel's file name ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "floor", "tag"),
    [
        (
            "manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64",
            LibcVersion(2, 17),
            "manylinux2014_x86_64",
        ),
        ("manylinux_2_28_x86_64.manylinux_2_17_x86_64", LibcVersion(2, 17), "manylinux_2_17_x86_64"),
        # 2.5 < 2.17 as numbers, although "5" > "17" as text
        ("manylinux_2_17_x86_64.manylinux_2_5_x86_64", LibcVersion(2, 5), "manylinux_2_5_x86_64"),
        ("manylinux1_x86_64.manylinux2010_x86_64", LibcVersion(2, 5), "manylinux1_x86_64"),
        ("manylinux_2_12_x86_64.manylinux2010_x86_64", LibcVersion(2, 12), None),
    ],
    ids=["2014+2.17+2.28", "2.28+2.17", "numeric-not-lexical", "manylinux1+2010", "alias-equals-perennial"],
)
def test_compressed_tag_set_claims_the_lowest_floor(
    platform: str, floor: LibcVersion, tag: str | None
) -> None:
    claim = read_claim(_wheel(platform))
    assert claim.kind is ClaimKind.MANYLINUX
    assert claim.floor == floor
    assert claim.makes_claim
    if tag is not None:
        assert claim.platform.tag == tag
    assert claim.describe() == f"{claim.platform.tag} promises glibc {floor} or newer"


def test_claim_fields_from_a_manylinux_file_name() -> None:
    claim = read_claim("pm_demo-1.0-cp35-abi3-manylinux2014_x86_64.manylinux_2_17_x86_64.whl")
    assert claim.filename == "pm_demo-1.0-cp35-abi3-manylinux2014_x86_64.manylinux_2_17_x86_64.whl"
    assert claim.name == "pm-demo"
    assert claim.version == "1.0"
    assert claim.libc is Libc.GLIBC
    assert claim.arch == "x86_64"
    assert claim.interpreters == frozenset({("cp35", "abi3")})
    assert claim.tags == frozenset(
        {Tag("cp35", "abi3", "manylinux2014_x86_64"), Tag("cp35", "abi3", "manylinux_2_17_x86_64")}
    )


def test_musllinux_claim() -> None:
    claim = read_claim(_wheel("musllinux_1_2_x86_64"))
    assert claim.kind is ClaimKind.MUSLLINUX
    assert claim.libc is Libc.MUSL
    assert claim.floor == LibcVersion(1, 2)
    assert claim.describe() == "musllinux_1_2_x86_64 promises musl 1.2 or newer"


def test_glibc_and_musl_tags_judge_the_glibc_floor() -> None:
    claim = read_claim(_wheel("musllinux_1_1_x86_64.manylinux_2_28_x86_64"))
    assert claim.libc is Libc.GLIBC
    assert claim.floor == LibcVersion(2, 28)


def test_a_path_is_read_by_its_file_name() -> None:
    claim = read_claim("/some/dir.whl/pm_demo-1.0-py3-none-manylinux_2_17_x86_64.whl")
    assert claim.filename == "pm_demo-1.0-py3-none-manylinux_2_17_x86_64.whl"
    assert claim.floor == LibcVersion(2, 17)


def test_linux_tag_makes_no_claim_and_says_so() -> None:
    claim = read_claim(_wheel("linux_x86_64"))
    assert claim.kind is ClaimKind.LINUX
    assert not claim.makes_claim
    assert claim.floor is None
    assert claim.libc is None
    assert claim.arch == "x86_64"
    text = claim.describe()
    assert claim.filename in text
    assert "linux_x86_64" in text
    assert "no portability claim" in text


def test_pure_wheel_makes_no_claim_and_says_so() -> None:
    claim = read_claim("pm_demo-1.0-py3-none-any.whl")
    assert claim.kind is ClaimKind.PURE
    assert not claim.makes_claim
    assert claim.floor is None
    assert claim.arch is None
    assert claim.interpreters == frozenset({("py3", "none")})
    assert (
        claim.describe() == "pm_demo-1.0-py3-none-any.whl is a pure wheel (any): it makes no platform claim"
    )


def test_non_linux_wheel_is_other() -> None:
    claim = read_claim(_wheel("macosx_11_0_arm64"))
    assert claim.kind is ClaimKind.OTHER
    assert not claim.makes_claim
    assert "not a Linux wheel" in claim.describe()


def test_linux_and_manylinux_tags_together_claim_the_manylinux_floor() -> None:
    claim = read_claim(_wheel("linux_x86_64.manylinux_2_24_x86_64"))
    assert claim.kind is ClaimKind.MANYLINUX
    assert claim.floor == LibcVersion(2, 24)


@pytest.mark.parametrize(
    "filename",
    [
        "pm_demo.whl",
        "pm_demo-1.0.whl",
        "pm_demo-1.0-py3-none.whl",
        "pm_demo-1.0-py3-none-any.zip",
        "pm_demo-not a version-py3-none-any.whl",
        "dir/pm_demo-1.0-py3.whl",
    ],
    ids=["no-tags", "version-only", "no-platform", "not-whl", "bad-version", "with-directory"],
)
def test_bad_file_name_raises_wheel_error_naming_the_file(filename: str) -> None:
    with pytest.raises(WheelError) as excinfo:
        read_claim(filename)
    message = str(excinfo.value)
    assert repr(filename) in message
    assert "not a wheel file name" in message
    assert "NAME-VERSION" in message  # says what a good one looks like


def test_wheel_error_is_a_value_error_chained_from_packaging() -> None:
    with pytest.raises(ValueError, match="not a wheel file name") as excinfo:
        read_claim("pm_demo.whl")
    assert excinfo.value.__cause__ is not None


# -- the honest tag -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("libc", "version", "arch", "tag"),
    [
        (Libc.GLIBC, LibcVersion(2, 23), "x86_64", "manylinux_2_23_x86_64"),
        (Libc.GLIBC, LibcVersion(2, 5), "i686", "manylinux_2_5_i686"),
        (Libc.MUSL, LibcVersion(1, 2), "aarch64", "musllinux_1_2_aarch64"),
    ],
    ids=["glibc-2.23", "glibc-2.5-i686", "musl-1.2"],
)
def test_honest_tag_is_perennial(libc: Libc, version: LibcVersion, arch: str, tag: str) -> None:
    assert honest_tag(libc, version, arch) == tag
    # and it reads back as the same floor
    back = parse_platform(tag)
    assert (back.libc, back.version, back.arch) == (libc, version, arch)


# -- LibcVersion ----------------------------------------------------------------------------------


def test_libc_versions_order_numerically() -> None:
    versions = [
        LibcVersion(2, 17),
        LibcVersion(2, 5),
        LibcVersion(2, 10),
        LibcVersion(2, 9),
        LibcVersion(1, 2),
    ]
    assert sorted(versions) == [
        LibcVersion(1, 2),
        LibcVersion(2, 5),
        LibcVersion(2, 9),
        LibcVersion(2, 10),
        LibcVersion(2, 17),
    ]
    assert LibcVersion(2, 34) > LibcVersion(2, 31)
    assert LibcVersion(2, 17) <= LibcVersion(2, 17)
    assert max(versions) == LibcVersion(2, 17)


def test_libc_version_is_hashable_and_prints_as_written() -> None:
    assert {LibcVersion(2, 17), LibcVersion(2, 17)} == {LibcVersion(2, 17)}
    assert str(LibcVersion(2, 5)) == "2.5"


@pytest.mark.parametrize(
    ("text", "version"),
    [("2.17", LibcVersion(2, 17)), ("1.2.4", LibcVersion(1, 2)), (" 2.35\n", LibcVersion(2, 35))],
    ids=["two-parts", "three-parts", "whitespace"],
)
def test_libc_version_parse(text: str, version: LibcVersion) -> None:
    assert LibcVersion.parse(text) == version


@pytest.mark.parametrize(
    "text",
    ["", "2", "glibc 2.17", "two.seventeen", "2_17"],
    ids=["empty", "major", "prefixed", "words", "underscore"],
)
def test_libc_version_parse_rejects_quoting_the_value(text: str) -> None:
    with pytest.raises(ValueError, match="not a libc version") as excinfo:
        LibcVersion.parse(text)
    assert repr(text) in str(excinfo.value)
