"""What the monitoring tests share: where the rules live, the names they read, and the
names each component exports."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from app.metrics import UnitMetrics
from failover.controller.metrics import ControllerMetrics
from failover.observer.metrics import ObserverMetrics
from failover.router.app import RouterMetrics
from infra.local.linkproxy import LinkProxy
from infra.local.linkproxy_metrics import linkproxy_registry

MONITORING = Path(__file__).resolve().parents[2] / "monitoring"
RULES = MONITORING / "prometheus" / "rules.yml"
RULES_TEST = MONITORING / "prometheus" / "rules.test.yml"
DASHBOARD = MONITORING.parent / "charts" / "watertight" / "files" / "dashboards" / "watertight.json"

#: Read by a rule although nothing exports them yet (docs/monitoring.md says so): none
#: today; the trend watch's ``watertight_trend_warning`` was the last.
NOT_EXPORTED_YET: frozenset[str] = frozenset()

#: Exported, but with samples only while something is wrong: the trend watch sets exactly
#: the standing warnings, so a calm platform has none. A scrape proves such a family
#: exists by its metadata (HELP/TYPE), which Prometheus keeps per target.
PRESENT_ONLY_WHILE_WARNING: frozenset[str] = frozenset({"watertight_trend_warning"})

#: Series Prometheus makes itself for every target.
PROMETHEUS_OWN = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})

_SERIES_NAME = re.compile(r"\b(watertight_[a-z0-9_]+|process_[a-z0-9_]+|up)\b")
_MATCHERS = re.compile(r"\{[^}]*\}")


def binary(name: str) -> str:
    """The path of a Prometheus binary; a skip when it is missing, which fails the run
    under ``WATERTIGHT_STRICT_SKIPS=1`` (CI installs Debian's package: ``.ci/run``)."""
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} not found: apt-get install prometheus (Debian) provides it")
    return found


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
    """What the controller, unit service, router, observer and link proxy serve on
    ``/metrics`` (their registries as the processes build them)."""
    registries = [
        ControllerMetrics().registry,
        UnitMetrics().registry,
        RouterMetrics.create().registry,
        ObserverMetrics().registry,
        linkproxy_registry(LinkProxy(["production", "same-city"])),
    ]
    return set().union(*(sample_names(r) for r in registries))
