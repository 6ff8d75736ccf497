"""verdict.py: ``judge`` on hand-built observations of the default matrix (a pure function: no engine)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

import pytest
from conftest import MATRIX

from pytest_manylinux.core.observe import Cause, Finding, Observation, Outcome, summarized
from pytest_manylinux.core.tags import Claim, Libc, LibcVersion, read_claim
from pytest_manylinux.core.verdict import Kind, Prediction, is_failure, judge

MANYLINUX2014 = "pm_x-1.0-cp35-abi3-manylinux2014_x86_64.manylinux_2_17_x86_64.whl"
#: what the default matrix leaves of manylinux2014's range, as reports print it (with an en dash)
UNCOVERED_2014 = "glibc 2.17\u20132.22"


def _claim(platform: str) -> Claim:
    return read_claim(f"pm_x-1.0-cp35-abi3-{platform}.whl")


def _v(text: str) -> LibcVersion:
    return LibcVersion.parse(text)


def _obs(
    distro: str, glibc: str, outcome: Outcome, cause: Cause | None = None, detail: str = ""
) -> Observation:
    return Observation(
        distro,
        f"img/{distro}",
        outcome,
        cause,
        detail,
        libc=Libc.GLIBC,
        libc_version=LibcVersion.parse(glibc),
    )


def _matrix(
    fails_below: str | None = None, cause: Cause = Cause.GLIBC, detail: str = ""
) -> list[Observation]:
    """The matrix where distros with glibc below ``fails_below`` fail with ``cause``; the rest work."""
    out = []
    for name, glibc in MATRIX:
        if fails_below is not None and _v(glibc) < _v(fails_below):
            out.append(_obs(name, glibc, Outcome.FAIL, cause, detail or f"{name} fails"))
        else:
            out.append(_obs(name, glibc, Outcome.OK))
    return out


def _names(observations: Iterable[Observation]) -> list[str]:
    return [o.distro for o in observations]


# -- honest ---------------------------------------------------------------------------------------


def test_honest_when_it_works_everywhere_from_the_claim_up() -> None:
    verdict = judge(read_claim(MANYLINUX2014), _matrix())
    assert verdict.kind is Kind.HONEST
    assert verdict.decided_by == "observed"
    assert verdict.failing == ()
    assert verdict.working_below == ()
    assert verdict.lowest_working is not None
    assert verdict.lowest_working.distro == "ubuntu-16.04"
    assert verdict.uncovered == UNCOVERED_2014
    assert verdict.disagreements == ()
    assert not verdict.failed
    assert verdict.summary.startswith(
        "HONEST: manylinux2014_x86_64 holds; lowest working: ubuntu-16.04 (glibc 2.23)"
    )
    assert f"{UNCOVERED_2014} not covered" in verdict.summary


def test_failures_below_the_floor_alone_are_not_an_over_claim() -> None:
    # glibc_new claiming what it needs: it fails on 2.23..2.31, below its 2.34 floor, and that is the promise.
    verdict = judge(_claim("manylinux_2_34_x86_64"), _matrix(fails_below="2.34"))
    assert verdict.kind is Kind.HONEST
    assert verdict.failing == ()
    assert verdict.uncovered is None  # distros below the floor were tested
    assert verdict.lowest_working is not None
    assert verdict.lowest_working.distro == "ubuntu-22.04"
    assert not is_failure(verdict, strict=True)


def test_observations_arrive_in_any_order() -> None:
    observations = _matrix(fails_below="2.34")
    forward = judge(read_claim(MANYLINUX2014), observations)
    backward = judge(read_claim(MANYLINUX2014), reversed(observations))
    assert forward == backward
    assert _names(forward.failing) == ["ubuntu-16.04", "ubuntu-18.04", "debian-11", "ubuntu-20.04"]


# -- over-claim -----------------------------------------------------------------------------------


def test_over_claim_observed() -> None:
    observations = _matrix(fails_below="2.34", detail="import pm_x._core: libc.so.6 lacks GLIBC_2.34")
    verdict = judge(read_claim(MANYLINUX2014), observations)
    assert verdict.kind is Kind.OVER_CLAIM
    assert verdict.failed
    assert verdict.decided_by == "observed"
    assert _names(verdict.failing) == ["ubuntu-16.04", "ubuntu-18.04", "debian-11", "ubuntu-20.04"]
    assert verdict.honest_tag == "manylinux_2_35_x86_64"
    assert verdict.summary.startswith(
        "OVER-CLAIM: manylinux2014_x86_64 promises glibc 2.17 but it fails on ubuntu-16.04 (2.23): glibc"
    )
    assert "honest tag: manylinux_2_35_x86_64" in verdict.summary
    assert is_failure(verdict, strict=False)


def test_one_failure_at_the_top_of_the_range_is_an_over_claim() -> None:
    # execstack: glibc 2.41 refuses what older ones load; the floor is not the problem, the promise is.
    observations = _matrix()
    observations[-1] = _obs("debian-13", "2.41", Outcome.FAIL, Cause.ERROR, "refuses its executable stack")
    verdict = judge(read_claim(MANYLINUX2014), observations)
    assert verdict.kind is Kind.OVER_CLAIM
    assert _names(verdict.failing) == ["debian-13"]
    assert verdict.lowest_working is not None
    assert verdict.lowest_working.distro == "ubuntu-16.04"


EXEC_STACK = Prediction(
    LibcVersion(2, 14),
    reason="pm_x/_core.abi3.so needs GLIBC_2.14 (memcpy)",
    refused_from=LibcVersion(2, 41),
    refused=("pm_x/_core.abi3.so asks for an executable stack (PT_GNU_STACK with PF_X): ...",),
)


def test_refused_from_a_version_the_matrix_did_not_judge_is_a_predicted_over_claim() -> None:
    # An executable stack: glibc 2.41 refuses to dlopen it. Only distros below 2.41 judged the wheel (no
    # interpreter for its tags on Debian 13, or --manylinux-static-only): the prediction decides.
    below = [o for o in _matrix() if o.libc_version is not None and o.libc_version < _v("2.41")]
    for observations in (below, []):
        verdict = judge(read_claim(MANYLINUX2014), observations, EXEC_STACK)
        assert verdict.kind is Kind.OVER_CLAIM, verdict.summary
        assert verdict.decided_by == "predicted"
        assert "executable stack" in verdict.summary
        assert "no distro of the matrix at glibc 2.41 or newer judged it" in verdict.summary
        # no floor tag is honest: a newer glibc refuses it whatever the claim
        assert verdict.honest_tag is None
        assert "; honest tag:" not in verdict.summary
    assert (
        "no honest tag: refused from glibc 2.41 on"
        in judge(read_claim(MANYLINUX2014), below, EXEC_STACK).summary
    )
    assert Prediction.from_json(EXEC_STACK.to_json()) == EXEC_STACK


def test_refused_from_a_version_the_matrix_judged_is_decided_by_that_distro() -> None:
    failing = _matrix()
    failing[-1] = _obs("debian-13", "2.41", Outcome.FAIL, Cause.ERROR, "refuses its executable stack")
    verdict = judge(read_claim(MANYLINUX2014), failing, EXEC_STACK)
    assert (verdict.kind, _names(verdict.failing)) == (Kind.OVER_CLAIM, ["debian-13"])
    # It works from ubuntu-16.04 up to Debian 12: no floor tag promises what fails above that.
    assert verdict.honest_tag is None
    assert "; honest tag:" not in verdict.summary
    assert "no honest tag: it fails on debian-13 (glibc 2.41), above where it works" in verdict.summary
    # Debian 13 loaded it (the library is never dlopened, say): the observation refutes the prediction.
    verdict = judge(read_claim(MANYLINUX2014), _matrix(), EXEC_STACK)
    assert verdict.kind is Kind.HONEST
    assert any("predicted to be refused from glibc 2.41" in d for d in verdict.disagreements)


def test_works_nowhere() -> None:
    observations = [_obs(n, g, Outcome.FAIL, Cause.CRASH, "killed by SIGABRT") for n, g in MATRIX]
    verdict = judge(read_claim(MANYLINUX2014), observations)
    assert verdict.kind is Kind.OVER_CLAIM
    assert verdict.lowest_working is None
    assert verdict.honest_tag is None
    assert "works on no distro of the matrix" in verdict.summary


def test_over_claim_predicted_in_the_uncovered_range() -> None:
    # Claims 2.17, needs 2.18 by static analysis; the matrix starts at 2.23, where it works.
    prediction = Prediction(
        LibcVersion(2, 18), reason="pm_x/_core.abi3.so needs GLIBC_2.18 (__cxa_thread_atexit_impl)"
    )
    verdict = judge(read_claim(MANYLINUX2014), _matrix(), prediction)
    assert verdict.kind is Kind.OVER_CLAIM
    assert verdict.decided_by == "predicted"
    assert verdict.failing == ()
    assert verdict.uncovered == UNCOVERED_2014
    assert verdict.honest_tag == "manylinux_2_18_x86_64"
    assert verdict.disagreements == ()
    assert verdict.summary.startswith(
        "OVER-CLAIM (predicted): manylinux2014_x86_64 promises 2.17 but "
        "pm_x/_core.abi3.so needs GLIBC_2.18 (__cxa_thread_atexit_impl); "
        f"the matrix does not cover {UNCOVERED_2014}"
    )
    assert "decided by: predicted" in verdict.summary
    assert is_failure(verdict, strict=False)


def test_over_claim_observed_and_predicted() -> None:
    prediction = Prediction(LibcVersion(2, 34), reason="needs GLIBC_2.34 (close_range)")
    verdict = judge(read_claim(MANYLINUX2014), _matrix(fails_below="2.34"), prediction)
    assert verdict.kind is Kind.OVER_CLAIM
    assert verdict.decided_by == "observed+predicted"
    assert verdict.disagreements == ()  # they agree


def test_prediction_at_the_floor_is_no_over_claim() -> None:
    prediction = Prediction(LibcVersion(2, 17), reason="needs GLIBC_2.17")
    verdict = judge(read_claim(MANYLINUX2014), _matrix(), prediction)
    assert verdict.kind is Kind.HONEST
    assert verdict.decided_by == "observed+predicted"  # the prediction speaks for 2.17 to 2.22
    assert verdict.honest_tag == "manylinux_2_17_x86_64"


# -- under-claim ----------------------------------------------------------------------------------


def test_under_claim() -> None:
    verdict = judge(_claim("manylinux_2_35_x86_64"), _matrix())
    assert verdict.kind is Kind.UNDER_CLAIM
    assert verdict.decided_by == "observed"
    assert _names(verdict.working_below) == ["ubuntu-16.04", "ubuntu-18.04", "debian-11", "ubuntu-20.04"]
    assert verdict.honest_tag == "manylinux_2_23_x86_64"
    assert verdict.summary.startswith(
        "UNDER-CLAIM: manylinux_2_35_x86_64 promises glibc 2.35 but it also works below it"
    )
    assert "honest tag: manylinux_2_23_x86_64" in verdict.summary
    assert not verdict.failed


# -- untestable and no claim ------------------------------------------------------------------------


def test_untestable_when_every_distro_skipped() -> None:
    observations = [
        Observation(
            n,
            f"img/{n}",
            Outcome.SKIPPED,
            Cause.PYTHON,
            f"no interpreter on {n}",
            libc=Libc.GLIBC,
            libc_version=LibcVersion.parse(g),
        )
        for n, g in MATRIX
    ]
    verdict = judge(read_claim(MANYLINUX2014), observations)
    assert verdict.kind is Kind.UNTESTABLE
    assert verdict.decided_by == "none"
    assert verdict.lowest_working is None
    assert verdict.honest_tag is None
    assert verdict.uncovered == "glibc 2.17 and up"  # skipped distros cover nothing
    assert verdict.summary.startswith(
        "UNTESTABLE: no distro could judge it (debian-11: no interpreter on debian-11;"
    )
    assert not is_failure(verdict, strict=True)


def test_untestable_without_any_observation() -> None:
    verdict = judge(read_claim(MANYLINUX2014), [])
    assert verdict.kind is Kind.UNTESTABLE
    assert "no distro was selected" in verdict.summary


def test_prediction_alone_decides_when_every_distro_skipped() -> None:
    observations = [Observation("debian-12", "img", Outcome.SKIPPED, Cause.IMAGE, "pull failed")]
    verdict = judge(
        read_claim(MANYLINUX2014), observations, Prediction(LibcVersion(2, 5), reason="needs GLIBC_2.2.5")
    )
    assert verdict.kind is Kind.HONEST
    assert verdict.decided_by == "predicted"


@pytest.mark.parametrize(
    ("filename", "says"),
    [
        ("pm_x-1.0-cp35-abi3-linux_x86_64.whl", "is tagged linux_x86_64: it makes no portability claim"),
        ("pm_x-1.0-py3-none-any.whl", "is a pure wheel (any): it makes no platform claim"),
    ],
    ids=["linux", "pure"],
)
def test_no_claim(filename: str, says: str) -> None:
    observations = _matrix(fails_below="2.27", cause=Cause.MISSING_LIBRARY)
    verdict = judge(read_claim(filename), observations)
    assert verdict.kind is Kind.NO_CLAIM
    assert verdict.failing == ()
    assert verdict.working_below == ()
    assert verdict.uncovered is None
    assert verdict.summary.startswith(f"NO CLAIM: {filename} {says}")
    assert not is_failure(verdict, strict=True)


def test_pure_wheel_gets_no_manylinux_tag() -> None:
    # A pure wheel has no platform code: telling it to use manylinux_2_23_x86_64 would make it worse.
    verdict = judge(read_claim("pm_x-1.0-py3-none-any.whl"), _matrix())
    assert verdict.kind is Kind.NO_CLAIM
    assert verdict.honest_tag is None
    assert "honest tag" not in verdict.summary


def test_musl_claim_is_not_judged_by_glibc_distros() -> None:
    verdict = judge(_claim("musllinux_1_2_x86_64"), _matrix(fails_below="2.41"))
    assert verdict.kind is Kind.UNTESTABLE
    assert verdict.failing == ()
    assert verdict.uncovered == "musl 1.2 and up"


# -- the uncovered range ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "uncovered"),
    [
        ("manylinux2014_x86_64", UNCOVERED_2014),
        ("manylinux_2_22_x86_64", "glibc 2.22"),
        ("manylinux_2_23_x86_64", None),
        ("manylinux_2_28_x86_64", None),
    ],
    ids=["range", "one-version", "floor-tested", "floor-above-oldest"],
)
def test_uncovered(platform: str, uncovered: str | None) -> None:
    assert judge(_claim(platform), _matrix()).uncovered == uncovered


# -- the honest tag -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("predicted", "honest"),
    [
        (None, "manylinux_2_35_x86_64"),
        ("2.34", "manylinux_2_34_x86_64"),  # between the highest failing (2.31) and lowest working (2.35)
        ("2.31", "manylinux_2_35_x86_64"),  # contradicted: 2.31 was seen failing
        ("2.28", "manylinux_2_35_x86_64"),  # contradicted: below a failing distro
        ("2.36", "manylinux_2_35_x86_64"),  # above the lowest working: the observation wins
    ],
    ids=["observed", "sharpened", "at-failing", "below-failing", "above-working"],
)
def test_honest_tag(predicted: str | None, honest: str) -> None:
    prediction = Prediction(_v(predicted), reason="static") if predicted else None
    verdict = judge(_claim("manylinux_2_34_x86_64"), _matrix(fails_below="2.34"), prediction)
    assert verdict.honest_tag == honest


def test_honest_tag_keeps_the_arch() -> None:
    observations = [_obs("ubuntu-22.04", "2.35", Outcome.OK)]
    assert judge(_claim("manylinux_2_35_aarch64"), observations).honest_tag == "manylinux_2_35_aarch64"


# -- disagreements ----------------------------------------------------------------------------------


def test_disagreement_predicted_too_new_but_observed_fine() -> None:
    prediction = Prediction(
        LibcVersion(2, 34), reason="needs GLIBC_2.34 (close_range)", weak=("close_range",)
    )
    verdict = judge(read_claim(MANYLINUX2014), _matrix(), prediction)
    assert verdict.kind is Kind.HONEST
    assert verdict.disagreements == (
        "predicted to need glibc 2.34 (needs GLIBC_2.34 (close_range)) "
        "but works on ubuntu-16.04 (glibc 2.23) "
        "(weak references: close_range)",
    )
    assert verdict.honest_tag == "manylinux_2_23_x86_64"


def test_disagreement_predicted_fine_but_observed_failing() -> None:
    observations = _matrix(fails_below="2.27", cause=Cause.MISSING_LIBRARY, detail="libgomp.so.1 not found")
    verdict = judge(
        read_claim(MANYLINUX2014), observations, Prediction(LibcVersion(2, 17), reason="GLIBC_2.17")
    )
    assert verdict.kind is Kind.OVER_CLAIM
    assert verdict.disagreements == (
        "predicted to work from glibc 2.17 but fails on ubuntu-16.04 (glibc 2.23): "
        "missing-library: libgomp.so.1 not found",
    )


def test_no_disagreement_when_failures_are_below_the_prediction() -> None:
    prediction = Prediction(LibcVersion(2, 34), reason="needs GLIBC_2.34")
    verdict = judge(_claim("manylinux_2_34_x86_64"), _matrix(fails_below="2.34"), prediction)
    assert verdict.disagreements == ()


# -- is_failure -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "fails_below", "strict", "failure"),
    [
        ("manylinux2014_x86_64", "2.34", False, True),
        ("manylinux2014_x86_64", "2.34", True, True),
        ("manylinux_2_35_x86_64", None, False, False),
        ("manylinux_2_35_x86_64", None, True, True),
        ("manylinux2014_x86_64", None, True, False),
        ("linux_x86_64", "2.34", True, False),
    ],
    ids=[
        "over-claim",
        "over-claim-strict",
        "under-claim",
        "under-claim-strict",
        "honest-strict",
        "no-claim-strict",
    ],
)
def test_is_failure(platform: str, fails_below: str | None, strict: bool, failure: bool) -> None:
    verdict = judge(_claim(platform), _matrix(fails_below=fails_below))
    assert is_failure(verdict, strict=strict) is failure


def test_verdict_to_json() -> None:
    prediction = Prediction(
        LibcVersion(2, 34), reason="needs GLIBC_2.34", weak=("close_range",), problems=("p",)
    )
    data = judge(read_claim(MANYLINUX2014), _matrix(fails_below="2.34"), prediction).to_json()
    assert data["verdict"] == "over-claim"
    assert data["lowest_working"] == {"distro": "ubuntu-22.04", "libc_version": "2.35"}
    assert data["honest_tag"] == "manylinux_2_34_x86_64"
    assert data["uncovered"] == UNCOVERED_2014
    assert data["decided_by"] == "observed+predicted"
    assert data["predicted"] == {
        "floor": "2.34",
        "reason": "needs GLIBC_2.34",
        "policy": None,
        "over": [],
        "weak": ["close_range"],
        "problems": ["p"],
        "refused_from": None,
        "refused": [],
        "notes": [],
        "abi3": [],
    }
    assert Prediction.from_json(data["predicted"]) == prediction
    assert (data["exceptions"], data["set_aside"]) == ([], [])
    assert data["summary"].startswith("OVER-CLAIM")


# -- rule 4: the version the symbols need, apart from the policy ---------------------------------------------

# A C++11 thread_local built into a manylinux1 wheel: __cxa_thread_atexit_impl needs GLIBC_2.18; the lowest
# policy allowing it is manylinux_2_24. Ubuntu 16.04 (2.23) working says nothing about glibc 2.5 to 2.17.
_THREAD_ATEXIT = Prediction(
    LibcVersion(2, 18),
    reason="__cxa_thread_atexit_impl in pm_x/_core.so needs GLIBC_2.18",
    policy=LibcVersion(2, 24),
)


def test_a_need_below_the_matrix_is_an_over_claim_decided_by_prediction() -> None:
    verdict = judge(_claim("manylinux1_x86_64"), _matrix(), _THREAD_ATEXIT)
    assert verdict.kind is Kind.OVER_CLAIM
    assert verdict.decided_by == "predicted"
    assert verdict.uncovered == "glibc 2.5\u20132.22"
    assert "__cxa_thread_atexit_impl" in verdict.summary
    assert "GLIBC_2.18" in verdict.summary
    # 16.04 working does not refute "needs 2.18": it is above 2.18.
    assert verdict.disagreements == ()
    assert verdict.lowest_working is not None
    assert verdict.lowest_working.distro == "ubuntu-16.04"


def test_a_distro_below_the_needed_version_that_works_refutes_the_prediction() -> None:
    # A distro at 2.17 (say CentOS 7) working although the symbols ask for 2.18: a weak reference, say.
    observations = [_obs("centos-7", "2.17", Outcome.OK), *_matrix()]
    verdict = judge(_claim("manylinux2014_x86_64"), observations, _THREAD_ATEXIT)
    assert verdict.kind is Kind.HONEST
    assert verdict.disagreements == (
        "predicted to need glibc 2.18 (__cxa_thread_atexit_impl in pm_x/_core.so needs GLIBC_2.18) "
        "but works on "
        "centos-7 (glibc 2.17)",
    )


def test_a_need_within_the_claim_is_no_over_claim() -> None:
    verdict = judge(_claim("manylinux_2_24_x86_64"), _matrix(), _THREAD_ATEXIT)
    assert verdict.kind is Kind.UNDER_CLAIM  # it works on 16.04 (2.23), below the 2.24 it claims
    assert verdict.failing == ()


_GLIBCXX_21 = Prediction(
    LibcVersion(2, 14),
    reason="memcpy in pm_x/_core.so needs GLIBC_2.14",
    policy=LibcVersion(2, 24),
    over=(
        "manylinux2014_x86_64: pm_x/_core.so needs GLIBCXX_3.4.21 "
        "(_ZNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEE"
        "C1Ev), GCC 5's libstdc++, but manylinux_2_17 allows up to GLIBCXX_3.4.19",
    ),
)


def test_a_libstdcxx_need_beyond_the_claim_s_policy_decides_the_uncovered_range() -> None:
    # Ubuntu 16.04's libstdc++ has GLIBCXX_3.4.21, CentOS 7's (the distro manylinux2014 names) does not.
    verdict = judge(_claim("manylinux2014_x86_64"), _matrix(), _GLIBCXX_21)
    assert verdict.kind is Kind.OVER_CLAIM
    assert verdict.decided_by == "predicted"
    assert "GLIBCXX_3.4.21" in verdict.summary
    assert verdict.disagreements == ()


def test_a_libstdcxx_need_beyond_the_policy_is_judged_by_the_matrix_where_it_covers_the_claim() -> None:
    # manylinux_2_23 names Ubuntu 16.04's glibc, and 16.04 runs it: the matrix speaks for the claim.
    verdict = judge(_claim("manylinux_2_23_x86_64"), _matrix(), _GLIBCXX_21)
    assert verdict.kind is Kind.HONEST
    assert verdict.decided_by == "observed"


# -- rule 1: a Python exception counts only where the platform explains it ---------------------------------


def _checked(
    distro: str, glibc: str, python: str, origin: str, *raised: str, untried: tuple[str, ...] = ()
) -> Observation:
    """A distro whose checks ran with ``python`` (X.Y.Z, origin); ``raised`` modules raised an exception."""
    findings = tuple(
        Finding(
            "import", module, Cause.EXCEPTION, f"import {module}: ImportError: cannot import name '_x'", "tb"
        )
        for module in raised
    ) + tuple(
        Finding(
            "import", module, Cause.TIMEOUT, f"import {module}: import did not finish within 4 seconds", ""
        )
        for module in untried
    )
    observation = Observation(
        distro,
        f"img/{distro}",
        Outcome.OK,
        libc=Libc.GLIBC,
        libc_version=LibcVersion.parse(glibc),
        findings=findings,
        interpreter=f"/py ({python}, {origin})",
    )
    return summarized(observation)


def test_an_exception_raised_everywhere_is_the_wheel_s_own_behaviour() -> None:
    observations = [_checked(name, glibc, "3.11.2", "portable", "pm_x._aix") for name, glibc in MATRIX]
    verdict = judge(read_claim(MANYLINUX2014), observations)
    assert verdict.kind is Kind.HONEST
    assert verdict.failing == ()
    assert [o.outcome for o in verdict.observations] == [Outcome.OK] * len(MATRIX)
    [own] = verdict.exceptions
    assert (own.module, own.assessment) == ("pm_x._aix", "own")
    assert own.exception == "ImportError: cannot import name '_x'"
    assert own.distros == tuple(name for name, _ in MATRIX)
    assert own.reason == "raised on every distro where the module was tried"


def test_an_exception_only_where_the_platform_is_older_under_the_same_python_counts() -> None:
    # The same portable CPython 3.11 everywhere; the module raises only below glibc 2.31.
    observations = [
        _checked(
            name,
            glibc,
            "3.11.2",
            "portable",
            *(["pm_x.fast"] if LibcVersion.parse(glibc) < _v("2.31") else []),
        )
        for name, glibc in MATRIX
    ]
    verdict = judge(read_claim(MANYLINUX2014), observations)
    assert verdict.kind is Kind.OVER_CLAIM
    assert _names(verdict.failing) == ["ubuntu-16.04", "ubuntu-18.04"]
    first = verdict.failing[0]
    assert first.cause is Cause.ERROR
    # the oldest distro where it works (of two with glibc 2.31, the first by name)
    assert first.counted == (("pm_x.fast", "debian-11"),)
    assert first.detail == (
        "import pm_x.fast: ImportError: cannot import name '_x' "
        "(the same import works on debian-11 with the same Python)"
    )
    assert verdict.exceptions == ()
    assert verdict.honest_tag == "manylinux_2_31_x86_64"


def test_an_exception_under_another_python_alone_does_not_count() -> None:
    # abi3 judged by each distro's own python: 3.5 raises (old stdlib), 3.6 and up import it.
    pythons = ["3.5.2", "3.6.9", "3.8.10", "3.9.2", "3.10.12", "3.11.2", "3.12.3", "3.13.5"]
    observations = [
        _checked(name, glibc, python, "distro", *(["pm_x.typing"] if python.startswith("3.5") else []))
        for (name, glibc), python in zip(MATRIX, pythons)
    ]
    verdict = judge(read_claim(MANYLINUX2014), observations)
    assert verdict.kind is Kind.HONEST
    [own] = verdict.exceptions
    assert (own.distros, own.assessment) == (("ubuntu-16.04",), "own")
    assert own.reason.startswith("not raised everywhere")


def test_an_exception_only_where_the_platform_is_newer_does_not_count() -> None:
    observations = [
        _checked(name, glibc, "3.11.2", "portable", *(["pm_x.new"] if name == "debian-13" else []))
        for name, glibc in MATRIX
    ]
    verdict = judge(read_claim(MANYLINUX2014), observations)
    assert verdict.kind is Kind.HONEST
    assert [e.distros for e in verdict.exceptions] == [("debian-13",)]


def test_a_portable_and_a_distro_python_of_the_same_version_are_not_compared() -> None:
    # The portable CPython lacks what a distro's build has (ssl, ...): its exceptions are no platform
    # evidence.
    observations = [
        _checked("ubuntu-16.04", "2.23", "3.11.2", "portable", "pm_x.net"),
        _checked("debian-12", "2.36", "3.11.2", "distro"),
    ]
    verdict = judge(read_claim(MANYLINUX2014), observations)
    assert verdict.kind is Kind.HONEST
    assert [e.module for e in verdict.exceptions] == ["pm_x.net"]


def test_a_module_not_tried_on_the_newer_distro_is_no_comparison() -> None:
    # On debian-12 the package around pm_x.sub hung, so pm_x.sub was never imported there.
    observations = [
        _checked("ubuntu-16.04", "2.23", "3.11.2", "portable", "pm_x.sub"),
        _checked("debian-12", "2.36", "3.11.2", "portable", untried=("pm_x",)),
    ]
    verdict = judge(read_claim(MANYLINUX2014), observations)
    assert _names(verdict.failing) == ["debian-12"]  # the hang itself, not the exception
    [own] = verdict.exceptions
    assert own.assessment == "inconclusive"


def _python_hang(module: str) -> Finding:
    evidence = (
        f"import {module}: hang: import did not finish within 4 seconds, in Python code "
        '(File "pm_x/demo.py", line 9 in main_loop)'
    )
    return Finding("import", module, Cause.EXCEPTION, evidence, "Current thread 0x...")


def test_a_hang_in_python_code_wherever_tried_is_the_wheel_s_own_behaviour() -> None:
    # An example script's event loop runs at import, on every distro: reported, never held against the tag.
    observations = [
        replace(o, findings=(_python_hang("pm_x.demo"),))
        for o in (_checked(n, g, "3.11.2", "portable") for n, g in MATRIX)
    ]
    verdict = judge(read_claim(MANYLINUX2014), [summarized(o) for o in observations])
    assert verdict.kind is Kind.HONEST
    [own] = verdict.exceptions
    assert (own.module, own.assessment) == ("pm_x.demo", "own")
    assert own.exception.startswith("hang: import did not finish within 4 seconds, in Python code")


def test_a_hang_in_python_code_the_platform_explains_counts_as_a_timeout() -> None:
    observations = []
    for name, glibc in MATRIX:
        o = _checked(name, glibc, "3.11.2", "portable")
        if LibcVersion.parse(glibc) < _v("2.28"):
            o = summarized(replace(o, findings=(_python_hang("pm_x.backend"),)))
        observations.append(o)
    verdict = judge(read_claim(MANYLINUX2014), observations)
    assert verdict.kind is Kind.OVER_CLAIM
    assert _names(verdict.failing) == ["ubuntu-16.04", "ubuntu-18.04"]
    assert {o.cause for o in verdict.failing} == {Cause.TIMEOUT}
    assert verdict.failing[0].detail.endswith("(the same import works on debian-11 with the same Python)")
    assert verdict.exceptions == ()


def test_a_module_inside_a_package_hung_in_python_code_was_not_tried() -> None:
    observations = [
        _checked("ubuntu-16.04", "2.23", "3.11.2", "portable", "pm_x.sub"),
        summarized(
            replace(_checked("debian-12", "2.36", "3.11.2", "portable"), findings=(_python_hang("pm_x"),))
        ),
    ]
    verdict = judge(read_claim(MANYLINUX2014), observations)
    # pm_x.sub never ran on debian-12: no comparison, so nothing counts against the tag; pm_x hung on
    # the newer distro only, never where the platform is older
    assert verdict.kind is Kind.HONEST
    assert sorted((e.module, e.assessment) for e in verdict.exceptions) == [
        ("pm_x", "own"),
        ("pm_x.sub", "inconclusive"),
    ]


def test_one_distro_alone_cannot_compare_and_combining_jobs_can() -> None:
    old = _checked("ubuntu-16.04", "2.23", "3.11.2", "portable", "pm_x.fast")
    new = _checked("debian-13", "2.41", "3.11.2", "portable")
    alone = judge(read_claim(MANYLINUX2014), [old])
    assert alone.kind is Kind.HONEST
    [own] = alone.exceptions
    assert own.assessment == "inconclusive"
    assert "combine" in own.reason
    # The job's JSON carries the raw finding; the combined judgement counts it.
    reloaded = Observation.from_json(alone.observations[0].to_json())
    both = judge(read_claim(MANYLINUX2014), [reloaded, Observation.from_json(new.to_json())])
    assert both.kind is Kind.OVER_CLAIM
    assert both.exceptions == ()
    # Judging the judged observations again changes nothing (the JSON of a run is combined as it is).
    again = judge(read_claim(MANYLINUX2014), [Observation.from_json(o.to_json()) for o in both.observations])
    assert again == both
    assert [o.to_json() for o in again.observations] == [o.to_json() for o in both.observations]


def test_set_aside_modules_are_gathered_across_distros() -> None:
    def aside(distro: str, glibc: str) -> Observation:
        finding = Finding(
            "import",
            "pm_x.torch",
            Cause.MISSING_DEPENDENCY,
            "ImportError: Required package 'torch' not installed",
            "",
        )
        return Observation(
            distro, f"img/{distro}", Outcome.OK, libc=Libc.GLIBC, libc_version=_v(glibc), findings=(finding,)
        )

    verdict = judge(read_claim(MANYLINUX2014), [aside(name, glibc) for name, glibc in MATRIX])
    assert verdict.kind is Kind.HONEST
    [group] = verdict.set_aside
    assert group.modules == ("pm_x.torch",)
    assert group.distros == tuple(name for name, _ in MATRIX)
    assert verdict.to_json()["set_aside"] == [
        {
            "reason": "ImportError: Required package 'torch' not installed",
            "modules": ["pm_x.torch"],
            "distros": [name for name, _ in MATRIX],
        }
    ]
