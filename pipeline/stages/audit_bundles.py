"""What ``verify-tags --releases`` asks the registry, read from the release bundles publish wrote.

A bundle is ``build/<target>/releases/<product>-<tag>/``: ``record.json`` (every image reference
and the digest it was published with) and ``manifests/`` (the same manifests with every image
pinned as ``repo:tag@digest``, each file's sha256 in the record). Every image of the record
becomes one probe: its tag must still name the recorded digest, that digest must carry every
platform the target declares and the release's version label. A pinned reference asks the same
question as the record's entry it was made from, so it only adds a place to that probe; one the
record does not hold (a digest alone, another digest) becomes a probe of its own.

The pinned files are read as text, not as YAML: their sha256 must equal the record's (so they are
what publish wrote), and ``repo[:tag]@sha256:...`` is all that is looked for in them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from pipeline.core.errors import Location, StateError
from pipeline.core.release import ReleaseRecord
from pipeline.images.reference import ImageReference, parse_reference

#: A digest-pinned reference in a manifest line (the operator's own image may have no tag).
PINNED = re.compile(r"(?<![\w.:/@-])([a-zA-Z0-9][\w.:/-]*)@(sha256:[0-9a-f]{64})(?![0-9a-f])")
#: An image entry of record.json as ``write_json`` lays it out: one ``"ref": "digest"`` a line.
RECORD_ENTRY = re.compile(r'^\s*"([^"]+)": "(sha256:[0-9a-f]{64})",?$')


class Probe(NamedTuple):
    """One question for the registry. With a tag: does it still name ``digest``? Without: is
    ``digest`` still in the repository? ``full`` (a record's image): do the digest's platforms
    cover ``platforms`` and does its version label say ``version``?"""

    reference: ImageReference
    digest: str
    full: bool
    version: str = ""
    platforms: tuple[str, ...] = ()

    @property
    def host(self) -> str:
        return self.reference.api_host


class Problem(NamedTuple):
    reference: str
    #: ``file:line`` of the reference: its record entry, or the pinned manifest line.
    where: str
    problem: str
    #: The registry failed while checking it: neither found intact nor found changed.
    unchecked: bool = False
    #: The other places naming the same reference and digest (pinned manifest lines).
    also: tuple[str, ...] = ()


@dataclass
class ReleaseAudit:
    """One release's result: intact when it has no problems."""

    target: str
    release: str
    product: str
    tag: str
    record: str
    references: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class BundlePlan:
    """A release's probes, each with the places that name it (the first is shown)."""

    audit: ReleaseAudit
    probes: dict[Probe, list[str]] = field(default_factory=dict)


def record_paths(build_dir: Path) -> list[Path]:
    return sorted((build_dir / "releases").glob("*/record.json"))


def load_record(path: Path, target: str) -> ReleaseRecord:
    """The record at ``path``, which must be one of ``target``'s, in its own bundle."""
    record = ReleaseRecord.load(path)
    if record.target != target or path.parent.name != record.name:
        raise StateError(
            path,
            f"record of {record.name} for target {record.target} is filed under "
            f"{path.parent.parent.parent.name}/releases/{path.parent.name}",
            hint="publish files each record in its target's build/<target>/releases/"
            "<product>-<tag>/; move it back or delete the stray copy",
        )
    return record


def plan_bundle(path: Path, target: str, platforms: tuple[str, ...], root: Path) -> BundlePlan:
    """The probes of the bundle whose record is ``path``; problems found without the registry
    (a pinned file edited or missing) are on the plan's audit already. Each image is held to
    the platforms the record says it was published with (``platforms``, the target's, for a
    record that does not say)."""
    record = load_record(path, target)
    shown = _shown(path, root)
    plan = BundlePlan(
        ReleaseAudit(target, record.name, record.product, record.tag, shown, len(record.images))
    )
    lines = _record_lines(path)
    # What the pinned files may name, by their text as written (parsed only when it differs).
    as_written: dict[tuple[str, str], Probe] = {}
    for text, digest in record.images.items():
        line = lines.get(text, 0)
        published = record.platforms.get(text, platforms)
        probe = Probe(_reference(text, path, line), digest, True, record.version, published)
        plan.probes[probe] = [f"{shown}:{line}"]
        as_written[(text, digest)] = as_written[(text.rsplit(":", 1)[0], digest)] = probe
    for name, expected in sorted(record.pinned.items()):
        pinned = path.parent / "manifests" / name
        problem, text = _pinned_text(pinned, expected)
        if problem:
            plan.audit.problems.append(Problem(name, _shown(pinned, root), problem))
            continue
        where = _shown(pinned, root)
        for line, written, digest in pinned_references(text):
            known = as_written.get((written, digest))
            if known is None:
                known = _pinned_probe(plan, _reference(f"{written}@{digest}", pinned, line))
            plan.probes.setdefault(known, []).append(f"{where}:{line}")
    return plan


def _pinned_probe(plan: BundlePlan, ref: ImageReference) -> Probe:
    """The probe of a pinned reference written otherwise than its record entry: that entry's
    (the same name, tag and digest, normalised), else a question of its own (the tag must name
    this digest; a digest alone must still be there)."""
    digest = ref.digest or ""
    for probe in plan.probes:
        same = (
            probe.reference == ref.with_tag(ref.tag)
            if ref.tag
            else probe.reference.name == ref.name
        )
        if probe.full and same and probe.digest == digest:
            return probe
    return Probe(ref.with_tag(ref.tag) if ref.tag else ref.with_digest(digest), digest, False)


def pinned_references(text: str) -> list[tuple[int, str, str]]:
    """``(line, reference as written, digest)`` of every digest-pinned reference in a manifest."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if "@sha256:" in line:
            found += [(number, m.group(1), m.group(2)) for m in PINNED.finditer(line)]
    return found


def _pinned_text(path: Path, expected: str) -> tuple[str, str]:
    """A pinned file's text, or what is wrong with it (missing, or not what publish wrote)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return (
            "pinned manifest missing from the release bundle (run publish again to rewrite it)",
            "",
        )
    if hashlib.sha256(data).hexdigest() != expected:
        return (
            f"pinned manifest differs from the sha256 its record holds ({expected[:12]}…): "
            "edited since publish wrote it (restore it, or run publish again)"
        ), ""
    return "", data.decode("utf-8", errors="replace")


def _reference(text: str, path: Path, line: int) -> ImageReference:
    try:
        return parse_reference(text)
    except ValueError as exc:
        raise StateError(
            Location(path, line),
            f"{text!r} is not an image reference: {exc}",
            hint="publish wrote it; restore the bundle, or run publish again",
        ) from None


def _record_lines(path: Path) -> dict[str, int]:
    """The line of each image entry in a record file."""
    lines: dict[str, int] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        match = RECORD_ENTRY.match(line)
        if match:
            lines.setdefault(match.group(1), number)
    return lines


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
