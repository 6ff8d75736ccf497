"""Writing reports where they go: files written atomically, and GitHub Actions' job summary."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomically(target: Path, text: str) -> None:
    """Write to a temporary file beside ``target`` and rename: a reader never sees half a report."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)


def append_step_summary(text: str) -> bool:
    """Append to GitHub Actions' job summary (``$GITHUB_STEP_SUMMARY``) when the job has one."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return False
    with open(path, "a", encoding="utf-8") as f:
        f.write(text + "\n")
    return True
