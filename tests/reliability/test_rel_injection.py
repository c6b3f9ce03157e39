"""Injection: values crafted to add Dockerfile instructions, run shell commands or escape with
``../`` are refused (exit 2, one line naming where) or neutralised, and nothing is written
outside the project's build directory.

Every payload that could run a command runs ``touch <marker>``; the marker must not exist
afterwards. The project copy (less its ``build/``) and the directory around it are snapshotted
before and after each run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pipeline.core.errors import EXIT_INPUT
from tests.reliability.project import Project, copy_project, keep_images, snapshot
from tests.support.shared_build import SharedBuild

META = "build/local/sysroot/x86_64/usr/lib/obs/service/kubevirt_containers_meta"
Y = "pipeline.yaml"
MARKER = "PWNED"


@dataclass(frozen=True)
class Payload:
    id: str
    verb: str
    #: (project root, marker path) -> command-line arguments; may change files of the copy.
    prepare: Callable[[Path, Path], list[str]]
    built: bool = False
    #: Exit codes that mean refused (or, 0, neutralised: it ran, and the payload did nothing).
    exits: tuple[int, ...] = (EXIT_INPUT,)


def set_env(key: str, value: str) -> Callable[[Path, Path], list[str]]:
    """Replace ``key``'s value in the meta env file that replace_using_env reads."""

    def prepare(root: Path, marker: Path) -> list[str]:
        keep_images(root, "virt-api")
        # Read again only when the image is rebuilt: a trailing comment makes it so.
        with (root / "dockerfiles/kubevirt/virt-api/Dockerfile").open("a") as handle:
            handle.write("\n# rebuild\n")
        path = root / META
        lines = [
            f"{key}={value.format(marker=marker)}" if line.startswith(f"{key}=") else line
            for line in path.read_text().splitlines()
        ]
        path.write_text("\n".join(lines) + "\n")
        return []

    return prepare


def set_yaml(old: str, new: str) -> Callable[[Path, Path], list[str]]:
    def prepare(root: Path, marker: Path) -> list[str]:
        text = (root / Y).read_text()
        assert old in text, old
        (root / Y).write_text(text.replace(old, new.format(marker=marker), 1))
        return []

    return prepare


def option(*args: str) -> Callable[[Path, Path], list[str]]:
    def prepare(root: Path, marker: Path) -> list[str]:
        return [a.format(marker=marker) for a in args]

    return prepare


ENV_VALUES = [
    Payload(
        "env-quote-and-shell",
        "containers",
        set_env("LABELPREFIX", 'org.x" && touch {marker} && echo "'),
        built=True,
    ),
    Payload(
        "env-command-substitution",
        "containers",
        set_env("PKG_RELEASE", "$(touch {marker})"),
        built=True,
    ),
    Payload("env-backticks", "containers", set_env("PKG_VERSION", "`touch {marker}`"), built=True),
    Payload(
        "env-semicolon",
        "containers",
        set_env("PKG_RELEASE", "0.1;touch${{IFS}}{marker}"),
        built=True,
    ),
    Payload("env-line-continuation", "containers", set_env("PKG_VERSION", "1.9.0\\"), built=True),
    Payload(
        "env-tagprefix-traversal",
        "containers",
        set_env("TAGPREFIX", "kubevirt/../../../etc"),
        built=True,
    ),
    Payload(
        "env-registry-with-path", "containers", set_env("REGISTRY", "evil.example/../x"), built=True
    ),
    Payload(
        "env-json-exec-form",
        "containers",
        set_env("PKG_VERSION", '1", "touch", "{marker}'),
        built=True,
    ),
]

PIPELINE_YAML = [
    Payload(
        "yaml-image-name-traversal", "plan", set_yaml("{name: virt-api,", '{{name: "../../evil",')
    ),
    Payload(
        "yaml-image-name-shell",
        "plan",
        set_yaml("{name: virt-api,", '{{name: "virt-api;touch {marker}",'),
    ),
    Payload(
        "yaml-image-name-newline",
        "plan",
        set_yaml("{name: virt-api,", '{{name: "virt-api\\nRUN touch {marker}",'),
    ),
    Payload(
        "yaml-image-dir-outside",
        "plan",
        set_yaml("dir: dockerfiles/kubevirt/virt-api}", "dir: ../../../tmp}}"),
    ),
    Payload(
        "yaml-version-shell",
        "plan",
        set_yaml('kubevirt: {version: "1.9.0"', 'kubevirt: {{version: "1.9.0;touch {marker}"'),
    ),
    Payload(
        "yaml-version-traversal",
        "plan",
        set_yaml('kubevirt: {version: "1.9.0"', 'kubevirt: {{version: "../../1.9.0"'),
    ),
    Payload(
        "yaml-tarball-traversal",
        "rpms",
        set_yaml(
            "tarball: kubevirt-{version}.tar.gz", "tarball: ../../../../evil-{{version}}.tar.gz"
        ),
    ),
    Payload(
        "yaml-version-macro-shell",
        "rpms",
        set_yaml(
            "version_macro: kubevirt_version", 'version_macro: "kubevirt_version %(touch {marker})"'
        ),
    ),
    Payload(
        "yaml-registry-shell",
        "plan",
        set_yaml("    registry: 127.0.0.1:5555", '    registry: "127.0.0.1:5555;touch {marker}"'),
    ),
    Payload(
        "yaml-since-not-a-version",
        "plan",
        set_yaml(
            'dir: dockerfiles/kubevirt/virt-exportproxy, since: "0.55.0"',
            'dir: dockerfiles/kubevirt/virt-exportproxy, since: "$(touch {marker})"',
        ),
    ),
]

