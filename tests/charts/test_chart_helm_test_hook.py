"""`helm test` writes a transaction through the site's router and reads it back.

The hook Pod runs ``files/transaction_check.py`` with the image's python; here the very
command it renders runs against a stand-in router that answers with the unit service's
own response models (app/schemas.py), so the field names are the real ones.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import kubernetes_validate
import pytest
from chart_helpers import CHART, KUBE_VERSION

from app.schemas import TransactionRequest, TransactionResult, TransactionView

SCRIPT = CHART / "files" / "transaction_check.py"


class StandInRouter:
    """Answers POST with ``post_statuses`` in turn (then 201), GET with the write."""

    def __init__(self, post_statuses: list[int], read_id: str | None = None) -> None:
        self.post_statuses, self.read_id = post_statuses, read_id
        self.keys: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        router = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def answer(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                request = TransactionRequest.model_validate_json(self.rfile.read(length))
                router.keys.append(self.headers["Idempotency-Key"])
                status = router.post_statuses.pop(0) if router.post_statuses else 201
                if status != 201:
                    self.answer(status, {"error": "no_primary", "detail": "try again"})
                    return
                customer = self.path.split("/")[3]
                result = TransactionResult(
                    transaction_id="0123456789abcdef0123456789abcdef",
                    customer_id=customer,
                    unit="u03",
                    site="same-city",
                    epoch=1,
                    lsn=7,
                    status="approved",
                    available_credit_minor=5_000_000 - request.amount_minor,
                )
                self.answer(201, result.model_dump())

            def do_GET(self) -> None:
                _, _, _, customer, _, tid = self.path.split("/")
                view = TransactionView(
                    transaction_id=router.read_id or tid,
                    customer_id=customer,
                    type="purchase",
                    amount_minor=1,
                    currency="CNY",
                    merchant="helm test",
                    status="approved",
                    epoch=1,
                    lsn=7,
                    unit="u03",
                    site="same-city",
                )
                self.answer(200, view.model_dump())

        return Handler

    def __enter__(self) -> StandInRouter:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def hook_pod(rendered: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    (pod,) = [d for d in rendered["production"] if d["kind"] == "Pod"]
    return pod


def run_as_the_pod_does(pod: dict[str, Any], router_url: str) -> subprocess.CompletedProcess[str]:
    """The Pod's own command (python -c <script> <router> <customer>), router swapped."""
    (container,) = pod["spec"]["containers"]
    python, flag, script, _, customer = container["command"]
    assert (python, flag) == ("python", "-c")
    return subprocess.run(
        [sys.executable, "-c", script, router_url, customer],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_hook_is_a_test_pod_running_the_script_against_this_sites_router(
    hook_pod: dict[str, Any],
) -> None:
    assert hook_pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    kubernetes_validate.validate(hook_pod, KUBE_VERSION, strict=True)
    (container,) = hook_pod["spec"]["containers"]
    assert container["image"] == "watertight:dev"
    assert container["command"][2] == SCRIPT.read_text(encoding="utf-8")
    assert container["command"][3:] == ["http://watertight-router.watertight.svc:8080", "helm-test"]
    assert hook_pod["spec"]["restartPolicy"] == "Never"
    assert not [e for e in container.get("env", []) if e["name"].startswith("WATERTIGHT_")]


def test_the_hook_passes_when_the_router_takes_the_write_and_returns_it(
    hook_pod: dict[str, Any],
) -> None:
    with StandInRouter([]) as router:
        done = run_as_the_pod_does(hook_pod, router.url)
    assert done.returncode == 0, done.stderr
    assert "OK: wrote 0123456789abcdef0123456789abcdef for helm-test" in done.stdout
    assert "unit u03, site same-city" in done.stdout


def test_the_hook_retries_a_503_with_the_same_key_so_it_never_posts_twice(
    hook_pod: dict[str, Any],
) -> None:
    with StandInRouter([503]) as router:
        done = run_as_the_pod_does(hook_pod, router.url)
    assert done.returncode == 0, done.stderr
    assert len(router.keys) == 2 and router.keys[0] == router.keys[1]


@pytest.mark.parametrize(
    ("post_statuses", "read_id", "said"),
    [([409], None, "POST through"), ([], "another-id", "but GET answered 200")],
    ids=["write-refused", "read-returns-another-transaction"],
)
def test_the_hook_fails_saying_what_the_router_answered(
    hook_pod: dict[str, Any],
    post_statuses: list[int],
    read_id: str | None,
    said: str,
) -> None:
    with StandInRouter(post_statuses, read_id) as router:
        done = run_as_the_pod_does(hook_pod, router.url)
    assert done.returncode == 1
    assert said in done.stderr and done.stderr.startswith("FAIL:")


def test_the_hook_fails_when_no_router_answers(hook_pod: dict[str, Any]) -> None:
    script = SCRIPT.read_text(encoding="utf-8")
    quick = script.replace("ATTEMPTS = 15", "ATTEMPTS = 2").replace(
        "PAUSE_SECONDS = 2.0", "PAUSE_SECONDS = 0.1"
    )
    assert quick != script
    pod = json.loads(json.dumps(hook_pod))
    pod["spec"]["containers"][0]["command"][2] = quick
    done = run_as_the_pod_does(pod, "http://127.0.0.1:9")
    assert done.returncode == 1
    assert "answered 0" in done.stderr
