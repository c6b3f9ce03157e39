"""Manifests pinned by digest: the same files, every published image named ``repo:tag@digest``.

The manifests RPM must name its images before they exist (step 1 renders them), so it names them
by tag. Once publish knows each digest, a release can also ship manifests that run exactly the
published set: every reference the build published is pinned, and the operator gets the env vars
through which upstream's operators accept explicit component images, so that it deploys those
and composes none:

- virt-operator 1.x reads one image per component (``VIRT_API_IMAGE``, ...); 0.x read only the
  digests of its four core components (``VIRT_API_SHASUM``, ...) and takes a digest-pinned own
  image for the signal to use them. Its own image in ``VIRT_OPERATOR_IMAGE``/``OPERATOR_IMAGE``
  is pinned by digest alone, because it splits that string as ``…virt-operator([@:].*)`` and
  would read ``:<tag>@<digest>`` as a tag.
- cdi-operator already takes every component image from its env (``CONTROLLER_IMAGE``, ...),
  and those are pinned like any other reference.

The files are rewritten with ruamel.yaml's round-trip mode: comments, order and quoting stay.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import ScalarString

from pipeline.config.project import version_key
from pipeline.images.manifests import (
    POD_SPEC_PATHS,
    VIRT_OPERATOR_IMAGE_ENV,
    VIRT_OPERATOR_SHASUM_ENV,
)
from pipeline.images.reference import ImageReference, parse_reference

#: The first KubeVirt release whose virt-operator reads ``<COMPONENT>_IMAGE`` env vars.
IMAGE_ENV_SINCE = "1.0.0"
OPERATOR_ENV = ("VIRT_OPERATOR_IMAGE", "OPERATOR_IMAGE")


def operator_env(
    version: str, operator: str, components: Mapping[str, str], digests: Mapping[str, str]
) -> dict[str, str]:
    """The env vars virt-operator ``version`` needs to deploy exactly the published set:
    ``components`` maps each component to its tagged reference, ``digests`` each reference to
    the digest it was published with."""
    if version_key(version) >= version_key(IMAGE_ENV_SINCE):
        env = {
            VIRT_OPERATOR_IMAGE_ENV[name]: f"{ref}@{digests[ref]}"
            for name, ref in components.items()
            if name in VIRT_OPERATOR_IMAGE_ENV
        }
    else:
        env = {
            VIRT_OPERATOR_SHASUM_ENV[name]: digests[ref]
            for name, ref in components.items()
            if name in VIRT_OPERATOR_SHASUM_ENV
        }
    name = parse_reference(operator).name
    return {**env, **{var: f"{name}@{digests[operator]}" for var in OPERATOR_ENV}}


def pin_text(text: str, digests: Mapping[str, str], env: Mapping[str, str]) -> str:
    """``text`` (one manifest file, any number of documents) with every reference in
    ``digests`` pinned, and ``env`` set on the virt-operator container (added or replaced; the
    operator image vars only where the file has them)."""
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.explicit_start = text.lstrip().startswith("---")
    documents = list(yaml.load_all(text))
    pinned = [_pin(doc, digests) for doc in documents]
    for doc in pinned:
        for container in _virt_operator_containers(doc):
            _set_env(container, env)
    out = io.StringIO()
    yaml.dump_all(pinned, out)
    return out.getvalue()


def _pin(node: Any, digests: Mapping[str, str]) -> Any:
    if isinstance(node, CommentedMap):
        for key in list(node):
            node[key] = _pin(node[key], digests)
        return node
    if isinstance(node, CommentedSeq):
        for index, item in enumerate(node):
            node[index] = _pin(item, digests)
        return node
    if isinstance(node, str):
        ref = _reference(node)
        digest = digests.get(str(ref)) if ref is not None and not ref.digest else None
        if ref is not None and digest:
            pinned = f"{ref}@{digest}"
            return type(node)(pinned) if isinstance(node, ScalarString) else pinned
    return node


def _reference(text: str) -> ImageReference | None:
    if "/" not in text or ":" not in text or any(ch.isspace() for ch in text):
        return None
    try:
        return parse_reference(text)
    except ValueError:
        return None


def _virt_operator_containers(doc: Any) -> list[CommentedMap]:
    if not isinstance(doc, CommentedMap):
        return []
    if doc.get("kind") == "List":
        return [c for item in doc.get("items") or [] for c in _virt_operator_containers(item)]
    node: Any = doc
    for key in POD_SPEC_PATHS.get(str(doc.get("kind")), ("-",)):
        node = node.get(key) if isinstance(node, CommentedMap) else None
    containers = node.get("containers") if isinstance(node, CommentedMap) else None
    return [
        c
        for c in containers or []
        if isinstance(c, CommentedMap) and "/virt-operator" in str(c.get("image", ""))
    ]


def _set_env(container: CommentedMap, env: Mapping[str, str]) -> None:
    entries = container.setdefault("env", CommentedSeq())
    present = {e.get("name"): e for e in entries if isinstance(e, CommentedMap)}
    for name, value in env.items():
        if name in present:
            present[name]["value"] = value
        elif name not in OPERATOR_ENV:  # the operator's own var only where upstream set one
            entries.append(CommentedMap([("name", name), ("value", value)]))
