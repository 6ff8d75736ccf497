"""Benchmark: the plugin on K wheels x the default matrix against the naive ``docker run --rm`` loop.

Builds K + M wheels with the test wheel factory, then in one run, ``--repeat`` times::

    python benchmarks/matrix.py [--wheels K] [--extra M] [--repeat N] [--execs N] [--json OUT]

(a) times the plugin as a user runs it, ``python -m pytest --manylinux-wheel=DIR -q -p no:cacheprovider``
in a fresh process, on K wheels and on K + M wheels (wall time: start-up, containers started and
removed, every check, the verdicts), and the same command with ``--collect-only`` (pytest alone, for
scale); (b) times the shell loop a user would write instead, one ``docker run --rm IMAGE
python3 -c "import ..."`` per wheel and distro, sequentially and with ``xargs -P``; and (c) times a bare
``exec true`` in a running container, through the Docker API as the plugin calls it and through the
docker CLI. It prints the medians, the ratio (b)/(a) and the marginal cost of one more wheel per
distro, ((a) on K + M wheels - (a) on K wheels) / M / (distros per parallel lane), in bare execs.

The wheels are variants of the factory's ``honest`` case (an abi3 extension needing GLIBC_2.2.5
only): each is its own project with its own compiled ``_core`` module, every one imports on every
distro, so every (wheel, distro) check costs the same. The loop is given every advantage: it only
imports (the plugin also resolves every ELF file with the dynamic loader), as root, with no limits,
and it reads the laid-out wheel through a bind mount (the plugin copies it in through the API so a
remote engine works). It needs ``docker`` on PATH and the matrix's images on the engine
(``python -m pytest_manylinux images``). The factory's wheels are manylinux wheels: the glibc distros of
the default matrix run them (the plugin with ``-m "not musl"``), each loop command in the image the
plugin's containers run (the official image with python3 derived into it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from pytest_manylinux.core.distros import Distro, load_distros
from pytest_manylinux.core.tags import Libc
from pytest_manylinux.engine.docker import Engine
from pytest_manylinux.engine.images import ensure_image
from pytest_manylinux.errors import ManylinuxError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import wheelfactory  # the test wheel factory: a script in tests/, not a package

#: the factory case every benchmark wheel is a variant of
BASE_CASE = "honest"
#: the plugin's arguments besides the wheels: the glibc distros only (the wheels are manylinux wheels). pytest
#: loads this plugin alone, as in a user's environment: no other installed plugin (this project's test
#: extras bring hypothesis and xdist, whose loading alone costs about 0.5 s here)
PLUGIN_ARGS = ("-q", "-p", "no:cacheprovider", "-p", "pytest_manylinux.plugin", "-m", "not musl")
PLUGIN_ENV = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}


def build_wheels(count: int, outdir: Path) -> list[Path]:
    """``count`` wheels that cost the same to check: variants of the honest case, each its own project."""
    cases = [wheelfactory.variant(BASE_CASE, f"bench{i:02d}") for i in range(count)]
    return [wheelfactory.build(case, outdir) for case in cases]


def wheel_dir(wheels: list[Path], target: Path) -> Path:
    """A directory holding exactly ``wheels`` (hard links), for ``--manylinux-wheel=DIR``."""
    target.mkdir(parents=True)
    for wheel in wheels:
        os.link(wheel, target / wheel.name)
    return target


def naive_commands(wheels: list[Path], images: dict[str, str], sites: Path) -> list[str]:
    """One ``docker run --rm`` per (wheel, distro): what a user's shell loop would run.

    The wheel is unzipped once on the host (not timed) and bind-mounted read-only. ``--network none``
    because a check needs no network, and because the engine here has no bridge network.
    """
    commands = []
    for wheel in wheels:
        project = wheel.name.split("-", 1)[0]
        site = sites / project
        if not site.exists():
            with zipfile.ZipFile(wheel) as zf:
                zf.extractall(site)
        for image in images.values():
            commands.append(
                f"docker run --rm --network none -v {site}:/wheel:ro -e PYTHONPATH=/wheel {image} "
                f"python3 -c 'import {project}, {project}._core'"
            )
    return commands


def _timed(argv: list[str], **kwargs: Any) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)
    return time.perf_counter() - started, done


def _check(done: subprocess.CompletedProcess[str], what: str) -> None:
    if done.returncode != 0:
        tail = (done.stdout + done.stderr)[-2000:]
        raise SystemExit(f"{what} failed (exit {done.returncode}):\n{tail}")


def run_plugin(directory: Path, expected: int, cwd: Path, report: Path) -> tuple[float, list[float]]:
    """The plugin as a user runs it; return the wall time and each check's seconds from its JSON."""
    argv = [sys.executable, "-m", "pytest", f"--manylinux-wheel={directory}", *PLUGIN_ARGS]
    seconds, done = _timed([*argv, f"--manylinux-json={report}"], cwd=cwd, env=PLUGIN_ENV)
    _check(done, " ".join(argv))
    if f"{expected} passed" not in done.stdout:
        raise SystemExit(f"expected {expected} passed items from the plugin, got:\n{done.stdout[-1500:]}")
    document = json.loads(report.read_text())
    checks = [d["seconds"] for w in document["wheels"] for d in w["distros"] if d.get("seconds") is not None]
    return seconds, checks


