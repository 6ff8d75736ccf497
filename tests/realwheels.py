"""The real-wheel corpus: published PyPI wheels pinned by file name and sha256 (tests/data/corpus.toml),
fetched with ``pip download`` into a per-machine cache and checked against their pins.

``python tests/realwheels.py`` fetches every pinned wheel (``.ci/run`` does it before the tests) and
prints where they are; ``--list`` prints the corpus with each expected verdict and its reason.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import parse_wheel_filename

from pytest_manylinux.core.wheel import file_sha256
from pytest_manylinux.engine.sharing import cache_root

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.9 and 3.10
    import tomli as tomllib

CORPUS = Path(__file__).parent / "data" / "corpus.toml"

#: the verdicts a corpus entry may expect (pytest_manylinux.core.verdict's values)
VERDICTS = ("over-claim", "honest", "under-claim", "untestable", "no-claim")


class CorpusError(Exception):
    """The corpus file is malformed, or a pinned wheel cannot be fetched or differs from its pin."""


@dataclass(frozen=True)
class Pinned:
    """One published wheel, pinned by its exact file name and sha256."""

    #: the wheel's file name on PyPI: project, version and tags (what pip is asked for)
    file: str
    #: sha256 of the file, hex: a fetched file that differs is refused
    sha256: str

    @property
    def project(self) -> str:
        return str(parse_wheel_filename(self.file)[0])

    @property
    def version(self) -> str:
        return str(parse_wheel_filename(self.file)[1])


@dataclass(frozen=True)
class CorpusWheel(Pinned):
    """A wheel under test, with the verdict the plugin must give and why that is the right one."""

    #: the verdict of a full run (containers and static analysis)
    verdict: str = "honest"
    #: the verdict of ``--manylinux-static-only``, where it rightly differs (else the same as verdict)
    static: str = ""
    #: why this verdict is right: the evidence a reader can check
    reason: str = ""
    #: what the wheel exercises (platform-modules, optional-backend, numpy, py2py3, executable, rust, ...)
    kinds: tuple[str, ...] = ()
    #: the ``--manylinux-timeout`` of its own run, apart from the others: for a wheel whose modules hang by
    #: design (each such module costs a whole timeout on every distro); None: the default, with the others
    timeout: float | None = None

    @property
    def static_verdict(self) -> str:
        return self.static or self.verdict


@dataclass(frozen=True)
class Corpus:
    """The wheels under test and the dependency wheels (the wheelhouse) their modules need."""

    wheels: tuple[CorpusWheel, ...]
    wheelhouse: tuple[Pinned, ...]

    def runs(self) -> dict[float | None, tuple[CorpusWheel, ...]]:
        """The wheels by the ``--manylinux-timeout`` they run with (None: the default), the default first."""
        groups: dict[float | None, list[CorpusWheel]] = {None: []}
        for w in self.wheels:
            groups.setdefault(w.timeout, []).append(w)
        return {timeout: tuple(wheels) for timeout, wheels in groups.items() if wheels}

    def all_pinned(self) -> tuple[Pinned, ...]:
        seen: dict[str, Pinned] = {}
        for p in (*self.wheels, *self.wheelhouse):
            seen.setdefault(p.file, p)
        return tuple(seen.values())


def _pinned_fields(entry: dict[str, object], where: str) -> tuple[str, str]:
    file, sha = entry.get("file"), entry.get("sha256")
    if not isinstance(file, str) or not file.endswith(".whl"):
        raise CorpusError(f"{where}: 'file' must be a wheel file name, got {file!r}")
    try:
        parse_wheel_filename(file)
    except ValueError as e:
        raise CorpusError(f"{where}: {file!r} is not a valid wheel file name: {e}") from e
    if not isinstance(sha, str) or len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise CorpusError(f"{where}: 'sha256' of {file} must be 64 lowercase hex digits, got {sha!r}")
    return file, sha


def load_corpus(path: Path = CORPUS) -> Corpus:
    """Read and validate the corpus file: every entry pinned, every verdict one the plugin gives."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise CorpusError(f"{path}: cannot read the corpus: {e}") from e
    wheels: list[CorpusWheel] = []
    for i, entry in enumerate(data.get("wheel", [])):
        where = f"{path}: [[wheel]] #{i + 1}"
        file, sha = _pinned_fields(entry, where)
        verdict, static = entry.get("verdict"), entry.get("static", "")
        for key, value in (("verdict", verdict), ("static", static or verdict)):
            if value not in VERDICTS:
                raise CorpusError(f"{where} ({file}): {key} {value!r} is not one of {', '.join(VERDICTS)}")
        reason = entry.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise CorpusError(f"{where} ({file}): every expected verdict needs its 'reason'")
        kinds = entry.get("kinds", [])
        if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
            raise CorpusError(f"{where} ({file}): 'kinds' must be a list of strings, got {kinds!r}")
        timeout = entry.get("timeout")
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0
        ):
            raise CorpusError(
                f"{where} ({file}): 'timeout' must be a positive number of seconds, got {timeout!r}"
            )
        wheels.append(
            CorpusWheel(
                file,
                sha,
                str(verdict),
                str(static),
                reason.strip(),
                tuple(kinds),
                float(timeout) if timeout is not None else None,
            )
        )
    house = [
        Pinned(*_pinned_fields(entry, f"{path}: [[wheelhouse]] #{i + 1}"))
        for i, entry in enumerate(data.get("wheelhouse", []))
    ]
    files = [w.file for w in wheels]
    duplicates = sorted({f for f in files if files.count(f) > 1})
    if duplicates:
        raise CorpusError(f"{path}: wheels listed twice: {', '.join(duplicates)}")
    shas = {p.file: p.sha256 for p in (*wheels, *house)}
    for p in (*wheels, *house):
        if shas[p.file] != p.sha256:
            raise CorpusError(f"{path}: {p.file} is pinned with two different sha256")
    return Corpus(tuple(wheels), tuple(house))


