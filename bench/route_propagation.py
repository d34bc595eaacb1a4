"""How fast a route change written to etcd is visible at the router (docs/design.md §4: ≤ 1 s).

    .venv/bin/python bench/route_propagation.py [--changes 50]

Bumps a unit's route epoch in etcd (same site, so traffic is undisturbed) and polls the
router's ``/v1/routes`` every 2 ms until it shows the new epoch. Prints p50/p99/max.
"""

from __future__ import annotations

import argparse
import base64
import json
import time

import httpx
from platform_session import local_platform, percentile


def put(etcd: str, key: str, value: str) -> None:
    body = {
        "key": base64.b64encode(key.encode()).decode(),
        "value": base64.b64encode(value.encode()).decode(),
    }
    httpx.post(f"{etcd}/v3/kv/put", json=body, timeout=5.0).raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--changes", type=int, default=50)
    args = parser.parse_args()
    with local_platform() as info:
        router, etcd = info["router_url"], info["etcd_client_urls"]["production"]
        name = info["state"]["topology_name"]
        customer = "alice"
        route = httpx.get(f"{router}/v1/routes/{customer}").json()
        unit, site, epoch = route["unit"], route["site"], route["epoch"]
        delays = []
        with httpx.Client(base_url=router, timeout=2.0) as client:
            for _ in range(args.changes):
                epoch += 1
                written = time.perf_counter()
                put(
                    etcd,
                    f"/watertight/{name}/routes/{unit}",
                    json.dumps({"epoch": epoch, "site": site}),
                )
                while client.get(f"/v1/routes/{customer}").json()["epoch"] != epoch:
                    time.sleep(0.002)
                delays.append(time.perf_counter() - written)
        p50, p99 = percentile(delays, 0.5) * 1000, percentile(delays, 0.99) * 1000
        print(
            f"{args.changes} route changes on {unit}: visible at the router after "
            f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(delays) * 1000:.1f} ms"
        )


if __name__ == "__main__":
    main()
