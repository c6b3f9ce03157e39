"""Both spellings of every verb agree: ``nox -s VERB -- ARGS`` and ``python -m pipeline VERB
ARGS`` give the same result (``--json`` output, files written) or the same failure (the same
error line, the verb's exit code in nox's "failed with exit code N" line), with the same
pre-flight checks.

nox runs with the repository's noxfile and an envdir of the test's own. Each session has its
own virtualenv as nox's users expect; here every verb's session directory is a link to one of
them, so the comparison installs the project once (the e2e suite shows a session making and
reusing its own).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.tools.registry_server import free_port
from pipeline.verbs import BY_NAME
from tests.reliability.project import copy_project
from tests.support.paths import DATA, ROOT
from tests.support.tools import need_tool

pytestmark = pytest.mark.tools

FAILED = re.compile(r"nox > Command .* failed with exit code (\d+)")
VOLATILE_KEYS = ("seconds", "published", "finished")


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    last_line: str


def _last_line(stderr: str) -> str:
    """The verb's own last line (nox's log lines left out)."""
    lines = [ln for ln in stderr.splitlines() if ln.strip() and not ln.startswith("nox > ")]
    return lines[-1] if lines else ""


@dataclass(frozen=True)
class Spellings:
    envdir: Path

    def pipeline(self, verb: str, args: list[str]) -> Outcome:
        argv = [sys.executable, "-m", "pipeline", verb, *args]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=600, cwd=ROOT)
        return Outcome(done.returncode, done.stdout, _last_line(done.stderr))

    def nox(self, verb: str, args: list[str]) -> Outcome:
        argv = [sys.executable, "-m", "nox", "-f", str(ROOT / "noxfile.py")]
        argv += ["--envdir", str(self.envdir), "-s", verb, "--", *args]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=600, cwd=ROOT)
        failed = FAILED.search(done.stderr)
        if done.returncode == 0:
            code = 0
        else:
            assert failed, done.stderr[-3000:]
            code = int(failed.group(1))
        assert "pip install" not in done.stderr, "the shared virtualenv was made before"
        return Outcome(code, done.stdout, _last_line(done.stderr))


@pytest.fixture(scope="module")
def spellings(tmp_path_factory: pytest.TempPathFactory) -> Spellings:
    envdir = tmp_path_factory.mktemp("nox")
    # bench's session has the dev extra, a superset of the others': make it, then link.
    nox = [sys.executable, "-m", "nox", "-f", str(ROOT / "noxfile.py"), "--envdir", str(envdir)]
    first = subprocess.run(
        [*nox, "-s", "bench", "--install-only"],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
    )
    assert first.returncode == 0, first.stderr[-3000:]
    for verb in BY_NAME:
        if verb != "bench":
            (envdir / verb).symlink_to(envdir / "bench")
    # The runtime stamp, once: every verb's session then finds its dependencies there.
    done = subprocess.run(
        [*nox, "-s", "plan", "--install-only"],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return Spellings(envdir)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project(tmp_path_factory.mktemp("project") / "p")


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose virt-api ``_service`` names a service that does not exist."""
    copy = copy_project(tmp_path_factory.mktemp("broken") / "p")
    service = copy / "dockerfiles/kubevirt/virt-api/_service"
    service.write_text(service.read_text().replace('"replace_using_env"', '"replace_using_envv"'))
    return copy


def _normal(text: str) -> object:
    """JSON output without what differs between two runs of the same thing (times)."""
    data = json.loads(text)

    def strip(value: object) -> object:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in VOLATILE_KEYS}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(data)


def _yaml(project: Path) -> list[str]:
    return ["--project", str(project / "pipeline.yaml")]


#: verb -> (arguments, given the project and the broken project; expected exit code)
Case = Callable[[Path, Path], list[str]]
CASES: dict[str, tuple[Case, int]] = {
    "setup-host": (lambda p, b: ["--json"], 0),
    "plan": (lambda p, b: [*_yaml(p), "--json"], 0),
    "fetch-sources": (lambda p, b: [*_yaml(p), "--target", "tumbleweed"], 3),
    "rpms": (lambda p, b: _yaml(b), 2),
    "containers": (lambda p, b: _yaml(b), 2),
    "build": (lambda p, b: _yaml(b), 2),
    "publish": (lambda p, b: _yaml(p), 2),
    "verify-tags": (lambda p, b: [*_yaml(p), "--registry", f"127.0.0.1:{free_port()}"], 3),
    "registry": (lambda p, b: [*_yaml(p), "status", "--json"], 0),
    "obs-export": (lambda p, b: [*_yaml(p), "OUT", "--json"], 0),
    "prune": (lambda p, b: [*_yaml(p), "--dry-run", "--json"], 0),
    "bench": (lambda p, b: [*_yaml(p), "frobnicate"], 2),
    # No upstream tarballs in the copy: skipped, exit 0, the same lines in both spellings.
    "upstream": (lambda p, b: [*_yaml(p), "--json"], 0),
}


def test_every_verb_has_a_case() -> None:
    assert set(CASES) == set(BY_NAME)


@pytest.mark.parametrize("verb", list(CASES))
def test_both_spellings_agree(
    spellings: Spellings, project: Path, broken: Path, tmp_path: Path, verb: str
) -> None:
    need_tool("rpmspec")
    make_args, code = CASES[verb]
    args = make_args(project, broken)
    outcomes = []
    for n, spelling in enumerate((spellings.pipeline, spellings.nox)):
        outdir = str(tmp_path / f"out{n}")
        done = spelling(verb, [outdir if a == "OUT" else a for a in args])
        # obs-export names the directory it wrote: each spelling wrote its own.
        outcomes.append(Outcome(done.code, done.stdout.replace(outdir, "OUT"), done.last_line))
    direct, through_nox = outcomes
    assert direct.code == through_nox.code == code, (direct, through_nox)
    assert direct.last_line == through_nox.last_line
    if "--json" in args:
        assert _normal(direct.stdout) == _normal(through_nox.stdout)
    if verb == "obs-export":
        trees = [sorted(p.relative_to(d) for p in d.rglob("*")) for d in tmp_path.glob("out*")]
        assert len(trees) == 2 and trees[0] == trees[1] and trees[0]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--jobs", "0"], "--jobs must be at least 1"),
        (["--keep", "0"], "--keep must be at least 1"),
        (["--no-such-option"], "unrecognized arguments: --no-such-option"),
    ],
)
def test_both_spellings_refuse_bad_usage_alike(
    spellings: Spellings, args: list[str], says: str
) -> None:
    direct = spellings.pipeline("plan", args)
    through_nox = spellings.nox("plan", args)
    assert direct.code == through_nox.code == 2
    assert says in direct.last_line
    assert direct.last_line == through_nox.last_line


def test_bad_manifest_given_to_verify_tags(spellings: Spellings) -> None:
    args = ["--manifests", str(DATA / "manifests" / "bad-yaml.yaml")]
    direct = spellings.pipeline("verify-tags", args)
    through_nox = spellings.nox("verify-tags", args)
    assert direct.code == through_nox.code == 2
    assert direct.last_line == through_nox.last_line
    assert direct.last_line.startswith(str(DATA / "manifests" / "bad-yaml.yaml") + ":")
