"""What ``verify-tags --releases`` shows: a table grouped by target and release for people (on
stderr), one plain line per problem for logs and grep, and the same result as JSON for machines.

rich is imported only here, and only when there is a table to print (``--json -`` prints none).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipeline.core.console import console

if TYPE_CHECKING:
    from pipeline.stages.audit import TargetAudit
    from pipeline.stages.audit_bundles import ReleaseAudit

#: Above this many releases the table lists the changed ones and counts the intact ones.
FULL_LIMIT = 60


def _releases(audited: list[TargetAudit]) -> list[ReleaseAudit]:
    return [r for t in audited for r in t.releases]


def _changed(release: ReleaseAudit) -> bool:
    return any(not p.unchecked for p in release.problems)


def as_json(audited: list[TargetAudit]) -> dict[str, Any]:
    releases = _releases(audited)
    return {
        "mode": "releases",
        "ok": all(r.ok for r in releases),
        "releases": len(releases),
        "references": sum(r.references for r in releases),
        "intact": sum(r.ok for r in releases),
        "changed": sum(_changed(r) for r in releases),
        "unchecked": sum(any(p.unchecked for p in r.problems) for r in releases),
        "targets": [
            {
                "target": t.target,
                "releases": [
                    {
                        "release": r.release,
                        "product": r.product,
                        "tag": r.tag,
                        "record": r.record,
                        "references": r.references,
                        "ok": r.ok,
                        "problems": [p._asdict() for p in r.problems],
                    }
                    for r in t.releases
                ],
            }
            for t in audited
        ],
    }


def show(audited: list[TargetAudit]) -> None:
    from rich.markup import escape
    from rich.table import Table

    releases = _releases(audited)
    full = len(releases) <= FULL_LIMIT
    table = Table(title="verify-tags --releases", title_justify="left")
    for column in ("target", "release", "refs", "result"):
        table.add_column(column, overflow="fold")
    for target in audited:
        shown = [r for r in target.releases if full or not r.ok]
        name = target.target
        if not target.releases:
            table.add_row(name, "-", "", "[yellow]no releases published[/]")
        for release in shown:
            result = "\n".join(
                f"{'[yellow]?' if p.unchecked else '[red]✗'}[/] "
                f"{escape(p.reference.rsplit('/', 1)[-1])}: {escape(p.problem)}"
                for p in release.problems
            )
            table.add_row(name, release.release, str(release.references), result or "[green]✓[/]")
            name = ""
        hidden = len(target.releases) - len(shown)
        if hidden:
            table.add_row(name, f"{hidden} more", "", "[green]✓ intact[/]")
        table.add_section()
    out = console()
    out.print(table)
    for release in releases:
        for p in release.problems:
            # One plain line per problem as well: logs and grep see it whole, never folded.
            kind = "UNCHECKED" if p.unchecked else "CHANGED"
            out.print(
                f"{kind} {release.target} {release.release}: {p.reference} at {p.where}: "
                f"{p.problem}",
                soft_wrap=True,
                markup=False,
                highlight=False,
            )
    intact = sum(r.ok for r in releases)
    colour = "green" if intact == len(releases) else "red"
    out.print(
        f"[{colour}]{intact} of {len(releases)} releases intact[/] "
        f"({sum(r.references for r in releases)} references, {len(audited)} targets)"
    )
