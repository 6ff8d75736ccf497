"""``python -m pytest_manylinux`` and the ``pytest-manylinux`` console script: both run :func:`cli.main`."""

from __future__ import annotations

from typing import NoReturn

from .cli import main as _cli_main


def main(argv: list[str] | None = None) -> NoReturn:
    """Run the command line and exit with its status."""
    raise SystemExit(_cli_main(argv))


if __name__ == "__main__":
    main()
