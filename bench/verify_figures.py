"""Figure 1's numbers: the figures with their targets, the growth table (time, requests and peak
memory of verify-tags beside the HEAD floor at each size) and its plot, ``bench/verify_scale.png``.
Pure arithmetic on what ``bench/verify_tags.py`` measured, so the unit tests can check it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.figures import Figure, Target, not_measured, ratio
from bench.plot import Series, line_plot

if TYPE_CHECKING:
    from rich.table import Table

    from bench.verify_tags import AtSize

PLOT = Path(__file__).resolve().parent / "verify_scale.png"
SMALL_TARGET = Target("<=", 1.3, "<= 1.3x the HEAD floor at 500 refs (start-up included)")
LARGE_TARGET = Target("<=", 1.2, "<= 1.2x the HEAD floor at 5,000 refs (start-up included)")
MEMORY_TARGET = Target("<=", 2.0, "peak memory at 20,000 refs <= 2x that at 5,000")
STARTUP_TARGET = Target("<=", 0.1, "start-up <= 0.1 s")
SKOPEO_TARGET = Target(">=", 20.0, ">= 20x faster than a skopeo loop")
KEYS = {
    "verify_floor_small": ("verify-tags vs HEAD floor, 500 refs", SMALL_TARGET),
    "verify_floor_large": ("verify-tags vs HEAD floor, 5,000 refs", LARGE_TARGET),
    "verify_memory": ("verify-tags peak memory, 20,000 vs 5,000 refs", MEMORY_TARGET),
    "verify_startup": ("verify-tags start-up", STARTUP_TARGET),
    "verify_skopeo": ("skopeo loop vs verify-tags, 5,000 refs", SKOPEO_TARGET),
}


def not_measured_all(reason: str) -> list[Figure]:
    return [not_measured(key, title, target, reason) for key, (title, target) in KEYS.items()]


def mib(kib: int) -> float:
    return round(kib / 1024, 1)


def row(at: AtSize) -> dict[str, Any]:
    """One size: each way's median seconds, peak memory (MiB) and requests of its last run."""
    return {
        "references": at.references,
        "releases": at.releases,
        "verify_seconds": round(at.verify.median, 3),
        "floor_seconds": round(at.floor.median, 3),
        "stdlib_floor_seconds": round(at.stdlib.median, 3),
        "ratio": round(ratio(at.verify.median, at.floor.median), 3),
        "ratio_to_stdlib_floor": round(ratio(at.verify.median, at.stdlib.median), 3),
        "verify_requests": dict(at.verify.requests),
        "floor_requests": dict(at.floor.requests),
        "verify_peak_mib": mib(max(at.verify.peak_kib)),
        "floor_peak_mib": mib(max(at.floor.peak_kib)),
        "stdlib_floor_peak_mib": mib(max(at.stdlib.peak_kib)),
        "verify_seconds_runs": [round(s, 3) for s in at.verify.seconds],
        "floor_seconds_runs": [round(s, 3) for s in at.floor.seconds],
        "stdlib_floor_seconds_runs": [round(s, 3) for s in at.stdlib.seconds],
        "verify_answer": at.answer,
    }


