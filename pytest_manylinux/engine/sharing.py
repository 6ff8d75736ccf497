"""Work shared rather than repeated: across processes (a file lock), across threads (computed once).

xdist workers and parallel sessions on one host share the image builds and the portable CPython
cache through :func:`file_lock`; a session's threads share a wheel's payload, a portable CPython, a
wheel read once, through :class:`Once`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def cache_root() -> Path:
    """This machine's cache, shared by every session: ``$PYTEST_MANYLINUX_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/pytest-manylinux`` (``XDG_CACHE_HOME`` defaults to ``~/.cache``)."""
    base = os.environ.get("PYTEST_MANYLINUX_CACHE_DIR")
    if base:
        return Path(base)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pytest-manylinux"


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (created if need be), across the processes of this host."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class Once(Generic[K, V]):
    """One value per key: the first caller computes it, the others wait for its result, or its exception
    (raised again to every caller, so a failure is not retried)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._futures: dict[K, Future[V]] = {}

    def get(self, key: K, compute: Callable[[], V]) -> V:
        with self._lock:
            future = self._futures.get(key)
            owner = future is None
            if owner:
                future = self._futures[key] = Future()
        assert future is not None
        if owner:
            try:
                future.set_result(compute())
            except BaseException as e:  # every caller sees it, the owner included (from result())
                future.set_exception(e)
        return future.result()

    def done(self) -> set[K]:
        """The keys whose value was computed without an exception."""
        with self._lock:
            futures = dict(self._futures)
        return {k for k, f in futures.items() if f.done() and f.exception() is None}