def cache_dir() -> Path:
    """``wheels`` in the plugin's cache (``$PYTEST_MANYLINUX_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/pytest-manylinux``), beside the portable CPython builds."""
    path = cache_root() / "wheels"
    path.mkdir(parents=True, exist_ok=True)
    return path


def pip_download_args(file: str) -> list[str]:
    """The ``pip download`` arguments that select exactly this file: its project and version, and its
    own interpreter, ABI and platform tags (pip matches ``--platform`` literally, so each is named)."""
    name, version, _build, tags = parse_wheel_filename(file)
    pythons = sorted({t.interpreter for t in tags})
    # py2.py3 or cp36.cp37 ...: ask as the newest Python 3 the file names (Requires-Python is not checked)
    py3 = [p for p in pythons if p[2:3] == "3"] or pythons
    newest = max(py3, key=lambda p: (len(p), p))
    digits = newest[2:]
    version_arg = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    args = [
        "--no-deps",
        "--only-binary=:all:",
        "--ignore-requires-python",
        "--python-version",
        version_arg,
        "--implementation",
        newest[:2],
    ]
    for abi in sorted({t.abi for t in tags}):
        args += ["--abi", abi]
    for platform in sorted({t.platform for t in tags}):
        args += ["--platform", platform]
    return [*args, f"{name}=={version}"]


def fetch(pinned: Pinned, cache: Path | None = None, log: bool = True) -> Path:
    """The pinned wheel in the cache: taken from there when its sha256 matches, else downloaded with pip
    into a temporary directory, checked, and moved in (so another process never sees half a file)."""
    cache = cache or cache_dir()
    target = cache / pinned.file
    if target.is_file() and file_sha256(target) == pinned.sha256:
        return target
    with tempfile.TemporaryDirectory(dir=cache, prefix=".fetch-") as tmp:
        argv = [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "-d", tmp]
        argv += pip_download_args(pinned.file)
        if log:
            print(f"fetching {pinned.file}", flush=True)
        proc = subprocess.run(argv, capture_output=True, text=True)
        got = Path(tmp) / pinned.file
        if not got.is_file():
            present = ", ".join(p.name for p in Path(tmp).iterdir()) or "nothing"
            raise CorpusError(
                f"pip download did not give {pinned.file} (it gave {present}; "
                f"exit status {proc.returncode}):\n{proc.stderr.strip()[-2000:]}\ncommand: {' '.join(argv)}"
            )
        actual = file_sha256(got)
        if actual != pinned.sha256:
            raise CorpusError(
                f"{pinned.file}: sha256 {actual} differs from the pinned {pinned.sha256}; "
                "the index serves another file under that name: check the pin in tests/data/corpus.toml"
            )
        os.replace(got, target)
    return target


