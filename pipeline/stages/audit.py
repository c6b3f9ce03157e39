"""``verify-tags --releases [TARGET...|all]``: every release the project has published, checked
against the registries its record names, in one run.

What is audited is what publish wrote (``audit_bundles``): per target, every
``build/<target>/releases/<product>-<tag>/record.json`` and the pinned manifests beside it. Per
release the answer is "intact", or exactly what changed: a tag moved to another digest, a tag or
a whole image deleted, a declared platform missing from an index (or its manifest gone), a
version label that differs, a pinned file edited since publish.

What it costs, at any size:
- one HEAD per distinct reference, and each distinct digest's manifest and config once (the
  client's cache, shared by every release that names the digest);
- the releases are read and asked in rounds of about ``ROUND`` probes, two rounds in flight, so
  memory holds the digests' details and the results, not every reference at once;
- per registry, at most ``WORKERS`` requests at once, fewer while it answers 429 or 5xx
  (``registry/limiter.py``); a registry that fails ``BREAK_AFTER`` probes in a row is not asked
  about the rest (each is reported unchecked, exit 3) instead of retrying them one by one.

Exit 0 every release intact, 1 a release changed, 2 a record or pinned file unreadable, 3 the
registry failed (after retries) for some reference.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.core.console import emit
from pipeline.core.errors import EXIT_MISMATCH, EXIT_OK, InputError, RegistryError
from pipeline.images.registry import ImageDetails, NotFound, RegistryClient
from pipeline.stages.audit_bundles import (
    BundlePlan,
    Probe,
    Problem,
    ReleaseAudit,
    load_record,
    plan_bundle,
    record_paths,
)

if TYPE_CHECKING:
    from pipeline.core.context import Context

VERSION_LABEL = "org.opencontainers.image.version"
WORKERS = 16
#: Probes per round: enough to keep every worker busy, few enough to keep memory flat. The
#: first rounds are smaller (doubling from ``FIRST_ROUND``), so requests start while the rest
#: of the records are still being read.
ROUND = 512
FIRST_ROUND = 32
BREAK_AFTER = 2 * WORKERS

#: What one probe found: each problem, and whether the registry failed to say (unchecked).
Found = list[tuple[str, bool]]


@dataclass
class TargetAudit:
    """The audit of one target: every release bundle of it, checked."""

    target: str
    releases: list[ReleaseAudit] = field(default_factory=list)


def targets_of(ctx: Context) -> list[str]:
    """The targets ``--releases`` names: none named is ``--target``, ``all`` is every one."""
    names = ctx.options.releases or (ctx.options.target,)
    if "all" in names:
        if len(names) > 1:
            raise InputError(
                None,
                f"--releases {' '.join(names)}: 'all' already names every target",
                hint="give either all or target names",
            )
        return list(ctx.project.targets)
    for name in names:
        ctx.project.target(name)  # an unknown name: one line naming pipeline.yaml
    return list(dict.fromkeys(names))


def bundles(ctx: Context, targets: list[str]) -> list[tuple[str, Path]]:
    """Every record of ``targets``, each read once before any request (a broken one stops the
    audit here, exit 2, with nothing asked)."""
    found = []
    for target in targets:
        for path in record_paths(ctx.build_root / target):
            load_record(path, target)
            found.append((target, path))
    if not found:
        where = ", ".join(f"build/{t}/releases/" for t in targets)
        raise InputError(
            None,
            f"no release records under {where}",
            hint="publish writes them; name targets that were published, or all",
        )
    return found


class Breaker:
    """Per registry: how many probes failed in a row; past ``limit``, the rest are not sent."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._failures: dict[str, int] = {}
        self._last: dict[str, str] = {}

    def down(self, host: str) -> str:
        """Why ``host`` is not asked any more ("" while it is)."""
        with self._lock:
            if self._failures.get(host, 0) < self.limit:
                return ""
            return f"{host} failed {self._failures[host]} probes in a row, last: {self._last[host]}"

    def record(self, host: str, failure: str) -> None:
        with self._lock:
            if failure:
                self._failures[host] = self._failures.get(host, 0) + 1
                self._last[host] = failure
            else:
                self._failures[host] = 0


def ask(client: RegistryClient, breaker: Breaker, probe: Probe) -> Found:
    """The probe's problems (none: intact), or one unchecked problem when the registry failed."""
    down = breaker.down(probe.host)
    if down:
        return [(f"not checked: {down}", True)]
    try:
        found = [(problem, False) for problem in _problems(client, probe)]
    except RegistryError as exc:
        message = exc.one_line().removeprefix(f"{RegistryError.stage}: ")
        breaker.record(probe.host, message)
        return [(f"check failed: {message}", True)]
    breaker.record(probe.host, "")
    return found


def _problems(client: RegistryClient, probe: Probe) -> list[str]:
    ref, digest = probe.reference, probe.digest
    head = client.head_manifest(ref)
    if ref.digest:  # a digest alone: it must still be there
        return [f"manifest {digest} is gone from {ref.name}"] if isinstance(head, NotFound) else []
    if isinstance(head, NotFound) or head.digest != digest:
        return [_changed(client, probe, None if isinstance(head, NotFound) else head.digest)]
    if not probe.full:
        return []
    details = client.details(ref, digest)
    if isinstance(details, NotFound):
        return [f"manifest {digest} vanished while it was read"]
    return _platform_problems(probe, details) + _label_problems(probe, details)


