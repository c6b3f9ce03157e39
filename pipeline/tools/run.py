"""The one subprocess runner. Every external command of the pipeline goes through ``run``.

Why one runner: argv lists only (no shell, so no quoting bugs and no injection), an explicit
minimal environment (a build must not depend on the caller's shell), the command logged as
``shlex.join`` so it can be copied and re-run, one typed error carrying the exit code and the
tail of stderr, and the duration of each call recorded for the build report.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.core.errors import ToolError

log = logging.getLogger("pipeline.run")

#: Variables a tool may need from the caller's environment; everything else is dropped.
PASSTHROUGH = (
    "PATH",
    "HOME",
    "TMPDIR",
    "XDG_RUNTIME_DIR",
    "REGISTRY_AUTH_FILE",
    "CONTAINERS_STORAGE_CONF",
    "CONTAINERS_REGISTRIES_CONF",
    "BUILDAH_ISOLATION",
    "GOPROXY",
    "GOFLAGS",
    "GOPATH",
    "GOCACHE",
    "GOMODCACHE",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
)
#: Fixed for every command so output is parseable and builds are reproducible.
FIXED_ENV = {"LC_ALL": "C.UTF-8", "LANG": "C.UTF-8", "TZ": "UTC"}
STDERR_TAIL_LINES = 15


@dataclass(frozen=True)
class Completed:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float


@dataclass
class ToolTimings:
    """Collects (tool, started, seconds) of every command run while it is active (``started``
    on the monotonic clock); thread-safe."""

    calls: list[tuple[str, float, float]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, tool: str, seconds: float, started: float) -> None:
        with self._lock:
            self.calls.append((tool, started, seconds))

    def busy(self) -> float:
        """Wall seconds during which at least one tool ran: calls side by side (threads) count
        once, so it compares with the stage's wall time where the sum of calls does not."""
        with self._lock:
            spans = sorted((started, started + seconds) for _, started, seconds in self.calls)
        total, reached = 0.0, float("-inf")
        for start, end in spans:
            if end > reached:
                total += end - max(start, reached)
                reached = end
        return round(total, 3)

    def by_tool(self) -> dict[str, dict[str, float]]:
        totals: dict[str, dict[str, float]] = {}
        with self._lock:
            for tool, _, seconds in self.calls:
                entry = totals.setdefault(tool, {"calls": 0, "seconds": 0.0})
                entry["calls"] += 1
                entry["seconds"] = round(entry["seconds"] + seconds, 3)
        return totals

    def total(self) -> float:
        with self._lock:
            return sum(seconds for _, _, seconds in self.calls)


_active: list[ToolTimings] = []
_active_lock = threading.Lock()
#: Commands running now (from any thread), so an interruption can stop them all.
_live: set[subprocess.Popen[str] | subprocess.Popen[bytes]] = set()
_live_lock = threading.Lock()
_stopping = threading.Event()
#: How long a tool gets to clean up after SIGTERM (buildah unmounts, rpmbuild removes its tmp).
STOP_GRACE_SECONDS = 10.0


def _stop_group(proc: subprocess.Popen[str] | subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group of ``proc``, SIGKILL it after the grace time; reap ``proc``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=STOP_GRACE_SECONDS)
            break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # what the leader left behind


def resume() -> None:
    """Let commands start again (after an interruption was handled, for in-process callers)."""
    _stopping.clear()


def stop_all() -> None:
    """An interruption: start no new command, and stop the running ones (from any thread).

    Their ``run`` calls then fail with ``ToolError``; the thread that was interrupted unwinds."""
    _stopping.set()
    with _live_lock:
        running = list(_live)
    for proc in running:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)


@contextmanager
def recording() -> Iterator[ToolTimings]:
    """Record the duration of every ``run`` call made (from any thread) inside the block."""
    timings = ToolTimings()
    with _active_lock:
        _active.append(timings)
    try:
        yield timings
    finally:
        with _active_lock:
            _active.remove(timings)


