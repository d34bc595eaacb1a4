"""Hypothesis strategies and the one assertion for operator input files (the topology,
drill specs): whatever a file holds, its loader returns a valid object or raises the
project's error naming the file and, for a well-formed document, the field at fault.

Imported by name from the property tests of each loader (``tests/`` is on ``sys.path``
through the root ``conftest.py``).
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from failover.input_file import InputFileError

# Characters that carry YAML's structure, so random text reaches the parser's corners.
YAML_ALPHABET = "{}[]:,-&*!|>'\"#%@?<=~ \t\n\r.+e0123456789abcxyz_\\/\x00\x85\u2028\ufeff"

# Values that a field might wrongly hold: every YAML type, numbers at and far past any
# bound (NaN and infinities too), long and odd strings, nested and empty collections.
weird_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**45), max_value=10**45),
    st.sampled_from([0, -1, 1, 2, 3, 1023, 1024, 3600, 3601, 10**6, 2**63, -(2**63)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -0.0, 1e-300, 1e300, 0.5]),
    st.text(max_size=30),
    st.sampled_from(
        ["", "production", "remote-dr", "u00", "0-127", "any-standby", "site-down",
         "error-rate", "reported", "$leader", "a b", "x" * 300, "2001-01-01", "\n", "~"]
    ),
)  # fmt: skip
weird_values = st.recursive(
    weird_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=12), inner, max_size=4),
    ),
    max_leaves=12,
)

# YAML 1.1 resolves plain scalars by their shape (``2001-13-45`` is a timestamp, ``1:30``
# a base-60 integer, ``0o7``/``0x1f``/``0b1`` integers, ``.inf`` a float), and explicit
# tags force a constructor on any text: both reach PyYAML's scalar constructors.
TAGS = ["", "", "!!int ", "!!float ", "!!bool ", "!!timestamp ", "!!null ", "!!str ",
        "!!binary ", "!!set ", "!!omap ", "!custom ", "!!python/name:os.system "]  # fmt: skip
scalar_texts = st.one_of(
    st.from_regex(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ][0-9]{1,2}:[0-9]{2}:[0-9]{2}"
                  r"(\.[0-9]*)?( ?(Z|[-+][0-9]{1,2}(:[0-9]{2})?))?)?", fullmatch=True),
    st.from_regex(r"[-+]?(0b[01_]+|0o?[0-7_]+|0x[0-9a-fA-F_]+|[1-9][0-9_]*(:[0-5]?[0-9])*)",
                  fullmatch=True),
    st.from_regex(r"[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?([eE][-+][0-9]+)?|\.(inf|nan))",
                  fullmatch=True),
    st.sampled_from(["yes", "No", "on", "OFF", "~", "null", "maybe", "=", "<<", "''"]),
    st.text(alphabet=YAML_ALPHABET, max_size=12),
)  # fmt: skip


@st.composite
def scalar_documents(draw: st.DrawFn, keys: frozenset[str]) -> str:
    """A mapping of one to four of ``keys`` (and odd keys) to tagged or shaped scalars."""
    lines = []
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        key = draw(st.sampled_from(sorted(keys)) | scalar_texts)
        tag = draw(st.sampled_from(TAGS))
        lines.append(f"{key}: {tag}{draw(scalar_texts)}")
    return "\n".join(lines) + "\n"


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every location in ``doc`` (keys of mappings, indexes of lists), root excluded."""
    found: list[tuple[Any, ...]] = []
    items = (
        doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    )
    for key, value in items:
        found.append((*prefix, key))
        found.extend(_paths(value, (*prefix, key)))
    return found


def _parent(doc: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        doc = doc[key]
    return doc


@st.composite
def mutated(draw: st.DrawFn, valid: dict[str, Any]) -> dict[str, Any]:
    """``valid`` with one to three field-level changes: a value replaced (wrong type,
    out-of-range number, odd string, a list for a mapping...), a key removed, an extra
    key added, or a list entry duplicated. The root stays a mapping."""
    doc = copy.deepcopy(valid)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(doc)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = _parent(doc, path)
        kind = draw(st.sampled_from(["replace", "replace", "remove", "extra", "duplicate"]))
        if kind == "replace":
            parent[path[-1]] = draw(weird_values)
        elif kind == "remove":
            del parent[path[-1]]
        elif kind == "extra" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=20))] = draw(weird_values)
        elif kind == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[path[-1]]))
    return doc


def dump(doc: Any) -> bytes:
    """``doc`` as a YAML file (any Python value hypothesis made, NaN and huge ints too)."""
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False).encode("utf-8")


_FIRST_SEGMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_-]*|\[[^\]]*\])")


def assert_valid_or_names_file_and_field(
    load: Callable[[Path], object],
    path: Path,
    error: type[InputFileError],
    *,
    fields: frozenset[str] | None = None,
) -> object | None:
    """Load ``path``: a result is returned as is; any exception must be ``error`` whose
    one-line message starts with the file name. With ``fields`` (the top-level keys a
    mutated document may name), the error must also name a field path that starts at
    one of them (or at a quoted key the file itself added)."""
    try:
        return load(path)
    except error as exc:
        message = str(exc)
        assert message.startswith(f"{path}: "), message
        assert len(message.splitlines()) == 1, message
        assert exc.source == str(path)
        assert message == f"{path}: {exc.field}: {exc.reason}" if exc.field else True
        if fields is not None:
            assert exc.field, f"no field named: {message}"
            first = _FIRST_SEGMENT.match(exc.field)
            assert first is not None, message
            assert first.group(1) in fields or first.group(1).startswith("["), message
        return None
