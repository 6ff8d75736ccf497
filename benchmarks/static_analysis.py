"""Benchmark: static analysis as a user runs it, against ``auditwheel show`` on the same wheels, same run.

    python benchmarks/static_analysis.py [WHEEL_DIR] [--limit N] [--repeat N]

Without a directory it uses :data:`WHEELS`, real PyPI wheels pinned by file name and sha256 (big C++ and
Rust libraries, vendored ``*.libs``, bundled executables), fetched once with ``pip download`` into
``~/.cache/pytest-manylinux/wheels`` by tests/realwheels.py (the corpus' fetcher: a file whose sha256
differs from its pin is refused). Every path runs as the command a user would type:

- ``pytest --manylinux-wheel DIR --manylinux-static-only``: one process for every wheel;
- ``pytest-manylinux inspect --json DIR``: one process for every wheel;
- ``auditwheel show WHEEL``: one process per wheel (it takes one wheel).

It prints MB, ms/MB of each path and the ratios, then where the time of the analysis goes, measured on one
thread: inflating and hashing every member for RECORD, reading the ELF files' dynamic data, and judging
the needs against the policies. The load average is printed before and after: other work on the machine
slows every path, and the ratios are only fair because the paths alternate wheel by wheel, in one run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pytest_manylinux.core import wheel as wheel_module
from pytest_manylinux.core.static import analyze
from pytest_manylinux.core.wheel import read_wheel

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from realwheels import Pinned, fetch_all  # the corpus' fetcher, not a second one

#: Real PyPI wheels, pinned: what each brings to the measure is in its comment.
WHEELS = (
    # C++: one 100+ MB library each
    Pinned(
        "pyarrow-18.0.0-cp312-cp312-manylinux_2_28_x86_64.whl",
        "a71ab0589a63a3e987beb2bc172e05f000a5c5be2636b4b263c44034e215b5d7",
    ),
    Pinned(
        "duckdb-1.1.3-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "4ebf5f60ddbd65c13e77cddb85fe4af671d31b851f125a4d002a313696af43f1",
    ),
    Pinned(
        "grpcio-1.67.1-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "1d7616d2ded471231c701489190379e0c311ee0a6c756f3c03e6a62b95a7146e",
    ),
    # Rust: one large extension each (polars' is 105 MB)
    Pinned(
        "polars-1.12.0-cp39-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "afb03647b5160737d2119532ee8ffe825de1d19d87f81bbbb005131786f7d59b",
    ),
    Pinned(
        "cryptography-43.0.3-cp39-abi3-manylinux_2_28_x86_64.whl",
        "c2e6fc39c4ab499049df3bdf567f768a723a5e8464816e8f009f121a5a9f4405",
    ),
    Pinned(
        "pydantic_core-2.23.4-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "128585782e5bfa515c590ccee4b727fb76925dd04a98864182b22e89a4e6ed36",
    ),
    Pinned(
        "tokenizers-0.20.3-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "f2b7cb962564785a83dafbba0144ecb7f579f1d57d8c406cdaa7f32fe32f18ad",
    ),
    Pinned(
        "orjson-3.10.11-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "e2f3b7c5803138e67028dde33450e054c87e0703afbe730c105f1fcd873496d5",
    ),
    # vendored libraries in *.libs (openblas, gfortran, ffmpeg, libjpeg, libpq ...)
    Pinned(
        "numpy-2.1.3-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "2312b2aa89e1f43ecea6da6ea9a810d06aae08321609d8dc0d0eda6d946a541b",
    ),
    Pinned(
        "scipy-1.14.1-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "8f9ea80f2e65bdaa0b7627fb00cbeb2daf163caa015e59b7516395fe3bd1e066",
    ),
    Pinned(
        "opencv_python_headless-4.10.0.84-cp37-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "377d08a7e48a1405b5e84afcbe4798464ce7ee17081c1c23619c8b398ff18295",
    ),
    Pinned(
        "pillow-11.0.0-cp312-cp312-manylinux_2_28_x86_64.whl",
        "00177a63030d612148e659b55ba99527803288cea7c75fb05766ab7981a8c1b7",
    ),
    Pinned(
        "lxml-5.3.0-cp312-cp312-manylinux_2_28_x86_64.whl",
        "3879cc6ce938ff4eb4900d901ed63555c778731a96365e53fadb36437a131a99",
    ),
    Pinned(
        "psycopg2_binary-2.9.10-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "8cd9b4f2cfab88ed4a9106192de509464b75a906462fb846b936eabe45c2063e",
    ),
    Pinned(
        "pandas-2.2.3-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "fffb8ae78d8af97f849404f21411c95062db1496aeb3e56f146f0355c9989319",
    ),
    # executables: ruff's binary in .data/scripts, cmake's programs in its package
    Pinned(
        "ruff-0.7.3-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "b8963cab06d130c4df2fd52c84e9f10d297826d2e8169ae0c798b6221be1d1d2",
    ),
    Pinned(
        "cmake-3.31.0.1-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "15866c85417d986f5f813c4826e1588aa3bbba93a5a1e5e432b4e44b2298a13a",
    ),
)


def _run(cmd: list[str], cwd: Path) -> tuple[float, int, str]:
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=cwd)
    return time.perf_counter() - started, done.returncode, done.stdout[-2000:] + done.stderr[-2000:]


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _breakdown(wheels: list[Path]) -> tuple[float, float, float]:
    """Seconds on one thread: inflate + hash every member, + read the ELF files, + judge (analyze)."""
    inflate = elf = judge = 0.0
    for path in wheels:
        started = time.perf_counter()
        read_wheel(path, read_elf=False, workers=1)
        inflated = time.perf_counter()
        info = read_wheel(path, workers=1)
        read = time.perf_counter()
        analyze(info)
        done = time.perf_counter()
        inflate += inflated - started
        elf += max(0.0, (read - inflated) - (inflated - started))
        judge += done - read
    return inflate, elf, judge


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("wheels", nargs="?", type=Path, help="a directory of wheels (default: WHEELS)")
    parser.add_argument("--limit", type=int, default=0, help="at most this many wheels, largest first")
    parser.add_argument("--repeat", type=int, default=1, help="run every path this many times (best kept)")
    args = parser.parse_args(argv)

    auditwheel = shutil.which("auditwheel")
    if auditwheel is None:
        parser.error("auditwheel is not installed (pip install 'pytest-manylinux[bench]'): the baseline")
    if args.wheels is not None:
        wheels = sorted(args.wheels.glob("*.whl"))
    else:
        wheels = list(fetch_all(WHEELS).values())
    wheels = sorted(wheels, key=lambda w: -w.stat().st_size)
    if args.limit:
        wheels = wheels[: args.limit]
    if not wheels:
        parser.error("no wheels to measure")

    with tempfile.TemporaryDirectory(prefix="pm-bench-") as tmp:
        work = Path(tmp)
        staged = work / "wheels"
        staged.mkdir()
        for w in wheels:
            (staged / w.name).symlink_to(w)
        total_mb = sum(w.stat().st_size for w in wheels) / 1e6
        unpacked_mb = sum(m.size for w in wheels for m in read_wheel(w, read_elf=False).members) / 1e6
        cores = os.cpu_count()
        print(f"{len(wheels)} wheels, {total_mb:.1f} MB ({unpacked_mb:.0f} MB unpacked), {cores} cores")
        print(f"inflating with {wheel_module._INFLATE.__name__}; load average before: {_load()}")
        static_cmd = [
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(work),
            "--manylinux-static-only", "--manylinux-wheel", str(staged),
        ]  # fmt: skip
        inspect_cmd = [sys.executable, "-m", "pytest_manylinux", "inspect", "--json", str(staged)]
        best: dict[str, float] = {}
        for _ in range(max(1, args.repeat)):
            # The paths alternate, so a change in the machine's load falls on each of them alike.
            seconds, code, out = _run(static_cmd, work)
            if code not in (0, 1):
                print(out)
                parser.error(f"pytest --manylinux-static-only exited {code}")
            best["static"] = min(best.get("static", seconds), seconds)
            seconds, code, out = _run(inspect_cmd, work)
            if code not in (0, 1):
                print(out)
                parser.error(f"pytest-manylinux inspect exited {code}")
            best["inspect"] = min(best.get("inspect", seconds), seconds)
            theirs = 0.0
            for w in wheels:
                seconds, _code, _out = _run([auditwheel, "show", str(w)], work)
                theirs += seconds
            best["auditwheel"] = min(best.get("auditwheel", theirs), theirs)
            started = time.perf_counter()
            for w in wheels:
                analyze(read_wheel(w))
            best["in-process"] = min(best.get("in-process", 1e9), time.perf_counter() - started)
        print(f"load average after: {_load()}")
        print()
        rows = (
            ("pytest --manylinux-static-only", "static"),
            ("pytest-manylinux inspect", "inspect"),
            ("read_wheel + analyze, in-process", "in-process"),
            ("auditwheel show (one per wheel)", "auditwheel"),
        )
        print(f"{'path':36} {'seconds':>8} {'ms/MB':>8} {'auditwheel / path':>18}")
        for label, key in rows:
            seconds = best[key]
            ratio = best["auditwheel"] / seconds
            print(f"{label:36} {seconds:8.2f} {seconds * 1e3 / total_mb:8.1f} {ratio:17.1f}x")
        print()
        inflate, elf, judge = _breakdown(wheels)
        spent = inflate + elf + judge
        print("where the analysis' time goes, on one thread:")
        print(f"  inflate and hash every member (RECORD): {inflate:6.2f} s  {100 * inflate / spent:4.0f}%")
        print(f"  read the ELF files' dynamic data      : {elf:6.2f} s  {100 * elf / spent:4.0f}%")
        print(f"  judge the needs against the policies  : {judge:6.2f} s  {100 * judge / spent:4.0f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
