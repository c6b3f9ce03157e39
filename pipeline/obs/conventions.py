"""Names OBS and its services fix, in one place: where service files are installed, the keys of
a product's containers meta env file, and the placeholders the buildtime services replace."""

from __future__ import annotations

import re

#: Where OBS installs service executables and their data; the meta RPM puts its env file here.
SERVICE_DIR = "/usr/lib/obs/service"

#: What a ``<product>_containers_meta`` env file holds: the values the manifests were rendered
#: with, so the images' tags and labels are exactly what the manifests name.
META_KEYS = ("REGISTRY", "TAGPREFIX", "LABELPREFIX", "PKG_VERSION", "PKG_RELEASE")

#: ``%%NAME%%``: replaced by ``replace_using_env`` from an env file.
ENV_PLACEHOLDER = re.compile(r"%%([A-Za-z_][A-Za-z0-9_]*)%%")

#: ``%NAME%``: replaced by ``kiwi_metainfo_helper`` with the facts of the build.
METAINFO_NAMES = (
    "RELEASE",
    "BUILDTIME",
    "DISTURL",
    "SOURCEURL",
    "OS_VERSION_ID",
    "OS_VERSION_ID_SP",
    "OS_PRETTY_NAME",
    "OS_VENDOR",
    "OS_PRETTY_NAME_DASHED",
    "OS_PRETTY_NAME_BEFORE_PAREN",
    "OS_PRETTY_NAME_BEFORE_PAREN_DASHED",
    "OS_VERSION",
)
METAINFO_PLACEHOLDER = re.compile(
    "%(" + "|".join(sorted(METAINFO_NAMES, key=len, reverse=True)) + ")%"
)

#: Either kind: in a Dockerfile after its services ran, or in an image reference, a placeholder
#: nothing replaced (and the usual cause of a malformed tag).
ANY_PLACEHOLDER = re.compile(f"{ENV_PLACEHOLDER.pattern}|{METAINFO_PLACEHOLDER.pattern}")
