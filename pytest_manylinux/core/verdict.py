"""The verdict on a wheel's claim, from its per-distro observations and its predicted floor (pure).

Observed results decide where the matrix covers the claimed range; the static prediction speaks
for the part it does not cover, and where the two disagree the verdict says so.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .observe import SET_ASIDE, Cause, Finding, Observation, Outcome, summarized
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

    #: the libc version the symbols need: the highest ``GLIBC_`` version asked for (``GLIBC_2.18`` -> 2.18),
    #: or None when no file asks for one. A distro below it should fail; one at or above it may work.
    floor: LibcVersion | None
    #: the need that sets that floor, e.g. "close_range in pkg/_core.so needs GLIBC_2.34"
    reason: str = ""
    #: needs that only weak references carry: the wheel may work below ``floor``
    weak: tuple[str, ...] = ()
    #: problems static analysis alone can see (non-policy libraries, arch mismatch, bad ELF)
    problems: tuple[str, ...] = ()
    #: the lowest policy floor whose symbol versions allow every need (libstdc++ ones too): it decides the
    #: honest tag, never whether a distro refutes the prediction
    policy: LibcVersion | None = None
    #: what the claimed tag's policy does not allow beyond glibc versions (``GLIBCXX_``/``CXXABI_``/``GCC_``
    #: versions, system libraries off its allow-list, the other C library), one message each, naming file
    #: and symbol or library: true of the distros the claim names even where the matrix has none of them
    over: tuple[str, ...] = ()
    #: the libc version from which the loader refuses what older ones load (an executable stack: glibc
    #: 2.41 refuses to dlopen it), or None: the claim promises those distros too, so unless one of them
    #: judged the wheel, the prediction decides
    refused_from: LibcVersion | None = None
    #: what is refused from ``refused_from`` on, one message per file
    refused: tuple[str, ...] = ()
    #: what a user should know that is no problem of the claim (a symlink member installed as a file)
    notes: tuple[str, ...] = ()
    #: symbols an extension of a ``cp3X-abi3`` wheel uses beyond 3.X's stable ABI, one message each, naming
    #: file and symbol: a broken promise about interpreters, not about the platform tag
    abi3: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "floor": str(self.floor) if self.floor else None,
            "reason": self.reason,
            "policy": str(self.policy) if self.policy else None,
            "over": list(self.over),
            "weak": list(self.weak),
            "problems": list(self.problems),
            "refused_from": str(self.refused_from) if self.refused_from else None,
            "refused": list(self.refused),
            "notes": list(self.notes),
            "abi3": list(self.abi3),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Prediction:
        return cls(
            floor=LibcVersion.parse(data["floor"]) if data.get("floor") else None,
            reason=str(data.get("reason", "")),
            weak=tuple(str(w) for w in data.get("weak", [])),
            problems=tuple(str(p) for p in data.get("problems", [])),
            policy=LibcVersion.parse(data["policy"]) if data.get("policy") else None,
            over=tuple(str(o) for o in data.get("over", [])),
            refused_from=LibcVersion.parse(data["refused_from"]) if data.get("refused_from") else None,
            refused=tuple(str(r) for r in data.get("refused", [])),
            notes=tuple(str(n) for n in data.get("notes", [])),
            abi3=tuple(str(a) for a in data.get("abi3", [])),
        )


@dataclass(frozen=True)
class OwnException:
    """A Python exception at import that the platform does not explain: the wheel's own behaviour."""

    #: the module whose import raised it
    module: str
    #: the exception, e.g. ``ImportError: cannot import name '_psutil_aix' from 'psutil'``
    exception: str
    #: the distros where it was raised
    distros: tuple[str, ...]
    #: ``own`` (compared across distros: not the platform's doing) or ``inconclusive`` (no other distro
    #: tried the module: run the others, or ``combine`` the jobs that did)
    assessment: str
    #: why, in a sentence
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "module": self.module,
            "exception": self.exception,
            "distros": list(self.distros),
            "assessment": self.assessment,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class SetAside:
    """Modules no distro judged for a reason outside the wheel (a missing dependency, an interpreter that
    cannot run their code); the distros were judged on everything else."""

    #: why, as the probe's evidence said it
    reason: str
    #: the modules, in order
    modules: tuple[str, ...]
    #: where
    distros: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"reason": self.reason, "modules": list(self.modules), "distros": list(self.distros)}


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
    #: the observations as judged, in the order given: exceptions the platform explains counted as failures
    #: (:func:`assess`); the order is the caller's, so it takes no part in comparing verdicts
    observations: tuple[Observation, ...] = field(default=(), compare=False)
    #: Python exceptions the platform does not explain: the wheel's own behaviour, never an over-claim
    exceptions: tuple[OwnException, ...] = ()
    #: modules set aside on some distros (missing dependencies, interpreters that cannot run them)
    set_aside: tuple[SetAside, ...] = ()

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
            "predicted": self.prediction.to_json() if self.prediction else None,
            "exceptions": [e.to_json() for e in self.exceptions],
            "set_aside": [a.to_json() for a in self.set_aside],
        }


