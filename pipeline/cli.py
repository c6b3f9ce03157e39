"""`python -m pipeline <verb>`: one parser, shared with the nox sessions (``nox -s VERB -- ARGS``).

The verbs are the table in ``pipeline.verbs``; this module only parses, builds the context, runs
the verb (its pre-flight checks, then its handler) and turns a ``PipelineError`` into one line on
stderr and its exit code. A traceback is shown only with ``--debug``.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from pipeline.core.console import console
from pipeline.core.context import Context, Options
from pipeline.core.errors import EXIT_INPUT, EXIT_TOOL, InputError, PipelineError
from pipeline.verbs import BY_NAME

log = logging.getLogger("pipeline")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pipeline",
        description="Build KubeVirt and CDI as distribution RPMs and images, publish, verify tags.",
    )
    parser.add_argument(
        "verb", choices=tuple(BY_NAME), metavar="VERB", help="one of: " + ", ".join(BY_NAME)
    )
    parser.add_argument(
        "args", nargs="*", help="verb arguments (registry: start|stop|status; obs-export: OUTDIR)"
    )
    add_options(parser)
    return parser


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--target",
        "-t",
        default=None,
        help="target from pipeline.yaml (default: local; for upstream: local-upstream)",
    )
    parser.add_argument(
        "--project",
        type=Path,
        default=None,
        help="path of pipeline.yaml (default: found from the current directory)",
    )
    parser.add_argument(
        "--json",
        nargs="?",
        const="-",
        default=None,
        metavar="FILE",
        help="also write the result as JSON to FILE (or stdout without FILE)",
    )
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks and every command with its output"
    )
    parser.add_argument(
        "--verbose", "-v", action="count", default=0, help="log each external command"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="rebuild even when up to date (takes a new release number)",
    )
    parser.add_argument(
        "--release", default=None, help="use this release (CI_CNT.B_CNT) instead of computing it"
    )
    parser.add_argument(
        "--registry",
        default=None,
        metavar="HOST:PORT",
        help="publish to and name this registry instead of the target's",
    )
    _build_options(parser)
    _verify_options(parser)
    _prune_options(parser)


def _verify_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--manifests",
        nargs="+",
        default=(),
        metavar="PATH_OR_URL",
        help="verify-tags: check these manifests instead of the build's",
    )
    parser.add_argument(
        "--releases",
        nargs="*",
        default=None,
        metavar="TARGET",
        help="verify-tags: audit every release published for these targets ('all': every "
        "target of pipeline.yaml; none named: --target) against the registries they name",
    )


def _build_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=2,
        help="parallel image builds, and rpmbuilds of one product's architectures",
    )
    parser.add_argument(
        "--platforms",
        default=None,
        metavar="host|OS/ARCH,...",
        help="build, publish and verify only these of the target's platforms ('host': this "
        "machine's), e.g. where the kernel cannot emulate the others (default: all)",
    )


def _prune_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--keep",
        type=int,
        default=3,
        metavar="N",
        help="prune: keep the last N releases of each product (default 3)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="prune: list what would be removed, remove nothing"
    )


def parse(argv: Sequence[str], verb: str | None = None) -> tuple[str, Path | None, Options]:
    """Parse a full command line, or (for nox) the arguments after ``--`` of a known verb."""
    parser = build_parser()
    args = parser.parse_intermixed_args([verb, *argv] if verb else list(argv))
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if args.keep < 1:
        parser.error("--keep must be at least 1: the newest release is never pruned")
    options = Options(
        target=args.target or BY_NAME[args.verb].default_target,
        json=args.json,
        debug=args.debug,
        verbose=args.verbose,
        force=args.force,
        release=args.release,
        registry=args.registry,
        jobs=args.jobs,
        manifests=tuple(args.manifests),
        releases=None if args.releases is None else tuple(args.releases),
        extra=tuple(args.args),
        keep=args.keep,
        dry_run=args.dry_run,
        platforms=args.platforms,
    )
    return args.verb, args.project, options


class _RichOnFirstRecord(logging.Handler):
    """rich's log handler, made for the first record: a run that logs nothing (most runs at
    the default level) never imports rich for it."""

    def __init__(self) -> None:
        super().__init__()
        self._rich: logging.Handler | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self._rich is None:
            from rich.logging import RichHandler

            self._rich = RichHandler(
                console=console(),
                show_time=False,
                show_path=False,
                markup=False,
                rich_tracebacks=False,
            )
        self._rich.handle(record)


def configure_logging(options: Options) -> None:
    level = logging.DEBUG if (options.debug or options.verbose) else logging.WARNING
    root = logging.getLogger()
    root.handlers[:] = [_RichOnFirstRecord()]
    root.setLevel(level)


def run_verb(verb: str, project_path: Path | None, options: Options) -> int:
    return BY_NAME[verb].run(Context(options, project_path))


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM: unwinds like Ctrl-C, so every stage's clean-up runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


#: The signal that stopped this run, once one came. While the run unwinds, a clean-up in a
#: ``finally`` may still fail (a tool that may not start any more), and that error would replace
#: the interruption: the run's outcome is the signal, whatever else the unwinding raised.
_received: list[int] = []


def _on_signal(signum: int, _frame: object) -> None:
    # Python's default for SIGTERM ends the process at once: no finally, no report section,
    # and rpmbuild or buildah left running on the build tree. Both signals take Ctrl-C's path;
    # a second one while unwinding is ignored (SIGKILL is there for the impatient).
    _received.append(signum)
    if (runner := _tool_runner()) is not None:
        runner.stop_all()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Interrupted(signum)


@contextmanager
def _interruptible() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    _received.clear()
    for sig in previous:
        signal.signal(sig, _on_signal)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if (runner := _tool_runner()) is not None:
            runner.resume()


def _tool_runner() -> ModuleType | None:
    """The module that runs the external tools, if this run loaded it. A verb that starts no
    tool (verify-tags) has no children to stop, and does not import it (nor ``subprocess``)
    just to be told so: that would cost its start-up."""
    return sys.modules.get("pipeline.tools.run")


def _interrupted(signum: int) -> int:
    name = signal.Signals(signum).name
    sys.stderr.write(f"Interrupted ({name}): nothing was half-published; re-run to continue\n")
    return 128 + signum


def main(argv: Sequence[str] | None = None, verb: str | None = None) -> int:
    """Entry point of ``python -m pipeline`` and the ``pipeline`` script; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        verb_name, project_path, options = parse(args, verb)
    except SystemExit as exc:  # argparse: usage errors are exit 2, --help is 0
        return int(exc.code or 0) if exc.code in (0, None) else EXIT_INPUT
    configure_logging(options)
    try:
        with _interruptible():
            return run_verb(verb_name, project_path, options)
    except PipelineError as exc:
        if options.debug:
            log.exception("debug traceback")
            if getattr(exc, "stderr_tail", ""):
                sys.stderr.write(exc.stderr_tail + "\n")  # type: ignore[attr-defined]
        if _received:  # raised while unwinding from the signal: the signal is the outcome
            log.debug("while stopping: %s", exc.one_line())
            return _interrupted(_received[0])
        sys.stderr.write(exc.one_line() + "\n")
        return exc.exit_code
    except KeyboardInterrupt as exc:
        return _interrupted(exc.signum if isinstance(exc, Interrupted) else signal.SIGINT)
    except OSError as exc:
        if options.debug:
            log.exception("debug traceback")
        location = getattr(exc, "filename", None)
        sys.stderr.write(
            InputError(location, exc.strerror or str(exc)).one_line() + "\n"
            if location
            else f"System: {exc}\n"
        )
        return EXIT_TOOL
    except Exception as exc:  # a bug: still one line; the traceback on request
        if options.debug:
            log.exception("debug traceback")
        sys.stderr.write(
            f"Internal error: {type(exc).__name__}: {exc} "
            "(a bug in the pipeline; --debug shows the traceback)\n"
        )
        return EXIT_TOOL
