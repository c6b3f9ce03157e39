"""``_service`` files: the source services of an OBS package, in file order, with line numbers.

The format is what osc and obs-build read::

    <services>
      <service name="replace_using_env" mode="buildtime">
        <param name="file">Dockerfile</param>
        <param name="var">PKG_VERSION</param>
      </service>
    </services>

osc and obs-build accept much more than that (stray elements, unknown modes are just "not
buildtime", a parameter without text is dropped). Each of those hides a mistake that shows up
later as an image with a wrong tag, so here they are errors naming the line.

The file is read with expat directly: it reports line numbers for every element and lets the
parser refuse a DTD outright, so no entity can be declared (billion laughs, external entities).
"""

from __future__ import annotations

import re
import xml.parsers.expat
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.errors import InputError, Location

#: Modes osc knows. ``serveronly`` is the legacy spelling it still honours; None is the default
#: mode (run on the server after each commit).
MODES = ("buildtime", "localonly", "trylocal", "manual", "disabled", "serveronly")

# The service name becomes /usr/lib/obs/service/<name>: no path separators, nothing a shell
# would treat specially. osc asks for at least three characters.
_SERVICE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{2,}")
# A parameter name becomes ``--<name>`` on the service's command line.
_PARAM_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")

_HINT = "see https://openbuildservice.org/help/manuals/obs-user-guide/cha.obs.source_service"


@dataclass(frozen=True)
class Service:
    """One ``<service>`` element: its parameters in file order, repeated names kept."""

    name: str
    mode: str | None
    params: tuple[tuple[str, str], ...]
    line: int
    #: ``param_lines[i]`` is the line of ``params[i]``.
    param_lines: tuple[int, ...] = ()

    def values(self, name: str) -> tuple[str, ...]:
        """The values of every parameter called ``name``, in file order."""
        return tuple(value for key, value in self.params if key == name)

    def argv(self) -> list[str]:
        """The parameters as osc passes them: ``--name value`` pairs, in file order."""
        args: list[str] = []
        for key, value in self.params:
            args += [f"--{key}", value]
        return args

    def param_line(self, name: str, token: str | None = None) -> int:
        """Line of the first ``name`` parameter (whose value is or contains ``token``)."""
        for (key, value), line in zip(self.params, self.param_lines, strict=False):
            if key != name:
                continue
            if token is None or value == token or token in value.split():
                return line
        return self.line


@dataclass(frozen=True)
class ServiceFile:
    path: Path
    services: tuple[Service, ...]

    def buildtime(self) -> tuple[Service, ...]:
        return tuple(s for s in self.services if s.mode == "buildtime")


@dataclass
class _Element:
    tag: str
    attrs: dict[str, str]
    line: int
    column: int
    children: list[_Element]
    text: list[str]


class _Refused(Exception):
    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


def _read_tree(data: bytes) -> _Element:
    parser = xml.parsers.expat.ParserCreate()
    stack: list[_Element] = []
    root: list[_Element] = []

    def where() -> tuple[int, int]:
        return parser.CurrentLineNumber, parser.CurrentColumnNumber + 1

    def refuse_doctype(*_: object) -> None:
        raise _Refused("a DTD is not allowed in a _service file", *where())

    def refuse_entity(*_: object) -> None:
        raise _Refused("entity declarations are not allowed in a _service file", *where())

    def start(tag: str, attrs: dict[str, str]) -> None:
        line, column = where()
        element = _Element(tag, dict(attrs), line, column, [], [])
        if stack:
            stack[-1].children.append(element)
        else:
            root.append(element)
        stack.append(element)

    def end(_tag: str) -> None:
        stack.pop()

    def text(data: str) -> None:
        if stack:
            if data.strip() and stack[-1].tag != "param":
                raise _Refused(
                    f"unexpected text {data.strip()[:30]!r} in <{stack[-1].tag}>", *where()
                )
            stack[-1].text.append(data)

    parser.StartDoctypeDeclHandler = refuse_doctype
    parser.EntityDeclHandler = refuse_entity
    parser.UnparsedEntityDeclHandler = refuse_entity
    parser.ExternalEntityRefHandler = refuse_entity  # type: ignore[assignment]
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    parser.Parse(data, True)
    return root[0]


