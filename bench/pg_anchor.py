"""The anchor a bank would pick instead: PostgreSQL with one synchronous standby, pgbench.

A primary and a standby made by ``pg_basebackup`` on loopback, ``synchronous_commit =
remote_apply`` (a commit returns once the standby has applied it, like our quorum ack),
and a write of our shape: insert a posting under a unique key and update the account's
available credit, in one transaction. Needs PostgreSQL's server binaries (Debian's
``postgresql`` package); when run as root the servers run as the ``postgres`` user.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

ACCOUNTS = 2000
SCRIPT = """\\set aid random(1, {accounts})
BEGIN;
INSERT INTO postings (key, account, amount) VALUES (md5(random()::text || clock_timestamp()::text || :client_id), :aid, 1);
UPDATE accounts SET available = available - 1 WHERE id = :aid;
END;
"""  # noqa: E501 - one SQL statement per line is what pgbench reads


@dataclass(frozen=True)
class AnchorResult:
    """Committed transactions per second and latency over the run."""

    tps: float
    p50_ms: float
    p99_ms: float
    clients: int
    seconds: int


def _bindir() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if not candidates:
        raise SystemExit(
            "the PostgreSQL anchor needs the server binaries: apt-get install postgresql"
        )
    return candidates[-1].parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class _Cluster:
    """Two servers in a scratch directory; ``stop()`` removes everything."""

    def __init__(self) -> None:
        self.bin = _bindir()
        self.root = Path(tempfile.mkdtemp(prefix="watertight-pg-anchor-"))
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self.primary_port = _free_port()
        self.standby_port = _free_port()
        self.started: list[Path] = []

    def run(self, *argv: str, capture: bool = False) -> str:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_postgres else []
        done = subprocess.run(
            [*prefix, *argv], check=True, text=True, cwd=self.root,
            stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        return done.stdout or ""

    def start(self, data: Path, port: int) -> None:
        options = f"-p {port} -k {self.root} -c listen_addresses=127.0.0.1"
        self.run(str(self.bin / "pg_ctl"), "-D", str(data), "-l", f"{data}.log", "-o", options,
                 "-w", "start")  # fmt: skip
        self.started.append(data)

    def psql(self, port: int, sql: str) -> None:
        self.run(str(self.bin / "psql"), "-h", str(self.root), "-p", str(port), "-U", "postgres",
                 "-q", "-v", "ON_ERROR_STOP=1", "-c", sql)  # fmt: skip

    def set_up(self) -> None:
        primary, standby = self.root / "primary", self.root / "standby"
        self.run(str(self.bin / "initdb"), "-D", str(primary), "-A", "trust", "-U", "postgres")
        with (primary / "postgresql.conf").open("a") as conf:
            conf.write("wal_level = replica\nmax_wal_senders = 4\nmax_connections = 200\n")
        self.start(primary, self.primary_port)
        self.run(str(self.bin / "pg_basebackup"), "-h", str(self.root), "-p",
                 str(self.primary_port), "-U", "postgres", "-D", str(standby), "-R")  # fmt: skip
        with (standby / "postgresql.auto.conf").open("a") as conf:
            conninfo = f"host={self.root} port={self.primary_port} user=postgres"
            conf.write(f"primary_conninfo = '{conninfo} application_name=standby1'\n")
        self.start(standby, self.standby_port)
        self.psql(self.primary_port, "ALTER SYSTEM SET synchronous_standby_names = 'standby1'")
        self.psql(self.primary_port, "ALTER SYSTEM SET synchronous_commit = 'remote_apply'")
        self.psql(self.primary_port, "SELECT pg_reload_conf()")
        self.psql(
            self.primary_port,
            "CREATE TABLE accounts (id int PRIMARY KEY, available bigint NOT NULL);"
            "CREATE TABLE postings (key text PRIMARY KEY, account int NOT NULL, amount bigint);"
            f"INSERT INTO accounts SELECT g, 5000000 FROM generate_series(1, {ACCOUNTS}) g;",
        )

    def stop(self) -> None:
        for data in reversed(self.started):
            with contextlib.suppress(subprocess.CalledProcessError):
                self.run(str(self.bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def run_anchor(clients: int, seconds: int) -> AnchorResult:
    """Set up the pair, run pgbench for ``seconds`` with ``clients``, tear down."""
    cluster = _Cluster()
    try:
        cluster.set_up()
        script = cluster.root / "write.sql"
        script.write_text(SCRIPT.format(accounts=ACCOUNTS))
        if cluster.as_postgres:
            shutil.chown(script, "postgres", "postgres")
        output = cluster.run(
            str(cluster.bin / "pgbench"), "-h", str(cluster.root), "-p",
            str(cluster.primary_port), "-U", "postgres", "-n", "-c", str(clients), "-j", "2",
            "-T", str(seconds), "-f", str(script), "-l", "--log-prefix", "tx", "postgres",
            capture=True,
        )  # fmt: skip
        tps = next(
            float(line.split("=")[1].split()[0])
            for line in output.splitlines()
            if line.startswith("tps =")
        )
        latencies = sorted(
            int(line.split()[2]) / 1000
            for log in cluster.root.glob("tx.*")
            for line in log.read_text().splitlines()
        )
        if not latencies:
            raise SystemExit(f"pgbench logged no transactions:\n{output}")
        return AnchorResult(
            tps=tps,
            p50_ms=latencies[len(latencies) // 2],
            p99_ms=latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
            clients=clients,
            seconds=seconds,
        )
    finally:
        cluster.stop()
