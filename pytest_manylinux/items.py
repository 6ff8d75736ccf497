"""The pytest nodes: one collector per wheel, one item per (wheel, distro), one verdict item per wheel.

Node ids read ``WHEEL_FILENAME::DISTRO`` and ``WHEEL_FILENAME::verdict``, so ``-k``, ``--lf`` and
junitxml see the matrix as it is. Items only wait for results; the run (session.py) produces them,
and items see it through the small :class:`Run` interface (this module never imports session.py).
Each item writes its own result to its ``user_properties``, where the run's report reads it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest

from .core.distros import Distro
from .core.observe import Cause, Observation, Outcome
from .core.tags import Claim, ClaimKind
from .core.verdict import Kind, Verdict, is_failure
from .errors import ManylinuxError, WheelError

if TYPE_CHECKING:  # pragma: no cover
    from _pytest._code.code import ExceptionInfo, TerminalRepr

    from .core.wheel import WheelInfo
    from .settings import Settings

#: the user property that carries an observation (or prediction) from an item to the report
PROPERTY = "manylinux"


class Run(Protocol):
    """What the items need from the session's run (session.ManylinuxRun provides it)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def is_worker(self) -> bool:
        """An xdist worker: it checks only the items it is sent."""
        ...

    def wheel_info(self, path: Path) -> WheelInfo:
        """The wheel read and validated once per session; a WheelError if it cannot be."""
        ...

    def observe(self, path: Path, distro: Distro) -> Observation:
        """The wheel's observation on the distro (waiting for it)."""
        ...


class DistroFailure(Exception):
    """A wheel failed on a distro at or above its claimed floor."""

    def __init__(self, observation: Observation, claim: Claim) -> None:
        super().__init__(observation.detail)
        self.observation = observation
        self.claim = claim


class VerdictFailure(Exception):
    """The verdict on a wheel fails the run (over-claim, or under-claim under --manylinux-strict)."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.summary)
        self.verdict = verdict


def format_observation(o: Observation, claim: Claim) -> str:
    libc = f"{o.libc.value} {o.libc_version}" if o.libc and o.libc_version else "libc ?"
    lines = [
        f"{claim.filename} fails on {o.distro} ({libc}), which its tag {claim.platform.tag} covers:",
        f"  {o.cause.value if o.cause else 'failure'}: {o.detail}",
    ]
    if o.interpreter:
        lines.append(f"  interpreter: {o.interpreter}")
    failing = [f for f in o.findings if f.cause.is_failure]
    if len(failing) > 1 or (failing and failing[0].detail):
        lines.append("  findings:")
        for f in failing[:25]:
            lines.append(f"    [{f.check}] {f.target}: {f.cause.value}: {f.evidence}")
        if len(failing) > 25:
            lines.append(f"    ... and {len(failing) - 25} more")
    details = [f.detail for f in failing if f.detail]
    if details:
        lines.append("  detail:")
        lines += ["    " + line for line in details[0].strip().splitlines()[-30:]]
    return "\n".join(lines)


def format_verdict(v: Verdict) -> str:
    lines = [v.summary]
    for o in v.failing:
        lines.append(
            f"  fails on {o.distro} ({o.libc_version}): {o.cause.value if o.cause else ''}: {o.detail}"
        )
    for o in v.working_below:
        lines.append(f"  works below the claim on {o.distro} ({o.libc_version})")
    if v.prediction and v.prediction.reason:
        lines.append(f"  predicted floor: {v.prediction.floor} ({v.prediction.reason})")
    for d in v.disagreements:
        lines.append(f"  disagreement: {d}")
    for note in v.prediction.notes if v.prediction else ():
        lines.append(f"  note: {note}")
    return "\n".join(lines)


class _ManylinuxItem(pytest.Item):
    run: Run
    wheel_path: Path
    claim: Claim

    def record(self, payload: dict[str, Any]) -> None:
        """Write this item's result where the report gathers it (here, or on the xdist controller)."""
        self.user_properties.append((PROPERTY, json.dumps(payload)))

    def record_error(self, message: str) -> None:
        self.record({"error": {"file": self.wheel_path.name, "message": message}})

    def wheel(self) -> WheelInfo:
        """The wheel, read once per session; an unreadable one is recorded as such, then raised."""
        try:
            return self.run.wheel_info(self.wheel_path)
        except WheelError as e:
            self.record_error(str(e))
            raise

    def distro_items(self) -> list[DistroItem]:
        """This wheel's distro items selected in this session (after -k, -m, --lf)."""
        return [i for i in self.session.items if isinstance(i, DistroItem) and i.parent is self.parent]

    def observations(self, exclude: Distro | None = None) -> list[Observation]:
        """The wheel's observations on its selected distros (waiting for each); a distro that could
        not be checked is left out (its own item reports why)."""
        found = []
        for item in self.distro_items():
            if item.distro is exclude:
                continue
            try:
                found.append(self.run.observe(self.wheel_path, item.distro))
            except ManylinuxError:
                continue
        return found

    def reportinfo(self) -> tuple[Path, int | None, str]:
        # The domain is the failure headline. Not the node id: pytest's terminal would show the dots of a
        # wheel's name as '::' in a domain the node id ends with (pm_x-1::0-...::whl).
        return self.wheel_path, None, f"{self.name} ({self.wheel_path.name})"

    def repr_failure(self, excinfo: ExceptionInfo[BaseException], style: Any = None) -> str | TerminalRepr:
        if isinstance(excinfo.value, DistroFailure):
            return format_observation(excinfo.value.observation, excinfo.value.claim)
        if isinstance(excinfo.value, VerdictFailure):
            return format_verdict(excinfo.value.verdict)
        if isinstance(excinfo.value, ManylinuxError):
            return f"{type(excinfo.value).__name__}: {excinfo.value}"
        return super().repr_failure(excinfo)


