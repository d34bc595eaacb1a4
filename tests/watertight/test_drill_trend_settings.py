"""A drill that sets ``trends`` gets a platform whose topology carries them: the CLI
merges them over the topology file's section, keeps the rest, and writes the merged
file beside the report as evidence; a drill without them uses the file as given."""

from __future__ import annotations

from pathlib import Path

import yaml

from drills.spec import library, load_spec
from failover.topology import load_topology
from watertight.commands.drill import with_drill_trends

REPO = Path(__file__).resolve().parents[2]
TOPOLOGY = REPO / "topology.yaml"


def test_a_drills_trend_settings_are_merged_over_the_topologys(tmp_path: Path) -> None:
    spec = load_spec(library()["gray-unit"])
    path, topology = with_drill_trends(spec, TOPOLOGY, load_topology(TOPOLOGY), tmp_path / "r")
    assert path == tmp_path / "r" / "topology.yaml"
    assert topology.trends.warmup_seconds == 15 and topology.trends.hold_seconds == 5
    given = yaml.safe_load(TOPOLOGY.read_text())
    assert topology.trends.p99_factor == given["trends"]["p99_factor"]
    assert yaml.safe_load(path.read_text())["units"] == given["units"]


def test_a_drill_without_trend_settings_uses_the_topology_file_as_given(tmp_path: Path) -> None:
    spec = load_spec(library()["unit-crash"])
    topology = load_topology(TOPOLOGY)
    assert with_drill_trends(spec, TOPOLOGY, topology, tmp_path) == (TOPOLOGY, topology)
    assert not list(tmp_path.iterdir())
