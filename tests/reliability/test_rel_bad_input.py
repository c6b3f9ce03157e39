"""Bad input corpus: every malformed input ends in its documented exit code and ONE stderr line
naming the file (and line where there is one), never a traceback, and nothing of it is
published or recorded as a success.

Each case is a row: what to break in a project copy, which verb to run, and what the last line
of stderr must name. Cases that need built RPMs or images run on a copy of the session's one
full build (``shared``); the others on a fresh copy of the inputs. To add a case, add a row.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from pipeline.core.errors import EXIT_CONFLICT, EXIT_INPUT, EXIT_TOOL
from tests.reliability.faultproxy import Fault, Proxy, answer
from tests.reliability.project import Project, copy_project, keep_images, registry_tags
from tests.support.shared_build import SharedBuild

pytestmark = [pytest.mark.tools, pytest.mark.slow]

Mutate = Callable[[Path], None]
#: The line the message must name: a number, the line of the first occurrence of a text in the
#: mutated file, ANY line, or None (the file has no line to name).
ANY = -1
META = "build/local/sysroot/x86_64/usr/lib/obs/service/kubevirt_containers_meta"
VIRT_API = "dockerfiles/kubevirt/virt-api"
#: The `local` target's platforms line in pipeline.yaml (its comment included).
LOCAL_PLATFORMS = (
    "platforms: [linux/amd64, linux/arm64]    # arm64: cross-built RPMs, emulated image builds"
)


# ----------------------------------------------------------------------------- mutations


def edit(path: str, old: str, new: str) -> Mutate:
    def mutate(root: Path) -> None:
        text = (root / path).read_text()
        assert old in text, f"{path} has no {old!r}: the corpus row is out of date"
        (root / path).write_text(text.replace(old, new, 1))

    return mutate


def sub(path: str, pattern: str, new: str) -> Mutate:
    def mutate(root: Path) -> None:
        text = (root / path).read_text()
        changed, count = re.subn(pattern, new, text, count=1, flags=re.M)
        assert count == 1, f"{path} has no match for {pattern!r}: the corpus row is out of date"
        (root / path).write_text(changed)

    return mutate


def append(path: str, text: str) -> Mutate:
    def mutate(root: Path) -> None:
        with (root / path).open("a") as handle:
            handle.write(text)

    return mutate


def append_bytes(path: str, data: bytes) -> Mutate:
    def mutate(root: Path) -> None:
        with (root / path).open("ab") as handle:
            handle.write(data)

    return mutate


def write(path: str, text: str | bytes) -> Mutate:
    def mutate(root: Path) -> None:
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            target.write_bytes(text)
        else:
            target.write_text(text)

    return mutate


def remove(path: str) -> Mutate:
    def mutate(root: Path) -> None:
        (root / path).unlink()

    return mutate


def both(*mutations: Mutate) -> Mutate:
    def mutate(root: Path) -> None:
        for mutation in mutations:
            mutation(root)

    return mutate


def only_images(*keep: str) -> Mutate:
    def mutate(root: Path) -> None:
        keep_images(root, *keep)

    return mutate


def containers_case(image: str, mutation: Mutate) -> Mutate:
    """Only ``image`` is built (pipeline.yaml trims the product's other images). The mutation
    changes the product's inputs, so plan's dry run checks the image before any work."""
    return both(only_images(image), mutation)


def forget_image(name: str) -> Mutate:
    """The report no longer knows ``name``: the containers stage builds it again under its
    product's unchanged release (as after a lost image), and so reads the meta env file."""

    def mutate(root: Path) -> None:
        path = root / "build/local/report.json"
        report = json.loads(path.read_text())
        del report["containers"]["images"][name]
        path.write_text(json.dumps(report))

    return mutate


def env_case(mutation: Mutate) -> Mutate:
    """The meta env file is step 1's output: an image reads it again only when it is built,
    so virt-api is forgotten by the report too."""
    return both(forget_image("virt-api"), mutation)


# ----------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Case:
    id: str
    verb: str
    mutate: Mutate
    #: The file the last line of stderr must name (relative to the project copy).
    file: str
    line: int | str | None = ANY
    exit: int = EXIT_INPUT
    #: Text the last line must hold too (the kind of problem).
    says: str = ""
    args: tuple[str, ...] = ()
    #: Run on a copy of the shared full build (else on a fresh copy of the inputs).
    built: bool = False
    #: Pass ``--registry`` (the proxy); without it the target's own registry is named.
    registry: bool = True
    #: Answer every registry request through the proxy with this fault.
    fault: Fault | None = None


Y = "pipeline.yaml"
LOCAL = "prjconf/local.prjconf"
SPEC = "specs/kubevirt/kubevirt.spec"
DOCKERFILE = f"{VIRT_API}/Dockerfile"
SERVICE = f"{VIRT_API}/_service"
MANIFEST = "bad-manifest.yaml"


def manifest(text: str) -> Mutate:
    return write(MANIFEST, text)


def deployment(image: str) -> str:
    return (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  template:\n"
        f"    spec:\n      containers:\n        - name: x\n          image: {image}\n"
    )


PIPELINE_YAML = [
    Case("yaml-syntax", "plan", edit(Y, "products:\n", "products: [\n"), Y),
    Case("yaml-tab-indent", "plan", edit(Y, "  kubevirt:\n", "\tkubevirt:\n"), Y),
    Case("yaml-unknown-top-key", "plan", append(Y, "colour: blue\n"), Y, "colour: blue"),
    Case(
        "yaml-unknown-product-key",
        "plan",
        edit(Y, "    spec: kubevirt.spec\n", "    spec: kubevirt.spec\n    colour: red\n"),
        Y,
        "colour: red",
    ),
    Case("yaml-bad-pull", "plan", edit(Y, "pull: never", "pull: sometimes"), Y, "pull: sometimes"),
    Case(
        "yaml-local-base-not-bool",
        "plan",
        edit(Y, "local_base: true", 'local_base: "yes please"'),
        Y,
        "local_base:",
    ),
    Case(
        "yaml-no-platforms",
        "plan",
        edit(Y, LOCAL_PLATFORMS, "platforms: []"),
        Y,
        "platforms: []",
    ),
    Case(
        "yaml-bad-platform",
        "plan",
        edit(Y, LOCAL_PLATFORMS, "platforms: [amd64]"),
        Y,
        "platforms: [amd64]",
    ),
    Case(
        "yaml-duplicate-image",
        "plan",
        edit(
            Y,
            "      - {name: virt-controller, dir: dockerfiles/kubevirt/virt-controller}\n",
            "      - {name: virt-api, dir: dockerfiles/kubevirt/virt-controller}\n",
        ),
        Y,
        "{name: virt-api, dir: dockerfiles/kubevirt/virt-controller}",
    ),
    Case(
        "yaml-image-dir-missing",
        "plan",
        edit(Y, "dir: dockerfiles/kubevirt/virt-handler}", "dir: dockerfiles/kubevirt/nothing}"),
        Y,
        "dockerfiles/kubevirt/nothing",
    ),
    Case(
        "yaml-spec-missing",
        "plan",
        edit(Y, "spec: kubevirt.spec", "spec: kubevirt-old.spec"),
        Y,
        "kubevirt-old.spec",
    ),
    Case(
        "yaml-tarball-without-version",
        "plan",
        edit(Y, "tarball: kubevirt-{version}.tar.gz", "tarball: kubevirt.zip"),
        Y,
        "kubevirt.zip",
    ),
    Case(
        "yaml-operator-not-an-image",
        "plan",
        edit(Y, "operator_image: virt-operator", "operator_image: virt-operator2"),
        Y,
        "virt-operator2",
    ),
    Case(
        "yaml-source-dir-and-url",
        "plan",
        edit(
            Y,
            "source: {dir: samples/kubevirt}",
            "source: {dir: samples/kubevirt, url: 'https://example.org/k.tar.gz'}",
        ),
        Y,
        "https://example.org/k.tar.gz",
    ),
    Case(
        "yaml-source-http-url",
        "plan",
        edit(
            Y,
            "url: https://github.com/kubevirt/kubevirt/archive/refs/tags/v0.45.0.tar.gz",
            "url: http://github.com/kubevirt/kubevirt/archive/refs/tags/v0.45.0.tar.gz",
        ),
        Y,
        "http://github.com",
    ),
    Case(
        "yaml-bad-sha256",
        "plan",
        edit(Y, "sha256: c19d09cbb8695c9f", "sha256: XYZ19d09cbb8695c9f"),
        Y,
        "XYZ19d09",
    ),
    Case(
        "yaml-bad-version",
        "plan",
        edit(Y, 'kubevirt: {version: "1.9.0"', 'kubevirt: {version: "latest"'),
        Y,
        '"latest"',
    ),
    Case(
        "yaml-target-misses-a-product",
        "plan",
        edit(
            Y,
            '      cdi: {version: "1.66.0", source: {dir: samples/containerized-data-importer}}\n',
            "",
        ),
        Y,
        ANY,
    ),
    Case("yaml-unknown-target", "plan", lambda root: None, Y, None, args=("--target", "nosuch")),
    Case(
        "yaml-bad-image-name",
        "plan",
        edit(Y, "{name: virt-api,", "{name: Virt_API,"),
        Y,
        "{name: Virt_API,",
    ),
    Case("yaml-empty-file", "plan", write(Y, ""), Y, None),
    Case(
        "yaml-products-a-list",
        "plan",
        edit(Y, "products:\n  kubevirt:", "products:\n  - kubevirt:"),
        Y,
    ),
    Case(
        "yaml-duplicate-key",
        "plan",
        edit(Y, "    spec: kubevirt.spec\n", "    spec: kubevirt.spec\n    spec: kubevirt.spec\n"),
        Y,
    ),
    Case(
        "yaml-prjconf-missing",
        "plan",
        edit(Y, "prjconf: prjconf/local.prjconf", "prjconf: prjconf/nothing.prjconf"),
        Y,
        "prjconf/nothing.prjconf",
    ),
    Case("yaml-not-utf8", "plan", append_bytes(Y, b"# caf\xe9\n"), Y, None),
]

PRJCONF = [
    Case(
        "prjconf-unknown-directive", "plan", append(LOCAL, "Frobnicate: yes\n"), LOCAL, "Frobnicate"
    ),
    # OBS lets a Macros: block or an %if run to the end of the file (a warning here); it
    # ignores a stray %endif and rejects a broken %if expression, so both are refused.
    Case("prjconf-stray-endif", "plan", append(LOCAL, "%endif\n"), LOCAL, "%endif\n"),
    Case("prjconf-if-broken", "plan", append(LOCAL, "%if 1 &&\n%endif\n"), LOCAL, "%if 1 &&\n"),
    Case(
        "prjconf-release-template-not-a-release",
        "plan",
        edit(LOCAL, "Release: <CI_CNT>.<B_CNT>", "Release: <CI_CNT>-<B_CNT>"),
        LOCAL,
        "Release: <CI_CNT>-<B_CNT>",
    ),
    Case(
        "prjconf-no-tagprefix",
        "plan",
        edit(LOCAL, "%container_tagprefix kubevirt\n", ""),
        LOCAL,
        None,
        says="container_tagprefix",
    ),
    Case(
        "prjconf-registry-disagrees",
        "plan",
        edit(LOCAL, "%container_registry 127.0.0.1:5555", "%container_registry 127.0.0.1:5556"),
        LOCAL,
        "%container_registry 127.0.0.1:5556",
        registry=False,
    ),
    Case(
        "prjconf-dockerarg-without-value",
        "plan",
        edit(
            LOCAL,
            "dockerarg:KUBEVIRTFROM=localhost/pipeline/local-base:latest",
            "dockerarg:KUBEVIRTFROM",
        ),
        LOCAL,
        "BuildFlags: dockerarg:KUBEVIRTFROM\n",
    ),
    Case(
        "prjconf-dockerarg-bad-image",
        "plan",
        edit(
            LOCAL,
            "KUBEVIRTFROM=localhost/pipeline/local-base:latest",
            "KUBEVIRTFROM=Local Host/Base::x",
        ),
        # The value is checked where it is used: the FROM line it feeds names the build arg.
        DOCKERFILE,
        "FROM $KUBEVIRTFROM",
        says="the build arg that feeds it",
    ),
    Case(
        "prjconf-macro-without-value",
        "plan",
        edit(LOCAL, "%container_labelprefix org.opensuse.kubevirt", "%container_labelprefix"),
        LOCAL,
        "%container_labelprefix\n",
    ),
    Case("prjconf-macros-end-without-start", "plan", append(LOCAL, ":Macros\n"), LOCAL),
    Case("prjconf-stray-text", "plan", append(LOCAL, "hello world\n"), LOCAL, "hello world"),
    Case("prjconf-missing", "plan", remove(LOCAL), LOCAL, None),
]

DOCKERFILES = [
    Case(
        "dockerfile-unknown-instruction",
        "plan",
        append(DOCKERFILE, "FRUM scratch\n"),
        DOCKERFILE,
        "FRUM",
    ),
    Case(
        "dockerfile-from-unset-arg",
        "plan",
        edit(DOCKERFILE, "FROM $KUBEVIRTFROM", "FROM $NOPE"),
        DOCKERFILE,
        "FROM $NOPE",
    ),
    Case(
        "dockerfile-arg-removed",
        "plan",
        edit(DOCKERFILE, "ARG KUBEVIRTFROM\n", ""),
        DOCKERFILE,
        "FROM $KUBEVIRTFROM",
    ),
    Case(
        "dockerfile-misspelt-magic",
        "plan",
        edit(DOCKERFILE, "#!UseOBSRepositories", "#!UseOBSRepository"),
        DOCKERFILE,
        "#!UseOBSRepository",
    ),
    Case(
        "dockerfile-unsupported-magic",
        "plan",
        append(DOCKERFILE, "#!BcntSyncTag: virt-api\n"),
        DOCKERFILE,
        "#!BcntSyncTag",
    ),
    Case(
        "dockerfile-missing",
        "plan",
        remove(DOCKERFILE),
        Y,
        "dockerfiles/kubevirt/virt-api}",
        says="has no Dockerfile",
    ),
    Case("dockerfile-no-from", "plan", write(DOCKERFILE, "RUN true\n"), DOCKERFILE),
    Case(
        "dockerfile-from-invalid-reference",
        "plan",
        edit(DOCKERFILE, "FROM $KUBEVIRTFROM", "FROM Upper/Case::tag"),
        DOCKERFILE,
        "FROM Upper/Case::tag",
    ),
    Case(
        "dockerfile-continuation-at-eof",
        "plan",
        append(DOCKERFILE, "RUN true \\\n"),
        DOCKERFILE,
    ),
    Case(
        "dockerfile-buildtag-invalid-after-substitution",
        "containers",
        containers_case(
            "virt-api",
            edit(
                DOCKERFILE,
                "#!BuildTag: %%TAGPREFIX%%/virt-api:%%PKG_VERSION%%\n",
                "#!BuildTag: %%TAGPREFIX%%/virt-api:%%PKG_VERSION%%:%%LABELPREFIX%%\n",
            ),
        ),
        DOCKERFILE,
        "virt-api:%%PKG_VERSION%%:%%LABELPREFIX%%",
        built=True,
    ),
    Case(
        "dockerfile-buildtag-unknown-placeholder",
        "containers",
        containers_case(
            "virt-api",
            append(DOCKERFILE, "#!BuildTag: %%TAGPREFIX%%/virt-api:<BUILDNUMBER>\n"),
        ),
        DOCKERFILE,
        "<BUILDNUMBER>",
        built=True,
    ),
    Case(
        "dockerfile-no-tag-the-manifests-name",
        "containers",
        containers_case(
            "virt-api",
            edit(
                DOCKERFILE,
                "#!BuildTag: %%TAGPREFIX%%/virt-api:%%PKG_VERSION%%-%%PKG_RELEASE%%\n",
                "",
            ),
        ),
        DOCKERFILE,
        ANY,
        built=True,
    ),
    Case(
        "dockerfile-placeholder-left",
        "containers",
        containers_case(
            "virt-api", append(DOCKERFILE, 'LABEL org.example.build="%%BUILD_NUMBER%%"\n')
        ),
        DOCKERFILE,
        "%%BUILD_NUMBER%%",
        built=True,
    ),
    Case(
        "dockerfile-zypper-package-nobody-has",
        # Only a real build finds it: the changed Dockerfile is a new release of KubeVirt, so
        # step 1 runs again (a warm Go cache) before the RUN step fails.
        "build",
        containers_case(
            "virt-api",
            edit(
                DOCKERFILE,
                "zypper -n install kubevirt-virt-api shadow",
                "zypper -n install kubevirt-virt-api shadow no-such-package-xyz",
            ),
        ),
        DOCKERFILE,
        "RUN zypper -n install",
        # A RUN step that fails is a tool failure (it could be the network, elsewhere); the
        # message still starts at the Dockerfile line and says what zypper said.
        exit=EXIT_TOOL,
        says="no-such-package-xyz",
        built=True,
    ),
]

SERVICES = [
    Case(
        "service-broken-xml",
        "containers",
        containers_case("virt-api", edit(SERVICE, "</services>", "</service>")),
        SERVICE,
        built=True,
    ),
    Case(
        "service-unknown-service",
        "containers",
        containers_case(
            "virt-api", edit(SERVICE, 'name="kiwi_metainfo_helper"', 'name="kiwi_metainfo_helpr"')
        ),
        SERVICE,
        'name="kiwi_metainfo_helpr"',
        built=True,
    ),
    Case(
        "service-var-not-in-env-file",
        "containers",
        containers_case(
            "virt-api",
            edit(SERVICE, '<param name="var">REGISTRY</param>', '<param name="var">NOPE</param>'),
        ),
        SERVICE,
        ANY,
        built=True,
    ),
    Case(
        "service-eval-shell-code",
        "containers",
        containers_case(
            "virt-api",
            edit(
                SERVICE,
                "source /usr/lib/obs/service/kubevirt_containers_meta<",
                "source /usr/lib/obs/service/kubevirt_containers_meta; id<",
            ),
        ),
        SERVICE,
        "; id",
        built=True,
    ),
    Case(
        "service-doctype-entity",
        "containers",
        containers_case(
            "virt-api",
            edit(SERVICE, "<services>", '<!DOCTYPE s [<!ENTITY x "y">]>\n<services>'),
        ),
        SERVICE,
        built=True,
    ),
    Case(
        "service-eval-pkg-no-rpm",
        "containers",
        containers_case(
            "virt-api", edit(SERVICE, "pkg=kubevirt-virt-api ", "pkg=kubevirt-virt-nothing ")
        ),
        SERVICE,
        "pkg=kubevirt-virt-nothing",
        built=True,
    ),
    Case(
        "service-missing",
        "containers",
        containers_case("virt-api", remove(SERVICE)),
        Y,
        "dir: dockerfiles/kubevirt/virt-api}",
        says="has no _service",
        built=True,
    ),
    Case(
        "service-bad-mode",
        "containers",
        containers_case(
            "virt-api", edit(SERVICE, 'mode="buildtime" name="kiwi', 'mode="sometimes" name="kiwi')
        ),
        SERVICE,
        'mode="sometimes"',
        built=True,
    ),
    Case(
        "service-empty",
        "containers",
        containers_case("virt-api", write(SERVICE, "")),
        SERVICE,
        built=True,
    ),
]

ENV_FILES = [
    Case(
        "env-not-key-value",
        "containers",
        env_case(append(META, "just words\n")),
        META,
        "just words",
        built=True,
    ),
    Case(
        "env-control-char",
        "containers",
        env_case(append(META, "EXTRA=a\x07b\n")),
        META,
        "EXTRA=",
        built=True,
    ),
    Case(
        "env-quote-breaks-label",
        "containers",
        env_case(sub(META, r"^LABELPREFIX=.*$", 'LABELPREFIX=org.x"\\ LABEL evil=1')),
        META,
        "LABELPREFIX=",
        built=True,
    ),
    Case(
        "env-empty-value",
        "containers",
        env_case(sub(META, r"^TAGPREFIX=.*$", "TAGPREFIX=")),
        META,
        "TAGPREFIX=",
        says="differs from",
        built=True,
    ),
    Case(
        "env-not-utf8",
        "containers",
        env_case(append_bytes(META, b"X=\xff\xfe\n")),
        META,
        None,
        built=True,
    ),
    Case(
        "env-key-with-space",
        "containers",
        env_case(append(META, "FOO BAR=1\n")),
        META,
        "FOO BAR=1",
        built=True,
    ),
    Case(
        "env-command-substitution",
        "containers",
        env_case(sub(META, r"^PKG_RELEASE=.*$", "PKG_RELEASE=$(id)")),
        META,
        "PKG_RELEASE=",
        built=True,
    ),
]

SPECS = [
    Case("spec-no-release", "rpms", sub(SPEC, r"^Release:.*\n", ""), SPEC, None),
    Case(
        "spec-no-changelog-date",
        "rpms",
        sub(SPEC, r"^\* \w{3} \w{3} .*$", "* sometime - someone"),
        SPEC,
        None,
    ),
    Case(
        "spec-unparseable",
        "rpms",
        sub(SPEC, r"^%description\n", "%if 1\n%description\n"),
        SPEC,
        "%if 1\n",
    ),
    Case(
        "spec-build-fails",
        "rpms",
        sub(SPEC, r"^%build\n", "%build\necho 'the build broke here' >&2; exit 1\n"),
        SPEC,
        "\n%build\n",
        says="the build broke here",
        exit=EXIT_TOOL,
    ),
]

MANIFESTS = [
    Case(
        "manifest-broken-yaml",
        "verify-tags",
        manifest("spec: [\n  image: x\n"),
        MANIFEST,
        args=("--manifests", MANIFEST),
    ),
    Case(
        "manifest-image-not-a-string",
        "verify-tags",
        manifest(deployment("{name: x}")),
        MANIFEST,
        "image: {name: x}",
        args=("--manifests", MANIFEST),
    ),
    Case(
        "manifest-image-a-number",
        "verify-tags",
        manifest(deployment("12345")),
        MANIFEST,
        "image: 12345",
        args=("--manifests", MANIFEST),
    ),
    Case(
        "manifest-invalid-reference",
        "verify-tags",
        manifest(deployment("Bad Ref::x")),
        MANIFEST,
        "image: Bad Ref::x",
        args=("--manifests", MANIFEST),
    ),
    Case(
        "manifest-empty-image",
        "verify-tags",
        manifest(deployment('""')),
        MANIFEST,
        'image: ""',
        args=("--manifests", MANIFEST),
    ),
    Case(
        "manifest-missing",
        "verify-tags",
        lambda root: None,
        MANIFEST,
        None,
        args=("--manifests", MANIFEST),
    ),
    Case(
        "manifest-no-images",
        "verify-tags",
        manifest("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"),
        MANIFEST,
        None,
        args=("--manifests", MANIFEST),
    ),
    Case(
        "manifest-not-utf8",
        "verify-tags",
        write(MANIFEST, b"kind: Pod\nmetadata: {name: \xff}\n"),
        MANIFEST,
        None,
        args=("--manifests", MANIFEST),
    ),
]

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
REFERENCE_LINE = "          image: "


def redirect_loop(h: BaseHTTPRequestHandler) -> bool:
    return answer(307, b"", {"Location": h.path})(h)


def no_digest_header(h: BaseHTTPRequestHandler) -> bool:
    """A registry answer without Docker-Content-Digest (HEAD has no body to digest)."""
    return answer(200, b"", {"Content-Type": OCI_INDEX})(h)


HTML_502 = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


def on_head(fault: Fault) -> Fault:
    """Only HEADs (a tag's digest) get ``fault``."""

    def gated(h: BaseHTTPRequestHandler) -> bool:
        return h.command == "HEAD" and fault(h)

    return gated


def on_get(fault: Fault) -> Fault:
    """Only GETs (of manifests and blobs) get ``fault``; HEADs for the digest pass."""

    def gated(h: BaseHTTPRequestHandler) -> bool:
        return h.command == "GET" and fault(h)

    return gated


#: A manifest of the shared build's virt-api, checked through the proxy, which answers wrongly.
REGISTRY_ANSWERS = (
    [
        Case(
            f"registry-{name}",
            "verify-tags",
            lambda root: None,
            MANIFEST,
            REFERENCE_LINE,
            exit=EXIT_TOOL,
            says=says,
            args=("--manifests", MANIFEST),
            built=True,
            fault=fault,
        )
        for name, fault, says in [
            (
                "truncated-json",
                on_get(
                    answer(
                        200, b'{"schemaVersion": 2, "config": {"med', {"Content-Type": OCI_MANIFEST}
                    )
                ),
                "digest",
            ),
            (
                "wrong-media-type",
                on_get(answer(200, b"<html>login</html>", {"Content-Type": "text/html"})),
                "Content-Type",
            ),
            ("html-error-page", answer(502, HTML_502, {"Content-Type": "text/html"}), "HTTP 502"),
            (
                "html-404-page",
                on_get(
                    answer(
                        404, b"<!DOCTYPE html><title>Gone</title>", {"Content-Type": "text/html"}
                    )
                ),
                "HTML page",
            ),
            ("redirect-loop", redirect_loop, "redirect"),
            (
                "500-json-error",
                answer(500, b'{"errors":[{"code":"UNKNOWN","message":"disk full"}]}'),
                "HTTP 500",
            ),
            (
                "digest-mismatch",
                on_get(
                    answer(
                        200,
                        b'{"schemaVersion": 2}',
                        {
                            "Content-Type": OCI_MANIFEST,
                            "Docker-Content-Digest": "sha256:" + "0" * 64,
                        },
                    )
                ),
                "digest",
            ),
            ("401-without-challenge", answer(401, b"no"), "WWW-Authenticate"),
            ("429-forever", answer(429, b"slow down", {"Retry-After": "3600"}), "429"),
            ("no-digest-header", no_digest_header, "Docker-Content-Digest"),
        ]
    ]
    + [
        Case(
            f"registry-publish-{name}",
            "publish",
            lambda root: None,
            "",
            None,
            exit=EXIT_TOOL,
            says=says,
            built=True,
            fault=fault,
        )
        for name, fault, says in [
            ("head-without-digest", no_digest_header, "Docker-Content-Digest"),
            (
                "head-html-200",
                answer(
                    200,
                    b"",
                    {"Content-Type": "text/html", "Docker-Content-Digest": "sha256:" + "1" * 64},
                ),
                "Content-Type",
            ),
        ]
    ]
    + [
        Case(
            "registry-publish-head-answers-another-digest",
            "publish",
            lambda root: None,
            "",
            None,
            # A tag of the set names another image: nothing is pushed, nothing moves.
            exit=EXIT_CONFLICT,
            says="a unique tag never moves, nothing was pushed",
            built=True,
            fault=on_head(
                answer(
                    200,
                    b"",
                    {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": "sha256:" + "2" * 64},
                )
            ),
        )
    ]
)

CASES = (
    PIPELINE_YAML
    + PRJCONF
    + DOCKERFILES
    + SERVICES
    + ENV_FILES
    + SPECS
    + MANIFESTS
    + REGISTRY_ANSWERS
)
FRESH = [c for c in CASES if not c.built]
BUILT = [c for c in CASES if c.built]


def test_the_corpus_is_big_enough() -> None:
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES), "case ids must be unique"


#: What a stage's corpus rows break (pipeline.yaml trims the containers rows to virt-api; a
#: build may rebuild the product's RPMs, never record the broken image as built).
SUBJECTS = {
    "rpms": ("kubevirt",),
    "containers": ("virt-api",),
    "build": ("virt-api",),
}


def successes(project: Project) -> dict[tuple[str, str], str]:
    """Everything the state files record as done: built products and images, last successes."""
    done: dict[tuple[str, str], str] = {}
    report = project.report()
    for name, entry in report.get("rpms", {}).get("products", {}).items():
        done[("rpms", name)] = entry["release"]
    for name, entry in report.get("containers", {}).get("images", {}).items():
        if entry.get("state") in ("built", "up to date"):
            done[("containers", name)] = json.dumps(entry["arches"], sort_keys=True)
    for name, entry in project.releases().get("products", {}).items():
        if entry.get("last_success"):
            done[("release", name)] = json.dumps(entry["last_success"], sort_keys=True)
    return done


def expected_line(case: Case, root: Path) -> str | None:
    """The ``file:line`` the message must start with (a regex), from the mutated file."""
    if case.line is None or not case.file:
        return None
    if case.line == ANY:
        return rf"{re.escape(case.file)}:\d+"
    if isinstance(case.line, int):
        return rf"{re.escape(case.file)}:{case.line}\b"
    text = (root / case.file).read_text(errors="replace")
    assert case.line in text, f"{case.id}: {case.line!r} is not in {case.file}"
    number = text[: text.index(case.line)].count("\n") + 1
    if case.line.startswith("\n"):
        number += 1
    return rf"{re.escape(case.file)}:{number}\b"


def run_case(case: Case, project: Project, proxy: Proxy | None, registry_url: str | None) -> None:
    case.mutate(project.root)
    before = successes(project)
    records = project.records()
    tags = registry_tags(registry_url) if registry_url else None
    if case.fault is not None:
        assert proxy is not None
        fault = case.fault
        proxy.handler = fault
    try:
        result = project.run(
            case.verb,
            *case.args,
            registry=None if case.registry and case.built else "",
            env={"PIPELINE_REGISTRY_ATTEMPTS": "2", "PIPELINE_REGISTRY_RETRY_SECONDS": "1"},
            cwd=project.root,
            timeout=600,
        )
    finally:
        if proxy is not None:
            proxy.reset()
    assert result.returncode == case.exit, result.explain()
    assert "Traceback" not in result.stderr, result.explain()
    last = result.last_line
    assert "\n" not in last and last, result.explain()
    assert case.file in last, f"{case.id}: the last line does not name {case.file}\n{last}"
    pattern = expected_line(case, project.root)
    if pattern:
        assert re.search(pattern, last), f"{case.id}: want {pattern} in\n{last}"
    if case.says:
        assert case.says in last, f"{case.id}: want {case.says!r} in\n{last}"
    after = successes(project)
    subject = SUBJECTS.get(case.verb)
    if subject is None:
        assert after.items() <= before.items(), f"{case.id}: recorded as a success: {after}"
    else:  # the stage may bring other things up to date; never the broken one
        mine = {(kind, name) for kind in ("rpms", "containers", "release") for name in subject}
        for key in after.keys() & mine:
            assert after[key] == before.get(key), f"{case.id}: {key} recorded as a success"
    assert project.records() == records, f"{case.id}: a release record was written"
    if registry_url:
        assert registry_tags(registry_url) == tags, f"{case.id}: the registry changed"


@pytest.mark.parametrize("case", FRESH, ids=[c.id for c in FRESH])
def test_bad_input_fresh(case: Case, tmp_path: Path) -> None:
    project = Project(copy_project(tmp_path / "project"), "")
    run_case(case, project, None, None)


@pytest.mark.parametrize("case", BUILT, ids=[c.id for c in BUILT])
def test_bad_input_built(case: Case, tmp_path: Path, shared: SharedBuild, proxy: Proxy) -> None:
    project = shared.copy(tmp_path / "project")
    if case.fault is not None and case.verb == "verify-tags":
        tag = project.report()["rpms"]["products"]["kubevirt"]["tag"]
        write(MANIFEST, deployment(f"{shared.address}/kubevirt/virt-api:{tag}"))(project.root)
    run_case(case, project, proxy, shared.url)
