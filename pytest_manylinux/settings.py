"""The manylinux options and ini values of one pytest session, parsed and validated once.

:class:`Settings` is frozen: the run, its items and the engine layer read it and never re-read the
config. A bad value is a :class:`pytest.UsageError` that names the option and the value.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .core.distros import Distro, DistrosFile, PythonConfig, load_distros_file, select
from .errors import ManylinuxError

#: each import's time limit when neither the option nor the ini value says (seconds)
DEFAULT_TIMEOUT = 60.0
#: each distro container's memory limit when neither the option nor the ini value says
DEFAULT_MEMORY = "2g"
#: the most a check may write to each place it can write when neither the option nor the ini value says
DEFAULT_DISK = "1g"


@dataclass(frozen=True)
class Settings:
    """What a manylinux run was asked to do."""

    #: the wheel files under test, resolved, each named once
    wheels: tuple[Path, ...]
    #: the distros selected (``--manylinux-distro``) from the matrix
    distros: tuple[Distro, ...]
    #: judge from the ELF files alone: no containers
    static_only: bool = False
    #: under-claims fail the run too
    strict: bool = False
    json_path: Path | None = None
    markdown_path: Path | None = None
    #: seconds one import (or one loader check) may take
    timeout: float = DEFAULT_TIMEOUT
    #: each distro container's memory limit, in the engine's notation
    memory: str = DEFAULT_MEMORY
    #: the most a check may write to /tmp (and to /var/tmp), in the engine's notation
    disk: str = DEFAULT_DISK
    #: distros checked at once
    jobs: int = 2
    #: directories (or files) of dependency wheels
    wheelhouse: tuple[Path, ...] = ()
    #: where interpreters come from ([python] of distros.toml, plus --manylinux-python-source)
    python: PythonConfig = field(default_factory=PythonConfig)
    #: where a portable CPython is built from source
    build_distro: Distro | None = None
    #: where a portable CPython for musl distros is built (musl-gcc)
    musl_build_distro: Distro | None = None

    @classmethod
    def from_config(cls, config: pytest.Config, matrix: DistrosFile) -> Settings:
        """Every manylinux option and ini value, checked; ``matrix`` comes from :func:`load_matrix`."""
        from .engine.docker import memory_bytes
        from .engine.portable import with_local_sources

        patterns = [p for group in config.getoption("manylinux_wheel") or [] for p in group]
        wheels = expand_wheels(patterns)
        sources = [str(p) for p in config.getini("manylinux_python_sources") or []]
        sources += config.getoption("manylinux_python_source") or []
        try:
            distros = select(matrix.distros, config.getoption("manylinux_distro") or [])
            python = with_local_sources(matrix.python, sources)
        except ManylinuxError as e:
            raise pytest.UsageError(str(e)) from e
        json_path = config.getoption("manylinux_json")
        markdown_path = config.getoption("manylinux_markdown")
        option = config.getoption("manylinux_timeout")
        timeout = float(
            option if option is not None else (config.getini("manylinux_timeout") or DEFAULT_TIMEOUT)
        )
        if timeout <= 0:
            raise pytest.UsageError(f"--manylinux-timeout {timeout!r}: must be a positive number of seconds")
        memory = str(
            config.getoption("manylinux_memory") or config.getini("manylinux_memory") or DEFAULT_MEMORY
        )
        try:
            memory_bytes(memory)
        except ValueError as e:
            raise pytest.UsageError(f"--manylinux-memory: {e}") from e
        disk = str(config.getoption("manylinux_disk") or config.getini("manylinux_disk") or DEFAULT_DISK)
        try:
            memory_bytes(disk)
        except ValueError as e:
            raise pytest.UsageError(f"--manylinux-disk: {e}") from e
        jobs = _jobs(config.getoption("manylinux_jobs"), str(config.getini("manylinux_jobs") or ""))
        if jobs < 1:
            raise pytest.UsageError(f"--manylinux-jobs {jobs!r}: must be at least 1")
        wheelhouse = [Path(p) for p in config.getoption("manylinux_wheelhouse") or []]
        wheelhouse += [Path(p) for p in config.getini("manylinux_wheelhouse")]
        for path in wheelhouse:
            if not path.is_dir() and not (path.is_file() and path.suffix == ".whl"):
                raise pytest.UsageError(
                    f"--manylinux-wheelhouse {str(path)!r}: not a directory of wheels (nor a .whl file)"
                )
        return cls(
            wheels=tuple(wheels),
            distros=distros,
            static_only=bool(config.getoption("manylinux_static_only")),
            strict=bool(config.getoption("manylinux_strict")),
            json_path=Path(json_path) if json_path else None,
            markdown_path=Path(markdown_path) if markdown_path else None,
            timeout=timeout,
            memory=memory,
            disk=disk,
            jobs=jobs,
            wheelhouse=tuple(wheelhouse),
            python=python,
            build_distro=matrix.build_distro,
            musl_build_distro=matrix.musl_build_distro,
        )


def load_matrix(config: pytest.Config) -> DistrosFile:
    """The distros file the option or the ini value names (relative to the rootdir), else the default."""
    path = config.getoption("manylinux_distros_file") or config.getini("manylinux_distros_file") or None
    if path and not os.path.isabs(str(path)) and not config.getoption("manylinux_distros_file"):
        path = str(Path(str(config.rootpath)) / str(path))
    try:
        return load_distros_file(path)
    except ManylinuxError as e:
        raise pytest.UsageError(str(e)) from e


def expand_wheels(patterns: list[str]) -> list[Path]:
    """Paths from --manylinux-wheel values: files, globs, or directories of wheels."""
    found: list[Path] = []
    for pattern in patterns:
        path = Path(pattern)
        if path.is_dir():
            matches = sorted(str(p) for p in path.glob("*.whl"))
            if not matches:
                raise pytest.UsageError(f"--manylinux-wheel {pattern!r}: the directory has no *.whl files")
        elif glob.has_magic(pattern):
            matches = sorted(glob.glob(pattern))
            if not matches:
                raise pytest.UsageError(f"--manylinux-wheel {pattern!r}: the pattern matches no file")
        elif path.exists():
            matches = [pattern]
        else:
            raise pytest.UsageError(f"--manylinux-wheel {pattern!r}: no such file")
        for m in matches:
            p = Path(m).resolve()
            if p not in found:
                found.append(p)
    names = [p.name for p in found]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise pytest.UsageError(
            f"--manylinux-wheel: two different files are named {dupes[0]!r}; give one of them"
        )
    return found


def _jobs(option: int | None, ini: str) -> int:
    """Distros run at once: the option, else the ini value, else the CPU count (0 is an error, no default)."""
    if option is not None:
        return option
    if ini.strip():
        try:
            return int(ini)
        except ValueError:
            raise pytest.UsageError(f"manylinux_jobs = {ini!r}: expected a whole number of distros") from None
    return os.cpu_count() or 2