def tool_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The minimal environment every tool gets: the passthrough names, fixed locale/TZ, extras."""
    env = {name: os.environ[name] for name in PASSTHROUGH if name in os.environ}
    env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    env.update(FIXED_ENV)
    if extra:
        env.update(extra)
    return env


def _describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    if returncode == 127:
        return "exit 127 (command not found inside the tool)"
    return f"exit {returncode}"


def _tail(text: str, lines: int = STDERR_TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def run(
    argv: Sequence[str | Path],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | str | None = None,
    input: str | bytes | None = None,
    timeout: float | None = None,
    check: bool = True,
    capture: bool = True,
    text: bool = True,
) -> Completed:
    """Run ``argv`` and return its result; raise ``ToolError`` when it fails and ``check``.

    ``env`` is added to the minimal environment of ``tool_env``; the caller's environment is
    never passed through wholesale.
    """
    args = [os.fspath(a) for a in argv]
    if not args:
        raise ValueError("run() needs a command")
    tool = Path(args[0]).name
    log.debug("$ %s", shlex.join(args))
    if _stopping.is_set():
        raise ToolError(f"{tool}: not started, the pipeline is stopping", argv=args)
    started = time.monotonic()
    data = input.encode() if isinstance(input, str) and not text else input
    proc = _start(args, env, cwd, data is not None, capture, text)
    try:
        out, err = _wait(proc, args, data, timeout)
    finally:
        seconds = time.monotonic() - started
        with _active_lock:
            for timings in _active:
                timings.add(tool, seconds, started)
    stdout = out if out is not None else ("" if text else b"")
    stderr = err if err is not None else ("" if text else b"")
    result = Completed(args, proc.returncode, stdout, stderr, seconds)  # type: ignore[arg-type]
    if check and proc.returncode != 0:
        raise _failure(result)
    return result


def _start(
    args: list[str],
    env: Mapping[str, str] | None,
    cwd: Path | str | None,
    stdin: bool,
    capture: bool,
    text: bool,
) -> subprocess.Popen[Any]:
    pipe = subprocess.PIPE if capture else None
    try:
        # Its own process group: on an interruption the whole tree goes (rpmbuild's shells and
        # go, buildah's children), not only the process we started.
        proc = subprocess.Popen(  # noqa: S603 - argv list, never a shell
            args,
            env=tool_env(env),
            cwd=cwd,
            stdin=subprocess.PIPE if stdin else None,
            stdout=pipe,
            stderr=pipe,
            text=text,
            errors="replace" if text else None,
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        raise ToolError(
            f"{Path(args[0]).name}: command not found",
            argv=args,
            returncode=127,
            hint="run `nox -s setup-host` (or `python -m pipeline setup-host`) to install it",
        ) from exc
    with _live_lock:
        _live.add(proc)
    return proc


def _wait(
    proc: subprocess.Popen[Any], args: list[str], data: str | bytes | None, timeout: float | None
) -> tuple[Any, Any]:
    """The process's output once it ended; its whole group stopped on a timeout or an
    interruption."""
    try:
        with proc:  # closes the pipes however this ends
            try:
                return proc.communicate(data, timeout=timeout)
            except subprocess.TimeoutExpired as exc:
                _stop_group(proc)
                raise ToolError(
                    f"{Path(args[0]).name}: timed out after {timeout:g}s: {shlex.join(args)}",
                    argv=args,
                ) from exc
            except BaseException:
                _stop_group(proc)
                raise
    finally:
        with _live_lock:
            _live.discard(proc)


def _failure(result: Completed) -> ToolError:
    stdout, stderr = result.stdout, result.stderr
    err_text = stderr if isinstance(stderr, str) else stderr.decode(errors="replace")
    tail = _tail(err_text) or _tail(stdout if isinstance(stdout, str) else "")
    last = tail.splitlines()[-1] if tail else "no output"
    return ToolError(
        f"{Path(result.argv[0]).name} failed ({_describe_exit(result.returncode)}): {last}",
        argv=result.argv,
        returncode=result.returncode,
        stderr_tail=tail,
        stdout_tail=_tail(stdout) if isinstance(stdout, str) else "",
        hint=f"command: {shlex.join(result.argv)}; --debug shows its output",
    )
