"""The policy data: loaded and validated from policy.json, faithful to auditwheel's, and the GCC table."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_manylinux.core.policy import POLICY_FILE, load_policies, parse_policies
from pytest_manylinux.core.tags import Libc, LibcVersion
from pytest_manylinux.errors import PolicyError


def test_default_table_orders_each_family_by_floor() -> None:
    table = load_policies()
    glibc = [p.version for p in table.policies if p.libc is Libc.GLIBC]
    musl = [p.version for p in table.policies if p.libc is Libc.MUSL]
    assert glibc == sorted(glibc)
    assert glibc[0] == LibcVersion(2, 5)
    assert musl == [LibcVersion(1, 1), LibcVersion(1, 2)]
    assert "auditwheel" in table.source
    assert "gcc.gnu.org" in table.gcc_source


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("manylinux1", "manylinux_2_5"),
        ("manylinux2010", "manylinux_2_12"),
        ("manylinux2014", "manylinux_2_17"),
    ],
    ids=["manylinux1", "manylinux2010", "manylinux2014"],
)
def test_legacy_aliases(name: str, expected: str) -> None:
    assert load_policies().by_name(name).name == expected


def test_unknown_policy_name_is_an_error() -> None:
    with pytest.raises(PolicyError, match="manylinux_3_0"):
        load_policies().by_name("manylinux_3_0")


@pytest.mark.parametrize(
    ("policy", "version", "allowed"),
    [
        ("manylinux_2_17", "GLIBC_2.17", True),
        ("manylinux_2_17", "GLIBC_2.18", False),
        ("manylinux_2_17", "GLIBC_PRIVATE", False),
        ("manylinux_2_17", "GLIBCXX_3.4.19", True),
        ("manylinux_2_17", "GLIBCXX_3.4.20", False),
        ("manylinux_2_34", "GLIBCXX_3.4.29", True),
        ("manylinux_2_28", "CXXABI_1.3.11", True),
        ("manylinux_2_28", "CXXABI_1.3.12", False),
        ("manylinux_2_17", "OPENSSL_3.0.0", True),
    ],
    ids=[
        "glibc-at-floor",
        "glibc-above-floor",
        "glibc-private-never",
        "glibcxx-at-limit",
        "glibcxx-above",
        "gcc11-libstdcxx-in-2_34",
        "cxxabi-at-limit",
        "cxxabi-above",
        "ungoverned-prefix",
    ],
)
def test_allows_version(policy: str, version: str, allowed: bool) -> None:
    assert load_policies().by_name(policy).allows_version("x86_64", version) is allowed


@pytest.mark.parametrize(
    ("policy", "prefix", "expected"),
    [
        ("manylinux_2_17", "GLIBCXX", "GLIBCXX_3.4.19"),
        ("manylinux_2_17", "GLIBC", "GLIBC_2.17"),
        ("manylinux_2_31", "GLIBCXX", "GLIBCXX_3.4.28"),
        ("manylinux_2_5", "ZLIB", None),
    ],
    ids=["2_17-libstdcxx", "2_17-glibc", "2_31-libstdcxx", "2_5-no-zlib"],
)
def test_max_version(policy: str, prefix: str, expected: str | None) -> None:
    assert load_policies().by_name(policy).max_version("x86_64", prefix) == expected


@pytest.mark.parametrize(
    ("soname", "arch", "allowed"),
    [
        ("libc.so.6", "x86_64", True),
        ("libgomp.so.1", "x86_64", False),
        ("libexpat.so.1", "x86_64", True),
        ("libmvec.so.1", "x86_64", False),
    ],
    ids=["libc", "libgomp", "libexpat-from-2_12", "libmvec-from-2_24"],
)
def test_manylinux2014_allow_list(soname: str, arch: str, allowed: bool) -> None:
    assert load_policies().by_name("manylinux2014").allows_library(arch, soname) is allowed


@pytest.mark.parametrize(
    ("arch", "soname", "allowed"),
    [
        ("x86_64", "libc.musl-x86_64.so.1", True),
        ("aarch64", "libc.musl-aarch64.so.1", True),
        ("x86_64", "libc.musl-aarch64.so.1", False),
        ("x86_64", "libc.so.6", False),
    ],
    ids=["x86_64", "aarch64", "other-arch-soname", "glibc-soname"],
)
def test_musl_libc_soname_per_arch(arch: str, soname: str, allowed: bool) -> None:
    assert load_policies().by_name("musllinux_1_2").allows_library(arch, soname) is allowed


@pytest.mark.parametrize(
    ("version", "gcc"),
    [
        ("GLIBCXX_3.4.29", "11.1.0"),
        ("CXXABI_1.3.13", "11.1.0"),
        ("GLIBCXX_3.4.19", "4.8.3"),
        ("GLIBCXX_3.4.28", "9.3.0"),
        ("GLIBCXX_3.4.33", "14.1.0"),
        ("GLIBCXX_3.4.99", None),
        ("GLIBC_2.17", None),
        ("CXXABI_TM_1", None),
    ],
    ids=[
        "gcc11",
        "gcc11-cxxabi",
        "gcc4.8.3",
        "first-of-two",
        "gcc14",
        "unknown",
        "not-libstdcxx",
        "not-numbered",
    ],
)
def test_gcc_release(version: str, gcc: str | None) -> None:
    release = load_policies().gcc_release(version)
    assert (release.gcc if release else None) == gcc


@pytest.mark.parametrize(
    ("distro_glibcxx", "expected_policy"),
    # FIELD-NOTES: Ubuntu 16.04 ships 3.4.21, RHEL 9 3.4.29; the lowest policy allowing each
    [("GLIBCXX_3.4.21", "manylinux_2_24"), ("GLIBCXX_3.4.29", "manylinux_2_34")],
    ids=["3.4.21", "3.4.29"],
)
def test_lowest_policy_for_libstdcxx(distro_glibcxx: str, expected_policy: str) -> None:
    table = load_policies()
    lowest = next(
        p for p in table.for_arch(Libc.GLIBC, "x86_64") if p.allows_version("x86_64", distro_glibcxx)
    )
    assert lowest.name == expected_policy


def test_governing_policy_is_the_highest_not_above_the_floor() -> None:
    table = load_policies()
    governing = table.governing(Libc.GLIBC, "x86_64", LibcVersion(2, 20))
    assert governing is not None
    assert governing.name == "manylinux_2_17"
    assert table.governing(Libc.GLIBC, "aarch64", LibcVersion(2, 12)) is None


@pytest.mark.skipif(
    sys.version_info < (3, 10), reason="auditwheel 6.8.2, the release policy.json copies, needs Python 3.10"
)
def test_data_matches_installed_auditwheel() -> None:
    """policy.json copies auditwheel's symbol versions and allow-lists unchanged (the release it names)."""
    from importlib.metadata import version

    import auditwheel  # a test dependency from Python 3.10 on: there the check runs, never skips

    release = json.loads(POLICY_FILE.read_text())["source"]["version"]
    assert version("auditwheel") == release, "install the auditwheel release policy.json was copied from"
    source = Path(auditwheel.__file__).parent / "policy"
    ours = json.loads(POLICY_FILE.read_text())
    for family in ("manylinux", "musllinux"):
        theirs = {p["name"]: p for p in json.loads((source / f"{family}-policy.json").read_text())}
        for policy in ours[family]:
            assert policy["symbol_versions"] == theirs[policy["name"]]["symbol_versions"], policy["name"]
            assert policy["lib_whitelist"] == theirs[policy["name"]]["lib_whitelist"], policy["name"]
            assert policy["aliases"] == theirs[policy["name"]]["aliases"], policy["name"]
        assert {p["name"] for p in ours[family]} == set(theirs) - {"linux"}