# -- what counts as evidence -----------------------------------------------------------------------------


def _untried(o: Observation, module: str) -> bool:
    """Whether ``module`` was not imported on ``o``: a finding of its own, or a package around it hung (a
    hang in Python code is an exception to compare: :data:`Cause.EXCEPTION`)."""
    for f in o.findings:
        if f.check != "import":
            continue
        if f.target == module:
            return True
        if f.cause in (Cause.TIMEOUT, Cause.EXCEPTION) and module.startswith(f.target + "."):
            return True
    return False


def _exception_text(f: Finding) -> str:
    prefix = f"import {f.target}: "
    return f.evidence[len(prefix) :] if f.evidence.startswith(prefix) else f.evidence


@dataclass(frozen=True)
class Assessment:
    """Observations judged against each other: what a distro alone cannot tell."""

    #: every observation, exceptions the platform explains counted as failures
    observations: tuple[Observation, ...]
    #: exceptions the platform does not explain
    exceptions: tuple[OwnException, ...]
    #: modules set aside, grouped by reason
    set_aside: tuple[SetAside, ...]


def assess(observations: Iterable[Observation]) -> Assessment:
    """Compare the distros' Python exceptions (pure).

    A Python exception at import counts against the tag only when the platform explains it: the same module
    imports on another distro of the same libc family with a *newer* libc, under the same interpreter
    version and kind (a portable CPython 3.11 on both, say). Raised wherever the module was tried, or only
    under other interpreters, it is the wheel's own behaviour; tried on one distro alone, it is inconclusive
    (a CI job that ran one distro: ``combine`` judges it with the others).
    """
    raw = [o.raw() for o in observations]
    checked = [o for o in raw if o.checked]
    raised: dict[str, list[tuple[Observation, Finding]]] = {}
    for o in checked:
        for f in o.findings:
            if f.cause is Cause.EXCEPTION:
                raised.setdefault(f.target, []).append((o, f))
    counted: dict[str, list[tuple[str, str]]] = {}
    own: dict[tuple[str, str], list[Observation]] = {}
    reasons: dict[tuple[str, str], str] = {}
    wording: dict[tuple[str, str], str] = {}
    for module, raising in raised.items():
        names = {o.distro for o, _ in raising}
        worked = [o for o in checked if o.distro not in names and not _untried(o, module)]
        for o, f in raising:
            same = [
                w
                for w in worked
                if o.python is not None
                and w.python == o.python
                and w.libc is o.libc
                and w.libc_version is not None
                and o.libc_version is not None
                and w.libc_version > o.libc_version
            ]
            if same:
                newer = min(same, key=lambda w: (w.libc_version, w.distro))
                counted.setdefault(o.distro, []).append((module, newer.distro))
                continue
            # One entry per module and exception type: interpreters word the same error differently
            # (3.7 added "from 'pkg' (path)" to "cannot import name"); the first wording is shown.
            text = _exception_text(f)
            key = (module, text.split(":", 1)[0])
            own.setdefault(key, []).append(o)
            wording.setdefault(key, text)
            if len(raising) + len(worked) <= 1:
                reasons[key] = "inconclusive"
            elif not worked:
                reasons.setdefault(key, "raised on every distro where the module was tried")
            else:
                reasons[key] = (
                    "not raised everywhere, but never where the same Python imports it on a newer platform"
                )
    judged = tuple(
        summarized(replace(o, counted=tuple(counted[o.distro]))) if o.distro in counted else o for o in raw
    )
    exceptions = tuple(
        OwnException(
            key[0],
            wording[key],
            tuple(o.distro for o in where),
            "inconclusive" if reasons[key] == "inconclusive" else "own",
            "only one distro tried this module: compare it with others (run them, or combine the jobs)"
            if reasons[key] == "inconclusive"
            else reasons[key],
        )
        for key, where in own.items()
    )
    return Assessment(judged, exceptions, _set_aside(raw))


