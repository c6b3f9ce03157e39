from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core.errors import EXIT_INPUT, InputError
from pipeline.images.manifests import scan_file, scan_files, scan_text
from tests.support.paths import DATA as TEST_DATA

DATA = TEST_DATA / "manifests"
COMPONENTS = ("virt-api", "virt-controller", "virt-handler", "virt-launcher", "virt-exportproxy")
SUSE = "registry.example.com/suse/sles/15.3"


def test_kubevirt_operator_derives_component_images_from_its_own_image() -> None:
    scan = scan_file(DATA / "kubevirt-operator.yaml", COMPONENTS)
    comps = scan.components()
    tag = "0.49.0-150300.8.1"
    assert str(comps["virt-operator"].reference) == f"{SUSE}/virt-operator:{tag}"
    for component in COMPONENTS:
        found = comps[component]
        assert str(found.reference) == f"{SUSE}/{component}:{tag}"
        assert found.source == "derived"
        # Points at the image it was derived from: the VIRT_OPERATOR_IMAGE env value.
        assert (found.file, found.line) == (str(DATA / "kubevirt-operator.yaml"), 47)
        assert (found.kind, found.name) == ("Deployment", "virt-operator")
    container = [i for i in scan.images if i.source == "container"]
    assert [(i.line, i.column, i.path) for i in container] == [
        (36, 9, "spec.template.spec.containers[0].image")
    ]
    assert [(v.variable, v.value, v.line) for v in scan.versions] == [("KUBEVIRT_VERSION", tag, 53)]


def test_digest_operator_takes_tag_from_kubevirt_version_and_env_overrides() -> None:
    scan = scan_file(DATA / "kubevirt-operator-digest.yaml", COMPONENTS)
    comps = scan.components()
    assert str(comps["virt-api"].reference) == "quay.io/kubevirt/virt-api:v1.1.0"
    assert str(comps["virt-handler"].reference) == "quay.io/kubevirt/virt-handler:v1.1.0"
    # VIRT_LAUNCHER_IMAGE replaces the composed one, as in virt-operator.
    launcher = comps["virt-launcher"]
    assert launcher.source == "env"
    assert launcher.reference.digest is not None
    assert launcher.line == 20
    # The alias (*image) resolves to the anchored operator image.
    env_op = [i for i in scan.images if i.path.endswith("(OPERATOR_IMAGE)")]
    assert env_op and env_op[0].reference == comps["virt-operator"].reference
    # Nothing is derived twice for the overridden component.
    assert sum(1 for i in scan.images if i.component == "virt-launcher") == 1


def test_kubevirt_cr_overrides_registry_and_tag(tmp_path: Path) -> None:
    cr = tmp_path / "kubevirt-cr.yaml"
    cr.write_text(
        (DATA / "kubevirt-cr.yaml").read_text()
        + "  imageRegistry: mirror.local:5000/kv\n  imageTag: 9.9.9\n"
    )
    scan = scan_files([DATA / "kubevirt-operator.yaml", cr], ("virt-api",))
    assert str(scan.components()["virt-api"].reference) == "mirror.local:5000/kv/virt-api:9.9.9"
    # The CR without overrides changes nothing.
    plain = scan_files([DATA / "kubevirt-operator.yaml", DATA / "kubevirt-cr.yaml"], ("virt-api",))
    assert plain.components()["virt-api"].reference.tag == "0.49.0-150300.8.1"


def test_operator_image_with_prefix_and_no_tag() -> None:
    text = """
kind: Deployment
metadata: {name: virt-operator}
spec:
  template:
    spec:
      containers:
      - name: virt-operator
        image: reg.example:5000/ns/sub/kubevirt-virt-operator
"""
    scan = scan_text(text, "inline.yaml", ("virt-api",))
    api = scan.components()["virt-api"]
    assert str(api.reference) == "reg.example:5000/ns/sub/kubevirt-virt-api:latest"
    assert api.line == 9


