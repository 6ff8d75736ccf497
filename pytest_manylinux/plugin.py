"""The pytest plugin: options, ini settings and markers; the run itself lives in session.py.

Registered through the ``pytest11`` entry point. Nothing heavy is imported until a run needs it.
"""

from __future__ import annotations

import pytest

_RUN = "manylinux-run"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("manylinux", "pytest-manylinux: check wheels' platform tags on real distros")
    group.addoption(
        "--manylinux-wheel",
        dest="manylinux_wheel",
        action="append",
        nargs="+",
        default=[],
        metavar="WHEEL",
        help="wheel file(s), glob(s) or directories of wheels to run on the distro matrix (repeatable)",
    )
    group.addoption(
        "--manylinux-distros-file",
        dest="manylinux_distros_file",
        default=None,
        metavar="PATH",
        help="a distros.toml replacing the default matrix (ini: manylinux_distros_file)",
    )
    group.addoption(
        "--manylinux-distro",
        dest="manylinux_distro",
        action="append",
        default=[],
        metavar="NAME_OR_GLOB",
        help="run only distros whose name matches (repeatable), e.g. 'ubuntu-*'",
    )
    group.addoption(
        "--manylinux-json",
        dest="manylinux_json",
        default=None,
        metavar="PATH",
        help="write the results as JSON (schema in the README)",
    )
    group.addoption(
        "--manylinux-markdown",
        dest="manylinux_markdown",
        default=None,
        metavar="PATH",
        help="write the matrix as a markdown table (also appended to $GITHUB_STEP_SUMMARY when set)",
    )
    group.addoption(
        "--manylinux-strict",
        dest="manylinux_strict",
        action="store_true",
        default=False,
        help="fail under-claims too (the wheel works below its tag's floor)",
    )
    group.addoption(
        "--manylinux-static-only",
        dest="manylinux_static_only",
        action="store_true",
        default=False,
        help="judge from the ELF files alone: no containers, no engine needed",
    )
    group.addoption(
        "--manylinux-timeout",
        dest="manylinux_timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="seconds one import may take before it counts as a hang (default 60; ini: manylinux_timeout)",
    )
    group.addoption(
        "--manylinux-memory",
        dest="manylinux_memory",
        default=None,
        metavar="SIZE",
        help="memory limit of each distro's container, e.g. 512m or 4g (default 2g; ini: manylinux_memory)",
    )
    group.addoption(
        "--manylinux-disk",
        dest="manylinux_disk",
        default=None,
        metavar="SIZE",
        help="the most a check may write to /tmp (and to /var/tmp), e.g. 256m or 4g, held in memory: the "
        "engine's disk never grows with what an import writes (default 1g; ini: manylinux_disk)",
    )
    group.addoption(
        "--manylinux-jobs",
        dest="manylinux_jobs",
        type=int,
        default=None,
        metavar="N",
        help="distros to run at once (default: the CPU count; ini: manylinux_jobs)",
    )
    group.addoption(
        "--manylinux-wheelhouse",
        dest="manylinux_wheelhouse",
        action="append",
        default=[],
        metavar="DIR",
        help="a directory of dependency wheels put on the import path where a wheel needs them (repeatable; "
        "ini: manylinux_wheelhouse)",
    )
    parser.addini("manylinux_wheelhouse", "directories of dependency wheels", type="paths", default=[])
    group.addoption(
        "--manylinux-python-source",
        dest="manylinux_python_source",
        action="append",
        default=[],
        metavar="PATH",
        help="a portable CPython (tarball or unpacked prefix) to bring into distros whose pythons "
        "cannot load "
        "a wheel; its version is read from bin/python3.X (repeatable; ini: manylinux_python_sources)",
    )
    parser.addini("manylinux_distros_file", "a distros.toml replacing the default matrix", default="")
    parser.addini(
        "manylinux_python_sources",
        "portable CPython tarballs or prefixes (see --manylinux-python-source)",
        type="paths",
    )
    parser.addini("manylinux_timeout", "seconds one import may take before it counts as a hang", default="")
    parser.addini("manylinux_memory", "memory limit of each distro's container (512m, 4g)", default="")
    parser.addini("manylinux_disk", "the most a check may write to /tmp and /var/tmp (256m, 4g)", default="")
    parser.addini("manylinux_jobs", "distros to run at once", default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "manylinux: a check made by pytest-manylinux")
    config.addinivalue_line(
        "markers",
        "manylinux_distros(*names): run a test using manylinux_env only on distros matching these names "
        "or globs",
    )
    if not config.getoption("manylinux_wheel"):
        # No wheel under test: the plugin is merely installed, so the distros file is not even read
        # (a project whose manylinux_distros_file is wrong still runs its own tests).
        return
    from .session import ManylinuxRun
    from .settings import Settings, load_matrix

    matrix = load_matrix(config)
    seen: set[str] = {"manylinux"}
    for distro in matrix.distros:
        for marker in distro.markers:
            if marker not in seen:
                seen.add(marker)
                config.addinivalue_line(
                    "markers", f"{marker}: distros of the manylinux matrix ({distro.name}, ...)"
                )
    config.pluginmanager.register(ManylinuxRun(config, Settings.from_config(config, matrix)), _RUN)
    if not config.option.file_or_dir:
        # Wheels were asked about, no test path was: pytest would collect the current project's own
        # suite (its testpaths, or the directory), which a first run in a checkout does not mean.
        config.args = []


def pytest_unconfigure(config: pytest.Config) -> None:
    run = config.pluginmanager.get_plugin(_RUN)
    if run is not None:
        config.pluginmanager.unregister(run, _RUN)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test using ``manylinux_env`` runs once per selected distro, carrying that distro's markers."""
    if "manylinux_env" in metafunc.fixturenames:
        from .session import environment_params

        run = metafunc.config.pluginmanager.get_plugin(_RUN)
        metafunc.parametrize("manylinux_env", environment_params(run, metafunc.definition), indirect=True)


@pytest.fixture
def manylinux_env(request: pytest.FixtureRequest) -> object:
    """A running container of one distro of the matrix with the wheels under test installed.

    ``manylinux_env.run("mytool --version")`` and ``manylinux_env.python_run("import mypkg")`` return a
    ``subprocess.CompletedProcess`` (``returncode``, ``stdout``, ``stderr``). Narrow the distros with
    ``@pytest.mark.manylinux_distros("ubuntu-*")``; select them with ``-m``, like the checks.
    """
    from .session import environment_for

    return environment_for(request.config.pluginmanager.get_plugin(_RUN), getattr(request, "param", None))
