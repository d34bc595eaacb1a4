"""Write ``charts/watertight/values-<site>.yaml`` (the kind rehearsal) from ``topology.yaml``.

Run ``python -m infra.pulumi.values_files`` after changing the topology; a test fails
while the committed files differ from what this writes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from failover.topology import Topology, TopologyError, load_topology
from infra.pulumi.chart_render import CHART_DIR, REPO_ROOT
from infra.pulumi.site_values import kind_chart_values

HEADER = (
    "# Generated from topology.yaml by `python -m infra.pulumi.values_files`; do not edit.\n"
    "# Values for site {site} in the kind rehearsal (docs/kubernetes.md). For real clusters\n"
    "# the Pulumi stacks build the same values with their own addresses.\n"
)


def values_file_text(topology: Topology, site: str) -> str:
    """The text of ``values-<site>.yaml``."""
    body = yaml.safe_dump(kind_chart_values(topology, site), sort_keys=False, width=100)
    return HEADER.format(site=site) + body


def write_values_files(topology_file: Path, chart_dir: Path = CHART_DIR) -> list[Path]:
    """Write one values file per site of the topology; returns the paths written."""
    topology = load_topology(topology_file)
    written = []
    for site in topology.site_names:
        path = chart_dir / f"values-{site}.yaml"
        path.write_text(values_file_text(topology, site), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write charts/watertight/values-<site>.yaml.")
    parser.add_argument("topology", nargs="?", type=Path, default=REPO_ROOT / "topology.yaml")
    parser.add_argument("--chart-dir", type=Path, default=CHART_DIR)
    args = parser.parse_args(argv)
    try:
        written = write_values_files(args.topology, args.chart_dir)
    except TopologyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