def fetch_all(
    pinned: Iterable[Pinned], cache: Path | None = None, log: bool = True, jobs: int = 4
) -> dict[str, Path]:
    """Every pinned wheel in the cache, by file name, ``jobs`` pip processes at a time (most of a fetch is
    pip starting up); the first that cannot be had raises CorpusError."""
    cache = cache or cache_dir()
    wanted = list(pinned)
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        paths = list(pool.map(lambda p: fetch(p, cache, log), wanted))
    return {p.file: path for p, path in zip(wanted, paths)}


def stage(
    corpus: Corpus, into: Path, cache: Path | None = None, wheels: Iterable[CorpusWheel] | None = None
) -> tuple[Path, Path]:
    """Two directories under ``into``: ``wheels/`` (the wheels under test: ``wheels``, else all of them)
    and ``wheelhouse/`` (their dependencies), linked from the cache, as a user would point the plugin at
    them."""
    paths = fetch_all(corpus.all_pinned(), cache, log=False)
    dirs = (into / "wheels", into / "wheelhouse")
    chosen = tuple(wheels) if wheels is not None else corpus.wheels
    for d, members in zip(dirs, (chosen, corpus.wheelhouse)):
        d.mkdir(parents=True, exist_ok=True)
        for p in members:
            try:
                os.link(paths[p.file], d / p.file)
            except OSError:
                shutil.copyfile(paths[p.file], d / p.file)
    return dirs


@dataclass(frozen=True)
class Score:
    """How a run's verdicts compare with the corpus: the figure the README gives."""

    total: int
    right: int
    #: wheels expected honest (or under-claiming, no claim) called over-claims: the worst error
    false_alarms: tuple[str, ...]
    #: over-claims not called over-claims
    missed: tuple[str, ...]
    #: other wrong verdicts (under-claim for honest, untestable, ...) and wheels missing from the results
    wrong: tuple[str, ...]
    #: how many of the corpus are over-claims
    over_claims: int

    def describe(self) -> str:
        text = (
            f"{self.right} of {self.total} verdicts right ({self.over_claims} over-claims in the corpus); "
            f"false alarms: {len(self.false_alarms)}, missed over-claims: {len(self.missed)}, "
            f"other wrong: {len(self.wrong)}"
        )
        return "\n  ".join([text, *self.false_alarms, *self.missed, *self.wrong])


def score(corpus: Corpus, document: dict[str, object], static: bool = False) -> Score:
    """Score a results document (``--manylinux-json``) against the corpus' expected verdicts (the
    static-only ones with ``static``)."""
    wheels = document.get("wheels")
    got = {str(w["file"]): str(w["verdict"]) for w in wheels} if isinstance(wheels, list) else {}
    right, false_alarms, missed, wrong = 0, [], [], []
    for w in corpus.wheels:
        expected = w.static_verdict if static else w.verdict
        verdict = got.get(w.file)
        line = f"{w.file}: expected {expected}, got {verdict or 'no result'}"
        if verdict == expected:
            right += 1
        elif verdict == "over-claim":
            false_alarms.append(line)
        elif expected == "over-claim":
            missed.append(line)
        else:
            wrong.append(line)
    over = sum(1 for w in corpus.wheels if (w.static_verdict if static else w.verdict) == "over-claim")
    return Score(len(corpus.wheels), right, tuple(false_alarms), tuple(missed), tuple(wrong), over)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="the corpus file (default: %(default)s)")
    parser.add_argument("--cache", type=Path, default=None, help="where the wheels go (default: the cache)")
    parser.add_argument("--list", action="store_true", help="print the corpus and the expected verdicts")
    parser.add_argument(
        "--score", type=Path, metavar="RESULTS", help="score a --manylinux-json file against the corpus"
    )
    parser.add_argument(
        "--static", action="store_true", help="with --score: against the static-only verdicts"
    )
    args = parser.parse_args(argv)
    try:
        corpus = load_corpus(args.corpus)
        if args.score:
            result = score(corpus, json.loads(args.score.read_text()), static=args.static)
            print(result.describe())
            return 0 if result.right == result.total else 1
        if args.list:
            for w in corpus.wheels:
                static = f" (static-only: {w.static})" if w.static else ""
                print(f"{w.verdict:<10} {w.file}{static}\n           {w.reason}")
            return 0
        paths = fetch_all(corpus.all_pinned(), args.cache)
    except CorpusError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    size = sum(p.stat().st_size for p in paths.values())
    print(
        f"{len(corpus.wheels)} corpus wheels and {len(corpus.wheelhouse)} wheelhouse wheels "
        f"({size / 1e6:.0f} MB) in {args.cache or cache_dir()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
