"""obs-export: the OBS project tree of a target, byte-identical OBS files, only this project's
services, versions pinned in _config, and a plan from the exported tree equal to the original's."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from pipeline.config.project import load_project
from pipeline.obs.export import DOWNLOAD_SERVICE, provided_services
from pipeline.obs.prjconf import load_prjconf
from pipeline.obs.service import load_service
from pipeline.obs.spec import source_date_epoch
from pipeline.stages.fetch_sources import pack_sample
from tests.support.paths import ROOT, copy_inputs
from tests.support.tools import run_pipeline

PROJECT = load_project(ROOT / "pipeline.yaml")


def export(outdir: Path, target: str, *extra: str, cwd: Path = ROOT) -> dict[str, Any]:
    result = run_pipeline("obs-export", str(outdir), "--target", target, "--json", *extra, cwd=cwd)
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


@pytest.fixture(scope="module")
def tumbleweed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    outdir = tmp_path_factory.mktemp("obs") / "tumbleweed"
    return outdir, export(outdir, "tumbleweed")


def files_of(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir()}


def test_service_files_name_only_services_this_project_provides(
    tumbleweed: tuple[Path, dict[str, Any]],
) -> None:
    outdir, _ = tumbleweed
    provided = provided_services(PROJECT)
    assert provided == {
        "replace_using_env",
        "kiwi_metainfo_helper",
        "docker_label_helper",
        "kubevirt_containers_meta",
        "cdi_containers_meta",
    }
    service_files = sorted(outdir.glob("*/_service"))
    assert len(service_files) >= 17  # every image, plus the spec packages' download services
    named: set[str] = set()
    for path in service_files:
        for service in load_service(path).services:
            named.add(service.name)
            if service.name == DOWNLOAD_SERVICE:
                # OBS's standard downloader, only in the spec packages, run by hand only
                assert service.mode == "manual", path
                assert path.parent.name in {p.package_dir.name for p in PROJECT.products.values()}
            else:
                assert service.name in provided, path
    assert provided <= named, "every service this project provides is used by some package"


def test_spec_packages_are_byte_identical_plus_source0(
    tumbleweed: tuple[Path, dict[str, Any]],
) -> None:
    outdir, data = tumbleweed
    for name, product in PROJECT.products.items():
        package = outdir / product.package_dir.name
        original = files_of(product.package_dir)
        exported = files_of(package)
        assert product.spec.name in exported
        for file_name, content in original.items():
            assert exported[file_name] == content, f"{package.name}/{file_name} differs"
        added = set(exported) - set(original)
        tarball = product.tarball.format(
            version=PROJECT.targets["tumbleweed"].products[name].version
        )
        if data["sources"][name] == "tarball":
            assert added == {tarball}
        else:
            assert data["sources"][name] == DOWNLOAD_SERVICE
            assert added == {"_service"}
            (service,) = load_service(package / "_service").services
            pinned = PROJECT.targets["tumbleweed"].products[name].source
            assert dict(service.params) == {"url": pinned.url, "filename": tarball}


def test_image_packages_are_byte_identical(tumbleweed: tuple[Path, dict[str, Any]]) -> None:
    outdir, data = tumbleweed
    target = PROJECT.targets["tumbleweed"]
    expected = set()
    for name, product in PROJECT.products.items():
        expected.add(product.package_dir.name)
        for image in product.images_for(target.products[name].version):
            package = outdir / f"{image.name}-container"
            expected.add(package.name)
            assert files_of(package) == files_of(image.directory), package.name
            assert (package / "Dockerfile").read_bytes() == (
                image.directory / "Dockerfile"
            ).read_bytes()
            assert (package / "_service").read_bytes() == (
                image.directory / "_service"
            ).read_bytes()
    packages = {p.name for p in outdir.iterdir() if p.is_dir()}
    assert packages == expected
    assert {p["name"] for p in data["packages"]} == expected
    # one recipe per package: nothing needs _multibuild or _link
    assert not list(outdir.glob("*/_multibuild")) and not list(outdir.glob("*/_link"))
    readme = (outdir / "README").read_text()
    for command in ("osc meta prjconf", "-F _config", "osc mkpac", "osc add", "osc commit"):
        assert command in readme


def test_config_pins_the_versions(tumbleweed: tuple[Path, dict[str, Any]]) -> None:
    outdir, _ = tumbleweed
    target = PROJECT.targets["tumbleweed"]
    original = load_prjconf(target.prjconf)
    config = load_prjconf(outdir / "_config")
    assert (outdir / "_config").read_text().startswith(target.prjconf.read_text())
    for name, product in PROJECT.products.items():
        assert config.macro(product.version_macro) == target.products[name].version
    for macro in original.macros.values():
        assert config.macro(macro.name) == macro.value
    assert dict(config.docker_args) == dict(original.docker_args)
    assert config.release_template == original.release_template
    # The spec repository keeps the default recipe type; the container repository builds images.
    assert "docker" not in config.directive_values("Type")
    images = load_prjconf(outdir / "_config", predefined={"_repository": "containerfile"})
    assert images.directive_values("Type") == ("docker",)


def test_sle15_sp2_exports_only_the_images_its_version_ships(tmp_path: Path) -> None:
    export(tmp_path / "sp2", "sle15-sp2")
    names = {p.name for p in (tmp_path / "sp2").iterdir()}
    assert "virt-api-container" in names
    assert "virt-exportproxy-container" not in names  # since 0.55.0; sp2 pins 0.40.0
    config = load_prjconf(tmp_path / "sp2" / "_config")
    assert config.macro("kubevirt_version") == "0.40.0"


# --- round trip: plan from the exported tree -----------------------------------------------------

#: Paths: where a file is, not what is built.
PATH_FIELDS = frozenset({"prjconf", "directory"})
#: Derived from the tree's own git history (CI_CNT counts commits touching the inputs) and from
#: digests over relative paths, and from this tree's build state: they describe the checkout.
CHECKOUT_FIELDS = frozenset({"ci_cnt", "inputs", "input_parts", "changed", "up_to_date"})


def plan(project: Path, target: str) -> dict[str, Any]:
    result = run_pipeline(
        "plan", "--project", str(project), "--target", target, "--json", "--release", "1.1"
    )
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def comparable(value: Any, *, local_source: bool) -> Any:
    if isinstance(value, dict):
        drop = PATH_FIELDS | CHECKOUT_FIELDS | ({"source"} if local_source else set())
        return {
            k: comparable(v, local_source=local_source) for k, v in value.items() if k not in drop
        }
    if isinstance(value, list):
        return [comparable(v, local_source=local_source) for v in value]
    return value


def without_version_pins(plan: dict[str, Any]) -> dict[str, Any]:
    """The plan without the ``%<product>_version`` defines and their ``_version_code``: the
    exported ``_config`` pins every product's version and version code as macros, so each
    product's defines hold the other's pins too (and the code, which the spec otherwise
    computes from the version). Each product's own pin is checked on its own."""
    products = []
    for product in plan["products"]:
        defines = product["defines"]
        assert product["version"] in defines.values(), product["name"]
        pins = {k: v for k, v in defines.items() if not k.endswith(("_version", "_version_code"))}
        products.append({**product, "defines": pins})
    return {**plan, "products": products}


