"""The shape the architecture promises (README, Code map): modules that can be read in one
sitting and functions that do one step. An exception must be named here and in the README."""

from __future__ import annotations

import ast

from tests.support.paths import ROOT

MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 50
#: (module, function) -> why it may be longer. Empty: none is.
EXCEPTIONS: dict[tuple[str, str], str] = {}


def test_no_module_over_500_lines_and_no_function_over_50() -> None:
    too_long = []
    for path in sorted((ROOT / "pipeline").rglob("*.py")):
        name = str(path.relative_to(ROOT))
        text = path.read_text()
        if text.count("\n") > MAX_MODULE_LINES:
            too_long.append(f"{name}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES and (name, node.name) not in EXCEPTIONS:
                    too_long.append(f"{name}:{node.lineno} {node.name}: {length} lines")
    assert too_long == []