def _changed(client: RegistryClient, probe: Probe, now: str | None) -> str:
    """A tag that no longer names the published digest: moved or deleted, and whether the
    published manifest is still there (one more HEAD, only for a changed tag)."""
    ref, digest = probe.reference, probe.digest
    kept = not isinstance(client.head_manifest(ref.with_digest(digest)), NotFound)
    if now is not None:
        still = "still in the registry" if kept else "now gone"
        return f"tag {ref.tag} moved to digest {now} (published {digest}, {still})"
    if kept:
        return f"tag {ref.tag} deleted (the published manifest {digest} is still there)"
    return f"image deleted: tag {ref.tag} and its manifest {digest} are gone"


def _platform_problems(probe: Probe, details: ImageDetails) -> list[str]:
    problems = []
    for platform in probe.platforms:
        if not details.lacks(platform):
            continue
        listed = [p for p in details.platforms if p == platform or p.startswith(platform + "/")]
        if listed:
            why = f"its manifest is gone, the index still lists {listed[0]}"
        elif details.platforms:
            why = f"it has {', '.join(details.present) or 'no platform left'}"
        else:
            why = "no platform"
        problems.append(f"platform {platform} missing from {probe.reference} ({why})")
    return problems


def _label_problems(probe: Probe, details: ImageDetails) -> list[str]:
    label = details.labels.get(VERSION_LABEL)
    if label is None or label == probe.version:
        return []
    return [f"version label {label!r} differs from the release's version {probe.version!r}"]


def _rounds(ctx: Context, found: list[tuple[str, Path]]) -> Iterator[list[BundlePlan]]:
    """The bundles' plans, in rounds of ``FIRST_ROUND`` probes, then twice as many each round
    up to ``ROUND``."""
    chunk: list[BundlePlan] = []
    size, wanted = 0, FIRST_ROUND
    for target, path in found:
        platforms = ctx.project.targets[target].platforms
        plan = plan_bundle(path, target, platforms, ctx.project.root)
        chunk.append(plan)
        size += len(plan.probes)
        if size >= wanted:
            yield chunk
            chunk, size, wanted = [], 0, min(ROUND, 2 * wanted)
    if chunk:
        yield chunk


def run(ctx: Context, found: list[tuple[str, Path]], client: RegistryClient) -> list[ReleaseAudit]:
    """Every bundle's probes through one pool; two rounds in flight, results in order."""
    breaker = Breaker(BREAK_AFTER)
    done: list[ReleaseAudit] = []
    pending: deque[tuple[list[BundlePlan], list[Future[Found]]]] = deque()
    pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="audit")
    try:
        for chunk in _rounds(ctx, found):
            probes = [p for plan in chunk for p in plan.probes]
            pending.append((chunk, [pool.submit(ask, client, breaker, p) for p in probes]))
            if len(pending) > 1:
                done += _collect(*pending.popleft())
        while pending:
            done += _collect(*pending.popleft())
    finally:
        # Interrupted (Ctrl-C, a broken record mid-way): the queued probes are not sent.
        pool.shutdown(wait=True, cancel_futures=True)
    return done


def _collect(chunk: list[BundlePlan], futures: list[Future[Found]]) -> list[ReleaseAudit]:
    answers = iter(futures)
    for plan in chunk:
        for probe, places in plan.probes.items():
            for problem, unchecked in next(answers).result():
                reference = str(probe.reference)
                plan.audit.problems.append(
                    Problem(reference, places[0], problem, unchecked, tuple(places[1:]))
                )
    return [plan.audit for plan in chunk]


def audit(ctx: Context) -> list[TargetAudit]:
    targets = targets_of(ctx)
    found = bundles(ctx, targets)
    with RegistryClient(pool_size=WORKERS) as client:
        results = run(ctx, found, client)
    asked = sum(r.references for r in results)
    failed = [p for r in results for p in r.problems if p.unchecked]
    if asked and len(failed) >= asked:
        # Nothing at all was checked: the registry is down, say so in one line.
        raise RegistryError(f"{failed[0].where}: {failed[0].problem}")
    grouped = {target: TargetAudit(target) for target in targets}
    for result in results:
        grouped[result.target].releases.append(result)
    return list(grouped.values())


def main(ctx: Context) -> int:
    from pipeline.stages import audit_report

    if ctx.options.manifests:
        raise InputError(
            None,
            "--releases and --manifests ask different questions",
            hint="audit the published releases, or check given manifests: one at a time",
        )
    audited = audit(ctx)
    if ctx.options.json != "-":
        audit_report.show(audited)
    data = audit_report.as_json(audited)
    emit(ctx.options, data)
    unchecked = [p for t in audited for r in t.releases for p in r.problems if p.unchecked]
    if unchecked:
        # Not a mismatch: nothing was found changed, the registry failed to say.
        raise RegistryError(
            f"{unchecked[0].where}: {len(unchecked)} references could not be checked "
            f"({data['changed']} releases changed among the rest): {unchecked[0].problem}",
            hint="re-run verify-tags --releases when the registry answers",
        )
    return EXIT_OK if data["ok"] else EXIT_MISMATCH
