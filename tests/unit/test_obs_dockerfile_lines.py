"""Mapping lines of a Dockerfile the buildtime services processed back to the image's own file."""

from __future__ import annotations

import pytest

from pipeline.obs.dockerfile_lines import source_line, step_source_line
from pipeline.services.docker_label_helper import expand
from tests.support.paths import DATA

SOURCE = (DATA / "services" / "kubevirt-virt-api" / "Dockerfile").read_text()
VALUES = {
    "%%TAGPREFIX%%": "kubevirt",
    "%%PKG_VERSION%%": "1.1.0",
    "%%PKG_RELEASE%%": "3.2",
    "%%LABELPREFIX%%": "org.opensuse.kubevirt",
    "%%REGISTRY%%": "registry.opensuse.org",
}


def processed() -> str:
    """The copy the build sees: labels doubled by the label helper (its markers removed), then
    the placeholders replaced in place as replace_using_env does."""
    text = expand(SOURCE, "Dockerfile")
    for placeholder, value in VALUES.items():
        text = text.replace(placeholder, value)
    return text


def test_lines_before_the_labels_keep_their_numbers_though_values_changed() -> None:
    copy, source = processed().splitlines(), SOURCE.splitlines()
    assert copy[3] != source[3]  # the #!BuildTag line, substituted
    assert [source_line(copy, source, n) for n in range(1, 12)] == list(range(1, 12))


def test_lines_after_the_added_labels_map_back() -> None:
    copy, source = processed().splitlines(), SOURCE.splitlines()
    assert len(copy) == len(source) + 3  # five labels doubled, two marker comments gone
    assert copy[22].startswith("RUN zypper") and source[19].startswith("RUN zypper")
    assert source_line(copy, source, 23) == 20
    assert source_line(copy, source, 25) == 22  # the last continuation line of the RUN
    assert source_line(copy, source, 26) == 23
    assert source_line(copy, source, 27) == 24


def test_label_lines_map_into_the_label_block() -> None:
    copy, source = processed().splitlines(), SOURCE.splitlines()
    assert source_line(copy, source, 13) == 13  # the unprefixed copy of the first label
    assert {source_line(copy, source, n) for n in range(12, 22)} <= set(range(12, 19))


@pytest.mark.parametrize(
    ("copy", "source", "line", "expected"),
    [
        (["FROM a", "RUN b"], ["FROM a", "RUN b"], 2, 2),
        # A line a service added at the top has no line before it: the first line.
        (["# added", "FROM a"], ["FROM a"], 1, 1),
        (["# added", "FROM a"], ["FROM a"], 2, 1),
        (["FROM a", "LABEL x", "RUN b"], ["FROM a", "RUN b"], 2, 1),
        # A block replaced by a shorter one: its last lines go to the block's last line.
        (["FROM a", "X1", "X2", "X3", "RUN b"], ["FROM a", "Y", "RUN b"], 4, 2),
        (["FROM a", "X1", "X2", "X3", "RUN b"], ["FROM a", "Y", "RUN b"], 5, 3),
        # A line the copy does not have stays as it is.
        (["FROM a"], ["FROM a"], 7, 7),
    ],
)
def test_source_line_cases(copy: list[str], source: list[str], line: int, expected: int) -> None:
    assert source_line(copy, source, line) == expected


def test_a_failed_run_step_is_the_line_its_instruction_starts_on() -> None:
    step = (
        "RUN zypper -n install kubevirt-virt-api shadow &&     zypper clean -a &&     "
        "useradd --system --no-create-home -u 1001 virt-api"
    )
    assert step_source_line(processed(), SOURCE, step) == 20
    assert step_source_line(processed(), SOURCE, "USER 1001") == 23


def test_a_step_found_in_no_line_is_line_zero() -> None:
    assert step_source_line(processed(), SOURCE, "RUN zypper -n install other") == 0
    assert step_source_line("", SOURCE, "USER 1001") == 0


def test_of_two_steps_that_start_alike_the_first_is_taken() -> None:
    # buildah names the step by its text only; the joined text is not compared line by line.
    copy = "FROM a\nRUN make \\\n  all\nRUN make \\\n  install\n"
    assert step_source_line(copy, copy, "RUN make   install") == 2
