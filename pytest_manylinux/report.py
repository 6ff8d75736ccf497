"""Reports: per-wheel results gathered from observations, as a terminal table, JSON and markdown (pure).

Observations arrive one at a time (from items, from xdist workers' reports, or from JSON files of
several CI jobs); results are keyed by the wheel's sha256, so the same wheel at different paths is
one wheel. Formatting returns strings; the caller writes them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from . import __version__
from .core.observe import Observation, Outcome
from .core.tags import Claim, read_claim
from .core.verdict import Kind, Prediction, Verdict, judge
from .errors import ResultsError

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

    def order_by_libc(self) -> None:
        """Order distros by their measured libc version, then name: how several jobs' results read best."""
        versions: dict[str, Any] = {}
        for observations in self._observations.values():
            for o in observations.values():
                if o.libc_version is not None:
                    versions.setdefault(o.distro, o.libc_version)
        known = sorted(versions, key=lambda n: (versions[n], n))
        self.order = known + sorted(n for n in self.order if n not in versions)

    def __contains__(self, sha256: object) -> bool:
        return sha256 in self._files

    def has_prediction(self, sha256: str) -> bool:
        return sha256 in self._predictions

    def __bool__(self) -> bool:
        return bool(self._files or self.unreadable)

    def wheels(self) -> list[WheelResult]:
        results = []
        rank = {name: i for i, name in enumerate(self.order)}
        for sha256, file in self._files.items():
            claim = read_claim(file)
            observations = sorted(
                self._observations.get(sha256, {}).values(),
                key=lambda o: (rank.get(o.distro, len(rank)), o.distro),
            )
            verdict = judge(claim, observations, self._predictions.get(sha256))
            # The observations as judged: a Python exception the platform explains counts as a failure.
            errors = tuple(self._errors.get(sha256, []))
            results.append(WheelResult(file, sha256, claim, verdict.observations, verdict, errors))
        return results

    # -- JSON in and out ----------------------------------------------------------------------

    def load_json(self, document: Any, source: str) -> None:
        """Merge a document written by :func:`to_json` (a CI job's results)."""
        if not isinstance(document, dict) or not isinstance(document.get("wheels"), list):
            raise ResultsError(f"{source}: not a pytest-manylinux results file (no 'wheels' list)")
        schema = document.get("schema")
        if schema != SCHEMA:
            raise ResultsError(
                f"{source}: schema {schema!r} is not {SCHEMA!r}; was it written by pytest-manylinux?"
            )
        unreadable = document.get("unreadable", [])
        if not isinstance(unreadable, list):
            raise ResultsError(f"{source}: 'unreadable' must be a list, got {type(unreadable).__name__}")
        for i, entry in enumerate(unreadable):
            if not isinstance(entry, dict) or not isinstance(entry.get("errors", []), list):
                raise ResultsError(
                    f"{source}: unreadable[{i}] must be {{'file': ..., 'errors': [...]}}, got {entry!r}"
                )
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
                    self.add_prediction(sha256, file, Prediction.from_json(predicted))
                if not isinstance(wheel.get("errors", []), list):
                    raise TypeError("'errors' must be a list")
                for error in wheel.get("errors", []):
                    self.add_error(sha256, file, str(error))
            except (KeyError, TypeError, ValueError, AttributeError) as e:
                raise ResultsError(f"{source}: wheels[{i}] is malformed ({type(e).__name__}: {e})") from e


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
    """``/usr/bin/python3 (3.5.2, distro)`` -> ``3.5.2 distro``: the interpreter that checked ("-": none)."""
    match = re.search(r"\(([^,()]+), (\w+)\)$", interpreter)
    return f"{match.group(1)} {match.group(2)}" if match else "-"


def _below_floor(claim: Claim, o: Observation) -> bool:
    return claim.floor is not None and o.libc_version is not None and o.libc_version < claim.floor


def _libc_text(o: Observation) -> str:
    return f"{o.libc.value} {o.libc_version}" if o.libc and o.libc_version else "?"


def _runs(r: WheelResult, verbose: bool) -> list[list[Observation]]:
    """Consecutive distros with the same outcome, cause, detail and kind of interpreter, as one row (each its
    own if verbose)."""

    def key(o: Observation) -> tuple[Any, ...]:
        # The interpreter's origin too: a row says whether the distro's own python or a portable one judged.
        return (
            o.outcome,
            o.cause,
            o.detail,
            _below_floor(r.claim, o),
            python_column(o.interpreter).split(" ")[-1],
        )

    runs: list[list[Observation]] = []
    for o in r.observations:
        if not verbose and runs and key(runs[-1][-1]) == key(o):
            runs[-1].append(o)
        else:
            runs.append([o])
    return runs


