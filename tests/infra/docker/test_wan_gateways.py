"""A site's WAN gateway: where it sits and what it runs (pure; the docker platform test
runs it)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from infra.docker.containers import LABEL, Names, host_address, site_block
from infra.docker.wan_gateways import CONTROL_PORT, GATEWAY_INDEX, TOKEN_MOUNT, gateway_arguments

WAN_SUBNET = "10.208.48.0/20"


def test_each_sites_gateway_sits_in_its_own_block_above_every_workload() -> None:
    for block in range(3):
        address = ipaddress.ip_address(host_address(WAN_SUBNET, GATEWAY_INDEX, block))
        assert address in ipaddress.ip_network(site_block(WAN_SUBNET, block))
        assert str(address).endswith(".250")


def test_the_gateway_runs_the_link_proxy_locked_down_and_labelled_for_down() -> None:
    names, sites = Names("abcd1234"), ["production", "same-city", "remote-dr"]
    arguments = gateway_arguments(
        names, "same-city", "10.208.49.250", "watertight:dev", sites, Path("/s/wan")
    )
    image = arguments.index("watertight:dev")
    options, command = arguments[:image], arguments[image + 1 :]
    assert "--name=wt-abcd1234-same-city-wan-gateway" in options
    assert f"--label={LABEL}=abcd1234" in options
    assert {"--ip=10.208.49.250", f"--network={names.network('wan')}"} <= set(options)
    assert {"--read-only", "--cap-drop=ALL", "--security-opt=no-new-privileges"} <= set(options)
    assert f"--mount=type=bind,source=/s/wan,destination={TOKEN_MOUNT},readonly" in options
    assert command[:3] == ["python", "-m", "infra.local.linkproxy_main"]
    assert command[command.index("--sites") + 1] == "production,same-city,remote-dr"
    assert command[command.index("--control-port") + 1] == str(CONTROL_PORT)
