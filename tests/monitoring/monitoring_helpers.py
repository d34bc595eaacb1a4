"""What the monitoring tests share: where the rules live, the names they read, and the
names each component exports."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import CollectorRegistry

from app.metrics import UnitMetrics
from failover.controller.metrics import ControllerMetrics
from failover.router.app import RouterMetrics

MONITORING = Path(__file__).resolve().parents[2] / "monitoring"
RULES = MONITORING / "prometheus" / "rules.yml"
RULES_TEST = MONITORING / "prometheus" / "rules.test.yml"

#: Read by a rule although nothing exports them yet (docs/monitoring.md says so).
NOT_EXPORTED_YET = frozenset({"watertight_trend_warning"})

#: Series Prometheus makes itself for every target.
PROMETHEUS_OWN = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})

_SERIES_NAME = re.compile(r"\b(watertight_[a-z0-9_]+|process_[a-z0-9_]+|up)\b")
_MATCHERS = re.compile(r"\{[^}]*\}")


def alerting_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def series_names(expr: str) -> set[str]:
    """Metric names an expression selects (ours are all ``watertight_``/``process_``
    prefixed, plus ``up``); what stands inside ``{...}`` is label matchers, not names."""
    return set(_SERIES_NAME.findall(_MATCHERS.sub("", expr)))


def sample_names(registry: CollectorRegistry) -> set[str]:
    """Every sample name a registry exposes, child series or not (``_total`` of a
    counter, ``_bucket``/``_sum``/``_count`` of a histogram)."""
    suffixes = {
        "counter": ("_total",),
        "histogram": ("_bucket", "_sum", "_count"),
        "summary": ("_sum", "_count", ""),
    }
    names: set[str] = set()
    for family in registry.collect():
        names.update(family.name + s for s in suffixes.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names


def exported_names() -> set[str]:
    """What the controller, the unit service and the router serve on ``/metrics``."""
    registries = [ControllerMetrics().registry, UnitMetrics().registry]
    registries.append(RouterMetrics.create().registry)
    return set().union(*(sample_names(r) for r in registries))