def figures(
    sizes: Mapping[int, AtSize],
    setup: Mapping[str, Any],
    skopeo_at: AtSize,
    picked: Sequence[str],
    skopeo: tuple[float, int],
    start: Mapping[str, Any],
    plot_path: Path = PLOT,
) -> list[Figure]:
    ordered = sorted(sizes)
    small, large, largest = sizes[ordered[0]], sizes[ordered[len(ordered) // 2]], sizes[ordered[-1]]
    rows = [row(sizes[size]) for size in ordered]
    common = {"scale": rows, "setup": dict(setup), "plot": plot(rows, plot_path).name}
    out = [_floor("verify_floor_small", small, common), _floor("verify_floor_large", large, {})]
    peak = ratio(max(largest.verify.peak_kib), max(large.verify.peak_kib))
    out.append(
        _figure(
            "verify_memory",
            peak,
            f"{mib(max(largest.verify.peak_kib))} MiB at {largest.references} refs vs "
            f"{mib(max(large.verify.peak_kib))} MiB at {large.references} (floor: "
            f"{mib(max(largest.floor.peak_kib))} vs {mib(max(large.floor.peak_kib))} MiB)",
        )
    )
    imports, bare = float(start["imports_seconds"]), float(start["interpreter_seconds"])
    out.append(
        _figure(
            "verify_startup",
            imports,
            f"{imports:.3f} s to import what the verb needs (the bare interpreter "
            f"{bare:.3f} s of it; the standard library modules among them alone "
            f"{float(start['stdlib_seconds']):.3f} s); "
            f"{float(start['first_request_seconds']):.3f} s to the first "
            f"request (pipeline.yaml and the records read too); medians of "
            f"{len(start['runs']['imports'])}",
            detail=dict(start),
            unit="s",
            proportion=ratio(imports, bare),
        )
    )
    out.append(_skopeo(skopeo_at, picked, skopeo))
    return out


def _figure(
    key: str,
    value: float,
    summary: str,
    detail: dict[str, Any] | None = None,
    unit: str = "x",
    proportion: float | None = None,
) -> Figure:
    title, target = KEYS[key]
    ratio_value = value if proportion is None else proportion
    return Figure(key, title, target, value, unit, ratio_value, summary, detail=detail or {})


def _floor(key: str, at: AtSize, detail: dict[str, Any]) -> Figure:
    verify, floor = at.verify.median, at.floor.median
    requests = sum(at.verify.requests.values())
    return _figure(
        key,
        ratio(verify, floor),
        f"{at.references} refs in {at.releases} releases: verify-tags {verify:.2f} s "
        f"({requests} requests) vs HEAD floor {floor:.2f} s ({sum(at.floor.requests.values())}); "
        f"http.client floor {at.stdlib.median:.2f} s; medians of {len(at.verify.seconds)}",
        detail=detail,
    )


def _skopeo(at: AtSize, picked: Sequence[str], skopeo: tuple[float, int]) -> Figure:
    seconds, failed = skopeo
    scaled = seconds * at.references / max(1, len(picked))
    return _figure(
        "verify_skopeo",
        ratio(scaled, at.verify.median),
        f"skopeo inspect {seconds:.1f} s for a sample of {len(picked)}, scaled to "
        f"{at.references}: {scaled:.0f} s vs verify-tags {at.verify.median:.2f} s",
        detail={
            "skopeo_sample": len(picked),
            "skopeo_sample_seconds": round(seconds, 3),
            "skopeo_sample_failed": failed,
            "skopeo_scaled_seconds": round(scaled, 3),
        },
    )


def plot(rows: Sequence[Mapping[str, Any]], path: Path = PLOT) -> Path:
    def points(key: str) -> list[tuple[float, float]]:
        return [(float(r["references"]), float(r[key])) for r in rows]

    return line_plot(
        path,
        "verify-tags --releases and the head floor",
        "references",
        "seconds",
        [
            Series("verify-tags --releases all", (200, 40, 40), points("verify_seconds")),
            Series("head floor (requests)", (40, 80, 200), points("floor_seconds")),
            Series("head floor (http.client)", (120, 120, 120), points("stdlib_floor_seconds")),
        ],
    )


def scale_table(figures: Sequence[Figure]) -> Table | None:
    """The growth table, when figure 1 was measured."""
    from rich.table import Table

    rows = next((f.detail.get("scale") for f in figures if f.key == "verify_floor_small"), None)
    if not rows:
        return None
    table = Table(title="verify-tags --releases at scale (medians)", title_justify="left")
    for column in (
        "refs",
        "verify-tags",
        "HEAD floor",
        "ratio",
        "http.client floor",
        "requests verify / floor",
        "peak MiB verify / floor",
    ):
        table.add_column(column, justify="right")
    for r in rows:
        verify_requests = ", ".join(f"{n} {m}" for m, n in sorted(r["verify_requests"].items()))
        table.add_row(
            f"{r['references']:,}",
            f"{r['verify_seconds']:.2f} s",
            f"{r['floor_seconds']:.2f} s",
            f"{r['ratio']:.2f}x",
            f"{r['stdlib_floor_seconds']:.2f} s",
            f"{verify_requests} / {sum(r['floor_requests'].values())} HEAD",
            f"{r['verify_peak_mib']} / {r['floor_peak_mib']}",
        )
    return table
