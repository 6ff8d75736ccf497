"""The ``pytest-manylinux`` command line: one function per subcommand.

``inspect`` reads wheels' ELF files and prints the claim beside the predicted floor (no engine needed);
``images`` finds, pulls, builds or derives the matrix's images (``--push`` sends them to a registry);
``python`` finds, fetches or builds portable
CPythons; ``combine`` merges CI jobs' JSON results. A new subcommand is one function in
:data:`SUBCOMMANDS`: it configures its parser and returns the code that runs it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ManylinuxError

if TYPE_CHECKING:  # pragma: no cover
    from .engine.portable import Portable

#: Runs a parsed subcommand; returns the exit status.
Runner = Callable[[argparse.Namespace], int]
#: Adds a subcommand's arguments to its parser and returns its :data:`Runner`; its docstring's first
#: line is the subcommand's help.
Subcommand = Callable[[argparse.ArgumentParser], Runner]

#: Exit statuses of ``inspect``.
EXIT_OK = 0  #: every wheel's files fit its claim
EXIT_OVERCLAIM = 1  #: some wheel's files need more than its tag promises
EXIT_USAGE = 2  #: bad arguments, or a wheel that cannot be read at all


def _wheel_paths(given: list[Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Wheel files from the arguments (a directory stands for the ``*.whl`` in it), and input errors."""
    found: list[Path] = []
    errors: list[tuple[str, str]] = []
    for path in given:
        if path.is_dir():
            wheels = sorted(path.glob("*.whl"))
            if not wheels:
                errors.append(
                    (str(path), f"{path}: a directory with no *.whl files in it; pass wheel files.")
                )
            found.extend(wheels)
        elif path.is_file():
            found.append(path)
        else:
            errors.append((str(path), f"{path}: no such file; pass wheel files (e.g. dist/*.whl)."))
    return found, errors


