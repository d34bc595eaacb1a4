"""The automated DR test: every standard drill on the local platform, judged by its report.

Every drill file in ``drills/library`` is run (``drills.spec.library()`` globs them:
thirteen since the quorum-commit change added ``city-cut-then-production-lost`` and
``remote-dr-lost`` and the trend watch's ``gray-unit`` and ``gray-unit-slow``). Each runs
through the real CLI (``watertight drill run NAME``, a fresh platform per drill: drills
move primaries, so they must not share one) and its ``reports/drills/NAME/report.json``
is judged twice:

- the **safety invariants** (docs/design.md §3.1–3.3) strictly, on the first run: no split brain
  (one writable primary), no double posting, nothing acknowledged lost where the drill
  promises RPO 0, rollbacks that ran. These must hold on any machine, however loaded.
- the **full verdict** (RTO and write-interruption bounds, steady state, every unit
  serving at the end, zero failovers where none is expected): the drill must pass.
  Timing on two shared cores varies, so a drill whose first run fails is run once more
  on a fresh platform (``reports/drills/NAME-second-run/``, safety judged there too) and
  must pass then; the first report stays where it is, so a miss is never hidden. Before
  the leaders moved to the witness site three drills missed RTO 10 s by 0.3–1 s in CI;
  after, all nine of the time passed on their first run (docs/drills.md §7). The
  quorum-commit drills (50 writes/s, RTO ≤ 8 s, interruption bounds) have no CI figures
  yet.
"""

from __future__ import annotations

import pytest
from dr_helpers import DR_TIMEOUT, assert_safe, explain, library_drill_report

from drills.spec import library, load_spec

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(DR_TIMEOUT)]


@pytest.mark.parametrize("name", sorted(library()))
def test_the_library_drill_keeps_every_safety_invariant(name: str) -> None:
    assert_safe(name, library_drill_report(name))


@pytest.mark.parametrize("name", sorted(library()))
def test_the_library_drill_passes_on_the_local_platform(name: str) -> None:
    report = library_drill_report(name)
    if report["verdict"] != "pass":
        print(f"{name}: first run {explain(report)}; running it once more")
        report = library_drill_report(name, run="-second-run")
        assert_safe(name, report)
    spec = load_spec(library()[name])
    assert report["verdict"] == "pass", explain(report)
    if spec.expect.expects_no_failover:
        assert report["measurements"]["failovers"] == 0
    bounded = (
        ("rto_seconds", spec.expect.rto_seconds_max),
        ("survivors_interruption_seconds_max", spec.expect.survivors_interruption_seconds_max),
        ("longest_interruption_seconds", spec.expect.unit_interruption_seconds_max),
    )
    for key, bound in bounded:
        if bound is not None:
            assert report["measurements"][key] is not None, explain(report)
            assert report["measurements"][key] <= bound, explain(report)
