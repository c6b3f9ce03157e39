"""Warnings about a place in an input file: what OBS accepts with a meaning easy to get wrong."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.core.errors import Location


@dataclass(frozen=True)
class Notice:
    """A warning about one place of an input file, printed as one line like an error is."""

    location: Location
    message: str
    hint: str

    def one_line(self) -> str:
        return " ".join(f"{self.location}: warning: {self.message} ({self.hint})".split())
