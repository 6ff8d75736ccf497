"""Time to the first complete verdict from an engine that holds none of the matrix's images.

Three ways in one run, each on its own empty private dockerd, with an empty cache, on the same test
wheels and distros:

  registry  ready images (python3 included) pulled from a registry (what ``images --push`` made)
  derive    official-like bases pulled through a registry mirror, python3 derived by the engine
  build     images built from the distros' archives with debootstrap on the host (root), then imported

The registry runs on 127.0.0.1 (Debian's docker-registry) and is seeded from the shared engine's images
before the clock starts. Prints each time, the verdicts (which must agree) and the ratios to ``build``.

  python benchmarks/first_verdict.py [--distro NAME ...]     (default: the default matrix's distros that
                                                            debootstrap builds: the eight glibc ones)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import services  # noqa: E402
import wheelfactory  # noqa: E402
from privatedockerd import PrivateDockerd  # noqa: E402

from pytest_manylinux.core.distros import (  # noqa: E402
    DEFAULT_DISTROS_FILE,
    BuildRecipe,
    load_distros,
    pushed_reference,
)
from pytest_manylinux.engine.docker import Engine  # noqa: E402
from pytest_manylinux.engine.images import ensure_image  # noqa: E402

CASES = ("honest", "glibc_new")


def _distros_file(path: Path, names: list[str], image: dict[str, str], *, derive: bool, build: bool) -> Path:
    """A distros.toml of the chosen default distros with other images (and derive/build or not)."""
    by_name = {d.name: d for d in load_distros()}
    lines = []
    for name in names:
        distro = by_name[name]
        lines += [f'[distro."{name}"]', f'image = "{image[name]}"', f'family = "{distro.family}"']
        if derive:
            lines.append('derive = { packages = ["python3"] }')
        if build and distro.build is not None:
            recipe = distro.build
            parts = [f'debootstrap = "{recipe.suite}"', f"check-gpg = {str(recipe.check_gpg).lower()}"]
            if recipe.script:
                parts.append(f'script = "{recipe.script}"')
            lines.append("build = { " + ", ".join([*parts, 'include = ["python3"]']) + " }")
        lines.append("")
    path.write_text("\n".join(lines))
    return path


def _run(
    label: str, host: str, distros: Path, wheels: list[Path], work: Path
) -> tuple[float, dict[str, str]]:
    out = work / f"{label}.json"
    env = dict(os.environ, DOCKER_HOST=host, PYTEST_MANYLINUX_CACHE_DIR=str(work / f"cache-{label}"))
    env.pop("PYTEST_ADDOPTS", None)
    argv = [
        sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", "-q",
        *(f"--manylinux-wheel={w}" for w in wheels),
        f"--manylinux-distros-file={distros}", f"--manylinux-json={out}",
    ]  # fmt: skip
    started = time.monotonic()
    proc = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=7200)
    seconds = time.monotonic() - started
    if not out.exists():
        raise SystemExit(
            f"{label}: no results (exit {proc.returncode}):\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}"
        )
    document = json.loads(out.read_text())
    verdicts = {Path(w["file"]).name: w["verdict"] for w in document["wheels"]}
    outcomes = {
        f"{Path(w['file']).name.split('-')[0]}@{d['name']}": f"{d['outcome']}/{d.get('cause')}"
        for w in document["wheels"]
        for d in w["distros"]
    }
    print(f"{label:<9} {seconds:7.1f} s  exit {proc.returncode}  {verdicts}", flush=True)
    return seconds, outcomes


def _private_dockerd(config: dict[str, object]) -> PrivateDockerd:
    """An empty private dockerd, started (tried twice: on a machine shared with other test runs a start
    has once failed with its directory gone)."""
    for attempt in (1, 2):
        dockerd = PrivateDockerd(config=config)
        try:
            dockerd.start().close()
            return dockerd
        except RuntimeError as e:
            dockerd.remove()
            if attempt == 2:
                raise
            print(f"private dockerd did not start, trying again: {e}", flush=True)
    raise AssertionError("unreachable")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--distro", action="append", default=[], help="only these default distros")
    args = parser.parse_args()
    by_name = {d.name: d for d in load_distros()}
    # The three ways compare against debootstrap: the Alpine distros are made from a root filesystem
    # tarball, not by debootstrap, and have no third way to time.
    buildable = [d.name for d in load_distros() if isinstance(d.build, BuildRecipe)]
    names = args.distro or buildable
    for name in names:
        if name not in buildable:
            parser.error(f"--distro {name}: not a default distro debootstrap builds ({', '.join(buildable)})")
    print(f"distros: {', '.join(names)}; wheels: {', '.join(CASES)}; matrix {DEFAULT_DISTROS_FILE}")
    print(f"load average before: {os.getloadavg()}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="pytest-manylinux-bench-"))
    wheels = [wheelfactory.build(case, work) for case in CASES]
    shared = Engine.connect()
    ready: dict[str, str] = {}
    for name in names:  # the shared engine's images: made once per machine (.ci/run), not timed
        ready[name] = ensure_image(shared, by_name[name], lambda line: None).ref
    results: dict[str, tuple[float, dict[str, str]]] = {}
    with services.registry() as registry:
        seed = {by_name[n].image: f"library/{by_name[n].image}" for n in names}
        seed.update({ready[n]: pushed_reference("ready", by_name[n].image) for n in names})
        started = time.monotonic()
        services.seed(shared.client, registry, seed)
        print(f"registry seeded with {len(seed)} images in {time.monotonic() - started:.1f} s (not timed)")
        ways = {
            "registry": (
                {},
                _distros_file(
                    work / "ready.toml",
                    names,
                    {n: f"{registry.host}/{pushed_reference('ready', by_name[n].image)}" for n in names},
                    derive=False,
                    build=False,
                ),
            ),
            "derive": (
                {"registry-mirrors": [registry.url]},
                _distros_file(
                    work / "derive.toml",
                    names,
                    {n: by_name[n].image for n in names},
                    derive=True,
                    build=False,
                ),
            ),
            "build": (
                {},
                _distros_file(
                    work / "build.toml",
                    names,
                    {n: f"pytest-manylinux-bench-{os.getpid()}/{by_name[n].image}" for n in names},
                    derive=False,
                    build=True,
                ),
            ),
        }
        for label, (config, distros) in ways.items():
            dockerd = _private_dockerd(config)
            try:
                results[label] = _run(label, dockerd.host, distros, wheels, work)
            finally:
                dockerd.remove()
    shared.close()
    outcomes = {label: r[1] for label, r in results.items()}
    agree = outcomes["registry"] == outcomes["derive"] == outcomes["build"]
    print(f"same outcomes on every way: {agree}  {outcomes['build']}")
    build = results["build"][0]
    for label in ("registry", "derive"):
        seconds = results[label][0]
        print(f"{label:<9} {seconds:7.1f} s = 1/{build / seconds:.1f} of build ({build:.1f} s)")
    print(f"load average after: {os.getloadavg()}")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
