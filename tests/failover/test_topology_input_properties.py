"""Whatever bytes ``topology.yaml`` holds, loading it gives a valid topology or a
:class:`TopologyError` naming the file and the field: never another exception."""

from __future__ import annotations

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

from failover.input_file import MAX_FILE_BYTES
from failover.topology import Topology, TopologyError, TopologySpec, load_topology

REPO = Path(__file__).resolve().parents[2]
SHIPPED: dict[str, Any] = yaml.safe_load((REPO / "topology.yaml").read_text())
FIELDS = frozenset(TopologySpec.model_fields)


@pytest.fixture(scope="module")
def topology_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One file per module, rewritten by each example (hypothesis runs many per test)."""
    return tmp_path_factory.mktemp("topology") / "topology.yaml"


def _load(path: Path, content: bytes, *, fields: frozenset[str] | None = None) -> object:
    path.write_bytes(content)
    loaded = assert_valid_or_names_file_and_field(load_topology, path, TopologyError, fields=fields)
    if loaded is not None:
        assert isinstance(loaded, Topology)
        assert all(loaded.bucket_table), "a valid topology assigns every bucket"
    return loaded


@given(content=st.binary(max_size=600))
@example(content=b"\xff\xfe\x00sites: []")  # not UTF-8
@example(content=b"sites: [\x00]")  # a character YAML forbids
@example(content=b"[" * 5000 + b"]" * 5000)  # nesting that made the parser recurse
@example(content=b"buckets: " + b"9" * 5000)  # past int()'s 4300-digit limit
@example(content=b"buckets: " + b"59:" * 2000 + b"59")  # a base-60 integer, as long
@example(content=b"name: a\nname: b\n")  # a key given twice
@example(content=b"!!python/object/apply:os.system [echo]")
@example(content=b"a: &a [1, *a]")  # an alias inside its own anchor
def test_any_bytes_give_a_topology_or_an_error_naming_the_file(
    topology_file: Path, content: bytes
) -> None:
    _load(topology_file, content)


@given(text=st.text(alphabet=YAML_ALPHABET, max_size=300))
def test_any_yaml_like_text_gives_a_topology_or_an_error_naming_the_file(
    topology_file: Path, text: str
) -> None:
    _load(topology_file, text.encode("utf-8", "surrogatepass"))


@given(text=scalar_documents(FIELDS))
@example(text="name: 2001-13-45\n")  # a timestamp to YAML 1.1; datetime refuses it
@example(text="name: !!timestamp soon\n")
@example(text="name: !!bool maybe\n")
@example(text="name: !!float abc\n")
@example(text="name: !!int ''\n")  # an IndexError in PyYAML
def test_a_malformed_scalar_gives_an_error_naming_file_and_field(
    topology_file: Path, text: str
) -> None:
    _load(topology_file, text.encode("utf-8", "surrogatepass"))


@given(doc=mutated(SHIPPED))
@example(doc={**SHIPPED, "replication": {"ack_timeout_seconds": float("nan")}})
@example(doc={**SHIPPED, "timing": {"probe_interval_seconds": float("inf")}})
@example(doc={**SHIPPED, "units": [{"name": "u00", "buckets": "0-" + "9" * 5000}]})
@example(doc={**SHIPPED, "timing": {1.5: 3}})
@example(doc={**SHIPPED, "units": {"name": "u00"}})
def test_a_mutated_topology_is_valid_or_the_error_names_file_and_field(
    topology_file: Path, doc: dict[str, Any]
) -> None:
    _load(topology_file, dump(doc), fields=FIELDS | {str(key) for key in doc})


def test_the_shipped_topology_survives_the_round_trip_the_mutations_use(
    topology_file: Path,
) -> None:
    assert isinstance(_load(topology_file, dump(SHIPPED)), Topology)


# Each class of input that crashed the loader before it read files through
# failover.input_file, with the exact error it gives now.
REGRESSIONS = {
    "bytes that are not UTF-8": (b"\xffsites: []", "", "not UTF-8 text: byte 0xff at offset 0"),
    "a NUL character": (
        b"sites: [\x00]",
        "",
        "not valid YAML: line 1, column 9: character U+0000 is not allowed",
    ),
    "nesting 5000 deep": (
        b"[" * 5000 + b"]" * 5000,
        "",
        "not valid YAML: line 1, column 65: nested deeper than 64 levels",
    ),
    "a 5000-digit integer": (
        b"buckets: " + b"9" * 5000,
        "buckets",
        "an integer of 5000 characters; no field takes one",
    ),
    "a 5000-digit bucket range": (
        yaml.safe_dump(
            {**SHIPPED, "units": [{"name": "u00", "buckets": "0-" + "9" * 5000}]}
        ).encode(),
        "units[0].buckets",
        "is outside 0..1023",
    ),
    "a malformed timestamp": (
        b"name: 2001-13-45\n",
        "name",
        "line 1, column 7: '2001-13-45' is not a valid timestamp",
    ),
    "a bool that is not one": (b"name: !!bool maybe\n", "name", "'maybe' is not a valid bool"),
    "an alias inside its own anchor": (
        b"sites: &s [*s]\n",
        "sites[0]",
        "an alias refers to the value that contains it (a cycle)",
    ),
}


def _billion_laughs() -> bytes:
    lines = ["l0: &l0 [lol]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 10)]
    return ("\n".join(lines) + "\nsites: *l9\n").encode()


def test_aliases_that_expand_past_the_bound_are_refused_without_expanding_them(
    topology_file: Path,
) -> None:
    topology_file.write_bytes(_billion_laughs())  # 9**9 values once expanded, 1 KiB on disk
    with pytest.raises(TopologyError) as caught:
        load_topology(topology_file)
    assert caught.value.field == "l6"
    assert "more than 200000 values (each alias counts what it repeats)" in caught.value.reason


def test_a_file_over_a_mebibyte_is_refused_before_it_is_parsed(topology_file: Path) -> None:
    topology_file.write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    with pytest.raises(TopologyError, match=r"topology\.yaml: larger than 1048576 bytes"):
        load_topology(topology_file)


@pytest.mark.parametrize("case", sorted(REGRESSIONS))
def test_input_that_used_to_crash_the_loader_is_an_error_naming_file_and_field(
    case: str, topology_file: Path
) -> None:
    content, field, reason = REGRESSIONS[case]
    topology_file.write_bytes(content)
    with pytest.raises(TopologyError) as caught:
        load_topology(topology_file)
    assert caught.value.field == field
    assert reason in caught.value.reason


def test_a_key_given_twice_is_refused_where_yaml_would_keep_the_last(topology_file: Path) -> None:
    shipped = (REPO / "topology.yaml").read_text()
    first = shipped.splitlines().index("timing:") + 1
    text = shipped + "\ntiming:\n  quorum: 3\n"
    again = text.splitlines().index("timing:", first) + 1
    topology_file.write_text(text)
    with pytest.raises(TopologyError) as caught:
        load_topology(topology_file)
    assert caught.value.field == "timing"
    assert f"key given twice (line {first} and line {again})" in caught.value.reason


def test_an_unplain_key_is_quoted_in_the_field_path(topology_file: Path) -> None:
    topology_file.write_bytes(dump({**SHIPPED, "timing": {"probe every\nsecond": 1}}))
    with pytest.raises(TopologyError) as caught:
        load_topology(topology_file)
    assert caught.value.field == "timing['probe every\\nsecond']"


def test_nan_and_infinite_timings_are_refused_as_not_finite(topology_file: Path) -> None:
    topology_file.write_text("sites: []\nreplication: {ack_timeout_seconds: .nan}\n")
    with pytest.raises(TopologyError, match=r"replication\.ack_timeout_seconds: .*finite number"):
        load_topology(topology_file)
