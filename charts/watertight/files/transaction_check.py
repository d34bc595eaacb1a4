"""`helm test`: write one transaction through a site's router and read it back.

Usage: python transaction_check.py ROUTER_URL CUSTOMER_ID

Posts a 1-minor-unit purchase for CUSTOMER_ID (a fresh Idempotency-Key each run) and
expects 201, then reads the transaction by its id and expects the same transaction.
A 503 (no writable primary right now) or an unreachable router is retried with the same
key, which is safe: the same key and body never post twice. Exit 0 with one line saying
what was written where; exit 1 with what the router answered otherwise. Standard library
only: it runs in the project image, with nothing but this file mounted.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

ATTEMPTS = 15
PAUSE_SECONDS = 2.0
TIMEOUT_SECONDS = 10.0


def call(method: str, url: str, body: Any = None, key: str | None = None) -> tuple[int, Any]:
    """(status, JSON body) of one request; status 0 when nothing answered."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if key is not None:
        request.add_header("Idempotency-Key", key)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        text = exc.read().decode(errors="replace")
        try:
            return exc.code, json.loads(text)
        except ValueError:
            return exc.code, text
    except (urllib.error.URLError, OSError) as exc:
        return 0, str(exc)


def write(router: str, customer: str) -> tuple[int, Any]:
    """Post the purchase, retrying while the router cannot take it yet."""
    key = f"helm-test-{uuid.uuid4().hex}"
    body = {"type": "purchase", "amount_minor": 1, "currency": "CNY", "merchant": "helm test"}
    url = f"{router}/v1/customers/{customer}/transactions"
    status, answer = 0, None
    for attempt in range(ATTEMPTS):
        status, answer = call("POST", url, body, key)
        if status not in (0, 503):
            break
        if attempt + 1 < ATTEMPTS:
            time.sleep(PAUSE_SECONDS)
    return status, answer


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: transaction_check.py ROUTER_URL CUSTOMER_ID", file=sys.stderr)
        return 2
    router, customer = argv[1].rstrip("/"), argv[2]
    status, written = write(router, customer)
    if status != 201 or not isinstance(written, dict) or "transaction_id" not in written:
        print(f"FAIL: POST through {router} answered {status}: {written}", file=sys.stderr)
        return 1
    tid = written["transaction_id"]
    url = f"{router}/v1/customers/{customer}/transactions/{tid}"
    status, read = call("GET", url)
    if status != 200 or not isinstance(read, dict) or read.get("transaction_id") != tid:
        print(f"FAIL: wrote {tid}, but GET answered {status}: {read}", file=sys.stderr)
        return 1
    print(
        f"OK: wrote {tid} for {customer} through {router} (unit {written['unit']}, "
        f"site {written['site']}, epoch {written['epoch']}, lsn {written['lsn']}) and read it back"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
