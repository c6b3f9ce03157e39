"""Figure 1's parts that need no registry: the release set at a size, its bundles read back by
verify-tags' own planner, the tag files, the growth figures, the PNG plot, the import timings.
No timing is asserted."""

from __future__ import annotations

import struct
import zlib
from collections import Counter
from pathlib import Path

from bench import verify_figures
from bench.plot import Series, line_plot, nice_step
from bench.scale import ProductSet, plan_releases, write_bundles, write_tags
from bench.verify_tags import AtSize, Way, slowest_imports
from pipeline.stages.audit_bundles import plan_bundle, record_paths
from tests.support.releases import project_copy

KUBEVIRT = ProductSet(
    "kubevirt",
    "virt-operator",
    {
        "1.8.0": ("virt-api", "virt-controller", "virt-operator"),
        "1.9.0": ("virt-api", "virt-controller", "virt-handler", "virt-operator"),
    },
)
CDI = ProductSet("cdi", "cdi-operator", {"1.66.0": ("cdi-controller", "cdi-operator")})
TARGETS = ("local", "sle15-sp3", "sle15-sp2")


def test_releases_take_turns_between_targets_and_sizes_are_prefixes() -> None:
    scale = plan_releases("127.0.0.1:5000", [KUBEVIRT, CDI], 100, TARGETS)
    refs = list(scale.recorded())
    assert len(refs) >= 100 and len(refs) == len(set(refs)), "every reference once"
    first = scale.releases[:3]
    assert [(r.target, r.tag) for r in first] == [
        ("local", "1.8.0-1.1"),
        ("sle15-sp3", "1.8.0-1.2"),
        ("sle15-sp2", "1.8.0-1.3"),
    ]
    part = scale.upto(20)
    assert part.releases == scale.releases[: len(part.releases)]
    assert 20 <= len(list(part.recorded())) < 20 + 4
    # one seed per (image, version): the releases share their digests
    assert len(scale.seeds()) == 3 + 4 + 2


def test_bundles_read_back_as_one_probe_per_recorded_reference(tmp_path: Path) -> None:
    scale = plan_releases("127.0.0.1:5000", [KUBEVIRT, CDI], 60, TARGETS).upto(60)
    digests = {seed[:2]: f"sha256:{n:064x}" for n, seed in enumerate(scale.seeds(), 1)}
    project = project_copy(tmp_path / "project")
    assert write_bundles(project.parent, scale, digests) == len(scale.releases)
    asked = Counter()
    for target in TARGETS:
        for record in record_paths(project.parent / "build" / target):
            plan = plan_bundle(record, target, ("linux/amd64",), project.parent)
            assert plan.audit.ok, plan.audit.problems
            assert all(p.full for p in plan.probes), "every pinned reference is a record's"
            asked.update(str(p.reference) for p in plan.probes)
    assert sorted(asked) == sorted(scale.recorded()) and set(asked.values()) == {1}

    storage = tmp_path / "storage"
    assert write_tags(storage, scale, digests) == len(asked)
    release = scale.releases[0]
    link = storage / "docker/registry/v2/repositories/kubevirt/virt-api/_manifests/tags"
    digest = digests[("virt-api", release.version)]
    assert (link / release.tag / "current/link").read_text() == digest
    assert (link / release.tag / "index/sha256" / digest.split(":")[1] / "link").is_file()
    assert write_tags(storage, scale, digests) == 0, "written tags are left alone"


def at_size(refs: int, verify: float, floor: float, peak: int) -> AtSize:
    at = AtSize(refs, refs // 10, Path("p"), Path("r"))
    at.verify = Way([verify], [peak], Counter({"HEAD": refs, "GET": 68}))
    at.floor = Way([floor], [30_000], Counter({"HEAD": refs}))
    at.stdlib = Way([floor * 0.7], [20_000], Counter({"HEAD": refs}))
    return at


def test_growth_figures_table_and_plot(tmp_path: Path) -> None:
    sizes = {500: at_size(500, 0.6, 0.5, 40_000), 5000: at_size(5000, 5.0, 5.0, 42_000)}
    sizes[20000] = at_size(20000, 19.0, 20.0, 50_000)
    start = {
        "imports_seconds": 0.09,
        "interpreter_seconds": 0.03,
        "stdlib_seconds": 0.07,
        "first_request_seconds": 0.12,
        "runs": {"imports": [0.09]},
    }
    plot = tmp_path / "scale.png"
    figures = verify_figures.figures(
        sizes, {}, sizes[5000], ["ref"] * 10, (4.0, 0), start, plot_path=plot
    )
    by_key = {f.key: f for f in figures}
    assert by_key["verify_floor_small"].value == 1.2 and by_key["verify_floor_small"].met is True
    assert by_key["verify_floor_large"].value == 1.0
    assert by_key["verify_memory"].value == 50_000 / 42_000
    assert by_key["verify_startup"].met is True and by_key["verify_startup"].ratio == 3.0
    assert "standard library modules among them alone 0.070 s" in by_key["verify_startup"].summary
    assert by_key["verify_skopeo"].value == 4.0 * 5000 / 10 / 5.0
    rows = by_key["verify_floor_small"].detail["scale"]
    assert [r["ratio"] for r in rows] == [1.2, 1.0, 0.95]
    assert rows[0]["verify_requests"] == {"HEAD": 500, "GET": 68}
    assert rows[2]["verify_peak_mib"] == 48.8
    table = verify_figures.scale_table(figures)
    assert table is not None and table.row_count == 3
    width, height, colours = decode(plot)
    assert (width, height) == (760, 460)
    assert (200, 40, 40) in colours and (40, 80, 200) in colours  # verify-tags and the floor
    assert verify_figures.scale_table([]) is None


def decode(path: Path) -> tuple[int, int, set[tuple[int, int, int]]]:
    """A PNG as our writer makes it (8-bit RGB, one IDAT, filter 0): size and colours."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = {}, 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind = data[at + 4 : at + 8]
        body = data[at + 8 : at + 8 + length]
        assert struct.unpack(">I", data[at + 8 + length : at + 12 + length])[0] == zlib.crc32(
            kind + body
        )
        chunks[kind] = body
        at += 12 + length
    width, height = struct.unpack(">II", chunks[b"IHDR"][:8])
    raw = zlib.decompress(chunks[b"IDAT"])
    stride = 1 + 3 * width
    colours = set()
    for y in range(height):
        row = raw[y * stride + 1 : (y + 1) * stride]
        colours.update(zip(row[0::3], row[1::3], row[2::3], strict=True))
    return width, height, colours


def test_plot_ticks_are_round_and_an_empty_series_still_draws(tmp_path: Path) -> None:
    assert [nice_step(x) for x in (21_000, 23.1, 0.7)] == [5000, 5, 0.2]
    path = line_plot(tmp_path / "empty.png", "t", "x", "y", [Series("none", (1, 2, 3), [])])
    assert decode(path)[:2] == (760, 460)


def test_slowest_imports_from_importtime() -> None:
    text = (
        "import time: self [us] | cumulative | imported package\n"
        "import time:       100 |        100 |   json.decoder\n"
        "import time:      2000 |      52000 | pipeline.cli\n"
        "import time:       300 |      31000 |   pipeline.core.context\n"
    )
    assert slowest_imports(text, 2) == {"pipeline.cli": 52.0, "pipeline.core.context": 31.0}