def test_cdi_operator_component_images_come_from_env() -> None:
    scan = scan_file(DATA / "cdi-operator.yaml")
    comps = scan.components()
    tag = "1.43.0-150300.3.1"
    expected = {
        "cdi-operator": 55,
        "cdi-controller": 40,
        "cdi-importer": 42,
        "cdi-cloner": 44,
        "cdi-apiserver": 46,
        "cdi-uploadserver": 48,
        "cdi-uploadproxy": 50,
    }
    assert {name: found.line for name, found in comps.items()} == expected
    for name, found in comps.items():
        assert str(found.reference) == f"{SUSE}/{name}:{tag}"
    assert [(v.variable, v.value, v.line) for v in scan.versions] == [("OPERATOR_VERSION", tag, 38)]


def test_csv_annotation_related_images_and_install_deployments() -> None:
    scan = scan_file(DATA / "csv.yaml", ("virt-handler",))
    by_path = {i.path: i for i in scan.images}
    ann = by_path["metadata.annotations.containerImage"]
    assert (ann.line, ann.kind, ann.name, ann.source) == (
        9,
        "ClusterServiceVersion",
        "kubevirt-operator.v1.1.0",
        "annotation",
    )
    assert by_path["spec.relatedImages[1].image"].line == 17
    assert by_path["spec.relatedImages[1].image"].component == "virt-controller"
    prefix = "spec.install.spec.deployments[0].spec.template.spec"
    assert by_path[f"{prefix}.initContainers[0].image"].line == 30
    assert by_path[f"{prefix}.containers[0].image"].line == 33
    assert str(scan.components()["virt-handler"].reference) == (
        "quay.io/kubevirt/virt-handler:v1.1.0"
    )


def test_cronjob_all_container_lists() -> None:
    scan = scan_file(DATA / "cronjob.yaml")
    got = [(i.line, i.path.rsplit(".", 2)[-2], str(i.reference)) for i in scan.images]
    assert got == [
        (14, "initContainers[0]", "docker.io/library/busybox:latest"),
        (17, "containers[0]", "localhost:5000/tools/cleanup:1.0@sha256:" + "0f1e2d3c4b5a6978"
         "8796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"),
        (20, "ephemeralContainers[0]", "docker.io/library/alpine:3.19"),
    ]  # fmt: skip


def test_multi_document_with_empty_documents_and_lists() -> None:
    scan = scan_file(DATA / "multi.yaml")
    got = [(i.kind, i.name, i.line, i.source) for i in scan.images]
    assert got == [
        ("Pod", "one", 11, "container"),
        ("DaemonSet", "ds", 27, "container"),
        ("StatefulSet", "sts", 37, "container"),
        ("Job", "job", 48, "container"),
        ("Job", "job", 51, "env"),
        ("ReplicaSet", "rs", 62, "container"),
    ]
    assert len(scan.references()) == 6
    assert scan_text("").images == ()
    assert scan_text("---\n---\n# nothing\n").images == ()


@pytest.mark.parametrize(
    ("name", "where", "message"),
    [
        ("bad-yaml.yaml", ":9:9:", "malformed YAML: mapping values are not allowed"),
        ("bad-tag.yaml", ":8:5:", "invalid tag 'v0,21.0'"),
        ("not-mapping.yaml", ":6:", "must be a mapping, found a list"),
        ("bad-image-type.yaml", ":8:5:", "image: expected an image reference string"),
    ],
)
def test_malformed_input_names_file_and_line(name: str, where: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        scan_file(DATA / name)
    line = info.value.one_line()
    assert line.startswith(str(DATA / name) + where), line
    assert message in line
    assert info.value.exit_code == EXIT_INPUT


def test_other_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="manifest file not found"):
        scan_file(tmp_path / "missing.yaml")
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(InputError, match="not UTF-8"):
        scan_file(binary)
    cases = [
        ("a: 1\na: 2\n", "x.yaml:2:1: malformed YAML: found duplicate key"),
        ("kind: Pod\nspec:\n  containers: {}\n", "x.yaml:3:3: containers must be a list"),
        ("just a string\n", "x.yaml:1: a Kubernetes document must be a mapping, found a string"),
        ("a: [1\n", "x.yaml:2:1: malformed YAML"),
    ]
    for text, expected in cases:
        with pytest.raises(InputError) as info:
            scan_text(text, "x.yaml")
        assert info.value.one_line().startswith(expected), info.value.one_line()
