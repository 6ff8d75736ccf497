"""The one exception hierarchy of pytest-manylinux.

Every error the plugin raises on purpose is a :class:`ManylinuxError`; its message says what was
wrong, quotes the offending value, and says what to do about it.
"""

from __future__ import annotations


class ManylinuxError(Exception):
    """Base class of every error pytest-manylinux raises on purpose."""


class WheelError(ManylinuxError, ValueError):
    """A wheel file cannot be read, is unsafe to unpack, or its metadata is wrong."""


class ElfError(ManylinuxError, ValueError):
    """One ELF file inside a wheel cannot be parsed (truncated, corrupt, unsupported)."""


class PolicyError(ManylinuxError, ValueError):
    """The manylinux policy data (policy.json) is malformed or names no such policy."""


class DistrosFileError(ManylinuxError, ValueError):
    """A distros.toml file is malformed: the message names the file, table and key."""


class SelectionError(ManylinuxError, ValueError):
    """Options select nothing, or name a distro or wheel that does not exist."""


class NotRunnable(ManylinuxError):
    """No wheel under test can run on a distro (architecture, libc, or no interpreter for its tags)."""


class EngineError(ManylinuxError, RuntimeError):
    """The container engine is unreachable or failed an operation."""


class InternalError(ManylinuxError, RuntimeError):
    """An exception pytest-manylinux does not expect (a bug): the message carries it, with its traceback."""


class ImageError(EngineError):
    """An image could not be found locally, pulled, or built."""


class ProbeError(EngineError):
    """The in-container probe produced output that cannot be understood."""


class ResultsError(ManylinuxError, ValueError):
    """A results JSON file (for ``combine``) is unreadable or of the wrong shape."""


class PortableError(ManylinuxError, RuntimeError):
    """A portable CPython could not be found, downloaded, built or verified."""


class BuildFailed(PortableError):
    """Building CPython from source failed in one of its steps: remembered, not retried every run."""
