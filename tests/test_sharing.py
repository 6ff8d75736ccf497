"""engine/sharing.py: work computed once across threads, and a lock across processes."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from pytest_manylinux.engine.sharing import Once, file_lock


def test_the_first_caller_computes_and_the_others_wait_for_it() -> None:
    once: Once[str, int] = Once()
    started, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def slow() -> int:
        calls.append("slow")
        started.set()
        release.wait(30)
        return 42

    results: list[int] = []
    first = threading.Thread(target=lambda: results.append(once.get("k", slow)))
    first.start()
    started.wait(30)
    others = [threading.Thread(target=lambda: results.append(once.get("k", lambda: 0))) for _ in range(4)]
    for t in others:
        t.start()
    release.set()
    for t in [first, *others]:
        t.join(30)
    assert (results, calls) == ([42] * 5, ["slow"])
    assert once.done() == {"k"}


def test_a_failure_is_remembered_and_raised_to_every_caller() -> None:
    once: Once[str, int] = Once()
    calls = []

    def broken() -> int:
        calls.append(1)
        raise ValueError("no")

    for _ in range(3):
        with pytest.raises(ValueError, match="no"):
            once.get("k", broken)
    assert (len(calls), once.done()) == (1, set())


def test_file_lock_excludes_another_process(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    attempt = (
        "import fcntl, sys\n"
        "with open(sys.argv[1], 'a') as f:\n"
        "    try:\n"
        "        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
        "    except BlockingIOError:\n"
        "        sys.exit(3)\n"
    )
    with file_lock(path):
        held = subprocess.run([sys.executable, "-c", attempt, str(path)], check=False)
    free = subprocess.run([sys.executable, "-c", attempt, str(path)], check=False)
    assert (held.returncode, free.returncode) == (3, 0)
