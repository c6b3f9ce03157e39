"""The differential suite: each file through obs-build's own parsers and through this project's
readers (rpmspec for spec files), every field both produce compared. A file this project refuses
must be listed in ``refusals.tsv`` with the reason, and the README lists them all."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from pipeline.core.errors import InputError
from tests.obs_differential import cases as corpus
from tests.obs_differential.compare import compare, refused
from tests.obs_differential.ours import (
    OBS_DEFAULT_SUBSTITUTE,
    dockerfile_fields,
    prjconf_fields,
    spec_fields,
)
from tests.obs_differential.reference import obs_build_version, run_reference
from tests.support.paths import ROOT
from tests.support.tools import need_tool

HERE = Path(__file__).resolve().parent


def _refusals() -> dict[str, tuple[str, str]]:
    with (HERE / "refusals.tsv").open(encoding="utf-8") as handle:
        rows = csv.DictReader(handle, delimiter="\t")
        return {row["file"]: (row["words"], row["why"]) for row in rows}


REFUSALS = _refusals()


@pytest.fixture(scope="module")
def all_cases(tmp_path_factory: pytest.TempPathFactory) -> list[corpus.Case]:
    need_tool("perl")
    tmp = tmp_path_factory.mktemp("obs-differential")
    exported = corpus.export_configs(tmp)
    return [
        *corpus.prjconf_cases(exported),
        *corpus.dockerfile_cases(exported),
        *corpus.spec_cases(tmp),
    ]


@pytest.fixture(scope="module")
def answers(all_cases: list[corpus.Case]) -> dict[str, dict[str, Any]]:
    """obs-build's answer for every case, from one run of the reference."""
    jobs = [
        {
            "kind": case.kind,
            "file": str(case.path),
            "arch": case.arch,
            "config": str(case.config) if case.config else None,
            "repository": case.repository,
            "release": corpus.RELEASE,
        }
        for case in all_cases
    ]
    return {case.id: answer for case, answer in zip(all_cases, run_reference(jobs), strict=True)}


def _ours(case: corpus.Case) -> dict[str, Any]:
    if case.kind == "prjconf":
        return prjconf_fields(case.path, case.arch, case.repository)
    if case.kind == "dockerfile":
        return dockerfile_fields(case.path, case.config, case.arch, case.repository, corpus.RELEASE)
    return spec_fields(case.path, list(case.defines))


def _file_key(case: corpus.Case) -> str:
    return (
        case.path.name if not case.path.is_relative_to(ROOT) else str(case.path.relative_to(ROOT))
    )


@pytest.mark.parametrize("kind", ["prjconf", "dockerfile", "spec"])
def test_every_field_agrees_with_obs_build(
    kind: str, all_cases: list[corpus.Case], answers: dict[str, dict[str, Any]]
) -> None:
    if kind == "spec":
        need_tool("rpmspec")
    failures = []
    for case in (c for c in all_cases if c.kind == kind):
        theirs = answers[case.id]
        assert "error" not in theirs, f"{case.id}: obs-build: {theirs['error']}"
        listed = REFUSALS.get(_file_key(case))
        try:
            ours = _ours(case)
        except InputError as exc:
            refused(kind, case.origin)
            if listed is None or listed[0] not in exc.one_line():
                failures.append(f"{case.id}: refused, not listed in refusals.tsv: {exc.one_line()}")
            continue
        if listed is not None:
            failures.append(f"{case.id}: listed in refusals.tsv but accepted")
        text = case.path.read_text(encoding="utf-8", errors="replace")
        if kind == "spec":  # the order of BuildRequires means nothing to either
            theirs["build_requires"] = sorted(theirs["build_requires"])
        if kind == "prjconf" and OBS_DEFAULT_SUBSTITUTE not in text:
            theirs["substitute"].pop(OBS_DEFAULT_SUBSTITUTE, None)
        problems = compare(kind, case.origin, ours, theirs, text, obs_build_version())
        failures += [f"{case.id}: {problem}" for problem in problems]
    assert not failures, "\n".join(failures)


def test_the_corpus_is_real_and_large_enough(all_cases: list[corpus.Case]) -> None:
    real = [c for c in all_cases if c.origin == "real"]
    assert len(real) >= 30
    listed = {row["file"] for row in corpus.manifest()}
    committed = {
        str(p.relative_to(corpus.CORPUS))
        for p in corpus.CORPUS.rglob("*")
        if p.is_file() and p.name != "MANIFEST.tsv"
    }
    assert committed == listed, "every corpus file has its origin in MANIFEST.tsv"
