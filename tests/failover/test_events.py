"""The controller event's wire schema: what is written is what is read back."""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import failover.events
from failover.events import Event, EventPage, read_page

names = st.text(min_size=1, max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
datas = st.dictionaries(st.text().filter(lambda k: k != "epoch"), json_values, max_size=4)
events = st.builds(
    Event,
    id=st.integers(min_value=1),
    at=st.floats(min_value=0, max_value=4e9),
    controller=names,
    kind=names,
    unit=st.none() | names,
    site=st.none() | names,
    summary=st.text(),
    data=st.tuples(datas, st.none() | st.integers(min_value=0)).map(
        lambda pair: pair[0] if pair[1] is None else {**pair[0], "epoch": pair[1]}
    ),
)


@given(st.lists(events, max_size=4), names)
def test_a_page_read_back_from_its_json_is_the_page_that_was_written(
    found: list[Event], controller: str
) -> None:
    page = EventPage(controller=controller, events=found)
    back = read_page(json.loads(json.dumps(page.to_wire())))
    assert back == page
    assert [e.epoch for e in back.events] == [e.data.get("epoch") for e in found]


def event(**data: Any) -> dict[str, Any]:
    return {
        "id": 7, "at": 1_800_000_000.5, "controller": "same-city", "kind": "promoted",
        "unit": "u00", "site": "same-city", "summary": "u00 primary in same-city", "data": data,
    }  # fmt: skip


@pytest.mark.parametrize("epoch", ["2", 2.0, True, -1, None])
def test_an_epoch_that_is_not_an_integer_is_refused(epoch: object) -> None:
    with pytest.raises(ValueError, match="epoch"):
        read_page({"controller": "same-city", "events": [event(epoch=epoch)]})


@pytest.mark.parametrize("field", ["id", "at", "summary", "data", "unit"])
def test_an_event_missing_a_field_is_refused(field: str) -> None:
    raw = event(epoch=2)
    del raw[field]
    with pytest.raises(ValueError, match=field):
        read_page({"controller": "same-city", "events": [raw]})


def test_a_field_a_newer_controller_adds_is_ignored() -> None:
    page = read_page({"controller": "same-city", "events": [{**event(epoch=2), "trace": "x"}]})
    assert page.events[0].epoch == 2


def test_the_schema_module_imports_only_pydantic_and_the_standard_library() -> None:
    tree = ast.parse(Path(failover.events.__file__).read_text())
    modules = [
        [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
    ]
    imported = {name.split(".")[0] for names in modules for name in names}
    assert imported - sys.stdlib_module_names <= {"pydantic"}
