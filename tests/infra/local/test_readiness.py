"""When `up` calls a unit serving: its primary's standby links are all up."""

from __future__ import annotations

from infra.local.readiness import primary_replicating


def test_a_standby_instance_says_nothing_about_replication() -> None:
    assert primary_replicating({"role": "standby"}) is None
    assert primary_replicating({"role": "fenced"}) is None


def test_a_primary_with_every_link_up_is_replicating() -> None:
    info = {"role": "primary", "standbys": [{"healthy": True}, {"healthy": True}]}
    assert primary_replicating(info) is True


def test_a_primary_with_a_link_still_down_or_none_at_all_is_not_yet_serving() -> None:
    assert primary_replicating({"role": "primary", "standbys": [{"healthy": True}, {}]}) is False
    assert primary_replicating({"role": "primary", "standbys": []}) is False
    assert primary_replicating({"role": "primary"}) is False
