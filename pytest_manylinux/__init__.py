"""pytest-manylinux: run a wheel on real distros and check that its manylinux tag tells the truth."""

from __future__ import annotations

__version__ = "0.1.0"
