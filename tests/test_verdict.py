"""verdict.py: ``judge`` on hand-built observations of the default matrix (a pure function: no engine)."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from conftest import MATRIX

from pytest_manylinux.observe import Cause, Observation, Outcome
from pytest_manylinux.tags import Claim, Libc, LibcVersion, read_claim
from pytest_manylinux.verdict import Kind, Prediction, is_failure, judge

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
        "weak": ["close_range"],
        "problems": ["p"],
    }
    assert data["summary"].startswith("OVER-CLAIM")