def _inspect(parser: argparse.ArgumentParser) -> Runner:
    """Predict each wheel's floor from its ELF files and check its tag, without any container engine."""
    parser.add_argument(
        "wheels", nargs="+", type=Path, metavar="WHEEL", help="wheel files or directories of them"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every ELF file and what it needs")
    parser.epilog = (
        "exit status: 0 when every wheel's files fit its tag, 1 when one over-claims, "
        "2 when an argument or a wheel cannot be read"
    )

    def run(args: argparse.Namespace) -> int:
        # Imported here so that `pytest-manylinux --help` stays fast.
        from .core.static import Analyzer, format_report

        paths, errors = _wheel_paths(args.wheels)
        reports = []
        for analysis in Analyzer().run(paths):  # every core; the reports in the order given
            if analysis.report is not None:
                reports.append(analysis.report)
            elif analysis.error is not None:
                errors.append((str(analysis.path), str(analysis.error)))
        if args.json:
            document = {
                "wheels": [r.to_json() for r in reports],
                "errors": [{"wheel": wheel, "message": message} for wheel, message in errors],
            }
            sys.stdout.write(json.dumps(document, indent=2) + "\n")
        else:
            sys.stdout.write("\n\n".join(format_report(r, verbose=args.verbose) for r in reports))
            sys.stdout.write("\n" if reports else "")
        for _wheel, message in errors:
            sys.stderr.write(f"pytest-manylinux inspect: error: {message}\n")
        if errors:
            return EXIT_USAGE
        return EXIT_OVERCLAIM if any(r.check() for r in reports) else EXIT_OK

    return run


def _images(parser: argparse.ArgumentParser) -> Runner:
    """Find, pull, build or derive every image of the distro matrix; optionally push them to a registry."""
    parser.add_argument(
        "--distros-file", type=Path, default=None, help="a distros.toml (default: the shipped matrix)"
    )
    parser.add_argument(
        "--distro", action="append", default=[], metavar="NAME_OR_GLOB", help="only these distros"
    )
    parser.add_argument(
        "--push",
        default=None,
        metavar="REGISTRY/PREFIX",
        help="push each ready image (python3 included) to REGISTRY/PREFIX/NAME:TAG and print the "
        "distros.toml that points at them",
    )
    parser.add_argument(
        "--write-distros",
        type=Path,
        default=None,
        metavar="PATH",
        help="with --push: write that distros.toml to PATH instead of printing it",
    )
    parser.epilog = (
        "Order per distro: the engine's own image, a pull, a debootstrap build (root), then the derive "
        "that adds python3 through the engine. Exit status: 0 when every image was had (and pushed), "
        "1 when one was not (the others still are), 2 on bad arguments."
    )

    def run(args: argparse.Namespace) -> int:
        from .core.distros import check_image_reference, load_distros, pushed_reference, ready_matrix, select
        from .engine.docker import Engine
        from .engine.images import ensure_image, push_image
        from .outputs import write_atomically

        if args.write_distros is not None and args.push is None:
            print("error: --write-distros needs --push REGISTRY/PREFIX", file=sys.stderr)
            return EXIT_USAGE
        try:
            if args.push is not None:
                check_image_reference(args.push.rstrip("/") + "/probe:1")
            distros = select(load_distros(args.distros_file), args.distro)
            engine = Engine.connect()
        except ValueError as e:
            print(f"error: --push {args.push!r}: {e}", file=sys.stderr)
            return EXIT_USAGE
        except ManylinuxError as e:
            print(f"error: {e}", file=sys.stderr)
            return EXIT_USAGE
        # With the distros.toml going to stdout, everything else goes to stderr.
        out = sys.stderr if args.push is not None and args.write_distros is None else sys.stdout
        engine.notify = lambda line: print(line, file=out, flush=True)
        failed = 0
        pushed: dict[str, str] = {}
        try:
            for distro in distros:
                try:
                    source = ensure_image(engine, distro, engine.notify)
                    if args.push is not None:
                        ref = pushed_reference(args.push, distro.image)
                        digest = push_image(engine, distro, source, ref, engine.notify)
                        pushed[distro.name] = ref
                        print(f"{distro.name:<14} pushed {ref} ({digest})", file=out, flush=True)
                except ManylinuxError as e:
                    print(f"{distro.name}: {e}", file=sys.stderr)
                    failed += 1
                    continue
                print(
                    f"{distro.name:<14} {distro.image:<20} {source.story:<15} {source.seconds:6.1f}s  "
                    f"{source.ref}",
                    file=out,
                    flush=True,
                )
        finally:
            engine.close()
        if pushed:
            text = ready_matrix(args.distros_file, pushed)
            if args.write_distros is not None:
                write_atomically(args.write_distros, text)
                print(f"wrote {args.write_distros}: {len(pushed)} distro(s) with ready images", flush=True)
            else:
                sys.stdout.write(text)
        return 1 if failed else EXIT_OK

    return run


def _combine(parser: argparse.ArgumentParser) -> Runner:
    """Combine the JSON results of several CI jobs into one verdict per wheel, as one run would give."""
    parser.add_argument(
        "files", nargs="+", type=Path, metavar="RESULTS.json", help="files written by --manylinux-json"
    )
    parser.add_argument(
        "--json", type=Path, default=None, metavar="PATH", help="write the combined results as JSON"
    )
    parser.add_argument(
        "--markdown", type=Path, default=None, metavar="PATH", help="write the matrix as markdown"
    )
    parser.add_argument("--strict", action="store_true", help="under-claims fail too (as --manylinux-strict)")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="a row per distro, even where distros fared alike"
    )
    parser.epilog = (
        "Wheels are matched by their sha256, not their path. The markdown is also appended to "
        "$GITHUB_STEP_SUMMARY when set. Exit status: 0 when every claim holds, 1 when a wheel over-claims "
        "(or under-claims with --strict), a wheel was unreadable or a distro could not run; "
        "2 on unreadable input."
    )

    def run(args: argparse.Namespace) -> int:
        from .outputs import append_step_summary, write_atomically
        from .report import Results, dumps, markdown, run_failed, terminal_lines, verdict_counts

        results = Results()
        for path in args.files:
            try:
                document = json.loads(path.read_text(encoding="utf-8"))
                results.load_json(document, str(path))
            except OSError as e:
                return _usage_error(
                    f"{path}: cannot read it ({e.strerror or e}); pass files written by --manylinux-json"
                )
            except ManylinuxError as e:
                return _usage_error(str(e))
            except ValueError as e:
                return _usage_error(f"{path}: not JSON ({e}); pass files written by --manylinux-json")
        results.order_by_libc()
        wheels = results.wheels()
        for line in terminal_lines(wheels, unreadable=results.unreadable, verbose=args.verbose):
            print(line)
        counts = sorted((kind.value, n) for kind, n in verdict_counts(wheels).items())
        tally = ", ".join(f"{n} {kind}" for kind, n in counts) or "no wheels"
        print(f"== {tally} from {len(args.files)} file(s) ==")
        if args.json is not None:
            write_atomically(args.json, dumps(results))
        text = markdown(wheels, results.unreadable)
        if args.markdown is not None:
            write_atomically(args.markdown, text)
        append_step_summary(text)
        return 1 if run_failed(wheels, results.unreadable, args.strict) else EXIT_OK

    return run