def _check_attrs(path: Path, element: _Element, allowed: tuple[str, ...]) -> None:
    for key in element.attrs:
        if key not in allowed:
            wanted = ", ".join(allowed) or "none"
            raise InputError(
                Location(path, element.line, element.column),
                f"unexpected attribute {key!r} on <{element.tag}> (allowed: {wanted})",
            )


def _parse_param(path: Path, service_name: str, element: _Element) -> tuple[str, str]:
    where = Location(path, element.line, element.column)
    if element.tag != "param":
        raise InputError(
            where,
            f"unexpected element <{element.tag}> in service {service_name!r}",
            hint="a <service> holds only <param name=...> elements",
        )
    _check_attrs(path, element, ("name",))
    if element.children:
        child = element.children[0]
        raise InputError(
            Location(path, child.line, child.column),
            f"unexpected element <{child.tag}> inside <param>: a parameter is plain text",
        )
    name = element.attrs.get("name")
    if not name:
        raise InputError(
            where,
            f"<param> without a name in service {service_name!r}",
            hint='write <param name="...">value</param>',
        )
    if not _PARAM_NAME_RE.fullmatch(name):
        raise InputError(where, f"invalid parameter name {name!r} in service {service_name!r}")
    return name, "".join(element.text)


def _parse_service(path: Path, element: _Element) -> Service:
    where = Location(path, element.line, element.column)
    if element.tag != "service":
        raise InputError(
            where,
            f"unexpected element <{element.tag}> in <services>",
            hint="<services> holds only <service> elements",
        )
    _check_attrs(path, element, ("name", "mode"))
    name = element.attrs.get("name")
    if not name:
        raise InputError(where, "<service> without a name", hint=_HINT)
    if not _SERVICE_NAME_RE.fullmatch(name):
        raise InputError(
            where,
            f"invalid service name {name!r}",
            hint="at least 3 characters of A-Z a-z 0-9 _ . + -",
        )
    mode: str | None = element.attrs.get("mode") or None
    if mode is not None and mode not in MODES:
        raise InputError(
            where,
            f"unknown mode {mode!r} for service {name!r}",
            hint=f"one of {', '.join(MODES)}, or no mode attribute",
        )
    params = [(_parse_param(path, name, child), child.line) for child in element.children]
    return Service(
        name=name,
        mode=mode,
        params=tuple(p for p, _ in params),
        line=element.line,
        param_lines=tuple(line for _, line in params),
    )


def parse_service(text: str | bytes, path: Path | str) -> ServiceFile:
    """Parse the text of a ``_service`` file; ``path`` is used in error messages only."""
    path = Path(path)
    data = text.encode("utf-8") if isinstance(text, str) else text
    try:
        root = _read_tree(data)
    except xml.parsers.expat.ExpatError as exc:
        message = xml.parsers.expat.ErrorString(exc.code)
        raise InputError(
            Location(path, exc.lineno, exc.offset + 1), f"not well-formed XML: {message}"
        ) from None
    except _Refused as exc:
        raise InputError(Location(path, exc.line, exc.column), exc.message) from None
    if root.tag != "services":
        raise InputError(
            Location(path, root.line, root.column),
            f"root element is <{root.tag}>, expected <services>",
            hint=_HINT,
        )
    _check_attrs(path, root, ())
    return ServiceFile(path, tuple(_parse_service(path, child) for child in root.children))


def load_service(path: Path | str) -> ServiceFile:
    """Read and parse a ``_service`` file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read the _service file: {exc.strerror}") from None
    return parse_service(data, path)
