"""The production-outage drill on a platform started with mutual TLS between sites
(``watertight drill run production-outage --tls``): replication, the controllers' calls
to units, the router's calls to units, the observers' probes and every etcd client speak
TLS with certificates from the platform's own CA, and the drill must pass as it does in
plain HTTP — safety strictly, its timing with one more run on a fresh platform when the
first misses it (as the DR suite does, test_library_drills.py). At the suite's rate,
``dr_helpers.DR_RATE``. Slow."""

from __future__ import annotations

from typing import Any

import pytest
from dr_helpers import DR_TIMEOUT, REPORTS, expectation, explain, run_drill

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(2 * DR_TIMEOUT)]

DRILL = "production-outage"


def run(suffix: str = "") -> dict[str, Any]:
    directory = REPORTS / f"{DRILL}-tls{suffix}"
    _, report = run_drill(DRILL, directory, "--tls")
    m = report["measurements"]
    print(f"{DRILL} --tls{suffix}: verdict {report['verdict']}, RTO {m.get('rto_seconds')} s, "
          f"RPO lost {m['rpo_lost_acknowledged']}, load {report['load']}")  # fmt: skip
    return report


def test_the_production_outage_drill_passes_with_mutual_tls_between_sites() -> None:
    report = run()
    safe = (
        report["measurements"]["split_brain"] is False
        and report["measurements"]["rpo_lost_acknowledged"] == 0
        and expectation(report, "double_posting")["passed"]
    )
    assert safe, explain(report)
    assert report["measurements"]["requests"]["ok"] > 0, explain(report)
    if report["verdict"] != "pass":
        print(f"first run {explain(report)}; once more on a fresh platform")
        report = run("-second-run")
    assert report["verdict"] == "pass", explain(report)
