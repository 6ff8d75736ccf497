"""Static analysis of whole wheels: predicted floors, vendored needs, problems, agreement with auditwheel."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

import pytest
import wheelfactory
from test_elf import member_bytes, weaken

from pytest_manylinux.core.elf import ElfFacts, VersionNeed, read_elf
from pytest_manylinux.core.static import (
    ProblemKind,
    StaticReport,
    analyze,
    build_report,
    format_report,
    predict,
)
from pytest_manylinux.core.tags import Libc, LibcVersion, read_claim
from pytest_manylinux.core.verdict import judge
from pytest_manylinux.core.wheel import read_wheel

_X86 = "x86_64"

# case -> (predicted tag, the need that sets the glibc floor, the problems of its own claim)
EXPECTED: dict[str, tuple[str | None, str | None, list[ProblemKind]]] = {
    "honest": ("manylinux_2_5_x86_64", "GLIBC_2.2.5", []),
    "glibc_new": ("manylinux_2_34_x86_64", "GLIBC_2.34", [ProblemKind.GLIBC]),
    "cxx_new": ("manylinux_2_34_x86_64", None, [ProblemKind.SYMBOL_VERSION]),
    "underclaim": ("manylinux_2_5_x86_64", "GLIBC_2.2.5", []),
    "missing_lib": (None, None, [ProblemKind.LIBRARY]),
    "undefined": ("manylinux_2_5_x86_64", None, []),
    "vendored": ("manylinux_2_34_x86_64", "GLIBC_2.34", [ProblemKind.GLIBC]),
    "executable": ("manylinux_2_34_x86_64", "GLIBC_2.34", [ProblemKind.GLIBC]),
    "execstack": ("manylinux_2_5_x86_64", "GLIBC_2.2.5", [ProblemKind.EXEC_STACK]),
    "nonpolicy": (None, None, [ProblemKind.LIBRARY]),
    "weak": ("manylinux_2_34_x86_64", "GLIBC_2.34", [ProblemKind.GLIBC]),
    "pure": (None, None, []),
    "linux_tag": ("manylinux_2_5_x86_64", "GLIBC_2.2.5", []),
    "cp311": ("manylinux_2_5_x86_64", "GLIBC_2.2.5", []),
    "aarch64": ("manylinux_2_17_aarch64", None, []),
    "corrupt_elf": ("manylinux_2_5_x86_64", "GLIBC_2.2.5", [ProblemKind.UNREADABLE]),
    "symlink": ("manylinux_2_5_x86_64", "GLIBC_2.2.5", []),
    "abi3_beyond": ("manylinux_2_5_x86_64", "GLIBC_2.2.5", [ProblemKind.ABI3, ProblemKind.ABI3]),
}


def report_of(wheel: Path) -> StaticReport:
    return analyze(read_wheel(wheel))


@pytest.mark.parametrize("case", list(EXPECTED), ids=list(EXPECTED))
def test_factory_wheels(case: str, wheels: dict[str, Path]) -> None:
    tag, floor, kinds = EXPECTED[case]
    report = report_of(wheels[case])
    assert report.predicted_tag == tag
    assert (report.glibc_floor.version_name if report.glibc_floor else None) == floor
    assert [p.kind for p in report.check()] == kinds
    json.dumps(report.to_json())  # JSON-ready
    assert report.wheel in format_report(report)


def test_floor_names_file_and_symbol(wheels: dict[str, Path]) -> None:
    report = report_of(wheels["glibc_new"])
    floor = report.glibc_floor
    assert floor is not None
    assert (floor.version, floor.file, floor.symbol, floor.weak) == (
        LibcVersion(2, 34),
        "pm_glibc_new/_core.abi3.so",
        "close_range",
        False,
    )
    (problem,) = report.check()
    assert "claims glibc 2.17" in problem.message
    assert "pm_glibc_new/_core.abi3.so needs GLIBC_2.34 (close_range)" in problem.message
    assert problem.file == "pm_glibc_new/_core.abi3.so"


def test_libstdcxx_only_wheel(wheels: dict[str, Path]) -> None:
    """Its glibc needs fit manylinux2014; its libstdc++ needs do not."""
    report = report_of(wheels["cxx_new"])
    cxx = report.libstdcxx
    assert cxx.glibcxx is not None
    assert (cxx.glibcxx.version_name, cxx.glibcxx.symbol, cxx.glibcxx.file) == (
        "GLIBCXX_3.4.29",
        "_ZSt8to_charsPcS_d",
        "pm_cxx_new/_core.abi3.so",
    )
    assert cxx.gcc == "GCC 11"
    assert cxx.policy == LibcVersion(2, 34)
    (problem,) = report.check()
    assert "GCC 11's libstdc++" in problem.message
    assert "manylinux_2_17 allows up to GLIBCXX_3.4.19" in problem.message
    assert "_ZSt8to_charsPcS_d" in format_report(report)


def test_vendored_library_needs_count_but_its_name_does_not(wheels: dict[str, Path]) -> None:
    report = report_of(wheels["vendored"])
    (link,) = report.vendored
    assert (link.file, link.library, link.provider, link.on_search_path) == (
        "pm_vendored/_core.abi3.so",
        "libpm_vendored.so.1",
        "pm_vendored.libs/libpm_vendored.so.1",
        True,
    )
    assert {lib.library for lib in report.system_libraries} == {"libc.so.6"}
    assert not report.non_policy_libraries
    assert report.glibc_floor is not None
    assert report.glibc_floor.file == "pm_vendored.libs/libpm_vendored.so.1"


def test_vendored_library_off_the_search_path_still_counts_as_shipped(wheels: dict[str, Path]) -> None:
    report = report_of(wheels["vendored"])
    moved = {
        "pm_vendored/_core.abi3.so": "site/pm_vendored/_core.abi3.so",
        "pm_vendored.libs/libpm_vendored.so.1": "site/elsewhere/libpm_vendored.so.1",
    }
    again = build_report(report.wheel, report.claim, report.files, install_paths=moved)
    (link,) = again.vendored
    assert not link.on_search_path
    assert again.predicted_policy == LibcVersion(2, 34)


def test_weak_only_need_is_left_out_of_the_floor(wheels: dict[str, Path]) -> None:
    data = weaken(member_bytes(wheels["glibc_new"], "pm_glibc_new/_core.abi3.so"), "GLIBC_2.34")
    facts = read_elf(__import__("io").BytesIO(data), "pkg/_core.so", len(data))
    assert facts is not None
    claim = read_claim("pkg-1.0-cp35-abi3-manylinux2014_x86_64.whl")
    report = build_report("pkg-1.0-cp35-abi3-manylinux2014_x86_64.whl", claim, [facts])
    assert report.glibc_floor is not None
    assert report.glibc_floor.version_name == "GLIBC_2.2.5"
    (weak,) = report.weak_needs
    assert (weak.version_name, weak.symbol, weak.weak) == ("GLIBC_2.34", "close_range", True)
    assert report.predicted_tag == "manylinux_2_5_x86_64"
    assert report.check() == []
    assert "weak, not counted" in format_report(report)


def test_non_policy_library_is_named(wheels: dict[str, Path]) -> None:
    report = report_of(wheels["nonpolicy"])
    assert [(n.file, n.library) for n in report.non_policy_libraries] == [
        ("pm_nonpolicy/_core.abi3.so", "libgomp.so.1")
    ]
    assert report.predicted_policy is None
    assert report.symbol_policy == LibcVersion(2, 5)
    assert "libgomp.so.1" in report.check()[0].message


def test_executable_in_scripts_is_judged(wheels: dict[str, Path]) -> None:
    report = report_of(wheels["executable"])
    assert report.glibc_floor is not None
    assert report.glibc_floor.file == "pm_executable-1.0.data/scripts/pm-tool"
    assert report.glibc_floor.symbol == "__libc_start_main"


def test_arch_mismatch_against_another_claim(wheels: dict[str, Path]) -> None:
    report = report_of(wheels["aarch64"])
    problems = report.check(read_claim("pm_aarch64-1.0-cp35-abi3-manylinux_2_17_x86_64.whl"))
    assert [p.kind for p in problems] == [ProblemKind.ARCH]
    assert "built for aarch64 but the wheel is tagged x86_64" in problems[0].message


def test_compiled_files_in_a_pure_wheel(wheels: dict[str, Path]) -> None:
    report = report_of(wheels["honest"])
    problems = report.check(read_claim("pm_honest-1.0-py3-none-any.whl"))
    assert [p.kind for p in problems] == [ProblemKind.PURE_WITH_ELF]


def test_claim_below_every_policy_of_the_arch(wheels: dict[str, Path]) -> None:
    report = report_of(wheels["aarch64"])
    problems = report.check(read_claim("pm_aarch64-1.0-cp35-abi3-manylinux_2_12_aarch64.whl"))
    assert [p.kind for p in problems] == [ProblemKind.NO_POLICY]
    assert "manylinux_2_17_aarch64" in problems[0].message


def _facts(
    needs: dict[str, list[str]],
    *,
    needed: tuple[str, ...] | None = None,
    path: str = "pkg/_core.so",
    interpreter: str | None = None,
) -> ElfFacts:
    return ElfFacts(
        path=path,
        arch=_X86,
        machine="EM_X86_64",
        elf_class=64,
        little_endian=True,
        elf_type="ET_DYN",
        is_executable=False,
        interpreter=interpreter,
        soname=None,
        needed=needed if needed is not None else tuple(needs),
        rpath=(),
        runpath=(),
        exec_stack=False,
        version_needs=MappingProxyType(
            {
                lib: tuple(VersionNeed(v, symbols=("sym",)) for v in versions)
                for lib, versions in needs.items()
            }
        ),
    )


def _report(tag: str, *facts: ElfFacts) -> StaticReport:
    name = f"pkg-1.0-cp35-abi3-{tag}.whl"
    return build_report(name, read_claim(name), facts)


@pytest.mark.parametrize(
    ("tag", "needs", "needed", "predicted", "kinds"),
    [
        ("manylinux_2_20_x86_64", {"libc.so.6": ["GLIBC_2.18"]}, None, "manylinux_2_24_x86_64", []),
        ("manylinux_2_20_x86_64", {"libc.so.6": ["GLIBC_2.21"]}, None, "manylinux_2_24_x86_64", ["glibc"]),
        ("manylinux2014_x86_64", {"libc.so.6": ["GLIBC_PRIVATE"]}, None, None, ["symbol-version"]),
        (
            "manylinux2014_x86_64",
            {"libc.so.6": ["GLIBC_2.2.5"]},
            ("libmvec.so.1", "libc.so.6"),
            "manylinux_2_24_x86_64",
            ["library"],
        ),
        (
            "manylinux2014_x86_64",
            {"libgcc_s.so.1": ["GCC_7.0.0"]},
            None,
            "manylinux_2_27_x86_64",
            ["symbol-version"],
        ),
        ("manylinux2014_x86_64", {"libfoo.so.1": ["FOO_9"]}, ("libfoo.so.1",), None, ["library"]),
        ("manylinux2014_x86_64", {"ld-linux-x86-64.so.2": ["GLIBC_2.3"]}, None, "manylinux_2_5_x86_64", []),
    ],
    ids=[
        "between-policies-ok",
        "between-policies-over",
        "glibc-private",
        "library-from-later-policy",
        "libgcc-version",
        "unknown-library",
        "loader-is-not-a-library-need",
    ],
)
def test_synthetic_needs(
    tag: str,
    needs: dict[str, list[str]],
    needed: tuple[str, ...] | None,
    predicted: str | None,
    kinds: list[str],
) -> None:
    report = _report(tag, _facts(needs, needed=needed))
    assert report.predicted_tag == predicted
    assert [p.kind.value for p in report.check()] == kinds


def test_musl_wheel() -> None:
    musl = _facts({}, needed=("libc.musl-x86_64.so.1",), interpreter=None)
    report = _report("musllinux_1_1_x86_64", musl)
    assert report.libc is Libc.MUSL
    assert report.predicted_tag == "musllinux_1_1_x86_64"
    assert report.glibc_floor is None
    assert report.check() == []
    glibc_file = _facts({"libc.so.6": ["GLIBC_2.17"]}, path="pkg/_other.so")
    mixed = _report("musllinux_1_1_x86_64", musl, glibc_file)
    assert {p.kind for p in mixed.check()} == {ProblemKind.LIBC, ProblemKind.LIBRARY}


def test_policy_blockers_explain_each_policy(wheels: dict[str, Path]) -> None:
    report = report_of(wheels["glibc_new"])
    policies = report.policies.for_arch(Libc.GLIBC, _X86)
    by_name = {p.name: report.blockers(p) for p in policies}
    assert [b.kind for b in by_name["manylinux_2_31"]] == [ProblemKind.GLIBC]
    assert by_name["manylinux_2_34"] == []


def test_predict_summarises_for_the_verdict(wheels: dict[str, Path]) -> None:
    prediction = predict(read_wheel(wheels["glibc_new"]))
    assert prediction.floor == LibcVersion(2, 34)
    assert prediction.policy == LibcVersion(2, 34)
    assert "close_range" in prediction.reason
    assert (prediction.problems, prediction.over) == ((), ())
    # libgomp's OMP_1.0 is no glibc version: nothing to predict a glibc from; the policy still says 2.5.
    library = predict(read_wheel(wheels["nonpolicy"]))
    assert (library.floor, library.policy) == (None, LibcVersion(2, 5))
    assert library.problems == ()
    assert any("libgomp.so.1" in o for o in library.over)


def test_predict_says_from_which_glibc_an_executable_stack_is_refused(wheels: dict[str, Path]) -> None:
    # The promise covers glibc 2.41 and newer too, which refuse to dlopen it: the verdict needs to know.
    prediction = predict(read_wheel(wheels["execstack"]))
    assert prediction.refused_from == LibcVersion(2, 41)
    [refused] = prediction.refused
    assert "pm_execstack/_core.abi3.so asks for an executable stack" in refused
    assert prediction.problems == prediction.over == ()
    assert predict(read_wheel(wheels["honest"])).refused_from is None


def test_predict_keeps_the_version_the_symbols_need_apart_from_the_policy(wheels: dict[str, Path]) -> None:
    # The honest extension needs GLIBC_2.2.5 at most: the floor is that version, not a policy's 2.5.
    honest = predict(read_wheel(wheels["honest"]))
    assert (honest.floor, honest.policy) == (LibcVersion(2, 2), LibcVersion(2, 5))
    # GLIBCXX_3.4.29 is beyond what manylinux2014 allows: a problem of the claim, named with its symbol.
    cxx = predict(read_wheel(wheels["cxx_new"]))
    assert cxx.policy == LibcVersion(2, 34)
    assert len(cxx.over) == 1
    assert "GLIBCXX_3.4.29" in cxx.over[0]
    assert "_ZSt8to_charsPcS_d" in cxx.over[0]


def test_text_and_json_show_the_same_prediction(wheels: dict[str, Path]) -> None:
    report = report_of(wheels["vendored"])
    data = report.to_json()
    assert data["predicted"]["tag"] == "manylinux_2_34_x86_64"
    assert data["predicted"]["glibc_floor"]["symbol"] == "close_range"
    assert data["vendored"][0]["provider"] == "pm_vendored.libs/libpm_vendored.so.1"
    assert data["ok"] is False
    text = format_report(report, verbose=True)
    assert "manylinux_2_34_x86_64" in text
    assert "RUNPATH $ORIGIN/../pm_vendored.libs" in text
    assert "libpm_vendored.so.1 (in wheel)" in text


def test_the_file_summary_shows_each_library_s_highest_version_of_each_prefix(
    wheels: dict[str, Path],
) -> None:
    # _core.abi3.so asks libc.so.6 for GLIBC_2.34 (close_range), then GLIBC_2.2.5 (strlen, in readelf -V's
    # order): one line for the library, with the highest, whichever came last.
    text = format_report(report_of(wheels["glibc_new"]), verbose=True)
    assert "      libc.so.6: up to GLIBC_2.34 (close_range)\n" in text


# -- agreement with auditwheel's symbol-version policy ------------------------------------------------

AGREEMENT = [
    "honest",
    "glibc_new",
    "cxx_new",
    "vendored",
    "executable",
    "weak",
    "nonpolicy",
    "missing_lib",
    "execstack",
    "cp311",
    "aarch64",
    "undefined",
]


@pytest.mark.parametrize("case", AGREEMENT, ids=AGREEMENT)
def test_symbol_policy_agrees_with_auditwheel(case: str, wheels: dict[str, Path]) -> None:
    auditwheel = shutil.which("auditwheel")
    if auditwheel is None:
        pytest.skip("auditwheel is not installed (pip install 'pytest-manylinux[bench]')")
    done = subprocess.run(
        [auditwheel, "show", "--json", str(wheels[case])],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    theirs = json.loads(done.stdout)
    report = report_of(wheels[case])
    assert set(theirs["external_libs"]) == {n.library for n in report.non_policy_libraries}
    if any(path is not None for path in theirs["external_libs"].values()):
        # auditwheel found the library on this host and counts the versions *it* needs, as they would
        # come with it when grafted; we never look at the host, so there is nothing to compare.
        return
    assert report.symbol_policy is not None
    symbol_tag = f"manylinux_{report.symbol_policy.major}_{report.symbol_policy.minor}_{report.arch}"
    assert theirs["sym_tag"] == symbol_tag
    if not theirs["external_libs"]:
        assert theirs["overall_tag"] == report.predicted_tag


def test_replace_keeps_report_frozen(wheels: dict[str, Path]) -> None:
    report = report_of(wheels["honest"])
    with pytest.raises(AttributeError):
        report.arch = "aarch64"  # type: ignore[misc]
    assert replace(report, arch="aarch64").arch == "aarch64"


_AS_PIP = "installed as pip does, as a file holding its target"


def test_a_library_needing_its_own_soname_provides_it_itself() -> None:
    # freetype and harfbuzz built against each other: a vendored library's DT_NEEDED names its own soname,
    # and the loader answers it with the library itself.
    freetype = replace(
        _facts(
            {}, needed=("libfreetype-402bc0e3.so.6.18.3",), path="pkg.libs/libfreetype-402bc0e3.so.6.18.3"
        ),
        soname="libfreetype-402bc0e3.so.6.18.3",
    )
    report = _report("manylinux2014_x86_64", freetype)
    assert report.system_libraries == ()
    assert [v.provider for v in report.vendored] == ["pkg.libs/libfreetype-402bc0e3.so.6.18.3"]
    assert report.predicted_policy is not None


def test_a_platform_tagged_wheel_without_elf_files_is_predicted_honest(tmp_path: Path) -> None:
    name = "pm_noelf-1.0-py3-none-manylinux2014_x86_64.whl"
    members = {"pm_noelf/__init__.py": b"VALUE = 1\n"}
    members.update(wheelfactory.dist_info("pm_noelf", ["py3-none-manylinux2014_x86_64"], purelib=False))
    wheel = read_wheel(wheelfactory.make_zip(tmp_path / name, members))
    prediction = predict(wheel)
    assert (prediction.floor, prediction.policy) == (None, LibcVersion(2, 5))
    verdict = judge(wheel.claim, [], prediction)
    assert (verdict.kind.value, verdict.decided_by) == ("honest", "predicted")


def test_a_symlink_member_is_judged_with_a_note(wheels: dict[str, Path]) -> None:
    # The link is no ELF file (its bytes are its target's name) and no problem of the claim: a note.
    note = "member pm_symlink/lib/libpm_core.so is a symlink; " + _AS_PIP
    report = report_of(wheels["symlink"])
    assert [f.path for f in report.files] == ["pm_symlink/_core.abi3.so"]
    assert report.notes == (note,)
    assert report.to_json()["notes"] == [note]
    assert f"  note: {note}" in format_report(report).splitlines()
    prediction = predict(read_wheel(wheels["symlink"]))
    assert prediction.notes == (note,)
    assert prediction.to_json()["notes"] == [note]
    assert judge(read_claim(wheels["symlink"].name), [], prediction).prediction == prediction


def test_the_analyzer_keeps_the_order_given(wheels: dict[str, Path], tmp_path: Path) -> None:
    # Wheels are read side by side, largest first; the results come back in the order given, an unreadable
    # wheel in its place.
    from pytest_manylinux.core.static import Analyzer

    broken = tmp_path / "pm_broken-1.0-py3-none-any.whl"
    broken.write_bytes(b"not a zip")
    paths = [wheels["honest"], wheels["cxx_new"], broken, wheels["vendored"], wheels["symlink"]]
    results = list(Analyzer(workers=3).run(paths))
    assert [a.path for a in results] == paths
    assert [a.report.wheel if a.report else None for a in results] == [
        p.name if p != broken else None for p in paths
    ]
    assert results[2].error is not None
    assert str(broken) in str(results[2].error)
    for a in results:
        if a.wheel is not None:
            assert a.report == report_of(a.path)


def test_abi3_symbols_beyond_the_claimed_stable_abi_are_named(wheels: dict[str, Path]) -> None:
    report = report_of(wheels["abi3_beyond"])
    problems = [p for p in report.check() if p.kind is ProblemKind.ABI3]
    assert [(p.file, p.message.split(" uses ")[1].split(",")[0]) for p in problems] == [
        ("pm_abi3_beyond/_core.abi3.so", "PyUnicode_AsUTF8"),
        ("pm_abi3_beyond/_core.abi3.so", "PyUnicode_AsUTF8AndSize"),
    ]
    assert "which is not in CPython's stable ABI" in problems[0].message
    assert "in the stable ABI only from CPython 3.10" in problems[1].message
    assert [p["kind"] for p in report.to_json()["problems"]] == ["abi3", "abi3"]
    assert "PyUnicode_AsUTF8AndSize" in format_report(report)
    prediction = predict(read_wheel(wheels["abi3_beyond"]))
    assert prediction.abi3 == tuple(p.message for p in problems)
    assert prediction.to_json()["abi3"] == [p.message for p in problems]
    # The same file under a cp310-abi3 claim keeps 3.10's promise; a cp311-cp311 wheel makes none.
    cp310 = read_claim(wheels["abi3_beyond"].name.replace("cp35-abi3", "cp310-abi3"))
    assert [
        p.message.split(" uses ")[1].split(",")[0] for p in report.check(cp310) if p.kind is ProblemKind.ABI3
    ] == ["PyUnicode_AsUTF8"]
    cp311 = read_claim(wheels["abi3_beyond"].name.replace("cp35-abi3", "cp311-cp311"))
    assert [p for p in report.check(cp311) if p.kind is ProblemKind.ABI3] == []
    # The honest case is built for 3.5's limited API: it keeps the promise.
    assert [p for p in report_of(wheels["honest"]).check() if p.kind is ProblemKind.ABI3] == []
