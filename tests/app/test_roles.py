"""Role changes and the restart rule (pure)."""

from __future__ import annotations

import pytest

from app.errors import InvalidRequestError, RoleConflictError, StaleEpochError
from app.roles import MAX_EPOCH_JUMP, NodeRole, RoleRequest, change_role, role_at_start

SITE = "same-city"


def req(role: str, epoch: int, **extra: object) -> RoleRequest:
    return RoleRequest.model_validate({"role": role, "epoch": epoch, **extra})


def test_a_standby_is_promoted_at_a_newer_epoch_with_its_standbys() -> None:
    current = NodeRole("standby", 1, "production")
    new = change_role(current, req("primary", 2, standbys=["production"]), SITE)
    assert new == NodeRole("primary", 2, SITE, ("production",))


def test_an_older_epoch_is_refused() -> None:
    with pytest.raises(StaleEpochError):
        change_role(NodeRole("standby", 3, "production"), req("primary", 2), SITE)


def test_promotion_at_an_epoch_seen_as_another_sites_is_refused() -> None:
    with pytest.raises(RoleConflictError):
        change_role(NodeRole("standby", 2, "production"), req("primary", 2), SITE)


def test_a_primary_may_be_reconfirmed_at_its_own_epoch() -> None:
    current = NodeRole("primary", 2, SITE, ("production",))
    assert change_role(current, req("primary", 2, standbys=["production"]), SITE) == current


def test_a_primary_cannot_be_its_own_standby() -> None:
    with pytest.raises(InvalidRequestError):
        change_role(NodeRole("standby", 1, None), req("primary", 2, standbys=[SITE]), SITE)


def test_a_demotion_keeps_the_named_primary() -> None:
    current = NodeRole("primary", 1, SITE, ("production",))
    new = change_role(current, req("standby", 2, primary_site="production"), SITE)
    assert new == NodeRole("standby", 2, "production")


def test_a_fresh_database_takes_the_configured_role() -> None:
    configured = NodeRole("primary", 1, SITE, ("production", "remote-dr"))
    assert role_at_start(None, configured, SITE, configured_epoch_explicit=True) == configured


def test_a_former_primary_restarts_as_standby_when_not_told_otherwise() -> None:
    stored = NodeRole("primary", 4, SITE, ("production",))
    configured = NodeRole("standby", 1, "production")
    started = role_at_start(stored, configured, SITE, configured_epoch_explicit=True)
    assert started == NodeRole("standby", 4, SITE)


def test_a_former_primary_restarts_as_primary_when_settings_reassert_its_epoch() -> None:
    stored = NodeRole("primary", 4, SITE, ("production",))
    configured = NodeRole("primary", 4, SITE, ("production",))
    assert role_at_start(stored, configured, SITE, configured_epoch_explicit=True) == configured


def test_a_restart_never_becomes_primary_at_an_epoch_owned_by_another_site() -> None:
    stored = NodeRole("standby", 4, "production")
    configured = NodeRole("primary", 4, SITE, ("production",))
    started = role_at_start(stored, configured, SITE, configured_epoch_explicit=True)
    assert started.role == "standby"


def test_a_fenced_instance_stays_fenced_until_given_a_newer_epoch() -> None:
    stored = NodeRole("fenced", 4, SITE)
    same = NodeRole("primary", 4, SITE)
    newer = NodeRole("standby", 5, "production")
    assert role_at_start(stored, same, SITE, configured_epoch_explicit=True).role == "fenced"
    assert role_at_start(stored, newer, SITE, configured_epoch_explicit=True) == newer


def test_a_stored_epoch_is_kept_when_the_settings_carry_an_older_one() -> None:
    stored = NodeRole("standby", 7, "production")
    configured = NodeRole("standby", 1, "production")
    assert role_at_start(stored, configured, SITE, configured_epoch_explicit=True).epoch == 7


def test_a_primary_fenced_at_its_own_epoch_keeps_that_epoch_as_its_own() -> None:
    current = NodeRole("primary", 3, SITE, ("production",))
    fenced = change_role(current, req("fenced", 3), SITE)
    assert fenced == NodeRole("fenced", 3, SITE)
    with pytest.raises(RoleConflictError):
        change_role(NodeRole("standby", 3, SITE), req("primary", 3), "production")


def test_a_role_change_may_raise_the_epoch_by_at_most_the_jump_bound() -> None:
    current = NodeRole("standby", 7, "production")
    top = 7 + MAX_EPOCH_JUMP
    assert change_role(current, req("standby", top), SITE).epoch == top
    assert change_role(current, req("primary", top, standbys=[]), SITE).epoch == top
    with pytest.raises(InvalidRequestError, match=f"more than {MAX_EPOCH_JUMP} above"):
        change_role(current, req("fenced", top + 1), SITE)


def test_the_controllers_re_promotion_above_a_drifted_epoch_is_within_the_bound() -> None:
    # A drifted instance (wrong /admin/role) sits above its route; the controller
    # re-promotes it in place at max(route, instance) + 1 (failover/plan/repair.py).
    drifted = NodeRole("standby", 2, "remote-dr")
    promoted = change_role(drifted, req("primary", max(1, drifted.epoch) + 1, standbys=[]), SITE)
    assert (promoted.role, promoted.epoch) == ("primary", 3)