def _set_aside(observations: Iterable[Observation]) -> tuple[SetAside, ...]:
    groups: dict[str, tuple[list[str], list[str]]] = {}
    for o in observations:
        for f in o.findings:
            if f.cause in SET_ASIDE:
                modules, distros = groups.setdefault(f.evidence, ([], []))
                if f.target not in modules:
                    modules.append(f.target)
                if o.distro not in distros:
                    distros.append(o.distro)
    return tuple(SetAside(reason, tuple(m), tuple(d)) for reason, (m, d) in groups.items())


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
    """Judge a claim from observations (in any order) and an optional static prediction.

    The observations are first judged against each other (:func:`assess`): a Python exception counts only
    where the platform explains it.
    """
    assessment = assess(observations)
    observations = assessment.observations
    libc = claim.libc or Libc.GLIBC
    ok = _versioned((o for o in observations if o.outcome is Outcome.OK), libc)
    failed = _versioned((o for o in observations if o.outcome is Outcome.FAIL), libc)
    tested = sorted(ok + failed, key=lambda o: (o.libc_version, o.distro))
    lowest = ok[0] if ok else None
    floor = claim.floor
    predicted = prediction.floor if prediction else None
    # What the files need in all (libstdc++ too), as the lowest policy that allows it: the floor above which a
    # failure is a surprise, and what sharpens the honest tag.
    needed = (prediction.policy if prediction and prediction.policy else None) or predicted
    disagreements: list[str] = []

    # Where the prediction and the observations disagree, the report says so. Only a distro below the
    # version the symbols need refutes the prediction; the policy's floor is no prediction of that.
    if prediction is not None and predicted is not None:
        for o in ok:
            assert o.libc_version is not None
            if o.libc_version < predicted:
                weak = f" (weak references: {', '.join(prediction.weak)})" if prediction.weak else ""
                disagreements.append(
                    f"predicted to need {libc.value} {predicted} ({prediction.reason}) but works on "
                    f"{o.distro} ({libc.value} {o.libc_version}){weak}"
                )
                break
    refused_from = prediction.refused_from if prediction and claim.libc is libc else None
    if prediction is not None and refused_from is not None:
        for o in ok:
            assert o.libc_version is not None
            if o.libc_version >= refused_from:
                disagreements.append(
                    f"predicted to be refused from {libc.value} {refused_from} ({prediction.refused[0]}) "
                    f"but works on {o.distro} ({libc.value} {o.libc_version})"
                )
                break
    if needed is not None:
        for o in failed:
            assert o.libc_version is not None
            if o.libc_version >= needed:
                disagreements.append(
                    f"predicted to work from {libc.value} {needed} but fails on {o.distro} "
                    f"({libc.value} {o.libc_version}): {o.cause.value if o.cause else 'failure'}: {o.detail}"
                )

    # A pure wheel needs no platform tag at all; a linux_* one is told which tag would be true.
    honest = None if claim.kind is ClaimKind.PURE else _honest_floor(ok, failed, needed)
    arch = claim.arch or "x86_64"
    tag = honest_tag(libc, honest, arch) if honest is not None else None
    uncovered = _uncovered(claim, tested)

    if floor is None:
        kind = Kind.NO_CLAIM
        over: list[Observation] = []
        under: list[Observation] = []
        decided_by = "observed" if tested else ("predicted" if needed else "none")
    else:
        over = [o for o in failed if o.libc_version is not None and o.libc_version >= floor]
        under = [o for o in ok if o.libc_version is not None and o.libc_version < floor]
        # The prediction decides the range no distro covered: the claimed floor up to the lowest tested.
        # A glibc need above the claim holds unless a distro below the needed version works; a libstdc++ (or
        # other) version the claim's policy lacks holds for the distros the claim names, where the matrix
        # has none (a distro the matrix does have speaks for itself).
        predicted_over = (
            predicted is not None
            and predicted > floor
            and not any(o.libc_version is not None and floor <= o.libc_version < predicted for o in ok)
        ) or (bool(prediction and prediction.over) and uncovered is not None)
        # What the loader refuses from a version on (an executable stack from glibc 2.41) breaks the promise
        # of every claim below it, unless a distro at or above that version judged the wheel.
        predicted_refused = refused_from is not None and not any(
            o.libc_version is not None and o.libc_version >= refused_from for o in tested
        )
        predicted_over = predicted_over or predicted_refused
        if predicted_refused:
            tag = None  # refused from a version on: no floor holds above it either
        if over:
            kind, decided_by = Kind.OVER_CLAIM, "observed+predicted" if predicted_over else "observed"
        elif predicted_over:
            kind, decided_by = Kind.OVER_CLAIM, "predicted"
        elif under:
            kind, decided_by = Kind.UNDER_CLAIM, "observed"
        elif tested:
            kind, decided_by = (
                Kind.HONEST,
                "observed" if not uncovered or needed is None else "observed+predicted",
            )
        elif needed is not None:
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
        observations=observations,
        exceptions=assessment.exceptions,
        set_aside=assessment.set_aside,
    )
    return _with_summary(verdict, observations)