OPTIONS = [
    Payload("release-traversal", "rpms", option("--release", "../../x")),
    Payload("release-shell", "rpms", option("--release", "1;touch {marker}")),
    Payload("release-newline", "rpms", option("--release", "1\nRelease: 9")),
    Payload("release-option-like", "plan", option("--release=-rf")),
    Payload("registry-shell", "rpms", option("--registry", "127.0.0.1:5000;touch {marker}")),
    Payload("registry-path", "rpms", option("--registry", "127.0.0.1:5000/../../x")),
    Payload("registry-quote", "rpms", option("--registry", "127.0.0.1:5000'\"$(touch {marker})")),
    Payload("registry-option-like", "plan", option("--registry=--tls-verify=false")),
    Payload(
        "manifests-traversal",
        "verify-tags",
        option("--manifests", "../../../../../../etc/hostname"),
    ),
    Payload("manifests-shell", "verify-tags", option("--manifests", "$(touch {marker}).yaml")),
    Payload(
        "manifests-dockerfile",
        "verify-tags",
        option("--manifests", "Dockerfile\nRUN touch {marker}"),
    ),
]

PAYLOADS = ENV_VALUES + PIPELINE_YAML + OPTIONS


@dataclass
class Served:
    address: str


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Served]:
    """A web server with one manifest whose image is crafted."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            body = (
                b"apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers:\n"
                b'    - name: x\n      image: "127.0.0.1:1/x:1;touch '
                + str(tmp_path).encode()
                + b'/PWNED"\n'
            )
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Served(f"127.0.0.1:{server.server_address[1]}")
    server.shutdown()
    server.server_close()


def run_payload(payload: Payload, project: Project, tmp_path: Path, args: list[str]) -> None:
    marker = tmp_path / MARKER
    around = snapshot(project.root.parent, skip=[project.root / "build"])
    result = project.run(
        payload.verb,
        *args,
        cwd=project.root,
        env={"PIPELINE_REGISTRY_ATTEMPTS": "1", "PIPELINE_REGISTRY_RETRY_SECONDS": "1"},
    )
    assert result.returncode in payload.exits, result.explain()
    assert "Traceback" not in result.stderr, result.explain()
    assert not marker.exists(), f"{payload.id}: the payload ran"
    assert not list(Path("/tmp").glob(f"{MARKER}*")), f"{payload.id}: wrote to /tmp"
    assert snapshot(project.root.parent, skip=[project.root / "build"]) == around, (
        f"{payload.id}: something was written outside build/"
    )


@pytest.mark.parametrize("payload", [p for p in PAYLOADS if not p.built], ids=lambda p: p.id)
def test_injection_fresh(payload: Payload, tmp_path: Path) -> None:
    project = Project(copy_project(tmp_path / "project"), "")
    args = payload.prepare(project.root, tmp_path / MARKER)
    run_payload(payload, project, tmp_path, args)


@pytest.mark.tools
@pytest.mark.slow
@pytest.mark.parametrize("payload", [p for p in PAYLOADS if p.built], ids=lambda p: p.id)
def test_injection_built(payload: Payload, tmp_path: Path, shared: SharedBuild) -> None:
    project = shared.copy(tmp_path / "project")
    args = payload.prepare(project.root, tmp_path / MARKER)
    before = project.report()["containers"]["images"]
    run_payload(payload, project, tmp_path, args)
    after = project.report()["containers"]["images"]
    entry = after.get("virt-api", {})
    assert entry.get("state") != "built" or entry["arches"] == before["virt-api"]["arches"], entry


def test_injection_downloaded_manifest(tmp_path: Path, site: Served) -> None:
    project = Project(copy_project(tmp_path / "project"), "")
    url = f"http://{site.address}/../../../../tmp/{MARKER}.yaml"
    run_payload(
        Payload("manifest-url", "verify-tags", option(), exits=(EXIT_INPUT,)),
        project,
        tmp_path,
        ["--manifests", url],
    )


def test_payload_count() -> None:
    assert len(PAYLOADS) + 1 >= 30