def assert_same_plan(original: dict[str, Any], exported: dict[str, Any], local: bool) -> None:
    mine, theirs = without_version_pins(exported), without_version_pins(original)
    assert comparable(mine, local_source=local) == comparable(theirs, local_source=local)
    # the fields that matter, spelled out so a failure names them
    for key in ("target", "base_images", "registry", "registry_path", "label_prefix", "build_args"):
        assert exported[key] == original[key], key
    assert exported["prjconf"] == "_config"
    for mine, theirs in zip(exported["products"], original["products"], strict=True):
        assert (mine["name"], mine["version"], mine["tag"]) == (
            theirs["name"],
            theirs["version"],
            theirs["tag"],
        )
        assert mine["tag"] == f"{theirs['version']}-1.1"
        assert [(i["name"], i["reference"], i["base_image"]) for i in mine["images"]] == [
            (i["name"], i["reference"], i["base_image"]) for i in theirs["images"]
        ]
        for image in mine["images"]:
            assert image["directory"] == f"{image['name']}-container"


def test_plan_round_trip_tumbleweed(tumbleweed: tuple[Path, dict[str, Any]]) -> None:
    outdir, _ = tumbleweed
    original = plan(ROOT / "pipeline.yaml", "tumbleweed")
    exported = plan(outdir / "pipeline.yaml", "tumbleweed")
    assert_same_plan(original, exported, local=False)
    for mine, theirs in zip(exported["products"], original["products"], strict=True):
        assert mine["source"] == theirs["source"]  # the upstream URL


