"""settings.py: options and ini values parsed once into a frozen Settings (bad values: test_plugin.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pytest_manylinux.settings import DEFAULT_MEMORY, DEFAULT_TIMEOUT, Settings, load_matrix


def _settings(pytester: pytest.Pytester, *args: str) -> Settings:
    config = pytester.parseconfig("-p", "no:benchmark", *args)
    return Settings.from_config(config, load_matrix(config))


def test_options_and_defaults(pytester: pytest.Pytester, wheels: dict[str, Path]) -> None:
    settings = _settings(
        pytester,
        f"--manylinux-wheel={wheels['honest']}",
        "--manylinux-distro=ubuntu-*",
        "--manylinux-jobs=3",
        "--manylinux-strict",
    )
    assert settings.wheels == (wheels["honest"].resolve(),)
    assert [d.name for d in settings.distros] == [
        "ubuntu-16.04",
        "ubuntu-18.04",
        "ubuntu-20.04",
        "ubuntu-22.04",
        "ubuntu-24.04",
    ]
    assert (settings.jobs, settings.strict, settings.static_only) == (3, True, False)
    assert (settings.timeout, settings.memory) == (DEFAULT_TIMEOUT, DEFAULT_MEMORY)
    assert settings.build_distro is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.jobs = 4  # type: ignore[misc]


def test_ini_values_when_no_option_says(pytester: pytest.Pytester, wheels: dict[str, Path]) -> None:
    pytester.makeini("[pytest]\nmanylinux_timeout = 7.5\nmanylinux_memory = 1g\nmanylinux_jobs = 5\n")
    settings = _settings(pytester, f"--manylinux-wheel={wheels['honest']}")
    assert (settings.timeout, settings.memory, settings.jobs) == (7.5, "1g", 5)
    settings = _settings(pytester, f"--manylinux-wheel={wheels['honest']}", "--manylinux-timeout=2")
    assert settings.timeout == 2.0


def test_a_directory_of_wheels_is_every_wheel_in_it(
    pytester: pytest.Pytester, wheels: dict[str, Path]
) -> None:
    directory = wheels["honest"].parent
    settings = _settings(pytester, f"--manylinux-wheel={directory}")
    assert settings.wheels == tuple(sorted(p.resolve() for p in directory.glob("*.whl")))
