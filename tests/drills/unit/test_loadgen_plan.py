"""The load generator's pure parts: the write plan, the retry policy, recording answers."""

from __future__ import annotations

from collections import Counter

from drills.loadgen import Write, customers, plan_write, record, retry_delay
from drills.spec import Load, Mix
from failover.topology import default_topology

LOAD = Load(rate_per_second=10, customers=20, duration_seconds=5, mix=Mix(purchase=0.5,
            payment=0.5))  # fmt: skip
TOPOLOGY = default_topology()
POPULATION = customers(LOAD, TOPOLOGY, "r1")
WRITE = Write("r-c0001", "u03", "r-w0000001", {"type": "purchase", "amount_minor": 5,
              "currency": "CNY"})  # fmt: skip


def test_a_seed_and_a_run_id_reproduce_the_same_writes() -> None:
    first = [plan_write(i, LOAD, POPULATION, "r1", seed=7) for i in range(50)]
    again = [plan_write(i, LOAD, POPULATION, "r1", seed=7) for i in range(50)]
    other = [plan_write(i, LOAD, POPULATION, "r1", seed=8) for i in range(50)]
    assert first == again
    assert first != other


def test_every_write_has_its_own_key_and_the_unit_of_its_customer() -> None:
    writes = [plan_write(i, LOAD, POPULATION, "r1", seed=0) for i in range(200)]
    assert len({w.key for w in writes}) == 200
    assert all(w.unit == TOPOLOGY.unit_of(w.customer_id) for w in writes)
    assert {w.body["type"] for w in writes} == {"purchase", "payment"}
    assert len({w.customer_id for w in writes}) <= 3 * len(TOPOLOGY.units)


def test_every_unit_gets_its_share_of_customers_and_they_belong_to_it() -> None:
    population = customers(LOAD, TOPOLOGY, "any-run")
    assert sorted(population) == sorted(TOPOLOGY.units)
    for unit, found in population.items():
        assert len(found) == 3  # 20 customers over 8 units, rounded up
        assert {TOPOLOGY.unit_of(c) for c in found} == {unit}


def test_writes_visit_the_units_in_turn_so_each_sees_the_same_rate() -> None:
    writes = [plan_write(i, LOAD, POPULATION, "r1", seed=3) for i in range(80)]
    assert Counter(w.unit for w in writes) == {unit: 10 for unit in TOPOLOGY.units}
    assert [w.unit for w in writes[:8]] == sorted(TOPOLOGY.units)


def test_a_503_is_retried_after_retry_after_capped_at_one_second() -> None:
    assert retry_delay(503, "0.2") == 0.2
    assert retry_delay(503, "30") == 2.0
    assert retry_delay(503, "soon") == 0.25


def test_timeouts_and_server_errors_back_off_exponentially_and_client_errors_end() -> None:
    assert [retry_delay("timeout", None, n) for n in (1, 2, 3, 4, 5)] == [0.25, 0.5, 1.0, 2.0, 2.0]
    assert retry_delay("connect-error", None) == 0.25
    assert retry_delay(502, None, 2) == 0.5
    assert retry_delay(201, None) is None
    assert retry_delay(409, None) is None
    assert retry_delay(422, None) is None


def test_an_acknowledgement_carries_the_site_and_epoch_of_its_answer() -> None:
    body = {"transaction_id": "t1", "site": "same-city", "epoch": 3, "lsn": 9}
    attempt = record(WRITE, 2, 1.0, 1.25, 201, body)
    assert attempt.ok and attempt.attempt == 2
    assert (attempt.transaction_id, attempt.site, attempt.epoch, attempt.lsn) == (
        "t1", "same-city", 3, 9,
    )  # fmt: skip


def test_a_2xx_without_its_fields_is_recorded_as_an_invalid_answer() -> None:
    attempt = record(WRITE, 1, 1.0, 1.1, 201, {"transaction_id": "t1"})
    assert attempt.outcome == "invalid-answer"
    assert not attempt.ok
