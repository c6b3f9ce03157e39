"""The benchmark runner's own parts: ratios and targets, the table and results.json, the scale
set's manifests (read back by the real scanner), the build figures and the bench verb's wiring.
No timing is asserted: the figures are for people, not for pass/fail."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from bench import build as build_figures
from bench.figures import Figure, Target, format_value, not_measured, ratio, results_json, table
from bench.floor import split_reference
from bench.run import parts_of
from bench.scale import ProductSet, manifest_text, plan, write_manifests
from bench.verify_tags import sample
from pipeline.core.errors import InputError
from pipeline.images.manifests import scan_files

KUBEVIRT = ProductSet(
    "kubevirt",
    "virt-operator",
    {"1.9.0": ("virt-api", "virt-controller", "virt-handler", "virt-launcher", "virt-operator")},
)
CDI = ProductSet(
    "cdi",
    "cdi-operator",
    {"1.66.0": ("cdi-apiserver", "cdi-controller", "cdi-importer", "cdi-operator")},
)


# --------------------------------------------------------------------------- figures


def test_ratio_handles_zero_and_refuses_negative() -> None:
    assert ratio(3.0, 2.0) == 1.5
    assert ratio(0, 0) == 0.0
    assert math.isinf(ratio(1, 0))
    with pytest.raises(ValueError):
        ratio(-1, 2)


def test_targets_compare_in_their_direction() -> None:
    at_most = Target("<=", 1.5, "<= 1.5x")
    at_least = Target(">=", 10, ">= 10x")
    assert at_most.met(1.5) and not at_most.met(1.51)
    assert at_least.met(12) and not at_least.met(9.9)
    assert Target("<=", 0, "none").met(0) and not Target("<=", 0, "none").met(1)
    with pytest.raises(ValueError):
        Target("~", 1, "?")


def figures() -> list[Figure]:
    return [
        Figure("a", "fast", Target("<=", 1.5, "<= 1.5x"), value=1.2, ratio=1.2, summary="ok"),
        Figure("b", "slow", Target(">=", 10, ">= 10x"), value=math.inf, ratio=math.inf),
        Figure("c", "share", Target("<", 0.1, "< 10 %"), value=0.25, unit="%", ratio=0.25),
        not_measured("d", "later", Target("<", 3, "< 3 s"), "the build failed: rpmbuild"),
    ]


def test_table_shows_value_target_mark_and_reason() -> None:
    console = Console(width=200, record=True)
    console.print(table(figures()))
    text = console.export_text()
    assert "1.20x" in text and "<= 1.5x" in text and "25.0 %" in text
    assert "not measured: the build failed: rpmbuild" in text
    assert "✓" in text and "✗" in text


def test_results_json_is_valid_json_with_every_figure() -> None:
    data = results_json(figures(), {"cpus": 2}, "python -m pipeline bench")
    text = json.dumps(data, allow_nan=False)  # no NaN or Infinity tokens
    back = json.loads(text)
    assert [f["key"] for f in back["figures"]] == ["a", "b", "c", "d"]
    assert back["figures"][1]["value"] == "inf"
    assert back["figures"][0]["met"] is True and back["figures"][2]["met"] is False
    assert back["figures"][3] == {**back["figures"][3], "measured": False, "met": None}
    assert back["all_met"] is False
    assert set(back["figures"][0]) >= {"target", "ratio", "unit", "summary", "detail"}


def test_format_value_by_unit() -> None:
    assert format_value(None, "x") == "-"
    assert format_value(2.5, "s") == "2.50 s"
    assert format_value(3.0, "n") == "3"
    assert format_value(1234.0, "B") == "1,234 B"


def test_parts_of_arguments() -> None:
    assert parts_of(()) == ("verify", "build")
    assert parts_of(("build",)) == ("build",)
    assert parts_of(("upstream", "verify")) == ("verify", "upstream")  # upstream only on request
    with pytest.raises(InputError):
        parts_of(("everything",))


# --------------------------------------------------------------------------- scale set


def test_scale_set_references_are_distinct_and_what_the_scanner_finds(tmp_path: Path) -> None:
    scale = plan("127.0.0.1:5000", [KUBEVIRT, CDI], builds_per_version=4)
    refs = scale.references()
    assert len(refs) == len(set(refs))
    # operator form names every image; the deployed form leaves virt-operator out
    assert len(refs) == 2 * 5 + 2 * 4 + 4 * 4
    files = write_manifests(scale, tmp_path)
    assert len(files) == 8
    kubevirt_components = KUBEVIRT.images["1.9.0"]
    found = scan_files(files, kubevirt_components)
    assert sorted({str(image.reference) for image in found.images}) == sorted(refs)
    assert len(found.images) == len(refs), "no reference is named twice"
    versions = {v.value for v in found.versions}
    assert versions == {r.tag for r in scale.releases if r.operator_form or r.product is CDI}


def test_manifest_shapes() -> None:
    scale = plan("reg.example:5000", [KUBEVIRT, CDI], builds_per_version=2)
    operator, deployed = scale.releases[0], scale.releases[1]
    text = manifest_text(scale, operator)
    assert (
        "kind: Deployment" in text
        and 'name: KUBEVIRT_VERSION\n          value: "1.9.0-1.1"' in text
    )
    deployed_text = manifest_text(scale, deployed)
    assert "kind: DaemonSet" in deployed_text and "kind: Pod" in deployed_text
    assert "virt-operator" not in deployed_text
    cdi_text = manifest_text(scale, scale.releases[2])
    assert "CONTROLLER_IMAGE" in cdi_text and "OPERATOR_VERSION" in cdi_text
    assert seeds_cover(scale.seeds(), scale.references())


def seeds_cover(seeds: list[tuple[str, str, str]], refs: list[str]) -> bool:
    images = {split_reference(r)[1].rsplit("/", 1)[1] for r in refs}
    return {image for image, _, _ in seeds} == images


def test_sample_spreads_over_the_list() -> None:
    items = [str(i) for i in range(100)]
    picked = sample(items, 10)
    assert len(picked) == 10 and picked[0] == "0" and picked[-1] == "90"
    assert sample(items[:5], 10) == items[:5]


# --------------------------------------------------------------------------- build figures


def report() -> dict[str, Any]:
    return {
        "rpms": {
            "finished": "2026-01-01T00:01:40Z",
            "timings": {"rpmbuild": {"calls": 2, "seconds": 90.0}},
            "tools_busy_seconds": 60.0,
        },
        "containers": {
            "finished": "2026-01-01T00:03:20Z",
            "timings": {"buildah": {"calls": 8, "seconds": 150.0}},
            "tools_busy_seconds": 95.0,
            "images": {
                "a": {
                    "state": "built",
                    "seconds": 100.0,
                    "arches": {
                        "x86_64": {"own_size": 1200, "rpms": ["x-1-1.x86_64"], "seconds": 30.0},
                        "aarch64": {"own_size": 1300, "rpms": ["x-1-1.aarch64"], "seconds": 70.0},
                    },
                },
                "b": {
                    "state": "built",
                    "seconds": 60.0,
                    "arches": {
                        "x86_64": {
                            "own_size": 3000,
                            "rpms": ["y-1-1.x86_64", "z-1-1.noarch"],
                            "seconds": 20.0,
                        },
                        "aarch64": {"own_size": 3100, "rpms": [], "seconds": 40.0},
                    },
                },
                "c": {"state": "excluded", "seconds": 0.0},
            },
        },
    }


def test_parallel_and_overhead_from_the_report() -> None:
    par = build_figures.parallel_figure(report())
    assert par.value == pytest.approx(100 / 160)
    over = build_figures.overhead_figure(report(), build_wall=200.0)
    # some tool running: 60 s of the rpms stage (two rpmbuilds side by side, 90 s summed) and
    # 95 s of the containers stage: 45 s of 200 s outside
    assert over.value == pytest.approx(45 / 200)
    assert "60.0 s of the rpms stage, 95.0 s of the containers stage's 100 s" in over.summary
    assert over.unit == "%"


def test_weight_per_image_and_rpms_missing_from_the_repo() -> None:
    fig = build_figures.weight_figure(
        report(), {"x-1-1.x86_64": 1000, "y-1-1.x86_64": 2000}, "x86_64"
    )
    assert fig.value == pytest.approx(1.5)  # b: 3000 / 2000, z is not in the repo
    assert fig.detail["images"]["b"]["rpms_not_in_repo"] == ["z-1-1.noarch"]
    assert "c" not in fig.detail["images"]
    assert fig.detail["least_excess_bytes"] == 200  # a: 1200 B of layers for 1000 B of RPMs


def test_second_arch_figure_names_the_emulated_steps() -> None:
    one = {
        "containers": {"images": {"a": {"state": "built", "arches": {"x86_64": {"seconds": 25.0}}}}}
    }
    fig = build_figures.second_arch_figure(
        build_figures.Build(120.0, 300.0, report()),
        build_figures.Build(60.0, 150.0, one),
        "x86_64",
        "aarch64",
    )
    assert fig.value == pytest.approx(2.0) and fig.met is True
    assert fig.detail["image_seconds_aarch64_emulated"] == 110.0
    assert fig.detail["image_seconds_x86_64"] == 50.0
    assert fig.detail["one_arch_image_seconds"] == 25.0
    assert "emulated: the aarch64 image builds' RUN steps and rpm -qa" in fig.summary
    slow = build_figures.second_arch_figure(
        build_figures.Build(120.0, 400.0, report()),
        build_figures.Build(60.0, 150.0, one),
        "x86_64",
        "aarch64",
    )
    assert slow.met is False


def test_noop_figure_checks_seconds_and_keeps_the_ratio() -> None:
    fig = build_figures.noop_figure(0.9, 400.0, "images up to date", {"nox_list": 0.3})
    assert fig.met is True and fig.ratio == pytest.approx(0.00225)
    assert build_figures.noop_figure(1.2, 400.0, "", {}).met is False
    assert fig.detail["nox_list_seconds"] == 0.3


def test_bench_verb_is_wired_and_refuses_an_unknown_part(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from pipeline import cli
    from pipeline.core.errors import EXIT_INPUT

    assert cli.main(["bench", "everything"]) == EXIT_INPUT
    assert "unknown bench part 'everything'" in capsys.readouterr().err