def _python_of_run(run: list[Observation]) -> str:
    """The python column of a row of distros: one interpreter, or the range of versions of one origin."""
    columns = [python_column(o.interpreter) for o in run]
    if len(set(columns)) == 1:
        return columns[0]
    origins = {c.split(" ")[-1] for c in columns}
    if len(origins) == 1 and "-" not in columns:
        return f"{columns[0].split(' ')[0]}–{columns[-1].split(' ')[0]} {origins.pop()}"
    return "various"


def terminal_lines(
    results: Iterable[WheelResult],
    width: int = 120,
    unreadable: dict[str, list[str]] | None = None,
    verbose: bool = False,
) -> list[str]:
    """The summary table: per wheel, a row per run of distros that fared alike, then the verdict line.

    Distros in matrix order that share outcome, cause and evidence share a row (``ubuntu-16.04 … debian-11``),
    so an honest wheel takes one row whatever the matrix size; ``verbose`` gives every distro its row.
    """
    lines: list[str] = []
    for file, errors in sorted((unreadable or {}).items()):
        lines.append(f"{file}  UNREADABLE")
        lines += [f"  {e}" for e in errors]
    for r in results:
        claim = r.claim
        promise = (
            f"claims {claim.libc.value} {claim.floor} ({claim.platform.tag})"
            if claim.floor and claim.libc
            else f"({claim.platform.tag}: no claim)"
        )
        lines.append(f"{r.file}  {promise}")
        for error in r.errors:
            lines.append(f"  ERROR {error}")
        rows = []
        for run in _runs(r, verbose):
            first, last = run[0], run[-1]
            name = first.distro if len(run) == 1 else f"{first.distro} … {last.distro}"
            libc = _libc_text(first)
            if len(run) > 1 and first.libc_version != last.libc_version and last.libc_version is not None:
                libc = f"{libc}–{last.libc_version}"
            mark = _MARK[first.outcome] + (
                "*" if _below_floor(claim, first) and first.outcome is Outcome.FAIL else ""
            )
            cause = f"{first.cause.value}: " if first.cause else ""
            rows.append((name, libc, mark, _python_of_run(run), f"{cause}{_clip(first.detail, 300)}"))
        if rows:
            name_w = max(6, *(len(row[0]) for row in rows))
            libc_w = max(11, *(len(row[1]) for row in rows))
            py_w = max(6, *(len(row[3]) for row in rows))
            lines.append(
                f"  {'distro':<{name_w}}  {'libc':<{libc_w}} {'outcome':<7} {'python':<{py_w}} cause: detail"
            )
            # The detail is the evidence: wrapped by the terminal rather than clipped.
            lines += [
                f"  {n:<{name_w}}  {c:<{libc_w}} {m:<7} {p:<{py_w}} {d}".rstrip() for n, c, m, p, d in rows
            ]
        lines.append(f"  verdict: {r.verdict.summary}")
        for d in r.verdict.disagreements:
            lines.append(f"  disagreement: {d}")
        lines += _not_about_the_tag(r.verdict, "  ")
        if any(o.outcome is Outcome.FAIL and _below_floor(claim, o) for o in r.observations):
            lines.append("  (* below the claimed floor: expected, not a broken promise)")
    return lines


def distro_list(names: Iterable[str]) -> str:
    """``a, b, c``, or ``a … z (N distros)`` for longer lists."""
    names = list(names)
    return ", ".join(names) if len(names) <= 3 else f"{names[0]} … {names[-1]} ({len(names)} distros)"


def modules_list(modules: Iterable[str]) -> str:
    modules = list(modules)
    return ", ".join(modules[:4]) + (f" and {len(modules) - 4} more" if len(modules) > 4 else "")


def _not_about_the_tag(verdict: Verdict, indent: str) -> list[str]:
    """Notes, the wheel's own exceptions and the modules set aside: reported, never held against the tag."""
    prediction = verdict.prediction
    lines = [f"{indent}abi3: {message}" for message in (prediction.abi3 if prediction else ())]
    lines += [f"{indent}note: {note}" for note in (prediction.notes if prediction else ())]
    if verdict.exceptions:
        lines.append(f"{indent}the wheel's own exceptions (not about its tag):")
        for e in verdict.exceptions:
            lines.append(f"{indent}  {e.module}: {e.exception}")
            lines.append(f"{indent}    {e.assessment}: on {distro_list(e.distros)}; {e.reason}")
    if verdict.set_aside:
        lines.append(f"{indent}set aside (nothing concluded about these modules):")
        for a in verdict.set_aside:
            lines.append(f"{indent}  {modules_list(a.modules)} on {distro_list(a.distros)}: {a.reason}")
    return lines


