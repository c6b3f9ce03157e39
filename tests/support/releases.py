"""Release bundles as publish writes them, for tests of ``verify-tags --releases`` and its bench:
a copy of the repository's inputs (so pipeline.yaml loads as it is; under 1 MB) with
``build/<target>/releases/<product>-<tag>/`` bundles of our making."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path

from pipeline.core.plan import host_platform
from pipeline.core.release import ReleaseRecord
from tests.support.paths import copy_inputs

#: ``(tagged text, digests, operator env) -> pinned text``: the real pinning by default.
Pinner = Callable[[str, Mapping[str, str], Mapping[str, str]], str]


def project_copy(directory: Path) -> Path:
    """A project at ``directory`` with the repository's inputs and a ``build/`` of its own;
    its pipeline.yaml."""
    return copy_inputs(directory) / "pipeline.yaml"


def real_pin(text: str, digests: Mapping[str, str], env: Mapping[str, str]) -> str:
    from pipeline.images.pinning import pin_text

    return pin_text(text, digests, env)


def write_bundle(
    build_dir: Path,
    target: str,
    product: str,
    version: str,
    release: str,
    digests: Mapping[str, str],
    tagged: Mapping[str, str],
    *,
    env: Mapping[str, str] | None = None,
    pin: Pinner = real_pin,
    platforms: tuple[str, ...] | None = None,
) -> ReleaseRecord:
    """A bundle of ``product`` ``version-release`` for ``target``: ``digests`` maps each image
    reference (by tag) to its digest, ``tagged`` each manifest file name to its tagged text;
    every image published with ``platforms`` (default: this host's, as a plain buildah image
    is)."""
    tag = f"{version}-{release}"
    directory = ReleaseRecord.bundle(build_dir, product, tag) / "manifests"
    directory.mkdir(parents=True, exist_ok=True)
    pinned = {}
    for name, text in tagged.items():
        out = pin(text, digests, env or {})
        (directory / name).write_text(out, encoding="utf-8")
        pinned[name] = hashlib.sha256(out.encode()).hexdigest()
    record = ReleaseRecord(
        product=product,
        target=target,
        version=version,
        release=release,
        tag=tag,
        published="2024-01-01T00:00:00Z",
        manifests={n: hashlib.sha256(t.encode()).hexdigest() for n, t in tagged.items()},
        images=dict(digests),
        pinned=pinned,
        operator_env=dict(env or {}),
        platforms=dict.fromkeys(digests, platforms or (host_platform(),)),
    )
    record.save(build_dir)
    return record


def virt_operator_yaml(operator: str, version_tag: str) -> str:
    """virt-operator's Deployment as the manifests RPM ships it (tagged; pinning gives its
    ``VIRT_OPERATOR_IMAGE`` the digest alone)."""
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: virt-operator
  namespace: kubevirt
spec:
  template:
    spec:
      containers:
      - name: virt-operator
        image: {operator}
        imagePullPolicy: IfNotPresent
        env:
        - name: VIRT_OPERATOR_IMAGE
          value: {operator}
        - name: KUBEVIRT_VERSION
          value: "{version_tag}"
"""
