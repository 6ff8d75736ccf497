"""probe.py's importer on this host (it is stdlib Python): what a misbehaving module leaves of the results."""

from __future__ import annotations

import sys
from pathlib import Path

from pytest_manylinux.container import probe

_FORKS = """import os, time
if os.fork() == 0:
    time.sleep(0.2)  # the child returns into the importer after the parent has moved on
"""


def test_a_module_that_forks_does_not_make_its_child_import_the_rest(tmp_path: Path) -> None:
    (tmp_path / "pm_forks.py").write_text(_FORKS)
    (tmp_path / "pm_after.py").write_text("VALUE = 1\n")
    (tmp_path / "pm_last.py").write_text("raise LookupError('only inside its tool')\n")
    results = probe._imports(sys.executable, str(tmp_path), ["pm_forks", "pm_after", "pm_last"], 30)
    assert [(r["module"], r["ok"]) for r in results] == [
        ("pm_forks", True),
        ("pm_after", True),
        ("pm_last", False),
    ]
    last = results[-1]
    assert last["type"] == "LookupError"
    assert last["chain"] == [
        {
            "type": "LookupError",
            "message": "only inside its tool",
            "name": None,
            "file": str(tmp_path / "pm_last.py"),
            "syntax": False,
        }
    ]


def test_a_syntax_error_is_described_with_its_file(tmp_path: Path) -> None:
    (tmp_path / "pm_bad.py").write_text("def f(:\n    pass\n")
    (result,) = probe._imports(sys.executable, str(tmp_path), ["pm_bad"], 30)
    assert (result["ok"], result["type"]) == (False, "SyntaxError")
    assert result["chain"][0]["syntax"] is True
    assert result["chain"][0]["file"] == str(tmp_path / "pm_bad.py")
