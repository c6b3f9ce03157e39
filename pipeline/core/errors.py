"""One base exception, one per kind of failure, each with the exit code the CLI returns.

Exit codes are part of the interface (README, CI scripts read them):
    0 success
    1 a verification found mismatches
    2 bad input or usage: printed as ``file:line:col: message``
    3 an external tool or the registry failed (after retries)
    4 publish refused: a unique tag of the set already names another image in the registry
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

EXIT_OK = 0
EXIT_MISMATCH = 1
EXIT_INPUT = 2
EXIT_TOOL = 3
EXIT_CONFLICT = 4


@dataclass(frozen=True)
class Location:
    """Where in an input file a problem is. ``line``/``column`` are 1-based, 0 means unknown."""

    path: Path | str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        text = str(self.path)
        if self.line:
            text += f":{self.line}"
            if self.column:
                text += f":{self.column}"
        return text


class PipelineError(Exception):
    """Base of every error the pipeline reports to a user instead of a traceback."""

    exit_code = EXIT_TOOL
    #: Shown before the message when there is no file location, e.g. ``Rpms: ...``.
    stage = "Pipeline"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        """The single line the CLI prints. Never holds a newline."""
        text = f"{self.stage}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return " ".join(text.split())


class InputError(PipelineError):
    """A malformed input file or a bad command line: the user must change something."""

    exit_code = EXIT_INPUT
    stage = "Input"

    def __init__(
        self, location: Location | Path | str | None, message: str, *, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        if location is not None and not isinstance(location, Location):
            location = Location(location)
        self.location = location

    def one_line(self) -> str:
        if self.location is None:
            return super().one_line()
        text = f"{self.location}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return " ".join(text.split())


class StateError(InputError):
    """A file the pipeline wrote itself (report, release book, release record) that it cannot
    read back: another version wrote it, or a hand changed it."""


class ToolError(PipelineError):
    """An external command failed or could not be started."""

    stage = "Tool"

    def __init__(
        self,
        message: str,
        *,
        argv: list[str] | None = None,
        returncode: int | None = None,
        stderr_tail: str = "",
        hint: str | None = None,
        stdout_tail: str = "",
    ) -> None:
        super().__init__(message, hint=hint)
        self.argv = argv or []
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        #: What the tool printed last on stdout (buildah puts a failed RUN step's output there).
        self.stdout_tail = stdout_tail

    def retold(self, message: str, *, hint: str | None = None) -> ToolError:
        """The same failure told better (the step of a Dockerfile, rpmbuild's own reason):
        the command, exit code and output stay."""
        return ToolError(
            message,
            argv=self.argv,
            returncode=self.returncode,
            stderr_tail=self.stderr_tail,
            stdout_tail=self.stdout_tail,
            hint=self.hint if hint is None else hint,
        )


class RegistryError(PipelineError):
    """The registry could not be reached or answered wrongly, after retries."""

    stage = "Registry"


# One per stage: raised for failures that are not an input file's fault.
class RpmsError(PipelineError):
    stage = "Rpms"


class ContainersError(PipelineError):
    stage = "Containers"


class PublishError(PipelineError):
    stage = "Publish"


class TagConflictError(PipelineError):
    """A unique tag (``<version>-<release>``) is in the registry with another image: tags never
    move, so the whole set is refused before anything is pushed."""

    exit_code = EXIT_CONFLICT
    stage = "Publish"


class SetupError(PipelineError):
    stage = "Setup"
