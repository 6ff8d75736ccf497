"""Benchmark: the static ELF analysis (``pytest-manylinux inspect``) against ``auditwheel show``.

Times both over the same wheels in one run and prints the time per MB of wheel and the ratio::

    python benchmarks/static_analysis.py [WHEEL_DIR] [--limit N] [--max-mb MB]

Without a directory it builds real-world wheels: every installed distribution that has ELF files
(numpy, scipy, cryptography, ...) is packed back into a wheel, with its own WHEEL tags and a fresh
RECORD, in a temporary directory. Each tool runs as the command a user would type, one process per
wheel; the in-process figure (read_wheel + analyze, no interpreter start-up) is printed beside them.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib.metadata
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from pytest_manylinux.core.static import analyze
from pytest_manylinux.core.wheel import read_wheel

_SKIP = re.compile(r"(^|/)__pycache__/|\.pyc$|\.dist-info/(INSTALLER|REQUESTED|RECORD|direct_url\.json)$")


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def pack_installed(dist: importlib.metadata.Distribution, outdir: Path) -> Path | None:
    """Pack an installed distribution back into a wheel; ``None`` if it has no ELF file or no tag."""
    files = [f for f in dist.files or () if not _SKIP.search(str(f)) and not str(f).startswith("..")]
    if not any(str(f).endswith(".so") or ".so." in str(f) for f in files):
        return None
    wheel_meta = dist.read_text("WHEEL") or ""
    tags = re.findall(r"^Tag: (\S+)$", wheel_meta, re.M)
    if not tags:
        return None
    # A wheel's tag triple may be compressed (cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64).
    pythons = ".".join(dict.fromkeys(t.split("-")[0] for t in tags))
    abis = ".".join(dict.fromkeys(t.split("-")[1] for t in tags))
    platforms = ".".join(dict.fromkeys(t.split("-")[2] for t in tags))
    name = re.sub(r"[-_.]+", "_", dist.metadata["Name"]).lower()
    target = outdir / f"{name}-{dist.version}-{pythons}-{abis}-{platforms}.whl"
    rows = []
    record = None
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in files:
            source = Path(str(dist.locate_file(f)))
            if not source.is_file():
                continue
            data = source.read_bytes()
            zf.writestr(str(f), data)
            rows.append(f"{f},{_record_hash(data)},{len(data)}\n")
            if record is None and str(f).endswith(".dist-info/METADATA"):
                record = str(f).rsplit("/", 1)[0] + "/RECORD"
        if record is None:
            return None
        rows.append(f"{record},,\n")
        zf.writestr(record, "".join(rows))
    return target


def _run(cmd: list[str]) -> tuple[float, int]:
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, check=False)
    return time.perf_counter() - started, done.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "wheels", nargs="?", type=Path, help="a directory of wheels (default: pack installed ones)"
    )
    parser.add_argument(
        "--limit", type=int, default=8, help="at most this many wheels, largest first (default 8)"
    )
    parser.add_argument(
        "--max-mb", type=float, default=200.0, help="skip wheels larger than this (default 200)"
    )
    args = parser.parse_args(argv)

    auditwheel = shutil.which("auditwheel")
    if auditwheel is None:
        parser.error(
            "auditwheel is not installed (pip install 'pytest-manylinux[bench]'); it is the baseline"
        )
    with tempfile.TemporaryDirectory(prefix="pm-bench-") as tmp:
        if args.wheels is not None:
            wheels = sorted(args.wheels.glob("*.whl"))
        else:
            print("packing installed distributions with ELF files into wheels ...", flush=True)
            packed = (pack_installed(d, Path(tmp)) for d in importlib.metadata.distributions())
            wheels = [w for w in packed if w is not None]
        wheels = [w for w in wheels if w.stat().st_size <= args.max_mb * 1e6]
        wheels = sorted(wheels, key=lambda w: -w.stat().st_size)[: args.limit]
        if not wheels:
            parser.error("no wheels to measure")

        columns = (
            ("MB", 6),
            ("ELF", 4),
            ("in-proc ms", 10),
            ("inspect ms", 10),
            ("auditwheel ms", 13),
            ("ratio", 6),
        )
        header = f"{'wheel':44} " + " ".join(f"{name:>{width}}" for name, width in columns)
        print(header)
        print("-" * len(header))
        total_mb = total_ours = total_inproc = total_analysis = total_aw = 0.0
        for wheel in wheels:
            mb = wheel.stat().st_size / 1e6
            started = time.perf_counter()
            info = read_wheel(wheel)  # opens the zip and checks every member against RECORD
            read = time.perf_counter()
            report = analyze(info)  # the ELF analysis proper
            inproc = time.perf_counter() - started
            total_analysis += time.perf_counter() - read
            ours, _ = _run([sys.executable, "-m", "pytest_manylinux", "inspect", "--json", str(wheel)])
            theirs, code = _run([auditwheel, "show", str(wheel)])
            note = "" if code == 0 else f"  (auditwheel exit {code})"
            print(
                f"{wheel.name[:44]:44} {mb:6.1f} {len(report.files):4d} {inproc * 1e3:10.0f} "
                f"{ours * 1e3:10.0f} {theirs * 1e3:13.0f} {theirs / ours:6.1f}{note}"
            )
            total_mb += mb
            total_inproc += inproc
            total_ours += ours
            total_aw += theirs
        print("-" * len(header))
        print(f"{len(wheels)} wheels, {total_mb:.1f} MB")
        print(f"  pytest-manylinux inspect : {total_ours * 1e3 / total_mb:8.1f} ms/MB  ({total_ours:.2f} s)")
        print(
            f"    in-process, no start-up: {total_inproc * 1e3 / total_mb:8.1f} ms/MB  ({total_inproc:.2f} s)"
        )
        per_mb = total_analysis * 1e3 / total_mb
        print(f"      of which ELF analysis: {per_mb:8.1f} ms/MB  ({total_analysis:.2f} s)")
        print(f"  auditwheel show          : {total_aw * 1e3 / total_mb:8.1f} ms/MB  ({total_aw:.2f} s)")
        print(f"  auditwheel / inspect     : {total_aw / total_ours:8.1f}x (commands, start-up included)")
        print(f"  auditwheel / in-process  : {total_aw / total_inproc:8.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
