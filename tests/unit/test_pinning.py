"""Digest-pinned release manifests: every published reference pinned, the operator told each
component image in the form its version reads, and the scanner reading the result back."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from pipeline.core.errors import StateError
from pipeline.core.release import ReleaseRecord
from pipeline.images.manifests import scan_text
from pipeline.images.pinning import operator_env, pin_text
from pipeline.stages.bundle import pinned_manifests

REG = "registry.example/kubevirt"
CORE = ("virt-api", "virt-controller", "virt-handler", "virt-launcher")
NEW = (*CORE, "virt-exportproxy", "virt-synchronization-controller", "pr-helper", "sidecar-shim")

OPERATOR = """\
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: virt-operator  # the operator
spec:
  template:
    spec:
      containers:
      - name: virt-operator
        image: {reg}/virt-operator:{tag}
        env:
        - name: {own}
          value: "{reg}/virt-operator:{tag}"
        - name: KUBEVIRT_VERSION
          value: {tag}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: unrelated
data:
  image: {reg}/virt-api:other-tag
"""


def refs(names: tuple[str, ...], tag: str) -> dict[str, str]:
    return {name: f"{REG}/{name}:{tag}" for name in (*names, "virt-operator")}


def digests_of(references: dict[str, str]) -> dict[str, str]:
    return {ref: f"sha256:{n:064x}" for n, ref in enumerate(references.values(), start=1)}


def test_kubevirt_1x_gets_one_image_env_var_per_component() -> None:
    images = refs(NEW, "1.9.0-2.1")
    digests = digests_of(images)
    components = {n: r for n, r in images.items() if n != "virt-operator"}
    env = operator_env("1.9.0", images["virt-operator"], components, digests)
    assert env["VIRT_SYNCHRONIZATIONCONTROLLER_IMAGE"].endswith(
        f"virt-synchronization-controller:1.9.0-2.1@{digests[components['virt-synchronization-controller']]}"
    )
    assert env["PR_HELPER_IMAGE"].startswith(f"{REG}/pr-helper:1.9.0-2.1@sha256:")
    # The operator's own image by digest alone: it splits ':<tag>@' as a tag otherwise.
    assert env["VIRT_OPERATOR_IMAGE"] == f"{REG}/virt-operator@{digests[images['virt-operator']]}"

    text = OPERATOR.format(reg=REG, tag="1.9.0-2.1", own="VIRT_OPERATOR_IMAGE")
    pinned = pin_text(text, digests, env)
    assert "# the operator" in pinned and pinned.startswith("---")
    assert f'"{REG}/virt-operator@' in pinned  # the quoted value stays quoted
    assert "virt-api:other-tag" in pinned  # not published: left alone
    scan = scan_text(pinned, "op.yaml", [*NEW, "virt-operator"])
    derived = {i.component: i.reference for i in scan.images if i.component in components}
    assert set(derived) == set(components)
    for name, ref in derived.items():
        assert str(ref) == f"{components[name]}@{digests[components[name]]}"


def test_kubevirt_0x_gets_the_four_digests_and_a_digest_pinned_operator() -> None:
    images = refs(CORE, "0.45.0-1.1")
    digests = digests_of(images)
    components = {n: r for n, r in images.items() if n != "virt-operator"}
    env = operator_env("0.45.0", images["virt-operator"], components, digests)
    assert set(env) == {
        "VIRT_API_SHASUM",
        "VIRT_CONTROLLER_SHASUM",
        "VIRT_HANDLER_SHASUM",
        "VIRT_LAUNCHER_SHASUM",
        "VIRT_OPERATOR_IMAGE",
        "OPERATOR_IMAGE",
    }
    text = OPERATOR.format(reg=REG, tag="0.45.0-1.1", own="OPERATOR_IMAGE")
    pinned = pin_text(text, digests, env)
    assert "VIRT_OPERATOR_IMAGE" not in pinned  # only the var the shipped operator reads
    scan = scan_text(pinned, "op.yaml", [*CORE, "virt-operator"])
    derived = {i.component: str(i.reference) for i in scan.images if i.source == "derived"}
    assert derived == {n: f"{REG}/{n}@{digests[components[n]]}" for n in CORE}


def test_a_pinned_file_edited_by_hand_is_refused(tmp_path: Path) -> None:
    manifests = ReleaseRecord.bundle(tmp_path, "kubevirt", "1-1.1") / "manifests"
    manifests.mkdir(parents=True)
    (manifests / "a.yaml").write_text("kind: x\n")
    good = hashlib.sha256(b"kind: x\n").hexdigest()
    record = ReleaseRecord(
        "kubevirt", "local", "1", "1.1", "1-1.1", "now", {}, {}, {"a.yaml": good}
    )
    assert pinned_manifests(tmp_path, record) == [manifests / "a.yaml"]
    (manifests / "a.yaml").write_text("kind: y\n")
    with pytest.raises(StateError, match="edited since publish wrote it"):
        pinned_manifests(tmp_path, record)
    (manifests / "a.yaml").unlink()
    with pytest.raises(StateError, match="missing from its release bundle"):
        pinned_manifests(tmp_path, record)