def _honest_floor(
    ok: Sequence[Observation], failed: Sequence[Observation], predicted: LibcVersion | None
) -> LibcVersion | None:
    """The lowest floor the evidence supports, or None when no floor does.

    Observed: the lowest working distro's libc. A prediction sharpens it when it falls between the
    highest failing distro below that and the lowest working one (the matrix has a gap there). A distro
    at or above the lowest working one that fails (an executable stack glibc 2.41 refuses) is a failure
    no floor tag can promise away: there is no honest floor.
    """
    if not ok:
        return predicted if not failed else None
    lowest = ok[0].libc_version
    assert lowest is not None
    if any(o.libc_version is not None and o.libc_version >= lowest for o in failed):
        return None
    below = [o.libc_version for o in failed if o.libc_version is not None and o.libc_version < lowest]
    ceiling_of_failures = max(below) if below else None
    if (
        predicted is not None
        and predicted <= lowest
        and (ceiling_of_failures is None or predicted > ceiling_of_failures)
    ):
        return predicted
    return lowest


def _with_summary(verdict: Verdict, observations: Sequence[Observation]) -> Verdict:
    claim = verdict.claim
    low = verdict.lowest_working
    family = (claim.libc or low.libc).value if (claim.libc or (low and low.libc)) else "libc"  # type: ignore[union-attr]
    works = (
        f"lowest working: {low.distro} ({family} {low.libc_version})"
        if low
        else "works on no distro of the matrix"
    )
    parts = []
    if verdict.kind is Kind.OVER_CLAIM:
        if verdict.failing:
            first = verdict.failing[0]
            cause = first.cause.value if first.cause else "failure"
            parts.append(
                f"OVER-CLAIM: {claim.platform.tag} promises "
                f"{claim.libc.value if claim.libc else ''} {claim.floor} "
                f"but it fails on {first.distro} ({first.libc_version}): {cause}"
            )
        else:
            prediction = verdict.prediction
            assert prediction is not None
            glibc = (
                prediction.floor is not None and claim.floor is not None and prediction.floor > claim.floor
            )
            if glibc or (prediction.over and verdict.uncovered):
                why = prediction.reason if glibc or not prediction.over else prediction.over[0]
                parts.append(
                    f"OVER-CLAIM (predicted): {claim.platform.tag} promises {claim.floor} but "
                    f"{why}; the matrix does not cover {verdict.uncovered}"
                )
            else:
                family = claim.libc.value if claim.libc else "libc"
                refused = prediction.refused[0] if prediction.refused else "a newer loader refuses it"
                parts.append(
                    f"OVER-CLAIM (predicted): {claim.platform.tag} promises {family} {claim.floor} and newer "
                    f"but {refused}; no distro of the matrix at {family} {prediction.refused_from} or newer "
                    "judged it"
                )
    elif verdict.kind is Kind.UNDER_CLAIM:
        family = claim.libc.value if claim.libc else "libc"
        parts.append(
            f"UNDER-CLAIM: {claim.platform.tag} promises {family} {claim.floor} but it also works below it"
        )
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
    elif verdict.kind is Kind.OVER_CLAIM and low is not None:
        # No floor holds: a failure above a distro where it works, or a loader that refuses it from a version.
        assert low.libc_version is not None
        above = [
            o for o in verdict.failing if o.libc_version is not None and o.libc_version >= low.libc_version
        ]
        refused_from = verdict.prediction.refused_from if verdict.prediction else None
        if above:
            first = above[0]
            where = f"{first.distro} ({family} {first.libc_version})"
            parts.append(f"no honest tag: it fails on {where}, above where it works")
        elif refused_from is not None:
            parts.append(f"no honest tag: refused from {family} {refused_from} on")
    if verdict.uncovered:
        parts.append(f"{verdict.uncovered} not covered")
    parts.append(f"decided by: {verdict.decided_by}")
    summary = "; ".join(parts)
    return replace(verdict, summary=summary)


def is_failure(verdict: Verdict, strict: bool) -> bool:
    """Whether the verdict fails the run: over-claims always, under-claims under --manylinux-strict."""
    return verdict.kind is Kind.OVER_CLAIM or (strict and verdict.kind is Kind.UNDER_CLAIM)


__all__ = [
    "Assessment",
    "Cause",
    "Kind",
    "OwnException",
    "Prediction",
    "SetAside",
    "Verdict",
    "assess",
    "is_failure",
    "judge",
]
