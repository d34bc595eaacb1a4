"""The read-only view a controller cycle builds its snapshot from (failover/dcs/view.py),
on the in-memory store (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from failover.dcs import MemoryDcs
from failover.dcs.view import ReadOnlyViewError, ReadView

ROOT = "/watertight/t/"


def store_with(keys: dict[str, str]) -> MemoryDcs:
    dcs = MemoryDcs(lambda: 0.0)
    for key, value in keys.items():
        dcs.put(key, value)
    return dcs


def test_a_view_keeps_what_the_store_held_when_it_was_read() -> None:
    dcs = store_with({f"{ROOT}routes/u00": "a", f"{ROOT}freeze": "x"})
    view = ReadView.read(dcs, ROOT)
    dcs.put(f"{ROOT}routes/u01", "b")
    dcs.delete(f"{ROOT}freeze")
    assert list(view.get_prefix(f"{ROOT}routes/")) == [f"{ROOT}routes/u00"]
    frozen = view.get(f"{ROOT}freeze")
    assert frozen is not None and frozen.value == "x"


def test_a_view_refuses_every_write_and_reads_outside_what_it_read() -> None:
    view = ReadView.read(store_with({f"{ROOT}a": "1"}), ROOT)
    with pytest.raises(ReadOnlyViewError, match="outside the view"):
        view.get("/watertight/other/a")
    with pytest.raises(ReadOnlyViewError, match="outside the view"):
        view.get_prefix("/")
    with pytest.raises(ReadOnlyViewError, match="put"):
        view.put(f"{ROOT}a", "2")
    with pytest.raises(ReadOnlyViewError, match="delete"):
        view.delete(f"{ROOT}a")
    with pytest.raises(ReadOnlyViewError, match="lease grant"):
        view.grant(3)


names = st.text(alphabet="ab/", min_size=0, max_size=5)


@given(st.dictionaries(names, st.text(max_size=3), max_size=12), st.lists(names, max_size=6))
def test_a_view_answers_every_read_as_the_store_did(keys: dict[str, str], asked: list[str]) -> None:
    dcs = store_with({ROOT + k: v for k, v in keys.items()})
    view = ReadView.read(dcs, ROOT)
    for name in asked:
        assert view.get_prefix(ROOT + name) == dcs.get_prefix(ROOT + name)
        assert view.get(ROOT + name) == dcs.get(ROOT + name)
