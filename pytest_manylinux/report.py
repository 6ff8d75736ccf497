"""Reports: per-wheel results gathered from observations, as a terminal table, JSON and markdown (pure).

Observations arrive one at a time (from items, from xdist workers' reports, or from JSON files of
several CI jobs); results are keyed by the wheel's sha256, so the same wheel at different paths is
one wheel. Formatting returns strings; the caller writes them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from . import __version__
from .errors import ResultsError
from .observe import Observation, Outcome
from .tags import Claim, read_claim
from .verdict import Kind, Prediction, Verdict, judge

SCHEMA = "pytest-manylinux/1"


@dataclass(frozen=True)
class WheelResult:
    """Everything known about one wheel at the end of a run."""

    file: str
    sha256: str
    claim: Claim
    observations: tuple[Observation, ...]
    verdict: Verdict
    #: errors that stopped the wheel from being judged at all (bad zip, ...)
    errors: tuple[str, ...] = ()


@dataclass
class Results:
    """Observations collected during a run (or from several runs), keyed by wheel hash."""

    #: the distro order of the matrix, for stable tables
    order: list[str] = field(default_factory=list)
    _files: dict[str, str] = field(default_factory=dict)
    _observations: dict[str, dict[str, Observation]] = field(default_factory=dict)
    _predictions: dict[str, Prediction] = field(default_factory=dict)
    _errors: dict[str, list[str]] = field(default_factory=dict)
    #: wheels that could not be read, by file name, with their errors
    unreadable: dict[str, list[str]] = field(default_factory=dict)

    def add_wheel(self, sha256: str, file: str) -> None:
        self._files.setdefault(sha256, file)
        self._observations.setdefault(sha256, {})

    def add(self, sha256: str, file: str, observation: Observation) -> None:
        self.add_wheel(sha256, file)
        self._observations[sha256][observation.distro] = observation
        if observation.distro not in self.order:
            self.order.append(observation.distro)

    def add_prediction(self, sha256: str, file: str, prediction: Prediction) -> None:
        self.add_wheel(sha256, file)
        self._predictions[sha256] = prediction

    def add_error(self, sha256: str, file: str, message: str) -> None:
        self.add_wheel(sha256, file)
        if message not in self._errors.setdefault(sha256, []):
            self._errors[sha256].append(message)

    def add_unreadable(self, file: str, message: str) -> None:
        """A wheel that could not be read at all: reported, never judged."""
        if message not in self.unreadable.setdefault(file, []):
            self.unreadable[file].append(message)

    def __bool__(self) -> bool:
        return bool(self._files or self.unreadable)

    def wheels(self) -> list[WheelResult]:
        results = []
        rank = {name: i for i, name in enumerate(self.order)}
        for sha256, file in self._files.items():
            claim = read_claim(file)
            observations = sorted(
                self._observations.get(sha256, {}).values(), key=lambda o: (rank.get(o.distro, len(rank)), o.distro)
            )
            verdict = judge(claim, observations, self._predictions.get(sha256))
            results.append(WheelResult(file, sha256, claim, tuple(observations), verdict, tuple(self._errors.get(sha256, []))))
        return results

    # -- JSON in and out ----------------------------------------------------------------------

    def load_json(self, document: Any, source: str) -> None:
        """Merge a document written by :func:`to_json` (a CI job's results)."""
        if not isinstance(document, dict) or not isinstance(document.get("wheels"), list):
            raise ResultsError(f"{source}: not a pytest-manylinux results file (no 'wheels' list)")
        schema = document.get("schema")
        if schema != SCHEMA:
            raise ResultsError(f"{source}: schema {schema!r} is not {SCHEMA!r}; was it written by pytest-manylinux?")
        unreadable = document.get("unreadable", [])
        if not isinstance(unreadable, list):
            raise ResultsError(f"{source}: 'unreadable' must be a list, got {type(unreadable).__name__}")
        for i, entry in enumerate(unreadable):
            if not isinstance(entry, dict) or not isinstance(entry.get("errors", []), list):
                raise ResultsError(f"{source}: unreadable[{i}] must be {{'file': ..., 'errors': [...]}}, got {entry!r}")
            for error in entry.get("errors", []):
                self.add_unreadable(str(entry.get("file")), str(error))
        for i, wheel in enumerate(document["wheels"]):
            try:
                sha256, file = str(wheel["sha256"]), str(wheel["file"])
                read_claim(file)
                self.add_wheel(sha256, file)
                for distro in wheel.get("distros", []):
                    self.add(sha256, file, Observation.from_json(distro))
                predicted = wheel.get("predicted") or None
                if predicted is not None and not isinstance(predicted, dict):
                    raise TypeError(f"'predicted' must be an object, got {predicted!r}")
                if predicted:
                    self.add_prediction(sha256, file, prediction_from_json(predicted))
                if not isinstance(wheel.get("errors", []), list):
                    raise TypeError("'errors' must be a list")
                for error in wheel.get("errors", []):
                    self.add_error(sha256, file, str(error))
            except (KeyError, TypeError, ValueError, AttributeError) as e:
                raise ResultsError(f"{source}: wheels[{i}] is malformed ({type(e).__name__}: {e})") from e


def prediction_from_json(data: dict[str, Any]) -> Prediction:
    from .tags import LibcVersion

    return Prediction(
        floor=LibcVersion.parse(data["floor"]) if data.get("floor") else None,
        reason=str(data.get("reason", "")),
        weak=tuple(data.get("weak", [])),
        problems=tuple(data.get("problems", [])),
    )


def to_json(results: Iterable[WheelResult], unreadable: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """The machine-readable report (schema in the README)."""
    wheels = []
    for r in results:
        claim = r.claim
        entry: dict[str, Any] = {
            "file": r.file,
            "sha256": r.sha256,
            "claim": {
                "tag": claim.platform.tag,
                "kind": claim.kind.value,
                "libc": claim.libc.value if claim.libc else None,
                "version": str(claim.floor) if claim.floor else None,
                "arch": claim.arch,
            },
        }
        entry.update(r.verdict.to_json())
        entry["distros"] = [o.to_json() for o in r.observations]
        entry["errors"] = list(r.errors)
        wheels.append(entry)
    return {
        "schema": SCHEMA,
        "tool": {"name": "pytest-manylinux", "version": __version__},
        "wheels": wheels,
        "unreadable": [{"file": f, "errors": list(e)} for f, e in sorted((unreadable or {}).items())],
    }


def dumps(results: Results) -> str:
    return json.dumps(to_json(results.wheels(), results.unreadable), indent=2) + "\n"


# -- terminal -------------------------------------------------------------------------------

_MARK = {Outcome.OK: "ok", Outcome.FAIL: "FAIL", Outcome.SKIPPED: "skip"}


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def python_column(interpreter: str) -> str:
    """``/usr/bin/python3 (3.5.2, distro)`` -> ``3.5.2 distro``: which interpreter ran the check ("-": none)."""
    match = re.search(r"\(([^,()]+), (\w+)\)$", interpreter)
    return f"{match.group(1)} {match.group(2)}" if match else "-"


def terminal_lines(results: Iterable[WheelResult], width: int = 120, unreadable: dict[str, list[str]] | None = None) -> list[str]:
    """The summary table: per wheel, one line per distro, then the verdict line."""
    lines: list[str] = []
    for file, errors in sorted((unreadable or {}).items()):
        lines.append(f"{file}  UNREADABLE")
        lines += [f"  {e}" for e in errors]
    for r in results:
        claim = r.claim
        promise = f"claims {claim.libc.value} {claim.floor} ({claim.platform.tag})" if claim.floor else f"({claim.platform.tag}: no claim)"
        lines.append(f"{r.file}  {promise}")
        for error in r.errors:
            lines.append(f"  ERROR {error}")
        if r.observations:
            name_w = max(6, *(len(o.distro) for o in r.observations))
            lines.append(f"  {'distro':<{name_w}}  {'libc':<11} {'outcome':<7} {'python':<15} cause: detail")
            for o in r.observations:
                libc = f"{o.libc.value} {o.libc_version}" if o.libc and o.libc_version else "?"
                below = (
                    claim.floor is not None and o.libc_version is not None and o.libc_version < claim.floor
                )
                mark = _MARK[o.outcome] + ("*" if below and o.outcome is Outcome.FAIL else "")
                cause = f"{o.cause.value}: " if o.cause else ""
                python = python_column(o.interpreter)
                # The detail is the evidence: wrapped by the terminal rather than clipped.
                lines.append(
                    f"  {o.distro:<{name_w}}  {libc:<11} {mark:<7} {python:<15} {cause}{_clip(o.detail, 300)}".rstrip()
                )
        lines.append(f"  verdict: {r.verdict.summary}")
        for d in r.verdict.disagreements:
            lines.append(f"  disagreement: {d}")
        if any(o.outcome is Outcome.FAIL and claim.floor and o.libc_version and o.libc_version < claim.floor for o in r.observations):
            lines.append("  (* below the claimed floor: expected, not a broken promise)")
    return lines


def verdict_counts(results: Iterable[WheelResult]) -> dict[Kind, int]:
    counts: dict[Kind, int] = {}
    for r in results:
        counts[r.verdict.kind] = counts.get(r.verdict.kind, 0) + 1
    return counts
