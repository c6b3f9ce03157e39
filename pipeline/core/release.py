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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.errors import InputError
from pipeline.core.state import locked_update, read_json
from pipeline.tools.run import run

RELEASE_RE = re.compile(r"^\d+(\.\d+)*$")
#: Guard against a registry that claims to hold every tag.
MAX_SKIPS = 1000
#: ``(ci_cnt, b_cnt) -> release``: the prjconf's ``Release:`` (``Prjconf.render_release``).
Render = Callable[[int, int], str]


def ci_count(root: Path, paths: Iterable[Path]) -> int:
    """Commits touching ``paths`` (+1 when they have uncommitted changes); 0 outside git."""
    # Absolute pathspecs: git resolves them inside the work tree, whatever ``root`` looks like.
    rel = [str((p if p.is_absolute() else root / p).resolve()) for p in paths]
    inside = run(["git", "-C", str(root), "rev-parse", "--is-inside-work-tree"], check=False)
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        return 0
    head = run(["git", "-C", str(root), "rev-parse", "--verify", "-q", "HEAD"], check=False)
    count = 0
    if head.returncode == 0:
        out = run(["git", "-C", str(root), "rev-list", "--count", "HEAD", "--", *rel])
        count = int(out.stdout.strip() or 0)
    dirty = run(["git", "-C", str(root), "status", "--porcelain", "--", *rel])
    return count + (1 if dirty.stdout.strip() else 0)


@dataclass(frozen=True)
class LastBuild:
    inputs: str
    release: str


class ReleaseBook:
    """The release numbers handed out for one target, persisted in ``<build_dir>/releases.json``."""

    def __init__(self, build_dir: Path) -> None:
        self.path = build_dir / "releases.json"

    def _entry(self, data: dict[str, object], product: str) -> dict[str, object]:
        products = data.setdefault("products", {})
        assert isinstance(products, dict)
        entry = products.setdefault(product, {"taken": [], "last_success": None})
        assert isinstance(entry, dict)
        return entry

    def taken(self, product: str) -> list[str]:
        data = read_json(self.path)
        entry = data.get("products", {}).get(product, {})
        return list(entry.get("taken", []))

    def last_success(self, product: str) -> LastBuild | None:
        data = read_json(self.path)
        last = data.get("products", {}).get(product, {}).get("last_success")
        if not last:
            return None
        return LastBuild(inputs=last["inputs"], release=last["release"])

    def next_release(
        self,
        product: str,
        ci_cnt: int,
        render: Render,
        taken_elsewhere: Callable[[str], bool] = lambda release: False,
    ) -> str:
        """The release a build would get now, without taking it (for ``plan``)."""
        data = read_json(self.path)
        entry = data.get("products", {}).get(product, {})
        return self._pick(entry, ci_cnt, render, taken_elsewhere)[0]

    def take(
        self,
        product: str,
        ci_cnt: int,
        render: Render,
        taken_elsewhere: Callable[[str], bool] = lambda release: False,
        override: str | None = None,
    ) -> str:
        """Hand out a release for a build and record it before the build starts."""
        with locked_update(self.path) as data:
            entry = self._entry(data, product)
            taken = entry["taken"]
            assert isinstance(taken, list)
            if override is not None:
                if not RELEASE_RE.match(override):
                    raise InputError(
                        None,
                        f"--release {override!r} is not a release",
                        hint="use digits and dots, e.g. 4.2",
                    )
                if override in taken or taken_elsewhere(override):
                    raise InputError(
                        None,
                        f"release {override} of {product} was used before",
                        hint="a tag is never reused; choose another or drop --release",
                    )
                release = override
            else:
                release, b_cnt = self._pick(entry, ci_cnt, render, taken_elsewhere)
                counters = entry.setdefault("b_cnt", {})
                assert isinstance(counters, dict)
                counters[str(ci_cnt)] = b_cnt
            taken.append(release)
        return release

    def record_success(self, product: str, inputs: str, release: str) -> None:
        with locked_update(self.path) as data:
            self._entry(data, product)["last_success"] = {"inputs": inputs, "release": release}

    @staticmethod
    def _pick(
        entry: dict[str, object],
        ci_cnt: int,
        render: Render,
        taken_elsewhere: Callable[[str], bool],
    ) -> tuple[str, int]:
        """The first release after the last B_CNT of ``ci_cnt`` that nobody holds."""
        used = set(entry.get("taken", []) or [])  # type: ignore[call-overload]
        counters = entry.get("b_cnt", {}) or {}
        assert isinstance(counters, dict)
        b_cnt = int(counters.get(str(ci_cnt), 0)) + 1
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