def run_collect(directory: Path, cwd: Path) -> float:
    """pytest alone: the same command with ``--collect-only`` (start-up, plugins, collection; no engine)."""
    argv = [sys.executable, "-m", "pytest", f"--manylinux-wheel={directory}", *PLUGIN_ARGS]
    seconds, done = _timed([*argv, "--collect-only"], cwd=cwd, env=PLUGIN_ENV)
    _check(done, " ".join(argv))
    return seconds


def run_naive(script: Path, parallel: int) -> float:
    """The loop: ``sh`` runs the commands one after another, or ``xargs -P`` runs ``parallel`` at once."""
    if parallel <= 1:
        seconds, done = _timed(["sh", "-e", str(script)])
    else:
        xargs = ["xargs", "-d", "\\n", "-n", "1", "-P", str(parallel), "sh", "-c"]
        with script.open() as commands:
            seconds, done = _timed(xargs, stdin=commands)
    _check(done, f"the docker run loop ({'sequential' if parallel <= 1 else f'xargs -P{parallel}'})")
    return seconds


def bare_execs(engine: Engine, distro: Distro, image: str, count: int) -> tuple[list[float], list[float]]:
    """``true`` run ``count`` times in a running container, through the API (as the plugin) and the CLI."""
    api, cli = [], []
    with engine.container(image, f"bench-{distro.name}") as container:
        container.exec(["true"])  # warm up
        for _ in range(count):
            started = time.perf_counter()
            container.exec(["true"])
            api.append(time.perf_counter() - started)
            seconds, done = _timed(["docker", "exec", container.id, "true"])
            _check(done, "docker exec true")
            cli.append(seconds)
    return api, cli


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1e3:7.0f} ms" if values else "      - ms"


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _s(values: list[float]) -> str:
    return f"{statistics.median(values):6.2f} s  (min {min(values):.2f}, max {max(values):.2f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--wheels", type=int, default=6, help="K: wheels in the main comparison (default 6)")
    parser.add_argument(
        "--extra", type=int, default=6, help="M: wheels added to measure the marginal cost (default 6)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of every measurement (default 3)")
    parser.add_argument("--execs", type=int, default=20, help="bare execs timed per repetition (default 20)")
    parser.add_argument(
        "--parallel",
        type=int,
        default=os.cpu_count() or 2,
        help="xargs -P of the parallel loop (default CPUs)",
    )
    parser.add_argument("--json", type=Path, help="also write every sample and the summary here")
    args = parser.parse_args(argv)
    if args.wheels < 1 or args.extra < 1 or args.repeat < 1 or args.execs < 1:
        parser.error("--wheels, --extra, --repeat and --execs must be at least 1")
    if shutil.which("docker") is None:
        parser.error("the docker CLI is not on PATH; the naive loop needs it")

    distros = tuple(d for d in load_distros() if d.libc is Libc.GLIBC)
    engine = Engine.connect()
    try:
        # the images the plugin's containers run (python3 derived); made once per machine, not timed
        images = {d.name: ensure_image(engine, d, lambda _: None, pull=False).ref for d in distros}
    except ManylinuxError as e:
        parser.error(f"{e}; `python -m pytest_manylinux images` makes the matrix's images")
    jobs = os.cpu_count() or 2  # the plugin's default --manylinux-jobs
    lanes = min(jobs, len(distros))
    per_lane = -(-len(distros) // lanes)  # distros each parallel lane runs, one after another

    k, m = args.wheels, args.extra
    load_before = os.getloadavg()[0]  # the figures mean little if other work shares the machine
    samples: dict[str, list[float]] = {
        "plugin_k": [], "plugin_km": [], "collect_only": [], "loop": [], "loop_parallel": [],
        "exec_api": [], "exec_cli": [], "check_in_run": [],
    }  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="pm-bench-matrix-") as tmp:
        root = Path(tmp)
        print(f"building {k + m} wheels (variants of the {BASE_CASE!r} case) ...", flush=True)
        wheels = build_wheels(k + m, root / "built")
        dir_k = wheel_dir(wheels[:k], root / "k")
        dir_km = wheel_dir(wheels, root / "km")
        script = root / "loop.sh"
        commands = naive_commands(wheels[:k], images, root / "sites")
        script.write_text("\n".join(commands) + "\n")
        empty = root / "cwd"  # pytest collects its working directory: give it an empty one
        empty.mkdir()
        items_k = k * (len(distros) + 1)  # a verdict item per wheel
        items_km = (k + m) * (len(distros) + 1)
        for r in range(args.repeat):
            print(f"repetition {r + 1}/{args.repeat}:", flush=True)
            seconds, _ = run_plugin(dir_k, items_k, empty, root / "k.json")
            samples["plugin_k"].append(seconds)
            print(f"  plugin, {k} wheels          {seconds:6.2f} s", flush=True)
            seconds, checks = run_plugin(dir_km, items_km, empty, root / "km.json")
            samples["plugin_km"].append(seconds)
            samples["check_in_run"] += checks
            print(f"  plugin, {k + m} wheels          {seconds:6.2f} s", flush=True)
            seconds = run_collect(dir_k, empty)
            samples["collect_only"].append(seconds)
            print(f"  pytest --collect-only    {seconds:6.2f} s", flush=True)
            seconds = run_naive(script, 1)
            samples["loop"].append(seconds)
            print(f"  docker run loop          {seconds:6.2f} s", flush=True)
            seconds = run_naive(script, args.parallel)
            samples["loop_parallel"].append(seconds)
            print(f"  docker run loop, -P{args.parallel}     {seconds:6.2f} s", flush=True)
            api, cli = bare_execs(engine, distros[0], images[distros[0].name], args.execs)
            samples["exec_api"] += api
            samples["exec_cli"] += cli
    engine.close()
    load_after = os.getloadavg()[0]

    plugin = statistics.median(samples["plugin_k"])
    loop = statistics.median(samples["loop"])
    loop_parallel = statistics.median(samples["loop_parallel"])
    # Paired per repetition, so drift in the machine's load between repetitions cancels out.
    extra = statistics.median(b - a for a, b in zip(samples["plugin_k"], samples["plugin_km"]))
    per_wheel_distro = extra / m / per_lane
    exec_api = statistics.median(samples["exec_api"])
    summary = {
        "wheels": k,
        "extra": m,
        "distros": len(distros),
        "jobs": jobs,
        "repeat": args.repeat,
        "load_average": [load_before, load_after],
        "plugin_s": plugin,
        "collect_only_s": statistics.median(samples["collect_only"]),
        "loop_s": loop,
        "loop_parallel_s": loop_parallel,
        "speedup": loop / plugin,
        "speedup_parallel": loop_parallel / plugin,
        "marginal_wheel_distro_s": per_wheel_distro,
        "bare_exec_api_s": exec_api,
        "bare_exec_cli_s": statistics.median(samples["exec_cli"]),
        "marginal_in_bare_execs": per_wheel_distro / exec_api,
        "check_in_run_s": statistics.median(samples["check_in_run"]) if samples["check_in_run"] else None,
    }
    n = k * len(distros)
    speedup, marginal = summary["speedup"], summary["marginal_in_bare_execs"]
    lines = [
        "",
        f"{k} wheels x {len(distros)} distros = {n} checks; medians of {args.repeat} runs; {jobs} CPUs;"
        f" load average {load_before:.1f} before, {load_after:.1f} after",
        f"  (a) plugin, {k} wheels             : {_s(samples['plugin_k'])}",
        f"      plugin, {k + m} wheels            : {_s(samples['plugin_km'])}",
        f"      of (a), pytest alone          : {_s(samples['collect_only'])}   (--collect-only)",
        f"  (b) docker run loop, sequential   : {_s(samples['loop'])}",
        f"      docker run loop, xargs -P{args.parallel}    : {_s(samples['loop_parallel'])}",
        f"  (b)/(a) sequential loop / plugin  : {speedup:6.1f}x   (target >= 3x: {_met(speedup >= 3)})",
        f"      parallel loop / plugin        : {loop_parallel / plugin:6.1f}x",
        f"  one more wheel, per distro        : {per_wheel_distro * 1e3:7.0f} ms"
        f"   (({k + m} - {k} wheels) / {m} / {per_lane} distros per lane; {lanes} lanes)",
        f"  bare exec true, Docker API        : {_ms(samples['exec_api'])}   (as the plugin calls it)",
        f"  bare exec true, docker CLI        : {_ms(samples['exec_cli'])}",
        f"  one more wheel, in bare execs     : {marginal:6.2f}    (target < 1.5: {_met(marginal < 1.5)})",
        f"  a check's own time in the run     : {_ms(samples['check_in_run'])}   (per-check seconds, JSON)",
        "  The loop only imports, as root, without limits, through a bind mount; the plugin also runs",
        "  the dynamic loader on every ELF file, as nobody, with limits, and copies files in by the API.",
    ]
    print("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "samples": samples}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
