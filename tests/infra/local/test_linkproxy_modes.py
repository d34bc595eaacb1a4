"""Pure tests of what each link mode does to new connections, chunks and delays."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.local.linkproxy_modes import (
    BLACKHOLE,
    PASS,
    REFUSE,
    Action,
    Admission,
    BaseDelay,
    LinkMode,
    admit,
    chunk_action,
    chunk_delay,
    link_key,
    server_from,
    unknown_source_base_ms,
    unknown_source_mode,
)

draws = st.floats(min_value=0.0, max_value=0.999999)


@given(draws)
def test_pass_forwards_every_connection_and_chunk_without_delay(draw: float) -> None:
    assert admit(PASS, draw) is Admission.FORWARD
    assert chunk_action(PASS, dropped=False) is Action.FORWARD
    assert chunk_delay(PASS, draw) == 0.0


@given(draws)
def test_blackhole_holds_new_and_existing_connections(draw: float) -> None:
    assert admit(BLACKHOLE, draw) is Admission.HOLD
    assert chunk_action(BLACKHOLE, dropped=False) is Action.HOLD


@given(draws)
def test_refuse_resets_new_and_existing_connections(draw: float) -> None:
    assert admit(REFUSE, draw) is Admission.REFUSE
    assert chunk_action(REFUSE, dropped=False) is Action.CLOSE


@given(draws, st.floats(min_value=0.0, max_value=1.0))
def test_drop_blackholes_exactly_the_draws_below_the_fraction(draw: float, fraction: float) -> None:
    mode = LinkMode(kind="drop", drop_fraction=fraction)
    expected = Admission.DROP if draw < fraction else Admission.FORWARD
    assert admit(mode, draw) is expected


def test_a_dropped_connection_stays_held_only_while_the_link_drops() -> None:
    drop = LinkMode(kind="drop", drop_fraction=0.5)
    assert chunk_action(drop, dropped=True) is Action.HOLD
    assert chunk_action(drop, dropped=False) is Action.FORWARD
    assert chunk_action(PASS, dropped=True) is Action.FORWARD


@given(
    draws,
    st.floats(min_value=0, max_value=5000),
    st.floats(min_value=0, max_value=5000),
)
def test_latency_stays_within_jitter_and_is_never_negative(
    draw: float, latency: float, jitter: float
) -> None:
    delay = chunk_delay(LinkMode(kind="latency", latency_ms=latency, jitter_ms=jitter), draw)
    assert 0.0 <= delay <= (latency + jitter) / 1000.0 + 1e-9
    assert delay >= (latency - jitter) / 1000.0 - 1e-9


@given(
    draws,
    st.sampled_from(["pass", "blackhole", "refuse", "drop"]),
    st.floats(min_value=0, max_value=60_000),
)
def test_every_mode_other_than_latency_waits_exactly_the_base_delay(
    draw: float, kind: str, base: float
) -> None:
    mode = LinkMode.model_validate({"kind": kind, "drop_fraction": 0.5})
    assert chunk_delay(mode, draw, base) == pytest.approx(base / 1000.0)


@given(
    draws,
    st.floats(min_value=0, max_value=5000),
    st.floats(min_value=0, max_value=5000),
    st.floats(min_value=0, max_value=60_000),
)
def test_latency_adds_on_top_of_the_base_delay_and_jitter_never_eats_into_it(
    draw: float, latency: float, jitter: float, base: float
) -> None:
    mode = LinkMode(kind="latency", latency_ms=latency, jitter_ms=jitter)
    added = chunk_delay(mode, draw)
    assert chunk_delay(mode, draw, base) == pytest.approx(base / 1000.0 + added)
    assert chunk_delay(mode, draw, base) >= base / 1000.0 - 1e-12


def test_a_base_delay_must_be_a_finite_non_negative_number_of_milliseconds() -> None:
    assert BaseDelay(base_delay_ms=15).base_delay_ms == 15.0
    for bad in (-1.0, float("nan"), float("inf"), 60_001.0):
        with pytest.raises(ValueError):
            BaseDelay(base_delay_ms=bad)


def test_a_peer_of_unknown_origin_pays_the_least_delay_from_any_member_site() -> None:
    assert unknown_source_base_ms([15.0, 1.0]) == 1.0
    assert unknown_source_base_ms([]) == 0.0


def test_links_are_symmetric_and_join_two_different_sites() -> None:
    assert link_key("same-city", "production") == link_key("production", "same-city")
    with pytest.raises(ValueError, match="two different sites"):
        link_key("production", "production")


def test_modes_reject_fractions_above_one() -> None:
    with pytest.raises(ValueError):
        LinkMode(kind="drop", drop_fraction=1.5)


def test_the_sending_member_is_read_from_the_x_server_from_header() -> None:
    head = b"GET /raft/stream/msgappv2/1 HTTP/1.1\r\nHost: x\r\nX-Server-From: 4E1AA11A\r\n\r\n"
    assert server_from(head) == "4e1aa11a"
    assert server_from(b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n") is None


def test_a_peer_of_unknown_origin_is_cut_only_when_every_link_of_its_destination_is() -> None:
    assert unknown_source_mode([BLACKHOLE, BLACKHOLE]) == BLACKHOLE
    assert unknown_source_mode([BLACKHOLE, PASS]) == PASS
    assert unknown_source_mode([PASS, PASS]) == PASS
