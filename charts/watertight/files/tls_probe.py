"""Kubernetes exec probe of a listener that requires a client certificate (tls.enabled).

Usage: python tls_probe.py TLS_DIR PORT PATH

GETs https://127.0.0.1:PORT/PATH presenting the certificate in TLS_DIR (the pod's own,
the layout failover/tls.py reads) and trusting only its CA; exit 0 on a 2xx answer, 1
with one line on stderr otherwise (the kubelet shows it in the pod's events). The
kubelet's own httpGet cannot present a client certificate, which the unit, controller
and etcd listeners require once TLS is on.

The chain is verified against the CA, the host name is not: the probe dials loopback,
and a site's certificate names the addresses the other sites reach it at, not
127.0.0.1. It runs in the project image (failover.tls is the one place that builds a
TLS context), with nothing but this file mounted.
"""

from __future__ import annotations

import http.client
import ssl
import sys
from pathlib import Path

from failover.tls import TlsConfigError, TlsFiles

TIMEOUT_SECONDS = 2.0


def probe(tls_dir: Path, port: int, path: str) -> str | None:
    """None when the listener answered 2xx; what went wrong otherwise."""
    try:
        context = TlsFiles.from_directory(tls_dir).client_context()
    except TlsConfigError as exc:
        return str(exc)
    context.check_hostname = False  # loopback; the chain is still verified
    connection = http.client.HTTPSConnection(
        "127.0.0.1", port, context=context, timeout=TIMEOUT_SECONDS
    )
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read(200).decode(errors="replace").strip()
    except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
        return f"GET https://127.0.0.1:{port}{path}: {exc}"
    finally:
        connection.close()
    if not 200 <= response.status < 300:
        return f"GET https://127.0.0.1:{port}{path} answered {response.status}: {body}"
    return None


def main(argv: list[str]) -> int:
    if len(argv) != 4 or not argv[2].isdigit() or not argv[3].startswith("/"):
        print("usage: tls_probe.py TLS_DIR PORT PATH", file=sys.stderr)
        return 2
    fault = probe(Path(argv[1]), int(argv[2]), argv[3])
    if fault is not None:
        print(f"FAIL: {fault}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
