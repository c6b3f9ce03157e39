"""The ``#!`` magic comments of an OBS Dockerfile, as OBS's ``Docker.pm`` reads them.

``#!BuildTag: a b`` (tags, several per line and several lines), ``#!BuildName:``,
``#!BuildVersion:``, ``#!BuildRelease:`` (one word; a later line wins, with a warning),
``#!ExclusiveArch:``/``#!ExcludeArch:`` (words), the flags ``#!UseOBSRepositories``,
``#!NoSquash`` and ``#!ForceMultiVersion``, and what only OBS's scheduler and workers use:
``#!BuildConstraint:``, ``#!Milestone:``, ``#!RemoteAsset(Url):``, ``#!ArchExclusiveLine:`` and
``#!ArchExcludedLine:`` (kept, with their words).

Docker.pm matches each comment exactly (``#!Name:`` with the colon right after the name), and
ignores a ``#!`` comment it does not know or whose spelling is off, such as ``#!BuildTag : x``.
A line OBS ignores would build something else here than on OBS (a misspelt ``#!BuildTags:``
builds an image with no tag at all), so each is an error that says so and shows the spelling
OBS reads. ``#!UnorderedRepos``, ``#!PlusRecommended`` and ``#!BcntSyncTag`` change how OBS
sets up the build or counts releases, which cannot be honoured here: refused, saying so.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.errors import InputError, Location
from pipeline.obs.notice import Notice

VALUE_MAGIC = (
    "BuildTag",
    "BuildName",
    "BuildVersion",
    "BuildRelease",
    "ExclusiveArch",
    "ExcludeArch",
    "BuildConstraint",
    "Milestone",
    "RemoteAsset",
    "RemoteAssetUrl",
    "ArchExclusiveLine",
    "ArchExcludedLine",
    "BuildTargetStage",
)
FLAG_MAGIC = ("UseOBSRepositories", "NoSquash", "ForceMultiVersion")
#: Known to OBS, but they change how OBS sets up the build or counts releases: cannot be
#: honoured here.
UNSUPPORTED_MAGIC = ("BcntSyncTag", "UnorderedRepos", "PlusRecommended")
_SINGLE_VALUE_MAGIC = ("BuildName", "BuildVersion", "BuildRelease", "Milestone", "BuildTargetStage")

_MAGIC_RE = re.compile(r"#!(?P<name>[A-Za-z]\w*)(?P<colon>\s*:)?(?P<value>.*)")
_OBS_IGNORES = "OBS ignores this line"


@dataclass(frozen=True)
class Magic:
    """One ``#!Name: value`` (or ``#!Flag``) comment."""

    name: str
    value: str
    line: int


@dataclass(frozen=True)
class BuildTag:
    tag: str
    line: int
    column: int


class MagicComments:
    """The magic comments of one Dockerfile, checked one line at a time, in file order."""

    def __init__(self, path: Path | str) -> None:
        self.path = path
        self.magic: list[Magic] = []
        self.tags: list[BuildTag] = []
        self.notices: list[Notice] = []

    def error(self, line: int, column: int, message: str, hint: str) -> InputError:
        return InputError(Location(self.path, line, column), message, hint=hint)

    def single(self, name: str) -> str | None:
        """The value of a one-word comment such as ``#!BuildName``: the last, as on OBS."""
        found = [m.value for m in self.magic if m.name == name]
        return found[-1] if found else None

    def words(self, name: str) -> tuple[str, ...]:
        """The words of every ``#!name:`` line, such as the arches of ``#!ExclusiveArch``."""
        return tuple(w for m in self.magic if m.name == name for w in m.value.split())

    def flag(self, name: str) -> bool:
        return any(m.name == name for m in self.magic)

    def read(self, stripped: str, number: int, column: int) -> None:
        """Check and keep the comment ``stripped`` (starting ``#!``) of line ``number``."""
        match = _MAGIC_RE.fullmatch(stripped)
        name = match.group("name") if match else stripped[2:].split(":")[0].strip()
        if match is None or name not in VALUE_MAGIC + FLAG_MAGIC:
            raise self.unknown(name, number, column)
        colon = match.group("colon")
        if name in FLAG_MAGIC:
            if colon or match.group("value").strip():
                raise self.error(
                    number,
                    column,
                    f"#!{name} takes no value; {_OBS_IGNORES}",
                    f"write the line as just #!{name}",
                )
            self.magic.append(Magic(name, "", number))
            return
        if colon != ":":
            what = "a space before its ':'" if colon else "no ':' after its name"
            raise self.error(
                number, column, f"#!{name} has {what}; {_OBS_IGNORES}", f"write #!{name}: <value>"
            )
        raw_value = match.group("value")
        value_column = column + match.start("value") + len(raw_value) - len(raw_value.lstrip())
        self.value(name, raw_value.strip(), number, column, value_column)

    def value(self, name: str, value: str, number: int, column: int, value_column: int) -> None:
        if not value:
            what = "tag" if name == "BuildTag" else "value"
            raise self.error(
                number,
                column,
                f"#!{name}: with no {what}",
                f"write #!{name}: <{what}>, or remove the line",
            )
        if name in _SINGLE_VALUE_MAGIC:
            if len(value.split()) != 1:
                raise self.error(
                    number,
                    value_column,
                    f"#!{name}: takes one word, got {value!r}; {_OBS_IGNORES}",
                    "remove the spaces",
                )
            earlier = [m.line for m in self.magic if m.name == name]
            if earlier:
                self.notices.append(
                    Notice(
                        Location(self.path, number, column),
                        f"#!{name}: is set again (first on line {earlier[-1]}); OBS takes this "
                        "later one",
                        "keep one",
                    )
                )
        if name == "BuildTag":
            for token in re.finditer(r"\S+", value):
                self.tags.append(BuildTag(token.group(0), number, value_column + token.start()))
        self.magic.append(Magic(name, value, number))

    def unknown(self, name: str, number: int, column: int) -> InputError:
        """The error for ``#!name``, which is not a magic comment this pipeline supports."""
        if name in UNSUPPORTED_MAGIC:
            return self.error(
                number,
                column,
                f"#!{name} cannot be honoured here (it changes how OBS sets up the build "
                "or counts releases)",
                "remove it, or build this image on OBS",
            )
        known = {n.lower(): n for n in VALUE_MAGIC + FLAG_MAGIC}
        close = difflib.get_close_matches(name.lower(), list(known), n=1, cutoff=0.6)
        hint = (
            f"did you mean #!{known[close[0]]}?"
            if close
            else (
                "known: "
                + ", ".join(f"#!{n}" for n in VALUE_MAGIC + FLAG_MAGIC)
                + "; a plain comment is '# text'"
            )
        )
        return self.error(
            number, column, f"unknown OBS magic comment #!{name} ({_OBS_IGNORES})", hint
        )
