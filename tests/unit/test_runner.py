"""The one runner, tested against a real stand-in program: this Python interpreter."""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pipeline.core.errors import EXIT_TOOL, ToolError
from pipeline.tools.run import ToolTimings, recording, run, tool_env


def py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_captures_output_and_duration() -> None:
    result = run(py("import sys; print('out'); print('err', file=sys.stderr)"))
    assert result.returncode == 0
    assert result.stdout == "out\n"
    assert result.stderr == "err\n"
    assert result.seconds > 0


def test_failure_raises_typed_error_with_exit_code_and_stderr_tail() -> None:
    code = "import sys\nfor i in range(40): print(f'line {i}', file=sys.stderr)\nsys.exit(7)"
    with pytest.raises(ToolError) as caught:
        run(py(code))
    error = caught.value
    assert error.returncode == 7
    assert error.exit_code == EXIT_TOOL
    assert error.stderr_tail.splitlines()[-1] == "line 39"
    assert len(error.stderr_tail.splitlines()) == 15
    line = error.one_line()
    assert "\n" not in line
    assert "exit 7" in line and "line 39" in line


def test_signal_death_is_named() -> None:
    with pytest.raises(ToolError, match="killed by signal SIGKILL"):
        run(py("import os, signal; os.kill(os.getpid(), signal.SIGKILL)"))


def test_missing_command_says_how_to_install() -> None:
    with pytest.raises(ToolError) as caught:
        run(["definitely-not-a-tool-xyz", "--version"])
    assert caught.value.returncode == 127
    assert "setup-host" in caught.value.one_line()


def test_check_false_returns_result() -> None:
    assert run(py("raise SystemExit(3)"), check=False).returncode == 3


def test_environment_is_minimal_and_explicit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_TOKEN_FOR_TEST", "hunter2")
    out = run(py("import os, json; print(json.dumps(dict(os.environ)))"), env={"EXTRA": "1"})
    env = json.loads(out.stdout)
    assert "SECRET_TOKEN_FOR_TEST" not in env
    assert env["EXTRA"] == "1"
    assert env["LC_ALL"] == "C.UTF-8" and env["TZ"] == "UTC"
    assert set(env) <= set(tool_env({"EXTRA": "1"})) | {"PWD", "SHLVL", "_"}


def test_arguments_are_never_shell_interpreted(tmp_path: Path) -> None:
    marker = "$(touch pwned); `touch pwned2`; echo hi > pwned3"
    out = run([*py("import sys; print(sys.argv[1])"), marker], cwd=tmp_path)
    assert out.stdout.strip() == marker
    assert list(tmp_path.iterdir()) == []


def test_timeout_is_a_tool_error() -> None:
    with pytest.raises(ToolError, match="timed out"):
        run(py("import time; time.sleep(5)"), timeout=0.2)


def test_recording_collects_timings_per_tool() -> None:
    with recording() as timings:
        run(py("pass"))
        run(py("pass"))
    tool = sys.executable.rsplit("/", 1)[-1]
    assert timings.by_tool()[tool]["calls"] == 2
    assert timings.total() > 0
    run(py("pass"))
    assert timings.by_tool()[tool]["calls"] == 2  # no longer recording


def test_tools_side_by_side_are_busy_once() -> None:
    with recording() as timings, ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda _: run(py("import time; time.sleep(0.5)")), range(2)))
    assert timings.total() >= 1.0
    assert 0.5 <= timings.busy() < 0.9  # the two sleeps overlapped: counted once


def test_busy_time_is_the_union_of_the_calls() -> None:
    timings = ToolTimings()
    for started, seconds in ((0.0, 2.0), (1.0, 2.0), (5.0, 1.0), (5.5, 0.2)):
        timings.add("t", seconds, started)
    assert timings.busy() == 4.0  # 0-3 and 5-6