def _python(parser: argparse.ArgumentParser) -> Runner:
    """Find, download or build portable CPythons (once per machine) and say where each came from."""
    parser.add_argument("versions", nargs="+", metavar="X.Y", help="CPython versions, e.g. 3.11")
    parser.add_argument(
        "--distros-file", type=Path, default=None, help="a distros.toml (default: the shipped matrix)"
    )
    parser.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="PATH",
        help="a portable CPython tarball or prefix to use",
    )
    parser.add_argument(
        "--retry",
        action="store_true",
        help="build again the versions whose build failed before (a failed build is otherwise remembered)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="obtain up to N versions at once (builds overlap their serial steps; default 1)",
    )
    parser.add_argument(
        "--musl",
        action="store_true",
        help="the CPython for musl distros (Alpine), built with musl-gcc in the matrix's ubuntu-20.04",
    )

    def run(args: argparse.Namespace) -> int:
        from .core.distros import load_distros_file
        from .engine.docker import Engine
        from .engine.portable import Provider, with_local_sources

        try:
            matrix = load_distros_file(args.distros_file)
            config = with_local_sources(matrix.python, args.source)
        except ManylinuxError as e:
            print(f"error: {e}", file=sys.stderr)
            return EXIT_USAGE
        engine = None
        if config.build:  # only a build from source needs the engine
            try:
                engine = Engine.connect()
            except ManylinuxError as e:
                print(
                    f"note: no container engine, so nothing can be built from source ({e})", file=sys.stderr
                )
        provider = Provider(
            config,
            engine,
            matrix.build_distro,
            lambda line: print(line, flush=True),
            retry=args.retry,
            musl_build_distro=matrix.musl_build_distro,
        )
        obtain = provider.musl.get if args.musl else provider.get
        failed = 0
        try:
            with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
                futures = {version: pool.submit(obtain, version) for version in args.versions}
                for version, future in futures.items():
                    try:
                        portable = future.result()
                    except ManylinuxError as e:
                        print(f"{version}: {e}", file=sys.stderr)
                        failed += 1
                        continue
                    line = describe_portable(version, portable)
                    print(line.replace("glibc ?", "musl") if args.musl else line, flush=True)
        finally:
            if engine is not None:
                engine.close()
        return 1 if failed else EXIT_OK

    return run


def describe_portable(version: str, portable: Portable) -> str:
    """One line for the ``python`` command: version, origin, size, glibc floor, archive, what it lacks."""
    full = ".".join(str(x) for x in portable.version)
    glibc = f"glibc>={portable.glibc}" if portable.glibc else "glibc ?"
    line = (
        f"{version:<5} cpython {full:<8} {portable.origin:<8} {portable.size / 1e6:5.1f} MB  {glibc}  "
        f"{portable.archive}  ({portable.detail})"
    )
    if portable.missing:
        line += f"\n      without: {', '.join(portable.missing)}"
    return line


def _usage_error(message: str) -> int:
    print(f"pytest-manylinux combine: error: {message}", file=sys.stderr)
    return EXIT_USAGE


#: Every subcommand, by name.
SUBCOMMANDS: dict[str, Subcommand] = {
    "inspect": _inspect,
    "images": _images,
    "python": _python,
    "combine": _combine,
}


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Runner]]:
    """The argument parser with every subcommand, and each subcommand's runner."""
    parser = argparse.ArgumentParser(
        prog="pytest-manylinux",
        description="Check a Linux wheel's manylinux tag. The pytest plugin runs it on real distros; "
        "these commands need no container engine.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    runners: dict[str, Runner] = {}
    for name, subcommand in SUBCOMMANDS.items():
        summary = (subcommand.__doc__ or name).strip().splitlines()[0]
        runners[name] = subcommand(subparsers.add_parser(name, help=summary, description=summary))
    return parser, runners


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status instead of exiting (argparse's own exits included)."""
    parser, runners = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help (0) or a usage error (2), already printed by argparse
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    return runners[args.command](args)
