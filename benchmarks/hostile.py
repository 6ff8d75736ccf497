"""Benchmark: what hostile imports cost the machine, the honest wheel alone against it with the hostile ones.

    python benchmarks/hostile.py [--cases writer,noisy,...] [--distro NAME ...] [--timeout S] [--json OUT]

Builds the factory's honest wheel and its hostile cases (tests/wheelfactory.py ``HOSTILE``), then runs
the plugin as a user runs it (``python -m pytest --manylinux-wheel=DIR``, a fresh process) twice: on the
honest wheel alone, then on the honest wheel beside every hostile one. During each run it samples,
every second, the writable layers of the run's containers (``docker ps --size``, by the creating pid's
label) and the engine's free disk (``statvfs`` of the Docker root, where it is on this machine). It prints
the wall time, the time per distro, the peak growth of the containers' writable layers and of the
engine's disk, and each wheel's outcome and cause per distro, with the ratio of the two runs' times.

Run it against another version of the plugin with ``PYTHONPATH=OTHER_TREE`` (the before/after figures
of the README's "What a hostile import can do" were measured that way, in one sitting).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import wheelfactory  # the test wheel factory: a script in tests/, not a package

DOCKER_ROOT = "/var/lib/docker"


def _layers(pid: int) -> int:
    """Bytes in the writable layers of the containers process ``pid`` created (0 when none)."""
    answer = subprocess.run(
        [
            "docker",
            "ps",
            "-a",
            "--size",
            "--format",
            "{{.Size}}",
            "--filter",
            f"label=pytest-manylinux.pid={pid}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    total = 0.0
    units = {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}
    for line in answer.stdout.splitlines():
        # "1.2GB (virtual 1.4GB)"
        value = line.split(" ", 1)[0]
        for unit in sorted(units, key=len, reverse=True):
            if value.endswith(unit):
                with contextlib.suppress(ValueError):
                    total += float(value[: -len(unit)]) * units[unit]
                break
    return int(total)


def _free() -> int | None:
    try:
        st = os.statvfs(DOCKER_ROOT)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


def run(wheels: Path, distros: list[str], timeout: float, work: Path) -> dict[str, Any]:
    """One plugin run on the wheels of ``wheels``, sampled every second; its figures."""
    out = work / f"results-{time.monotonic_ns()}.json"
    argv = [
        sys.executable,
        "-m",
        "pytest",
        f"--manylinux-wheel={wheels}",
        f"--manylinux-timeout={timeout}",
        f"--manylinux-json={out}",
        "-q",
        "-p",
        "no:cacheprovider",
        *[f"--manylinux-distro={d}" for d in distros],
    ]
    free_before = _free()
    started = time.monotonic()
    proc = subprocess.Popen(argv, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak_layers, peak_used = 0, 0
    done = threading.Event()
    output: list[str] = []

    def drain() -> None:
        assert proc.stdout is not None
        output.append(proc.stdout.read())
        done.set()

    threading.Thread(target=drain, daemon=True).start()
    while not done.wait(1.0):
        peak_layers = max(peak_layers, _layers(proc.pid))
        free = _free()
        if free is not None and free_before is not None:
            peak_used = max(peak_used, free_before - free)
    proc.wait()
    seconds = time.monotonic() - started
    results = json.loads(out.read_text()) if out.exists() else {}
    table = {}
    for wheel in results.get("wheels", []):
        table[wheel["file"].split("-", 1)[0]] = {
            d["name"]: f"{d['outcome']}{'/' + d['cause'] if d.get('cause') else ''}" for d in wheel["distros"]
        }
    return {
        "seconds": round(seconds, 1),
        "exit": proc.returncode,
        "peak_layers_bytes": peak_layers,
        "peak_disk_growth_bytes": peak_used,
        "outcomes": table,
        "tail": "".join(output)[-1500:],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(wheelfactory.HOSTILE), help="hostile cases to run")
    parser.add_argument("--distro", action="append", default=[], help="only these distros (repeatable)")
    parser.add_argument("--timeout", type=float, default=60.0, help="--manylinux-timeout (default 60)")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pm-hostile-bench-"))
    try:
        honest_dir, all_dir = work / "honest", work / "all"
        honest = wheelfactory.build("honest", honest_dir)
        all_dir.mkdir()
        os.link(honest, all_dir / honest.name)
        for case in args.cases.split(","):
            wheelfactory.build(wheelfactory.HOSTILE[case], all_dir)
        distros = args.distro
        count = len(distros) or 8
        print(f"load average before: {os.getloadavg()}", flush=True)
        alone = run(honest_dir, distros, args.timeout, work)
        beside = run(all_dir, distros, args.timeout, work)
        print(f"load average after: {os.getloadavg()}", flush=True)
        figures = {"honest alone": alone, "honest beside " + args.cases: beside}
        for name, f in figures.items():
            per = f["seconds"] / count
            print(f"\n== {name}: {f['seconds']} s wall, {per:.1f} s per distro, exit {f['exit']}")
            layers, disk = f["peak_layers_bytes"] / 2**20, f["peak_disk_growth_bytes"] / 2**20
            print(f"   peak writable layers of the run's containers: {layers:.1f} MiB")
            print(f"   peak growth of the engine's disk (all users): {disk:.1f} MiB")
            for wheel, row in f["outcomes"].items():
                print(f"   {wheel:<10} " + " ".join(f"{d}={o}" for d, o in row.items()))
        print(f"\nratio (with hostile wheels / honest alone): {beside['seconds'] / alone['seconds']:.2f}")
        if args.json:
            args.json.write_text(json.dumps(figures, indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