# -- markdown -------------------------------------------------------------------------------

_CELL = {Outcome.OK: "✅", Outcome.FAIL: "❌", Outcome.SKIPPED: "⏭️"}


def _md(text: str) -> str:
    """Text safe inside a markdown table cell."""
    return " ".join(text.split()).replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;")


def markdown(
    results: Iterable[WheelResult],
    unreadable: dict[str, list[str]] | None = None,
    title: str = "pytest-manylinux",
) -> str:
    """The matrix as a markdown table for CI job pages: a row per wheel, a column per distro.

    The lowest working distro's cell is bold, so where each wheel starts working shows at a glance;
    failures below the claimed floor (expected) are grey. The evidence follows in a collapsed block per wheel.
    """
    wheels = list(results)
    distros: dict[str, str] = {}
    for r in wheels:
        for o in r.observations:
            if o.distro not in distros or distros[o.distro] == "":
                distros[o.distro] = str(o.libc_version) if o.libc_version else ""
    out = [f"### {title}", ""]
    if wheels:
        header = [
            "wheel",
            "claim",
            *(f"{name}<br>{version}" if version else name for name, version in distros.items()),
            "verdict",
        ]
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + "---|" * len(header))
        for r in wheels:
            seen = {o.distro: o for o in r.observations}
            lowest = r.verdict.lowest_working.distro if r.verdict.lowest_working else None
            cells = [f"`{_md(r.file)}`", _md(str(r.claim.floor) if r.claim.floor else r.claim.platform.tag)]
            for name in distros:
                here = seen.get(name)
                if here is None:
                    cells.append("")
                    continue
                below = here.outcome is Outcome.FAIL and _below_floor(r.claim, here)
                mark = "⚪" if below else _CELL[here.outcome]
                cell = f"{mark} {here.cause.value}" if here.cause else mark
                cells.append(f"**{cell}**" if name == lowest else cell)
            verdict = f"**{r.verdict.kind.value}**"
            if r.verdict.honest_tag:
                verdict += f"<br>honest: `{r.verdict.honest_tag}`"
            cells.append(verdict)
            out.append("| " + " | ".join(cells) + " |")
        out += [
            "",
            "✅ works · ❌ fails at or above the claimed floor · ⚪ fails below it (expected) · ⏭️ skipped · "
            "**bold**: lowest working distro",
            "",
        ]
    for r in wheels:
        out.append(f"<details><summary><code>{_md(r.file)}</code>: {_md(r.verdict.summary)}</summary>")
        out.append("")
        for o in r.observations:
            if o.cause is not None:
                out.append(
                    f"- {o.distro} ({_libc_text(o)}): {o.outcome.value} {o.cause.value}: {_md(o.detail)}"
                )
        for d in r.verdict.disagreements:
            out.append(f"- disagreement: {_md(d)}")
        for message in r.verdict.prediction.abi3 if r.verdict.prediction else ():
            out.append(f"- abi3: {_md(message)}")
        for note in r.verdict.prediction.notes if r.verdict.prediction else ():
            out.append(f"- note: {_md(note)}")
        for e in r.verdict.exceptions:
            where = distro_list(e.distros)
            out.append(
                f"- {e.assessment} exception, not about the tag: `{_md(e.module)}`: {_md(e.exception)} "
                f"({where}; {_md(e.reason)})"
            )
        for a in r.verdict.set_aside:
            out.append(
                f"- set aside: {_md(modules_list(a.modules))} on {distro_list(a.distros)}: {_md(a.reason)}"
            )
        for error in r.errors:
            out.append(f"- error: {_md(error)}")
        out += ["", "</details>", ""]
    for file, errors in sorted((unreadable or {}).items()):
        out.append(f"- `{_md(file)}` **unreadable**: {_md('; '.join(errors))}")
    return "\n".join(out).rstrip() + "\n"


def run_failed(results: Iterable[WheelResult], unreadable: dict[str, list[str]] | None, strict: bool) -> bool:
    """Whether the run fails as a pytest run would.

    An over-claim (an under-claim too if ``strict``), a wheel that could not be read, and a distro whose
    image or engine failed (its item errors in pytest) all fail it.
    """
    from .core.observe import Cause
    from .core.verdict import is_failure

    broken = (Cause.IMAGE, Cause.ENGINE)
    return bool(unreadable) or any(
        is_failure(r.verdict, strict) or r.errors or any(o.cause in broken for o in r.observations)
        for r in results
    )


def verdict_counts(results: Iterable[WheelResult]) -> dict[Kind, int]:
    counts: dict[Kind, int] = {}
    for r in results:
        counts[r.verdict.kind] = counts.get(r.verdict.kind, 0) + 1
    return counts
