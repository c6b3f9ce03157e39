"""The nox sessions. ``noxfile.py`` only imports this module.

There is one session per verb of ``pipeline.verbs`` (plus ``tests`` and ``lint``), each in its own
virtualenv under ``.nox/``, as nox's users expect, reused between runs. A verb's session runs
``python -m pipeline VERB ARGS`` in its virtualenv, so ``nox -s build -- --target tumbleweed`` and
``python -m pipeline build --target tumbleweed`` are one command line: one parser, one verb
table, the same pre-flight checks and the same output. nox's own exit status is 1 for any failed
session (its convention); the verb's exit code is in nox's "failed with exit code N" line.

The dependencies are pyproject.toml's, nowhere else: the project is installed editable (with the
``dev`` extra for tests, lint and bench), and only when the virtualenv is new or pyproject.toml
changed (a stamp in the virtualenv records what was installed), so a no-op build installs
nothing. Nothing is installed into the interpreter that runs nox. Only nox, the standard library
and the dependency-free verb table are imported here: the noxfile is loaded before anything is
installed.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import nox

from pipeline.verbs import VERBS, Verb

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
#: In each virtualenv, per extra: the digest of what was installed into it.
STAMP = "pipeline-installed-{extra}.sha256"
#: Sessions that need the ``dev`` extra (pytest, mypy, ruff, nox itself for the benchmarks).
DEV_SESSIONS = ("tests", "lint", "bench")

nox.needs_version = ">=2024.4"
nox.options.sessions = ["tests"]
nox.options.error_on_missing_interpreters = True


#: How the project is installed. ``compat`` puts the project directory on sys.path through a
#: .pth file, where the default installs an import hook that every start of the pipeline pays
#: for (a no-op build is a second or less, nox's start included).
INSTALL_ARGS = ("--quiet", "--config-settings", "editable_mode=compat", "-e")


def installed_digest(extra: str) -> str:
    """What a virtualenv must have been given: pyproject.toml's bytes, the extra, where the
    project is (an editable install points there) and how it was installed."""
    data = PYPROJECT.read_bytes() + f"\0{extra}\0{ROOT}\0{INSTALL_ARGS}".encode()
    return hashlib.sha256(data).hexdigest()


def install_project(session: nox.Session, extra: str = "") -> str:
    """The project and its dependencies in the session's virtualenv, unless already there;
    the Python to run them with."""
    location = getattr(session.virtualenv, "location", None)
    if not location:
        # --no-venv (or --force-venv-backend none): the user chose nox's own interpreter;
        # installing into it is exactly what this module never does.
        session.log("no virtualenv: using what the interpreter running nox has installed")
        return sys.executable
    stamp = Path(location) / STAMP.format(extra=extra or "runtime")
    wanted = installed_digest(extra)
    if stamp.is_file() and stamp.read_text(encoding="ascii").strip() == wanted:
        session.log(f"dependencies unchanged since the last install into {location}")
        return "python"
    session.install(*INSTALL_ARGS, f"{ROOT}[{extra}]" if extra else str(ROOT))
    stamp.write_text(wanted + "\n", encoding="ascii")
    return "python"


def _register(verb: Verb) -> None:
    """One session per verb of the table: ``nox -s VERB -- ARGS`` runs ``python -m pipeline
    VERB ARGS`` in the session's virtualenv."""

    def run(session: nox.Session) -> None:
        python = install_project(session, "dev" if verb.name in DEV_SESSIONS else "")
        # stderr=None: nox would fold the verb's stderr into stdout, mixing its messages into
        # the JSON a machine reads from `nox -s VERB -- --json`.
        session.run(python, "-m", "pipeline", verb.name, *session.posargs, stderr=None)

    run.__doc__ = verb.help[0].upper() + verb.help[1:] + "."
    run.__name__ = verb.name.replace("-", "_")
    nox.session(name=verb.name, reuse_venv=True)(run)


for _verb in VERBS:
    _register(_verb)


@nox.session(reuse_venv=True)
def tests(session: nox.Session) -> None:
    """Run the test suite with the real tools (rpmbuild, buildah, zypper, registry)."""
    python = install_project(session, "dev")
    session.run(python, "-m", "pipeline", "setup-host")
    # pytest's exit 5 (no tests collected) must fail: nox treats any non-zero exit as failure.
    session.run(python, "-m", "pytest", *session.posargs)


@nox.session(reuse_venv=True)
def lint(session: nox.Session) -> None:
    """ruff (lint and format) over the package, the tests and the benchmarks; mypy."""
    python = install_project(session, "dev")
    code = ("pipeline", "tests", "bench")
    session.run(python, "-m", "ruff", "check", *code)
    session.run(python, "-m", "ruff", "format", "--check", *code)
    session.run(python, "-m", "mypy")
