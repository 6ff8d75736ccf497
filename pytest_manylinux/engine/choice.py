"""Which interpreter judges a wheel on one distro, a portable CPython brought in where need be.

The distro's interpreter order (``[python].order``, or the distro's own ``interpreters``) is walked over
what the probe found in the image; a ``"portable"`` entry brings in the portable CPython X.Y that loads
the wheel's tags, once per container (the runner does the bringing: see :class:`InterpreterChoice`).
"""

from __future__ import annotations

from collections.abc import Callable

from ..core.distros import Distro
from ..core.interpreters import choose, in_order, portable_abi, portable_version
from ..core.observe import Cause, DistroFacts, Interpreter
from ..core.tags import Libc
from ..core.wheel import WheelInfo
from ..errors import EngineError, PortableError
from .portable import Portable, Provider

#: puts a portable CPython into the distro's container and measures it there
Bring = Callable[[Portable], Interpreter]


class InterpreterChoice:
    """One distro's interpreter choice, for the session (it remembers the portables brought in)."""

    def __init__(
        self,
        distro: Distro,
        order: tuple[str, ...],
        facts: DistroFacts,
        portables: Provider | None,
        bring: Bring,
    ) -> None:
        self.distro = distro
        #: where this distro's interpreters come from, in order
        self.order = order
        self.facts = facts
        self.portables = portables
        self._bring = bring
        #: portable interpreters brought into this container, by X.Y (or why that failed)
        self.brought: dict[str, Interpreter | str] = {}

    def fit(self, wheel: WheelInfo) -> tuple[Interpreter | None, Cause | None, str]:
        """The interpreter that judges ``wheel`` here, or why none can (the skip's cause and reason)."""
        facts, claim = self.facts, wheel.claim
        if claim.arch and facts.machine and claim.arch != facts.machine:
            return None, Cause.ARCH, f"the wheel is for {claim.arch}; this engine runs {facts.machine}"
        if claim.libc and facts.libc and claim.libc is not facts.libc:
            return (
                None,
                Cause.LIBC,
                f"a {claim.libc.value} wheel cannot run on this {facts.libc.value} distro",
            )
        interpreter, why = self.choose(claim.interpreters, wheel.requires_python)
        return interpreter, (None if interpreter else Cause.PYTHON), why

    def choose(
        self,
        pairs: frozenset[tuple[str, str]],
        requires_python: str | None,
        *,
        exclude: Callable[[Interpreter], bool] | None = None,
        newer_than: tuple[int, int] | None = None,
    ) -> tuple[Interpreter | None, str]:
        """The interpreter that judges a wheel here, in :attr:`order`; a portable one brought in if need be.

        ``exclude`` rules out interpreters already found unable to run the wheel's code; ``newer_than`` asks
        for a newer Python than that (after a ``SyntaxError``).
        """
        natives: list[Interpreter] = []
        portable_why = ""
        for entry, group in zip(self.order, in_order(self.order, self.facts.interpreters)):
            if exclude is not None:
                group = [i for i in group if not exclude(i)]
            if entry == "portable":
                interpreter, portable_why = self._portable_for(pairs, requires_python, newer_than)
                if interpreter is not None and exclude is not None and exclude(interpreter):
                    interpreter = None
            else:
                natives += group
                interpreter, _ = choose(pairs, requires_python, group)
            if interpreter is not None:
                return interpreter, ""
        none_found = "no python interpreter in the image"
        if not natives and self.facts.interpreters:
            found = ", ".join(i.path for i in self.facts.interpreters)
            none_found = f"the interpreter order {list(self.order)} takes none of {found}"
        _, why = choose(pairs, requires_python, natives, none_found)
        return None, f"{why}; {portable_why}" if portable_why else why

    def _portable_for(
        self,
        pairs: frozenset[tuple[str, str]],
        requires_python: str | None,
        newer_than: tuple[int, int] | None = None,
    ) -> tuple[Interpreter | None, str]:
        if self.portables is None or not self.portables.versions:
            return None, "no portable CPython is configured"
        if self.facts.libc is None or self.facts.machine != "x86_64":
            libc = self.facts.libc.value if self.facts.libc else "an unknown libc"
            here = f"{libc} on {self.facts.machine or '?'}"
            return None, f"a portable CPython is for glibc or musl on x86_64, and this distro is {here}"
        put_in = {v for v, i in self.brought.items() if isinstance(i, Interpreter)}
        if self.facts.libc is Libc.MUSL:  # built with musl-gcc (musl.py)
            ready, versions = put_in | self.portables.musl.ready(), self.portables.musl.versions
        else:
            ready, versions = put_in | self.portables.ready(), self.portables.versions
        if newer_than is not None:
            versions = tuple(v for v in versions if portable_abi(v)[:2] > newer_than)  # "3.13t" too
        version, why = portable_version(pairs, requires_python, versions, ready)
        if version is None:
            return None, why
        brought = self.bring(version)
        if isinstance(brought, str):
            return None, brought
        return choose(pairs, requires_python, [brought])

    def bring(self, version: str) -> Interpreter | str:
        """The portable CPython X.Y in this container (put in and measured once), or why it cannot be."""
        known = self.brought.get(version)
        if known is not None:
            return known
        assert self.portables is not None
        try:
            musl_here = self.facts.libc is Libc.MUSL
            portable = self.portables.musl.get(version) if musl_here else self.portables.get(version)
            floor, here = portable.glibc, self.facts.libc_version
            if floor is not None and here is not None and here < floor:
                raise PortableError(f"it needs glibc {floor} and {self.distro.name} has {here}")
            interpreter: Interpreter | str = self._bring(portable)
        except (PortableError, EngineError) as e:
            interpreter = f"portable CPython {version}: {e}"
        self.brought[version] = interpreter
        return interpreter
