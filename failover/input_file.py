"""Operator input files (the topology, drill specs): from bytes to a YAML document, or an
error that names the file and the field.

These files are written by people and read by every process, so whatever bytes a file
holds, :func:`read_yaml_document` returns plain data (dicts with string or scalar keys,
lists, strings, numbers, booleans, ``None``, dates) or raises the caller's
:class:`InputFileError` subclass. ``str()`` of that error is one line,
``file: field.path: reason`` (``file: reason`` when no field is at fault, e.g. a syntax
error, whose reason then gives the line and column). No other exception escapes, for
any content: not UnicodeDecodeError, RecursionError, a YAML constructor error, nor the
ValueError Python raises when an integer literal is too long to convert.

What is refused before any field is validated, and why:

- more than :data:`MAX_FILE_BYTES` (a topology of 1024 units is ~60 KiB);
- bytes that are not UTF-8 text;
- nesting deeper than :data:`MAX_DEPTH` (the parser recurses once per level);
- an integer literal longer than :data:`MAX_INT_CHARS` characters (no field takes one),
  and any scalar its YAML tag cannot build (``2001-13-45``, ``!!bool maybe``);
- a key given twice in one mapping (YAML keeps the last silently, so a typo'd override
  would win without a word);
- more than :data:`MAX_VALUES` values, each alias counted as the values it repeats, and
  aliases that refer to themselves (a "billion laughs" document is small on disk and
  huge once walked).

From the node that is at fault on, errors name the field path (``timing.quorum``);
errors of the file as a whole (size, encoding, syntax, nesting) name no field and give
the offset, or the line and column, where there is one.

Pure apart from reading the one file; importable wherever :mod:`failover.topology` is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_FILE_BYTES = 1 << 20
MAX_DEPTH = 64
MAX_INT_CHARS = 40
MAX_VALUES = 200_000
MAX_REASON_CHARS = 300
_SHOWN_KEY_CHARS = 40
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_MERGE_TAG = "tag:yaml.org,2002:merge"
_INT_TAG = "tag:yaml.org,2002:int"
_PYDANTIC_LABEL = re.compile(r"^(constrained-[a-z]+|[a-z][a-z-]*\[.*\])$")


class InputFileError(ValueError):
    """An operator file that cannot be used. ``str()`` reads ``file: field.path: reason``
    on one line; ``source``, ``field`` (empty when no field is at fault) and ``reason``
    are kept apart for callers and tests. A reason longer than
    :data:`MAX_REASON_CHARS` is cut, so a huge value quoted back stays readable."""

    def __init__(self, source: str, field: str, reason: str) -> None:
        self.source = source
        self.field = field
        self.reason = _one_line(reason)
        where = f"{source}: {field}" if field else source
        super().__init__(f"{where}: {self.reason}")


class ErrorType(Protocol):
    """The :class:`InputFileError` subclass a loader raises (``TopologyError``, ...)."""

    def __call__(self, source: str, field: str, reason: str) -> InputFileError: ...


def read_yaml_document(path: str | Path, error: ErrorType) -> object:
    """The one YAML document in ``path`` as plain data, or ``error(file, field, reason)``
    (module docstring). An empty file is ``None``; the caller says what it needed."""
    source = str(path)
    try:
        with Path(path).open("rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise error(source, "", f"cannot read file: {exc.strerror or exc}") from exc
    if len(data) > MAX_FILE_BYTES:
        raise error(source, "", f"larger than {MAX_FILE_BYTES} bytes; not an operator file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        reason = f"not UTF-8 text: byte 0x{data[exc.start]:02x} at offset {exc.start}"
        raise error(source, "", reason) from exc
    try:
        return _parse(text, source, error)
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        # PyYAML gives the code point as an int when it read text, a byte when bytes.
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        character = f"U+{code:04X}"
        reason = f"line {line}, column {column}: character {character} is not allowed"
        raise error(source, "", f"not valid YAML: {reason}") from exc
    except yaml.MarkedYAMLError as exc:
        raise error(source, "", f"not valid YAML: {_describe_yaml_error(exc)}") from exc
    except yaml.YAMLError as exc:
        raise error(source, "", f"not valid YAML: {exc}") from exc


def _parse(text: str, source: str, error: ErrorType) -> object:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_nodes(loader, node, source, error)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def field_path(loc: Sequence[int | str], branch_labels: frozenset[str] = frozenset()) -> str:
    """A pydantic error location as the file's field path, e.g. ``units[3].primary``.

    ``branch_labels`` are names pydantic puts in a location for the branch of a union it
    tried (``int``, an action's tag): they are not fields, so they are left out, as are
    pydantic's own labels like ``list[UnitSpec]`` or ``constrained-str``. A key that is
    not a plain name (spaces, dots, a newline, a number written as a key) is shown
    quoted, ``timing['a b']``, and cut after 40 characters.
    """
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item in branch_labels or _PYDANTIC_LABEL.fullmatch(item):
            continue
        else:
            parts.append(_key_part(item, first=not parts))
    return "".join(parts)


def _key_part(key: str, *, first: bool) -> str:
    if _PLAIN_KEY.fullmatch(key) and len(key) <= _SHOWN_KEY_CHARS:
        return key if first else f".{key}"
    shown = repr(key[:_SHOWN_KEY_CHARS]) + ("…" if len(key) > _SHOWN_KEY_CHARS else "")
    return f"[{shown}]"


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader with a nesting bound: its composer recurses once per level,
    so a deep document would end in RecursionError rather than an error with a line."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise yaml.composer.ComposerError(
                    None, None, f"nested deeper than {MAX_DEPTH} levels", mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _check_nodes(loader: _Loader, root: Node, source: str, error: ErrorType) -> None:
    """Refuse, naming the field, a key given twice in one mapping, a scalar that cannot
    be built, a cycle of aliases, or a document that expands to more than
    :data:`MAX_VALUES` values. Runs on the composed nodes, before the document is built.
    Each node is visited once (aliases share nodes), so this costs the size of the file,
    not of the expansion."""
    sizes: dict[int, int] = {}
    in_progress: set[int] = set()
    # Iterative depth-first walk: (node, path, children already pushed).
    stack: list[tuple[Node, str, bool]] = [(root, "", False)]
    while stack:
        node, path, expanded = stack.pop()
        if expanded:
            in_progress.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes[id(child)] for child, _ in _children(node, path))
            if sizes[id(node)] > MAX_VALUES:
                reason = f"more than {MAX_VALUES} values (each alias counts what it repeats)"
                raise error(source, path, reason)
            continue
        if id(node) in sizes:
            continue
        if id(node) in in_progress:
            raise error(source, path, "an alias refers to the value that contains it (a cycle)")
        in_progress.add(id(node))
        if isinstance(node, MappingNode):
            _refuse_duplicate_keys(node, path, source, error)
        elif isinstance(node, ScalarNode):
            _build_scalar(loader, node, path, source, error)
        stack.append((node, path, True))
        # Reversed, so children are visited in document order: a value reached twice is
        # named by its first occurrence in the file.
        children = [(child, child_path, False) for child, child_path in _children(node, path)]
        stack.extend(reversed(children))


def _build_scalar(
    loader: _Loader, node: ScalarNode, path: str, source: str, error: ErrorType
) -> None:
    """Build one scalar now, where its field is known; the loader keeps it for the
    document. PyYAML's scalar constructors raise plain Python errors on a malformed
    value of a resolved or explicit tag: ``2001-13-45`` is a timestamp to YAML 1.1 and
    fails in ``datetime``, ``!!bool maybe`` is a KeyError, ``!!int ''`` an IndexError,
    ``!!timestamp x`` an AttributeError. ``int()`` refuses literals past 4300 digits
    with a ValueError, so an integer longer than :data:`MAX_INT_CHARS` is refused
    before it is tried."""
    if node.tag == _MERGE_TAG:
        return  # ``<<`` is not a value; the mapping it sits in merges on construction
    where = f"line {node.start_mark.line + 1}, column {node.start_mark.column + 1}"
    if node.tag == _INT_TAG and len(str(node.value)) > MAX_INT_CHARS:
        reason = f"an integer of {len(str(node.value))} characters; no field takes one"
        raise error(source, path, f"{where}: {reason}")
    try:
        loader.construct_object(node)
    except yaml.MarkedYAMLError as exc:
        raise error(source, path, f"{where}: {exc.problem}") from exc
    except (ValueError, TypeError, LookupError, AttributeError, OverflowError) as exc:
        tag = str(node.tag).removeprefix("tag:yaml.org,2002:")
        raise error(source, path, f"{where}: {str(node.value)!r} is not a valid {tag}") from exc


def _children(node: Node, path: str) -> Iterator[tuple[Node, str]]:
    if isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            yield item, f"{path}[{i}]"
    elif isinstance(node, MappingNode):
        for key, value in node.value:
            yield key, path
            yield value, _child_path(path, key)


def _refuse_duplicate_keys(node: MappingNode, path: str, source: str, error: ErrorType) -> None:
    first: dict[tuple[str, str], ScalarNode] = {}
    for key, _ in node.value:
        if not isinstance(key, ScalarNode) or key.tag == _MERGE_TAG:
            continue  # merge keys (<<) override on purpose; complex keys fail later
        earlier = first.setdefault((key.tag, key.value), key)
        if earlier is not key:
            lines = f"line {earlier.start_mark.line + 1} and line {key.start_mark.line + 1}"
            reason = f"key given twice ({lines}); YAML would keep the last without a word"
            raise error(source, _child_path(path, key), reason)


def _child_path(path: str, key: Node) -> str:
    name = str(key.value) if isinstance(key, ScalarNode) else "?"
    return path + _key_part(name, first=not path)


def _describe_yaml_error(exc: yaml.MarkedYAMLError) -> str:
    """PyYAML's multi-line message as one line, positions as ``line L, column C``."""
    mark = exc.problem_mark or exc.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    problem = exc.problem or exc.context or "unreadable"
    context = ""
    if exc.context and exc.problem and exc.context_mark:
        context_at = f"line {exc.context_mark.line + 1}, column {exc.context_mark.column + 1}"
        context = f" ({exc.context} at {context_at})"
    return f"{where}{problem}{context}"


def _one_line(reason: str) -> str:
    lines = reason.splitlines()  # every line boundary, \x85 and \u2028 too
    flat = " ".join(line.strip() for line in lines) if len(lines) > 1 else reason
    return flat if len(flat) <= MAX_REASON_CHARS else flat[:MAX_REASON_CHARS] + "…"


__all__ = ["InputFileError", "field_path", "read_yaml_document"]
