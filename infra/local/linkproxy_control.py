"""HTTP control interface of the link proxy process (loopback only, bearer token).

| method | path | body | answer |
|---|---|---|---|
| GET | ``/healthz`` | | ``{"ok": true}`` (no token needed) |
| GET | ``/metrics`` | | Prometheus text: links' modes, delays, counters (no token needed) |
| GET | ``/v1/links`` | | ``[{"a", "b", "mode", "base_delay_ms", "stats"}]`` |
| PUT | ``/v1/links/{a}/{b}`` | a :class:`LinkMode` | the links |
| PUT | ``/v1/links/{a}/{b}/base-delay`` | ``{"base_delay_ms"}`` (0–60 000) | the links |
| PUT | ``/v1/sites/{site}/links`` | a :class:`LinkMode` | the links (all of the site's) |
| POST | ``/v1/heal`` | | the links (every mode ``pass``; base delays kept) |
| POST | ``/v1/listeners`` | ``{"src", "dst", "dst_host", "dst_port"}`` | ``{"host", "port"}`` |
| POST | ``/v1/peer-ingress`` | ``{"dst", "dst_host", "dst_port"}`` | ``{"host", "port"}`` |
| PUT | ``/v1/peer-ids`` | ``{"<member id hex>": "<site>"}`` | ``{"ok": true}`` |

Errors: ``{"error": code, "detail": text}`` with 401 (token), 422 (unknown site, bad mode
or delay).
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from failover.http_server import FASTAPI_APP
from infra.local.linkproxy import LinkProxy
from infra.local.linkproxy_metrics import linkproxy_registry
from infra.local.linkproxy_modes import BaseDelay, LinkMode

Port = Annotated[int, Field(ge=1, le=65535)]


class ListenerRequest(BaseModel):
    src: str
    dst: str
    dst_host: str = "127.0.0.1"
    dst_port: Port


class IngressRequest(BaseModel):
    dst: str
    dst_host: str = "127.0.0.1"
    dst_port: Port


class Address(BaseModel):
    host: str
    port: int


def control_app(proxy: LinkProxy, token: str) -> FastAPI:
    """The control API of ``proxy``; every ``/v1`` call needs ``Authorization: Bearer``."""

    def authorized(authorization: Annotated[str | None, Header()] = None) -> None:
        expected = f"Bearer {token}"
        if authorization is None or not hmac.compare_digest(authorization, expected):
            raise HTTPException(401, "missing or wrong bearer token (see the token file)")

    app = FastAPI(title="watertight link proxy", **FASTAPI_APP)
    guard = [Depends(authorized)]

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        code = "unauthorized" if exc.status_code == 401 else "bad_request"
        return JSONResponse({"error": code, "detail": exc.detail}, status_code=exc.status_code)

    @app.exception_handler(ValueError)
    async def value_error(_: Request, exc: ValueError) -> JSONResponse:
        return JSONResponse({"error": "invalid", "detail": str(exc)}, status_code=422)

    @app.get("/healthz")
    async def healthz() -> dict[str, bool]:
        return {"ok": True}

    registry = linkproxy_registry(proxy)

    # Open like /healthz: a scraper holds no token, and the counters say nothing the
    # loopback-only control API's callers could misuse.
    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    _link_routes(app, proxy, guard)
    _listener_routes(app, proxy, guard)
    return app


def _link_routes(app: FastAPI, proxy: LinkProxy, guard: list[Any]) -> None:
    @app.get("/v1/links", dependencies=guard)
    async def links() -> list[dict[str, Any]]:
        return proxy.links()

    @app.put("/v1/links/{a}/{b}", dependencies=guard)
    async def set_link(a: str, b: str, mode: LinkMode) -> list[dict[str, Any]]:
        proxy.set_mode(a, b, mode)
        return proxy.links()

    @app.put("/v1/links/{a}/{b}/base-delay", dependencies=guard)
    async def set_base_delay(a: str, b: str, body: BaseDelay) -> list[dict[str, Any]]:
        proxy.set_base_delay(a, b, body.base_delay_ms)
        return proxy.links()

    @app.put("/v1/sites/{site}/links", dependencies=guard)
    async def set_site(site: str, mode: LinkMode) -> list[dict[str, Any]]:
        proxy.check_site(site)
        proxy.set_site_links(site, mode)
        return proxy.links()

    @app.post("/v1/heal", dependencies=guard)
    async def heal() -> list[dict[str, Any]]:
        proxy.heal()
        return proxy.links()


def _listener_routes(app: FastAPI, proxy: LinkProxy, guard: list[Any]) -> None:
    @app.post("/v1/listeners", dependencies=guard)
    async def listener(body: ListenerRequest) -> Address:
        host, port = await proxy.listener_for(body.src, body.dst, body.dst_host, body.dst_port)
        return Address(host=host, port=port)

    @app.post("/v1/peer-ingress", dependencies=guard)
    async def ingress(body: IngressRequest) -> Address:
        host, port = await proxy.peer_ingress(body.dst, body.dst_host, body.dst_port)
        return Address(host=host, port=port)

    @app.put("/v1/peer-ids", dependencies=guard)
    async def peer_ids(ids: dict[str, str]) -> dict[str, bool]:
        proxy.set_peer_ids(ids)
        return {"ok": True}
