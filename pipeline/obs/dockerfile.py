"""Dockerfiles as OBS builds them: instructions plus the ``#!`` magic comments of Docker.pm.

The parser accepts unprocessed files: ``%%TAGPREFIX%%`` and ``%RELEASE%`` placeholders are plain
text until the buildtime services have replaced them; image references are only checked where
they are resolved or expanded (:mod:`pipeline.obs.dockerfile_args`).

This module reads the file line by line: it joins continued lines, and hands each instruction
to :mod:`pipeline.obs.dockerfile_instructions` and each ``#!`` comment to
:mod:`pipeline.obs.dockerfile_magic`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.errors import InputError, Location
from pipeline.obs.dockerfile_instructions import (
    INSTRUCTIONS,
    Arg,
    From,
    Instruction,
    Instructions,
    Label,
)
from pipeline.obs.dockerfile_magic import (
    FLAG_MAGIC,
    UNSUPPORTED_MAGIC,
    VALUE_MAGIC,
    BuildTag,
    Magic,
    MagicComments,
)
from pipeline.obs.notice import Notice

log = logging.getLogger(__name__)

__all__ = [
    "FLAG_MAGIC",
    "INSTRUCTIONS",
    "UNSUPPORTED_MAGIC",
    "VALUE_MAGIC",
    "Arg",
    "BuildTag",
    "Dockerfile",
    "From",
    "Instruction",
    "Label",
    "Magic",
    "load_dockerfile",
    "parse_dockerfile",
]


@dataclass(frozen=True)
class Dockerfile:
    path: Path | str
    lines: tuple[str, ...]
    magic: tuple[Magic, ...]
    build_tags: tuple[BuildTag, ...]
    build_name: str | None
    build_version: str | None
    build_release: str | None
    use_obs_repositories: bool
    exclusive_arch: tuple[str, ...]
    exclude_arch: tuple[str, ...]
    no_squash: bool
    args: tuple[Arg, ...]
    stages: tuple[From, ...]
    labels: tuple[Label, ...]
    instructions: tuple[Instruction, ...]
    #: ``#!ForceMultiVersion``: OBS keeps every version of the image's binaries.
    force_multiversion: bool = False
    warnings: tuple[Notice, ...] = ()

    def tags(self) -> tuple[str, ...]:
        return tuple(t.tag for t in self.build_tags)

    def global_args(self) -> tuple[Arg, ...]:
        return tuple(a for a in self.args if a.is_global)

    def base_image(self, build_args: dict[str, str] | None = None) -> str | None:
        """The image the final stage builds on, as OBS's Docker.pm names it: a stage name
        followed back to the image it starts from; None for ``scratch``."""
        from pipeline.obs.dockerfile_args import resolve_from

        images = resolve_from(self, build_args or {})
        by_name: dict[str, str | None] = {}
        base: str | None = None
        for stage, image in zip(self.stages, images, strict=True):
            base = by_name.get(image.lower(), None if image == "scratch" else image)
            if stage.name:
                by_name[stage.name.lower()] = base
        return base

    def builds_on(self, arch: str) -> bool:
        """Whether ``#!ExclusiveArch``/``#!ExcludeArch`` allow building for ``arch``."""
        if self.exclusive_arch and arch not in self.exclusive_arch:
            return False
        return arch not in self.exclude_arch


def load_dockerfile(path: Path) -> Dockerfile:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(
            path,
            f"cannot read Dockerfile: {exc}",
            hint="check the image directory in pipeline.yaml",
        ) from exc
    dockerfile = parse_dockerfile(text, path)
    for notice in dockerfile.warnings:
        log.warning("%s", notice.one_line())
    return dockerfile


def parse_dockerfile(text: str, path: Path | str) -> Dockerfile:
    return _Parser(text, path).parse()


class _Parser:
    """Reads the file line by line, joins continued lines, and hands each instruction and each
    magic comment to its reader."""

    def __init__(self, text: str, path: Path | str) -> None:
        self.path = path
        self.lines = text.splitlines()
        self.magic = MagicComments(path)
        self.instructions = Instructions(path)

    def error(self, line: int, column: int, message: str, hint: str) -> InputError:
        return InputError(Location(self.path, line, column), message, hint=hint)

    def parse(self) -> Dockerfile:
        self.parser_directives()
        index = 0
        while index < len(self.lines):
            raw = self.lines[index]
            stripped = raw.strip()
            column = len(raw) - len(raw.lstrip()) + 1
            index += 1
            if not stripped:
                continue
            if stripped.startswith("#!"):
                self.magic.read(stripped, index, column)
            elif stripped.startswith("#"):
                self.instructions.comment(stripped)
            else:
                index = self.instruction(index - 1)
        if not self.instructions.stages:
            raise self.error(
                0,
                0,
                "the Dockerfile has no FROM",
                "add FROM <image> (OBS files use ARG KUBEVIRTFROM / FROM $KUBEVIRTFROM)",
            )
        return self.result()

    def result(self) -> Dockerfile:
        magic, found = self.magic, self.instructions
        return Dockerfile(
            path=self.path,
            lines=tuple(self.lines),
            magic=tuple(magic.magic),
            build_tags=tuple(magic.tags),
            build_name=magic.single("BuildName"),
            build_version=magic.single("BuildVersion"),
            build_release=magic.single("BuildRelease"),
            use_obs_repositories=magic.flag("UseOBSRepositories"),
            exclusive_arch=magic.words("ExclusiveArch"),
            exclude_arch=magic.words("ExcludeArch"),
            no_squash=magic.flag("NoSquash"),
            args=tuple(found.args),
            stages=tuple(found.stages),
            labels=tuple(found.labels),
            instructions=tuple(found.instructions),
            force_multiversion=magic.flag("ForceMultiVersion"),
            warnings=tuple(magic.notices),
        )

    def parser_directives(self) -> None:
        """Only ``# escape=\\`` is accepted: another escape character changes how every
        following line continues, and OBS's own parser only knows the backslash."""
        for number, raw in enumerate(self.lines, 1):
            match = re.fullmatch(r"\s*#\s*(\w+)\s*=\s*(.*?)\s*", raw)
            if match is None or match.group(1).lower() not in ("escape", "syntax", "check"):
                return
            if match.group(1).lower() == "escape" and match.group(2) != "\\":
                raise self.error(
                    number,
                    1,
                    f"escape character {match.group(2)!r} is not supported",
                    "use the default escape character \\",
                )

    def instruction(self, index: int) -> int:
        """Read one instruction starting at ``self.lines[index]``; returns the next index."""
        start = index + 1
        text = self.lines[index]
        index += 1
        last = start
        while re.search(r"\\[ \t]*$", text):
            text = re.sub(r"\\[ \t]*$", "", text)
            while index < len(self.lines) and (
                not self.lines[index].strip() or self.lines[index].lstrip().startswith("#")
            ):
                if self.lines[index].lstrip().startswith("#!"):
                    raise self.error(
                        index + 1,
                        1,
                        "OBS magic comment inside a continued instruction",
                        "move it above the instruction",
                    )
                index += 1
            if index >= len(self.lines):
                raise self.error(
                    last,
                    0,
                    "the last instruction ends with \\ but the file ends",
                    "remove the trailing \\ or add the missing line",
                )
            text += self.lines[index]
            index += 1
            last = index
        self.instructions.add(text.strip(), start, index)
        return index