def test_local_export_carries_the_packed_sample(tmp_path: Path) -> None:
    outdir = tmp_path / "local"
    data = export(outdir, "local")
    target = PROJECT.targets["local"]
    for name, product in PROJECT.products.items():
        assert data["sources"][name] == "tarball"
        version = target.products[name].version
        tarball = outdir / product.package_dir.name / product.tarball.format(version=version)
        assert not (outdir / product.package_dir.name / "_service").exists()
        top = tarball.name.removesuffix(".tar.gz")
        with tarfile.open(tarball) as tar:
            names = tar.getnames()
        assert names[0] == top and all(n == top or n.startswith(top + "/") for n in names)
        # The exported tree's own sample copy packs to the very same bytes, so a build from the
        # exported pipeline.yaml and an OBS build from the package use one Source0.
        sample_dir = target.products[name].source.directory
        assert sample_dir is not None
        sample = outdir / "_samples" / sample_dir.name
        again = tmp_path / "again" / tarball.name
        epoch = source_date_epoch(product.spec.read_text(), product.spec)
        pack_sample(sample, again, top, epoch)
        assert again.read_bytes() == tarball.read_bytes()
    assert_same_plan(
        plan(ROOT / "pipeline.yaml", "local"), plan(outdir / "pipeline.yaml", "local"), local=True
    )


def test_a_downloaded_tarball_goes_into_the_package(tmp_path: Path) -> None:
    """With the pinned upstream tarball already fetched, no download service is written."""
    project = copy_inputs(tmp_path / "project")
    tarball = project / "build" / "sources" / "kubevirt-1.9.0.tar.gz"
    tarball.parent.mkdir(parents=True)
    tarball.write_bytes(b"stand-in for the upstream archive\n")
    digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
    yaml_path = project / "pipeline.yaml"
    pinned = PROJECT.targets["tumbleweed"].products["kubevirt"].source.sha256
    assert pinned is not None
    yaml_path.write_text(yaml_path.read_text().replace(pinned, digest))
    data = export(tmp_path / "out", "tumbleweed", cwd=project)
    assert data["sources"]["kubevirt"] == "tarball"
    package = tmp_path / "out" / "kubevirt"
    assert (package / tarball.name).read_bytes() == tarball.read_bytes()
    assert not (package / "_service").exists()
    # CDI pins no sha256: an unreviewed download never goes in; the manual service stays
    assert data["sources"]["cdi"] == DOWNLOAD_SERVICE


def test_refuses_a_non_empty_directory_and_replaces_an_export_with_force(tmp_path: Path) -> None:
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine\n")
    result = run_pipeline("obs-export", str(busy), "--target", "tumbleweed")
    assert result.returncode == 2
    assert f"{busy}: is not empty" in result.stderr
    assert (busy / "notes.txt").read_text() == "mine\n"
    result = run_pipeline("obs-export", str(busy), "--target", "tumbleweed", "--force")
    assert result.returncode == 2, "--force replaces only an earlier export"
    outdir = tmp_path / "again"
    export(outdir, "sle15-sp3")
    (outdir / "stale-container").mkdir()
    export(outdir, "tumbleweed", "--force")
    assert not (outdir / "stale-container").exists()
    assert load_prjconf(outdir / "_config").macro("kubevirt_version") == "1.9.0"


def test_needs_an_output_directory() -> None:
    result = run_pipeline("obs-export", "--target", "tumbleweed")
    assert result.returncode == 2
    assert "obs-export needs one argument: the output directory" in result.stderr
