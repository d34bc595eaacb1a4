"""Whatever bytes a drill file holds, loading it gives a valid drill or a
:class:`DrillSpecError` naming the file and the field: never another exception."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st
from input_file_strategies import (
    YAML_ALPHABET,
    assert_valid_or_names_file_and_field,
    dump,
    mutated,
    scalar_documents,
)

from drills.spec import DrillSpec, DrillSpecError, library, load_spec
from failover.topology import default_topology

TOPOLOGY = default_topology()
# Two valid starting points: the richest library drills (many action kinds, probes,
# expectations), so mutations reach every model.
STARTS: list[dict[str, Any]] = [
    yaml.safe_load(library()[name].read_text())
    for name in ("city-a-lost", "site-switchover-and-failback", "production-outage")
]
FIELDS = frozenset(DrillSpec.model_fields)


@pytest.fixture(scope="module")
def drill_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One file per module, rewritten by each example (hypothesis runs many per test)."""
    return tmp_path_factory.mktemp("drill") / "drill.yaml"


def _load(path: Path, content: bytes, *, fields: frozenset[str] | None = None) -> object:
    path.write_bytes(content)
    load = partial(load_spec, topology=TOPOLOGY)
    loaded = assert_valid_or_names_file_and_field(load, path, DrillSpecError, fields=fields)
    if loaded is not None:
        assert isinstance(loaded, DrillSpec)
        assert [s.at for s in loaded.method] == sorted(s.at or 0 for s in loaded.method)
    return loaded


@given(content=st.binary(max_size=600))
@example(content=b"\xc3\x28title: x")  # not UTF-8
@example(content=b"{" * 5000 + b"}" * 5000)  # nesting that made the parser recurse
@example(content=b"load: {customers: " + b"1" * 5000 + b"}")  # past int()'s digit limit
@example(content=b"title: a\ntitle: b\n")  # a key given twice
@example(content=b"a: &a {b: *a}")  # an alias inside its own anchor
def test_any_bytes_give_a_drill_or_an_error_naming_the_file(
    drill_file: Path, content: bytes
) -> None:
    _load(drill_file, content)


@given(text=st.text(alphabet=YAML_ALPHABET, max_size=300))
def test_any_yaml_like_text_gives_a_drill_or_an_error_naming_the_file(
    drill_file: Path, text: str
) -> None:
    _load(drill_file, text.encode("utf-8", "surrogatepass"))


@given(text=scalar_documents(FIELDS))
@example(text="name: 2001-13-45\n")  # a timestamp to YAML 1.1; datetime refuses it
@example(text="name: !!timestamp soon\n")
@example(text="name: !!bool maybe\n")
@example(text="name: !!float abc\n")
@example(text="name: !!int ''\n")  # an IndexError in PyYAML
def test_a_malformed_scalar_gives_an_error_naming_file_and_field(
    drill_file: Path, text: str
) -> None:
    _load(drill_file, text.encode("utf-8", "surrogatepass"))


@given(doc=st.sampled_from(STARTS).flatmap(mutated))
@example(doc={**STARTS[0], "steady_state": [{"probe": "p99-latency", "max_ms": float("inf")}]})
@example(doc={**STARTS[0], "method": [{"at": 1, "action": ["site-down"]}]})
@example(doc={**STARTS[0], "steady_state": [{"probe": {"error-rate": 1}}]})
@example(doc={**STARTS[0], "expect": {"failovers": {"min": 10**30, "max": 0}}})
def test_a_mutated_drill_is_valid_or_the_error_names_file_and_field(
    drill_file: Path, doc: dict[str, Any]
) -> None:
    _load(drill_file, dump(doc), fields=FIELDS | {str(key) for key in doc})


@pytest.mark.parametrize("start", range(len(STARTS)))
def test_the_starting_drills_survive_the_round_trip_the_mutations_use(
    drill_file: Path, start: int
) -> None:
    assert isinstance(_load(drill_file, dump(STARTS[start])), DrillSpec)
