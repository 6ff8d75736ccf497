"""Benchmark: the portable CPython build recipe against CPython's own defaults, in the same build image.

Builds one CPython version (3.11 unless told) twice, one after the other, each in a fresh container of
the build image, and times ``configure`` + ``make -jN``:

- **defaults**: ``./configure --prefix=P --with-openssl=DEPS`` as CPython ships it: ``OPT=-g -O3``,
  every test module built;
- **recipe**: the configure line ``portable.build_steps`` gives (no debug info, ``-O2``,
  ``--disable-test-modules`` where it exists).

Both are judged by wall time and by the CPU time the container's processes used (its cgroup's: what a
busy machine cannot inflate the way it inflates wall time). It prints both and the ratios::

    python benchmarks/portable_build.py [--version 3.11] [--jobs 2]

The build image is made first if this machine has none (once, not timed). PGO and LTO are not measured:
``--enable-optimizations`` runs the test suite to profile and is known to take several times longer.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from pytest_manylinux.core.distros import load_distros_file
from pytest_manylinux.engine import portable
from pytest_manylinux.engine.docker import Engine, Limits


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def build_once(engine: Engine, image: str, tarball: Path, configure: str, jobs: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of unpack-free configure + make in a fresh container."""
    workdir = Path(tempfile.mkdtemp(prefix="pm-bench-"))
    try:
        inputs = portable._inputs({f"/opt/pytest-manylinux/build/{tarball.name}": tarball}, workdir)
        with engine.container(
            image, "bench-python-build", Limits(memory="4g", pids=4096, user=None), build=True
        ) as box:
            with inputs.open("rb") as f:
                box.put_archive("/", f)
            unpack = box.exec(
                [
                    "sh",
                    "-c",
                    f"mkdir -p /build && tar -xf /opt/pytest-manylinux/build/{tarball.name} -C /build",
                ]
            )
            assert unpack.exit_code == 0, unpack.stderr
            before = box.cpu_seconds() or 0.0
            started = time.monotonic()
            result = box.exec(
                ["sh", "-c", f"( {configure} && make -j{jobs} ) >/build/log 2>&1 || tail -n 30 /build/log"]
            )
            wall = time.monotonic() - started
            cpu = (box.cpu_seconds() or 0.0) - before
            if result.exit_code != 0 or result.stdout.strip():
                sys.exit(f"build failed:\n{result.stdout}{result.stderr}")
            return wall, cpu
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", default="3.11")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    engine = Engine.connect()
    distro = load_distros_file().build_distro
    image = portable.ensure_build_image(engine, distro, print)
    workdir = Path(tempfile.mkdtemp(prefix="pm-bench-source-"))
    try:
        tarball, _info = portable.fetch_archive_source(args.version, workdir, print)
        top, full = portable.source_tree(tarball)
        prefix = f"/opt/bench/cpython-{full}"
        steps = {
            name: command
            for name, command, _ in portable.build_steps(args.version, top, prefix, tarball.name)
        }
        recipe = steps["configure"]
        defaults = (
            f"cd /build/{top} && ./configure --prefix={prefix} --without-ensurepip "
            f"--with-openssl={portable.DEPS_PREFIX} CPPFLAGS=-I{portable.DEPS_PREFIX}/include "
            f"LDFLAGS=-L{portable.DEPS_PREFIX}/lib PKG_CONFIG_PATH={portable.DEPS_PREFIX}/lib/pkgconfig "
            "LIBS='-ldl -lpthread'"
        )
        print(f"CPython {full}, make -j{args.jobs}, {os.cpu_count()} CPUs; load average before: {_load()}")
        rows = {}
        for name, configure in (("defaults", defaults), ("recipe", recipe)):
            rows[name] = build_once(engine, image, tarball, configure, args.jobs)
            print(
                f"  {name:<9} configure + make: {rows[name][0]:7.1f} s wall, "
                f"{rows[name][1]:7.1f} CPU-s  (load {_load()})"
            )
        (dw, dc), (rw, rc) = rows["defaults"], rows["recipe"]
        print(f"defaults / recipe: {dw / rw:.2f}x wall, {dc / rc:.2f}x CPU")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
