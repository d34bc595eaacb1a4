"""The suspect routes of the router, as pure logic: after a timeout one request at a time
probes the route, an answer clears it, a new route of the unit starts clean."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from failover.router.suspects import Admission, SuspectRoutes
from failover.routing import Route

OLD = Route("u00", "production", 1)
NEW = Route("u00", "same-city", 2)
OTHER = Route("u01", "same-city", 1)


def suspect_of(route: Route) -> SuspectRoutes:
    suspects = SuspectRoutes()
    assert suspects.admit(route) is Admission.SEND
    suspects.settle(route, answered=False, timed_out=True, probe=False)
    return suspects


def test_a_route_that_never_timed_out_sends_every_request() -> None:
    suspects = SuspectRoutes()
    assert [suspects.admit(OLD) for _ in range(3)] == [Admission.SEND] * 3
    assert suspects.suspect("u00") is None


def test_after_a_timeout_one_request_probes_and_the_others_are_refused() -> None:
    suspects = suspect_of(OLD)
    assert suspects.admit(OLD) is Admission.PROBE
    assert suspects.admit(OLD) is Admission.REFUSE
    assert suspects.admit(OTHER) is Admission.SEND  # other compartments are untouched


def test_a_probe_that_times_out_lets_the_next_request_probe() -> None:
    suspects = suspect_of(OLD)
    assert suspects.admit(OLD) is Admission.PROBE
    suspects.settle(OLD, answered=False, timed_out=True, probe=True)
    assert suspects.admit(OLD) is Admission.PROBE


def test_a_cancelled_or_refused_probe_frees_its_place_and_the_route_stays_suspect() -> None:
    suspects = suspect_of(OLD)
    assert suspects.admit(OLD) is Admission.PROBE
    suspects.settle(OLD, answered=False, timed_out=False, probe=True)
    assert suspects.suspect("u00") == OLD
    assert suspects.admit(OLD) is Admission.PROBE


def test_any_answer_clears_the_suspicion() -> None:
    suspects = suspect_of(OLD)
    assert suspects.admit(OLD) is Admission.PROBE
    suspects.settle(OLD, answered=True, timed_out=False, probe=True)
    assert suspects.suspect("u00") is None
    assert suspects.admit(OLD) is Admission.SEND


def test_a_late_timeout_of_a_request_sent_before_the_suspicion_keeps_the_probe_out() -> None:
    suspects = suspect_of(OLD)
    assert suspects.admit(OLD) is Admission.PROBE
    suspects.settle(OLD, answered=False, timed_out=True, probe=False)
    assert suspects.admit(OLD) is Admission.REFUSE


def test_a_new_route_of_the_unit_starts_clean_and_old_news_does_not_touch_it() -> None:
    suspects = suspect_of(OLD)
    assert suspects.admit(NEW) is Admission.SEND
    assert suspects.suspect("u00") is None
    suspects.settle(NEW, answered=False, timed_out=True, probe=False)
    suspects.settle(OLD, answered=True, timed_out=False, probe=False)  # an old request's answer
    assert suspects.admit(OLD) is Admission.SEND  # a request that read the table before
    assert suspects.suspect("u00") == NEW


Step = tuple[str, int, bool, bool]
STEPS = st.lists(
    st.tuples(
        st.sampled_from(["admit", "settle"]), st.integers(0, 2), st.booleans(), st.booleans()
    ),
    max_size=60,
)
ROUTES = [OLD, NEW, OTHER]


@given(STEPS)
def test_a_suspect_route_never_has_two_probes_out_and_an_unsuspected_one_never_refuses(
    steps: list[Step],
) -> None:
    suspects = SuspectRoutes()
    probes_out: dict[Route, int] = {}
    for op, which, answered, timed_out in steps:
        route = ROUTES[which]
        if op == "admit":
            was_suspect = suspects.suspect(route.unit) == route
            admission = suspects.admit(route)
            if not was_suspect:
                assert admission is Admission.SEND
            if admission is Admission.PROBE:
                probes_out[route] = probes_out.get(route, 0) + 1
                assert probes_out[route] == 1
        else:
            probe = probes_out.get(route, 0) > 0
            suspects.settle(route, answered=answered, timed_out=timed_out, probe=probe)
            if probe:
                probes_out[route] -= 1
            if answered and suspects.suspect(route.unit) is not None:
                assert suspects.suspect(route.unit) != route
