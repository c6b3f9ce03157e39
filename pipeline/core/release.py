"""Release numbers as OBS makes them: ``Release: <CI_CNT>.<B_CNT>``, and so the unique tag.

- CI_CNT counts the commits that touched a product's inputs (its spec package, its sources and the
  target's prjconf); uncommitted changes to them count as one more, pending checkin.
- B_CNT counts builds of those inputs for the target; it starts at 1 for each CI_CNT.

A tag is ``<version>-<release>``. Every release handed out is recorded under ``build/<target>/``
behind a lock before the build starts, so two builds running at once never get the same number, a
killed build never gives its number back, and a number the registry already holds is skipped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from pipeline.core.errors import InputError
from pipeline.core.records import from_json, to_json
from pipeline.core.state import locked_update, read_json, write_json

RELEASE_RE = re.compile(r"^\d+(\.\d+)*$")
#: Guard against a registry that claims to hold every tag.
MAX_SKIPS = 1000
#: ``(ci_cnt, b_cnt) -> release``: the prjconf's ``Release:`` template (``render_release``).
Render = Callable[[int, int], str]


def ci_count(root: Path, paths: Iterable[Path]) -> int:
    """Commits touching ``paths`` (+1 when they have uncommitted changes); 0 outside git."""
    from pipeline.tools import git  # runs tools: verify-tags, which reads records only, never

    # Absolute pathspecs: git resolves them inside the work tree, whatever ``root`` looks like.
    absolute = [str((p if p.is_absolute() else root / p).resolve()) for p in paths]
    if not git.is_work_tree(root):
        return 0
    pending = 1 if git.has_changes(root, absolute) else 0
    return git.commits_touching(root, absolute) + pending


def render_release(template: str, ci_cnt: int, b_cnt: int) -> str:
    """The rpm Release a prjconf ``Release:`` template gives for these counters."""
    if ci_cnt < 0 or b_cnt < 0:
        raise ValueError(f"release counters must not be negative: {ci_cnt}, {b_cnt}")
    return template.replace("<CI_CNT>", str(ci_cnt)).replace("<B_CNT>", str(b_cnt))


@dataclass(frozen=True)
class LastBuild:
    """What the last successful build of a product was made from, and the release it took."""

    inputs: str
    release: str
    #: The digest of each input, to say which changed (empty in books of older versions).
    parts: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BookEntry:
    """One product's (or image's) numbers: every release ever handed out, the last B_CNT per
    CI_CNT, and what the last successful build was built from."""

    taken: tuple[str, ...] = ()
    b_cnt: dict[str, int] = field(default_factory=dict)
    last_success: LastBuild | None = None


@dataclass(frozen=True)
class Book:
    """The release book of a target: one entry per product."""

    products: dict[str, BookEntry] = field(default_factory=dict)


class ReleaseBook:
    """The release numbers handed out for one target, persisted in ``<build_dir>/releases.json``."""

    def __init__(self, build_dir: Path) -> None:
        self.path = build_dir / "releases.json"

    def _read(self, data: dict[str, object] | None = None) -> Book:
        return from_json(Book, read_json(self.path) if data is None else data, self.path)

    def entry(self, product: str) -> BookEntry:
        return self._read().products.get(product, BookEntry())

    def taken(self, product: str) -> list[str]:
        return list(self.entry(product).taken)

    def last_success(self, product: str) -> LastBuild | None:
        return self.entry(product).last_success

    @contextmanager
    def _update(self, product: str) -> Iterator[list[BookEntry]]:
        """The entry of ``product`` under the lock; the block replaces ``box[0]`` to write."""
        with locked_update(self.path) as data:
            book = self._read(data)
            box = [book.products.get(product, BookEntry())]
            yield box
            data.clear()
            data.update(to_json(replace(book, products={**book.products, product: box[0]})))

    def next_release(
        self,
        product: str,
        ci_cnt: int,
        render: Render,
        taken_elsewhere: Callable[[str], bool] = lambda release: False,
    ) -> str:
        """The release a build would get now, without taking it (for ``plan``)."""
        return _pick(self.entry(product), ci_cnt, render, taken_elsewhere)[0]

    def take(
        self,
        product: str,
        ci_cnt: int,
        render: Render,
        taken_elsewhere: Callable[[str], bool] = lambda release: False,
        override: str | None = None,
    ) -> str:
        """Hand out a release for a build and record it before the build starts."""
        with self._update(product) as box:
            entry = box[0]
            if override is not None:
                _check_override(product, override, entry, taken_elsewhere)
                release, counters = override, entry.b_cnt
            else:
                release, b_cnt = _pick(entry, ci_cnt, render, taken_elsewhere)
                counters = {**entry.b_cnt, str(ci_cnt): b_cnt}
            box[0] = replace(entry, taken=(*entry.taken, release), b_cnt=counters)
        return release

    def record_success(
        self, product: str, inputs: str, release: str, parts: dict[str, str] | None = None
    ) -> None:
        with self._update(product) as box:
            box[0] = replace(box[0], last_success=LastBuild(inputs, release, parts or {}))


def _check_override(
    product: str, override: str, entry: BookEntry, taken_elsewhere: Callable[[str], bool]
) -> None:
    if not RELEASE_RE.match(override):
        raise InputError(
            None, f"--release {override!r} is not a release", hint="use digits and dots, e.g. 4.2"
        )
    if override in entry.taken or taken_elsewhere(override):
        raise InputError(
            None,
            f"release {override} of {product} was used before",
            hint="a tag is never reused; choose another or drop --release",
        )


def _pick(
    entry: BookEntry, ci_cnt: int, render: Render, taken_elsewhere: Callable[[str], bool]
) -> tuple[str, int]:
    """The first release after the last B_CNT of ``ci_cnt`` that nobody holds."""
    used = set(entry.taken)
    b_cnt = entry.b_cnt.get(str(ci_cnt), 0) + 1
    for _ in range(MAX_SKIPS):
        release = render(ci_cnt, b_cnt)
        if not RELEASE_RE.match(release):
            raise InputError(
                None,
                f"the Release template gives {release!r}",
                hint="use <CI_CNT>, <B_CNT>, digits and dots in Release:",
            )
        if release not in used and not taken_elsewhere(release):
            return release, b_cnt
        b_cnt += 1
    raise InputError(None, f"no free release after {MAX_SKIPS} tries for CI_CNT {ci_cnt}")


@dataclass(frozen=True)
class ReleaseRecord:
    """``build/<target>/releases/<product>-<tag>/record.json``: a published set, written by
    publish only once every image of it is in the registry, with the release bundle beside it
    (the digest-pinned manifests and a summary)."""

    product: str
    target: str
    version: str
    release: str
    tag: str
    published: str
    #: Manifest file name -> sha256 of the file as the manifests RPM ships it.
    manifests: dict[str, str]
    #: Image reference -> the manifest digest it was published with.
    images: dict[str, str]
    #: Pinned manifest file name (under the bundle's ``manifests/``) -> its sha256.
    pinned: dict[str, str] = field(default_factory=dict)
    #: The env the bundle sets on the operator so it deploys exactly these images.
    operator_env: dict[str, str] = field(default_factory=dict)
    #: Image reference -> the platforms its index was published with (records written before
    #: multi-arch builds lack it: the audit then expects the target's platforms).
    platforms: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @staticmethod
    def bundle(build_dir: Path, product: str, tag: str) -> Path:
        return build_dir / "releases" / f"{product}-{tag}"

    @property
    def name(self) -> str:
        return f"{self.product}-{self.tag}"

    @classmethod
    def load(cls, path: Path) -> ReleaseRecord:
        return from_json(cls, read_json(path), path)

    @classmethod
    def load_all(cls, build_dir: Path) -> list[ReleaseRecord]:
        return [cls.load(p) for p in sorted((build_dir / "releases").glob("*/record.json"))]

    def save(self, build_dir: Path) -> Path:
        path = self.bundle(build_dir, self.product, self.tag) / "record.json"
        write_json(path, to_json(self))
        return path
