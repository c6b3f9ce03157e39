"""Which line of an image's own Dockerfile a line of its processed copy comes from.

An image is built from a copy its buildtime services have changed: ``replace_using_env``
substitutes values in place and ``docker_label_helper`` adds LABEL lines. An error must name the
file the user edits, so lines of the copy are mapped back by comparing the two texts.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence


def source_line(processed: Sequence[str], source: Sequence[str], line: int) -> int:
    """The line of the image's own Dockerfile that line ``line`` of its processed copy comes
    from: the services substitute values in place and the label helper adds lines."""
    matcher = difflib.SequenceMatcher(a=processed, b=source, autojunk=False)
    for _, i1, i2, j1, j2 in matcher.get_opcodes():
        if i1 <= line - 1 < i2:
            if j2 == j1:  # added by a service: the source line before it
                return max(j1, 1)
            return j1 + min(line - 1 - i1, j2 - j1 - 1) + 1
    return line


def step_source_line(processed: str, source: str, step: str) -> int:
    """The line of the source Dockerfile ``source`` where the buildah step ``step`` starts, 0
    when no line of the processed Dockerfile ``processed`` starts it.

    ``step`` is the instruction as buildah prints it in ``building at STEP "..."``: continued
    lines joined, so the first processed line that (without its trailing ``\\``) begins the
    step is taken to be its first line."""
    lines = processed.splitlines()
    number = next(
        (
            n
            for n, text in enumerate(lines, start=1)
            if text.strip() and step.startswith(text.rstrip("\\").strip())
        ),
        0,
    )
    return source_line(lines, source.splitlines(), number) if number else 0
