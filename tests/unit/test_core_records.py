"""The typed plan and report: they round-trip through JSON, and a report another version wrote,
or a hand edited, is refused with one line naming the file, the line and the key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.core.digest import combined_digest
from pipeline.core.errors import StateError
from pipeline.core.plan import ImagePlan, Plan, ProductPlan, rpm_arch
from pipeline.core.release import LastBuild, ReleaseBook, ReleaseRecord
from pipeline.core.report import (
    FORMAT,
    ArchImage,
    ContainersSection,
    ImageBuild,
    ProductBuild,
    Report,
    RpmRecord,
    RpmsSection,
)
from pipeline.stages.plan import changed_inputs


def a_plan() -> Plan:
    image = ImagePlan("virt-api", "dockerfiles/kubevirt/virt-api", "r/k/virt-api:1.9.0-1.1", "b")
    product = ProductPlan(
        name="kubevirt",
        version="1.9.0",
        source="samples/kubevirt",
        ci_cnt=1,
        inputs="abc",
        input_parts={"spec package": "1", "image virt-api": "2"},
        changed=("image virt-api",),
        release_state="next",
        release="1.1",
        tag="1.9.0-1.1",
        up_to_date=False,
        source_date_epoch=1_700_000_000,
        defines={"kubevirt_version": "1.9.0", "container_registry": "r"},
        images=(image,),
    )
    return Plan(
        target="local",
        prjconf="prjconf/local.prjconf",
        build_args={"KUBEVIRTFROM": "localhost/pipeline/local-base"},
        base_images=("localhost/pipeline/local-base",),
        registry="r",
        tag_prefix="k",
        label_prefix="org.example",
        registry_path="r/k",
        platforms=("linux/amd64", "linux/arm64"),
        release_template="<CI_CNT>.<B_CNT>",
        os_version=None,
        products=(product,),
    )


def rpms_section() -> RpmsSection:
    records = tuple(
        RpmRecord(f"a-1-1.{arch}", "a", f"build/local/a.{arch}.rpm", "00", ("/usr/bin/a",), arch)
        for arch in ("x86_64", "aarch64")
    )
    product = ProductBuild(
        "1.9.0",
        "1.1",
        "1.9.0-1.1",
        "abc",
        {"PKG_RELEASE": "1.1"},
        1,
        records,
        2.5,
        ("x86_64", "aarch64"),
    )
    return RpmsSection({"kubevirt": product}, True, "build/local/repo", "build/local/sysroot", {})


def test_plan_round_trips_through_json(tmp_path: Path) -> None:
    plan = a_plan()
    text = json.dumps(plan.to_json())
    assert Plan.from_json(json.loads(text), tmp_path / "plan.json") == plan
    assert plan.arches == ("x86_64", "aarch64")
    assert rpm_arch("amd64") == "x86_64" and rpm_arch("linux/s390x") == "s390x"


def test_report_sections_round_trip(tmp_path: Path) -> None:
    report = Report(tmp_path / "report.json", "local")
    assert report.rpms() is None
    rpms = rpms_section()
    report.write("rpms", rpms)
    arches = {
        arch: ArchImage(f"linux/{oci}", f"id-{arch}", f"r/k/virt-api:1-{arch}", 9, 1, ("a",), 1.0)
        for arch, oci in (("x86_64", "amd64"), ("aarch64", "arm64"))
    }
    image = ImageBuild("virt-api", "kubevirt", "built", tags=("r/k/virt-api:1",), arches=arches)
    bases = {"x86_64": "b1", "aarch64": "b2"}
    report.write("containers", ContainersSection(bases, {"virt-api": image}, {}))
    report.record_digests({"virt-api": "sha256:1"})
    again = Report(tmp_path / "report.json", "local")
    read = again.require_rpms()
    assert read.products == rpms.products and read.finished
    assert read.products["kubevirt"].rpm("a", "aarch64") == rpms.products["kubevirt"].rpms[1]
    assert read.products["kubevirt"].rpm("a") == rpms.products["kubevirt"].rpms[0]
    written = again.require_containers()
    assert written.images["virt-api"].digest == "sha256:1"
    assert written.images["virt-api"].arches == arches and written.bases == bases
    assert written.images["virt-api"].platforms == ("linux/amd64", "linux/arm64")
    assert json.loads(report.path.read_text())["format"] == FORMAT


def test_a_report_of_another_format_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text(json.dumps({"format": 1, "rpms": {}}))
    with pytest.raises(StateError) as info:
        Report(path, "local").rpms()
    line = info.value.one_line()
    assert line.startswith(f"{path}:1: written in report format 1")
    assert "nox -s build -- --target local" in line


@pytest.mark.parametrize(
    ("edit", "where", "message"),
    [
        (
            lambda d: d["rpms"]["products"]["kubevirt"].update(release=11),
            '"release": 11',
            "a string",
        ),
        (
            lambda d: d["rpms"]["products"]["kubevirt"].pop("tag"),
            '"kubevirt": {',
            "'tag' is missing",
        ),
        (lambda d: d["rpms"].update(colour="blue"), '"colour": "blue"', "unknown key 'colour'"),
        (lambda d: d["rpms"].update(complete="yes"), '"complete": "yes"', "true or false"),
    ],
)
def test_a_hand_edited_report_names_the_key_and_its_line(
    tmp_path: Path, edit: object, where: str, message: str
) -> None:
    report = Report(tmp_path / "report.json", "local")
    report.write("rpms", rpms_section())
    data = json.loads(report.path.read_text())
    edit(data)  # type: ignore[operator]
    report.path.write_text(json.dumps(data, indent=2, sort_keys=True))
    with pytest.raises(StateError) as info:
        report.require_rpms()
    line = info.value.one_line()
    assert message in line
    assert line.startswith(f"{report.path}:")
    number = int(line.split(":")[1])
    assert where in report.path.read_text().splitlines()[number - 1]
    assert "re-run the stage that writes it" in line


def test_release_book_and_records_are_typed(tmp_path: Path) -> None:
    book = ReleaseBook(tmp_path)
    assert book.take("p", 2, lambda ci, b: f"{ci}.{b}") == "2.1"
    book.record_success("p", "abc", "2.1")
    assert book.next_release("p", 2, lambda ci, b: f"{ci}.{b}") == "2.2"
    assert book.last_success("p") is not None and book.taken("p") == ["2.1"]
    record = ReleaseRecord("p", "local", "1", "2.1", "1-2.1", "now", {"a.yaml": "00"}, {"r": "d"})
    record.save(tmp_path)
    assert ReleaseRecord.load_all(tmp_path) == [record]
    (tmp_path / "releases.json").write_text('{"products": {"p": {"taken": "2.1"}}}')
    with pytest.raises(StateError, match=r"products\.p\.taken: expected a list"):
        book.taken("p")


def test_plan_names_the_inputs_that_changed() -> None:
    parts = {"spec package": "1", "image virt-api": "2", "base": "3"}
    assert changed_inputs(parts, None) == ("first build",)
    assert changed_inputs(parts, LastBuild("x", "1.1", dict(parts))) == ()
    moved = {**parts, "image virt-api": "9", "image new": "4"}
    assert changed_inputs(moved, LastBuild("x", "1.1", parts)) == ("image new", "image virt-api")
    # A book of an older version knows only the whole digest.
    assert changed_inputs(parts, LastBuild(combined_digest(parts), "1.1")) == ()
    assert changed_inputs(moved, LastBuild(combined_digest(parts), "1.1")) == ("inputs",)