class DistroItem(_ManylinuxItem):
    """Runs one wheel on one distro."""

    distro: Distro

    def runtest(self) -> None:
        wheel = self.wheel()
        observation = self.judged()
        identity = {"file": wheel.filename, "sha256": wheel.sha256}
        self.record({"wheel": identity, "observation": observation.to_json()})
        if observation.outcome is Outcome.SKIPPED:
            if observation.cause in (Cause.IMAGE, Cause.ENGINE, Cause.MEMORY, Cause.DISK):
                # The check could not run (to its end): that is a failure of the run, not of the wheel.
                raise ManylinuxError(f"{self.distro.name}: {observation.detail}")
            pytest.skip(f"{self.distro.name}: {observation.detail}")
        if observation.outcome is Outcome.FAIL:
            floor = self.claim.floor
            if floor is None:
                pytest.xfail(
                    f"{self.claim.platform.tag} promises nothing: "
                    f"{observation.cause.value if observation.cause else ''}: {observation.detail}"
                )
            if observation.libc_version is not None and observation.libc_version < floor:
                pytest.xfail(
                    f"below the claimed floor ({observation.libc_version} < {floor}): "
                    f"{observation.cause.value if observation.cause else ''}: {observation.detail}"
                )
            raise DistroFailure(observation, self.claim)

    def judged(self) -> Observation:
        """This distro's observation judged with the wheel's other distros (verdict.assess): a Python
        exception counts only where the platform explains it.

        An xdist worker checks only the items it is sent, so it judges the distro alone (an exception
        is then inconclusive there); the controller's report judges every distro together.
        """
        from .core.verdict import assess

        mine = self.run.observe(self.wheel_path, self.distro)
        others = [] if self.run.is_worker else self.observations(exclude=self.distro)
        return assess([mine, *others]).observations[0]


class VerdictItem(_ManylinuxItem):
    """Judges the wheel's claim from every selected distro's observation (and static analysis)."""

    def runtest(self) -> None:
        from .core.static import predict
        from .core.verdict import judge

        wheel = self.wheel()
        prediction = predict(wheel)
        self.record(
            {"wheel": {"file": wheel.filename, "sha256": wheel.sha256}, "prediction": prediction.to_json()}
        )
        verdict = judge(wheel.claim, self.observations(), prediction)
        if verdict.kind is Kind.NO_CLAIM:
            pytest.skip(verdict.summary)
        if verdict.kind is Kind.UNTESTABLE:
            pytest.skip(verdict.summary)
        if is_failure(verdict, self.run.settings.strict):
            raise VerdictFailure(verdict)


class BadWheelItem(_ManylinuxItem):
    """Stands for a wheel that cannot be read: fails with the reason, other wheels still run."""

    message: str

    def runtest(self) -> None:
        self.record_error(self.message)
        raise ManylinuxError(self.message)


class WheelCollector(pytest.Collector):
    """The items of one wheel."""

    run: Run
    wheel_path: Path
    claim: Claim | None
    error: str | None

    def collect(self) -> Iterator[pytest.Item]:
        if self.claim is None or self.error:
            item = BadWheelItem.from_parent(self, name="wheel")
            item.message = self.error or f"{self.wheel_path}: unreadable"
            yield self._setup(item, None)
            return
        claim = self.claim
        if claim.kind not in (ClaimKind.PURE, ClaimKind.OTHER) and not self.run.settings.static_only:
            for distro in self.run.settings.distros:
                distro_item = DistroItem.from_parent(self, name=distro.name)
                distro_item.distro = distro
                for marker in distro.markers:
                    distro_item.add_marker(marker)
                yield self._setup(distro_item, claim)
        yield self._setup(VerdictItem.from_parent(self, name="verdict"), claim)

    def _setup(self, item: _ManylinuxItem, claim: Claim | None) -> _ManylinuxItem:
        item.run = self.run
        item.wheel_path = self.wheel_path
        if claim is not None:
            item.claim = claim
        item.add_marker("manylinux")
        return item