def _document() -> dict[str, Any]:
    return copy.deepcopy(json.loads(POLICY_FILE.read_text()))


def _drop_2_17_library(doc: dict[str, Any]) -> None:
    doc["manylinux"][2]["lib_whitelist"].remove("libz.so.1")


def _drop_2_24_glibc(doc: dict[str, Any]) -> None:
    doc["manylinux"][3]["symbol_versions"]["x86_64"]["GLIBC"].remove("2.17")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("manylinux"), "manylinux"),
        (lambda d: d["manylinux"][0].update(name="manylinux-2-5"), "bad name"),
        (lambda d: d["musllinux"][0].update(name="manylinux_1_1"), "bad name"),
        (lambda d: d["manylinux"][0].update(symbol_versions=[]), "symbol_versions"),
        (lambda d: d["manylinux"][0]["symbol_versions"]["x86_64"].update(GLIBC="2.5"), "list of strings"),
        (lambda d: d["manylinux"][0].update(lib_whitelist=None), "lib_whitelist"),
        (_drop_2_17_library, "drops libraries"),
        (_drop_2_24_glibc, "drops"),
        (lambda d: d["libstdcxx_releases"]["releases"].reverse(), "goes back"),
        (lambda d: d["libstdcxx_releases"]["releases"].append({"gcc": 15}), "gcc/GLIBCXX/CXXABI"),
    ],
    ids=[
        "no-manylinux",
        "bad-name",
        "wrong-family",
        "symbol-versions-not-object",
        "versions-not-list",
        "no-allow-list",
        "later-policy-drops-library",
        "later-policy-drops-version",
        "gcc-table-out-of-order",
        "gcc-entry-malformed",
    ],
)
def test_malformed_policy_data_is_refused(mutate: Any, message: str, tmp_path: Path) -> None:
    doc = _document()
    mutate(doc)
    with pytest.raises(PolicyError, match=message):
        parse_policies(tmp_path / "policy.json", doc)


def test_unreadable_policy_file_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "policy.json"
    bad.write_text("{ not json")
    with pytest.raises(PolicyError, match="not valid JSON"):
        load_policies(bad)
    with pytest.raises(PolicyError, match="cannot read"):
        load_policies(tmp_path / "missing.json")
