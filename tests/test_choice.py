"""engine/choice.py: which interpreter judges a wheel on a distro, with a fake provider (no engine).

The choice is logic over measured facts; bringing a portable CPython into a container is a callback, so
these tests count its calls instead of starting containers (the engine tests bring real ones).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_manylinux.core.distros import Distro
from pytest_manylinux.core.observe import Cause, DistroFacts, Interpreter
from pytest_manylinux.core.tags import Libc, LibcVersion
from pytest_manylinux.core.wheel import WheelInfo, read_wheel
from pytest_manylinux.engine.choice import InterpreterChoice
from pytest_manylinux.errors import PortableError

ORDER = ("distro", "image", "portable")
PYTHON35 = Interpreter("/usr/bin/python3.5", (3, 5, 2), abi="cp35m")
PORTABLE311 = Interpreter(
    "/opt/pytest-manylinux/python/3.11/bin/python3.11", (3, 11, 9), abi="cp311", origin="portable"
)


def _facts(*interpreters: Interpreter, libc: str = "2.23", machine: str = "x86_64") -> DistroFacts:
    major, minor = (int(x) for x in libc.split("."))
    return DistroFacts(
        Libc.GLIBC,
        LibcVersion(major, minor),
        machine,
        "/lib64/ld-linux-x86-64.so.2",
        interpreters=interpreters,
    )


@dataclass
class FakePortable:
    glibc: LibcVersion | None = None


@dataclass
class FakeProvider:
    """The interface InterpreterChoice uses of engine.portable.Provider."""

    versions: tuple[str, ...] = ("3.11",)
    portable: FakePortable | Exception = field(default_factory=FakePortable)
    gets: list[str] = field(default_factory=list)

    def ready(self) -> frozenset[str]:
        return frozenset()

    def get(self, version: str) -> Any:
        self.gets.append(version)
        if isinstance(self.portable, Exception):
            raise self.portable
        return self.portable

    @property
    def musl(self) -> FakeProvider:
        """The musl builds (engine.musl.MuslProvider): another provider of the same interface."""
        if not hasattr(self, "_musl"):
            object.__setattr__(self, "_musl", FakeProvider(portable=FakePortable(glibc=None)))
        return self._musl  # type: ignore[no-any-return,attr-defined]


def _choice(
    facts: DistroFacts, provider: FakeProvider | None, bring: Callable[[Any], Interpreter]
) -> InterpreterChoice:
    return InterpreterChoice(Distro("d", "example/d:1", "d", Libc.GLIBC), ORDER, facts, provider, bring)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def infos(wheels: dict[str, Path]) -> dict[str, WheelInfo]:
    return {case: read_wheel(wheels[case]) for case in ("honest", "cp311", "aarch64")}


def _never(portable: Any) -> Interpreter:
    raise AssertionError("nothing should be brought in")


def test_the_distros_own_python_judges_an_abi3_wheel(infos: dict[str, WheelInfo]) -> None:
    choice = _choice(_facts(PYTHON35), FakeProvider(), _never)
    assert choice.fit(infos["honest"]) == (PYTHON35, None, "")


def test_a_portable_is_brought_in_once_where_no_distro_python_loads_the_wheel(
    infos: dict[str, WheelInfo],
) -> None:
    brought: list[Any] = []

    def bring(portable: Any) -> Interpreter:
        brought.append(portable)
        return PORTABLE311

    provider = FakeProvider()
    choice = _choice(_facts(PYTHON35), provider, bring)
    assert choice.fit(infos["cp311"]) == (PORTABLE311, None, "")
    assert choice.fit(infos["cp311"]) == (PORTABLE311, None, "")
    assert (len(brought), provider.gets) == (1, ["3.11"])


def test_without_portables_the_reason_says_so(infos: dict[str, WheelInfo]) -> None:
    interpreter, cause, why = _choice(_facts(PYTHON35), None, _never).fit(infos["cp311"])
    assert (interpreter, cause) == (None, Cause.PYTHON)
    assert why.endswith("; no portable CPython is configured")


def test_a_failed_bring_is_the_reason_and_is_not_retried(infos: dict[str, WheelInfo]) -> None:
    provider = FakeProvider(portable=PortableError("the build failed"))
    choice = _choice(_facts(PYTHON35), provider, _never)
    for _ in range(2):
        interpreter, cause, why = choice.fit(infos["cp311"])
        assert (interpreter, cause) == (None, Cause.PYTHON)
        assert why.endswith("portable CPython 3.11: the build failed")
    assert provider.gets == ["3.11"]


def test_a_portable_needing_a_newer_glibc_is_not_brought(infos: dict[str, WheelInfo]) -> None:
    provider = FakeProvider(portable=FakePortable(glibc=LibcVersion(2, 28)))
    _, cause, why = _choice(_facts(PYTHON35, libc="2.23"), provider, _never).fit(infos["cp311"])
    assert cause is Cause.PYTHON
    assert why.endswith("portable CPython 3.11: it needs glibc 2.28 and d has 2.23")


def test_a_musl_distro_gets_the_portable_built_for_musl(infos: dict[str, WheelInfo]) -> None:
    facts = DistroFacts(Libc.MUSL, LibcVersion(1, 2), "x86_64", "/lib/ld-musl-x86_64.so.1")
    provider = FakeProvider()
    interpreter, why = _choice(facts, provider, lambda portable: PORTABLE311).choose(
        frozenset({("cp311", "cp311")}), None
    )
    assert (interpreter, why) == (PORTABLE311, "")
    assert (provider.gets, provider.musl.gets) == ([], ["3.11"])


def test_a_portable_is_for_glibc_or_musl_on_x86_64_only(infos: dict[str, WheelInfo]) -> None:
    facts = DistroFacts(Libc.GLIBC, LibcVersion(2, 31), "aarch64", None, interpreters=(PYTHON35,))
    _, why = _choice(facts, FakeProvider(), _never).choose(frozenset({("cp311", "cp311")}), None)
    assert why.endswith(
        "a portable CPython is for glibc or musl on x86_64, and this distro is glibc on aarch64"
    )


def test_another_architecture_is_skipped_before_any_interpreter(infos: dict[str, WheelInfo]) -> None:
    interpreter, cause, why = _choice(_facts(PYTHON35), FakeProvider(), _never).fit(infos["aarch64"])
    assert (interpreter, cause) == (None, Cause.ARCH)
    assert why == "the wheel is for aarch64; this engine runs x86_64"


def test_exclude_and_newer_than_move_on_to_the_next_interpreter(infos: dict[str, WheelInfo]) -> None:
    """After a SyntaxError under 3.5, the next interpreter must be newer: the portable one here."""
    # "3.13t" (free-threaded) among the versions: compared by its numbers like the others
    choice = _choice(_facts(PYTHON35), FakeProvider(versions=("3.11", "3.13t")), lambda portable: PORTABLE311)
    interpreter, _ = choice.choose(
        infos["honest"].claim.interpreters,
        None,
        exclude=lambda i: i.path == PYTHON35.path,
        newer_than=(3, 5),
    )
    assert interpreter == PORTABLE311
