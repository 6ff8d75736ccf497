"""The verdict on a wheel's claim, from its per-distro observations and its predicted floor (pure).

Observed results decide where the matrix covers the claimed range; the static prediction speaks
for the part it does not cover, and where the two disagree the verdict says so.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from .observe import Cause, Observation, Outcome
from .tags import Claim, ClaimKind, Libc, LibcVersion, honest_tag


class Kind(str, enum.Enum):
    """What the verdict says about the claim."""

    OVER_CLAIM = "over-claim"  #: some distro at or above the claimed floor fails (or is predicted to)
    HONEST = "honest"  #: works from the claim up, and not below it
    UNDER_CLAIM = "under-claim"  #: works below the claimed floor too: a lower tag would be true
    UNTESTABLE = "untestable"  #: no distro could judge it, and nothing was predicted
    NO_CLAIM = "no-claim"  #: ``linux_*`` or pure: the tags promise no floor


@dataclass(frozen=True)
class Prediction:
    """What static analysis of the ELF files predicts (a summary of static.py's report)."""

    #: the lowest libc floor whose policy satisfies every need of the wheel, or None if unknown
    floor: LibcVersion | None
    #: the need that sets that floor, e.g. "pkg/_core.so needs GLIBC_2.34 (close_range)"
    reason: str = ""
    #: needs that only weak references carry: the wheel may work below ``floor``
    weak: tuple[str, ...] = ()
    #: problems static analysis alone can see (non-policy libraries, arch mismatch, bad ELF)
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verdict:
    """The judgement on one wheel."""

    kind: Kind
    claim: Claim
    #: the lowest distro (by libc version) where the wheel worked
    lowest_working: Observation | None
    #: the tag the evidence supports, e.g. ``manylinux_2_34_x86_64``
    honest_tag: str | None
    #: the part of the claimed range no distro of the matrix covered, e.g. "glibc 2.17–2.22"
    uncovered: str | None
    #: which evidence decided: ``observed``, ``predicted``, ``observed+predicted`` or ``none``
    decided_by: str
    #: distros at or above the claim that failed
    failing: tuple[Observation, ...]
    #: distros below the claim where the wheel worked
    working_below: tuple[Observation, ...]
    #: where observation and prediction disagree: the most useful lines of a report
    disagreements: tuple[str, ...]
    #: the verdict line
    summary: str
    prediction: Prediction | None = None

    @property
    def failed(self) -> bool:
        return self.kind is Kind.OVER_CLAIM

    def to_json(self) -> dict[str, Any]:
        low = self.lowest_working
        return {
            "verdict": self.kind.value,
            "summary": self.summary,
            "lowest_working": (
                {"distro": low.distro, "libc_version": str(low.libc_version) if low.libc_version else None}
                if low
                else None
            ),
            "honest_tag": self.honest_tag,
            "uncovered": self.uncovered,
            "decided_by": self.decided_by,
            "disagreements": list(self.disagreements),
            "predicted": (
                {
                    "floor": str(self.prediction.floor) if self.prediction.floor else None,
                    "reason": self.prediction.reason,
                    "weak": list(self.prediction.weak),
                    "problems": list(self.prediction.problems),
                }
                if self.prediction
                else None
            ),
        }


def _below(version: LibcVersion) -> LibcVersion:
    return LibcVersion(version.major, version.minor - 1) if version.minor > 0 else version


def _uncovered(claim: Claim, tested: Sequence[Observation]) -> str | None:
    floor = claim.floor
    versions = [o.libc_version for o in tested if o.libc_version is not None]
    if floor is None or claim.libc is None:
        return None
    name = claim.libc.value
    if not versions:
        return f"{name} {floor} and up"
    lowest = min(versions)
    if lowest <= floor:
        return None
    top = _below(lowest)
    return f"{name} {floor}" if top == floor else f"{name} {floor}–{top}"


def _versioned(observations: Iterable[Observation], libc: Libc | None) -> list[Observation]:
    return sorted(
        (o for o in observations if o.libc_version is not None and (libc is None or o.libc is libc)),
        key=lambda o: (o.libc_version, o.distro),
    )


def judge(claim: Claim, observations: Iterable[Observation], prediction: Prediction | None = None) -> Verdict:
    """Judge a claim from observations (any order) and an optional static prediction."""
    observations = tuple(observations)
    libc = claim.libc or Libc.GLIBC
    ok = _versioned((o for o in observations if o.outcome is Outcome.OK), libc)
    failed = _versioned((o for o in observations if o.outcome is Outcome.FAIL), libc)
    tested = sorted(ok + failed, key=lambda o: (o.libc_version, o.distro))
    lowest = ok[0] if ok else None
    floor = claim.floor
    predicted = prediction.floor if prediction else None
    disagreements: list[str] = []

    # Where the prediction and the observations disagree, the report says so.
    if predicted is not None:
        for o in ok:
            assert o.libc_version is not None
            if o.libc_version < predicted:
                weak = f" (weak references: {', '.join(prediction.weak)})" if prediction and prediction.weak else ""
                disagreements.append(
                    f"predicted to need {libc.value} {predicted} ({prediction.reason}) but works on "
                    f"{o.distro} ({libc.value} {o.libc_version}){weak}"
                )
                break
        for o in failed:
            assert o.libc_version is not None
            if o.libc_version >= predicted:
                disagreements.append(
                    f"predicted to work from {libc.value} {predicted} but fails on {o.distro} "
                    f"({libc.value} {o.libc_version}): {o.cause.value if o.cause else 'failure'}: {o.detail}"
                )

    # A pure wheel needs no platform tag at all; a linux_* one is told which tag would be true.
    honest = None if claim.kind is ClaimKind.PURE else _honest_floor(ok, failed, predicted)
    arch = claim.arch or "x86_64"
    tag = honest_tag(libc, honest, arch) if honest is not None else None
    uncovered = _uncovered(claim, tested)

    if floor is None:
        kind = Kind.NO_CLAIM
        over: list[Observation] = []
        under: list[Observation] = []
        decided_by = "observed" if tested else ("predicted" if predicted else "none")
    else:
        over = [o for o in failed if o.libc_version is not None and o.libc_version >= floor]
        under = [o for o in ok if o.libc_version is not None and o.libc_version < floor]
        # The prediction decides the range no distro covered: the claimed floor up to the lowest tested.
        predicted_over = (
            predicted is not None
            and predicted > floor
            and not any(o.libc_version is not None and floor <= o.libc_version < predicted for o in ok)
        )
        if over:
            kind, decided_by = Kind.OVER_CLAIM, "observed+predicted" if predicted_over else "observed"
        elif predicted_over:
            kind, decided_by = Kind.OVER_CLAIM, "predicted"
        elif under:
            kind, decided_by = Kind.UNDER_CLAIM, "observed"
        elif tested:
            kind, decided_by = Kind.HONEST, "observed" if not uncovered or predicted is None else "observed+predicted"
        elif predicted is not None:
            kind, decided_by = Kind.HONEST, "predicted"
        else:
            kind, decided_by = Kind.UNTESTABLE, "none"

    verdict = Verdict(
        kind=kind,
        claim=claim,
        lowest_working=lowest,
        honest_tag=tag,
        uncovered=uncovered,
        decided_by=decided_by,
        failing=tuple(over),
        working_below=tuple(under),
        disagreements=tuple(disagreements),
        summary="",
        prediction=prediction,
    )
    return _with_summary(verdict, observations)


def _honest_floor(
    ok: Sequence[Observation], failed: Sequence[Observation], predicted: LibcVersion | None
) -> LibcVersion | None:
    """The lowest floor the evidence supports.

    Observed: the lowest working distro's libc. A prediction sharpens it when it falls between the
    highest failing distro below that and the lowest working one (the matrix has a gap there).
    """
    if not ok:
        return predicted if not failed else None
    lowest = ok[0].libc_version
    assert lowest is not None
    below = [o.libc_version for o in failed if o.libc_version is not None and o.libc_version < lowest]
    ceiling_of_failures = max(below) if below else None
    if predicted is not None and predicted <= lowest and (ceiling_of_failures is None or predicted > ceiling_of_failures):
        return predicted
    return lowest


def _with_summary(verdict: Verdict, observations: Sequence[Observation]) -> Verdict:
    claim = verdict.claim
    low = verdict.lowest_working
    family = (claim.libc or low.libc).value if (claim.libc or (low and low.libc)) else "libc"  # type: ignore[union-attr]
    works = f"lowest working: {low.distro} ({family} {low.libc_version})" if low else "works on no distro of the matrix"
    parts = []
    if verdict.kind is Kind.OVER_CLAIM:
        if verdict.failing:
            first = verdict.failing[0]
            cause = first.cause.value if first.cause else "failure"
            parts.append(
                f"OVER-CLAIM: {claim.platform.tag} promises {claim.libc.value if claim.libc else ''} {claim.floor} "
                f"but it fails on {first.distro} ({first.libc_version}): {cause}"
            )
        else:
            assert verdict.prediction is not None
            parts.append(
                f"OVER-CLAIM (predicted): {claim.platform.tag} promises {claim.floor} but "
                f"{verdict.prediction.reason}; the matrix does not cover {verdict.uncovered}"
            )
    elif verdict.kind is Kind.UNDER_CLAIM:
        family = claim.libc.value if claim.libc else "libc"
        parts.append(f"UNDER-CLAIM: {claim.platform.tag} promises {family} {claim.floor} but it also works below it")
    elif verdict.kind is Kind.HONEST:
        parts.append(f"HONEST: {claim.platform.tag} holds")
    elif verdict.kind is Kind.NO_CLAIM:
        parts.append(f"NO CLAIM: {claim.describe()}")
    else:
        reasons = sorted({f"{o.distro}: {o.detail}" for o in observations if o.outcome is Outcome.SKIPPED})
        why = "; ".join(reasons[:3]) if reasons else "no distro was selected"
        parts.append(f"UNTESTABLE: no distro could judge it ({why})")
    parts.append(works)
    if verdict.honest_tag and verdict.kind is not Kind.HONEST:
        parts.append(f"honest tag: {verdict.honest_tag}")
    if verdict.uncovered:
        parts.append(f"{verdict.uncovered} not covered")
    parts.append(f"decided by: {verdict.decided_by}")
    summary = "; ".join(parts)
    return Verdict(**{**verdict.__dict__, "summary": summary})


def is_failure(verdict: Verdict, strict: bool) -> bool:
    """Whether the verdict fails the run: over-claims always, under-claims under --manylinux-strict."""
    return verdict.kind is Kind.OVER_CLAIM or (strict and verdict.kind is Kind.UNDER_CLAIM)


__all__ = ["Cause", "Kind", "Prediction", "Verdict", "is_failure", "judge"]
