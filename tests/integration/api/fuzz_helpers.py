"""Schemathesis against a running service: the CLI, with every check, and its JSON report
read back as counts (server errors, schema violations)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
DOCS = REPO / "docs" / "api"
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
EXAMPLES_PER_OPERATION = 25
"""Bounds the run: every phase (coverage, fuzzing, stateful) makes at most this many
cases per operation, so three services, with and without a token, fit in CI's budget."""
SEED = 20261130
"""Fixed, so a failure reproduces; a new seed is a deliberate change."""
SERVER_ERROR = "ST101"
POSITIVE = ["2xx", "401", "403", "404", "409"]
"""What a schema-valid request may get by default: done, refused for the token, not found,
or in conflict with the state (schemathesis's own list, less 3xx, 429 and 5xx, which
none of these services answers to a valid request but 503 below)."""
CONFIGS = {
    # 503 is a documented answer of each service's state (not the leader, no writable
    # primary, a demoted unit); a 500 is never one, and neither is any other 5xx.
    "common": """
[checks.not_a_server_error]
expected-statuses = ["2xx", "3xx", "4xx", "503"]
[checks.positive_data_acceptance]
expected-statuses = {positive}
# A body over the limit is refused before it is read (413), as invalid as any other.
[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "409", "413", "415", "422", "503"]
""",
    # A well-formed customer id of another unit is 421 by design (the router sends no
    # such request); a well-formed site name that is not one of this deployment's sites
    # is 422 (the names are configuration, not part of the document); a batch of valid
    # entries can pass the byte limit of a replication body (413, which the topology's
    # batch size sets and no JSON Schema can state).
    "unit-service.json": """
[[operations]]
include-path-regex = "^/v1/customers/"
checks.positive_data_acceptance.expected-statuses = {positive_421}
[[operations]]
include-path-regex = "^/(admin|replication)/"
checks.positive_data_acceptance.expected-statuses = {positive_413_422}
# The gray-failure drill's fault is meant to break later writes: fuzzed with the token, a
# schema-valid slow mode with delay_ms 10000 would make every later write of the
# run outlast the 10 s request timeout. Its input checks: tests/app/test_gray_fault.py.
[[operations]]
include-path = "/admin/gray-fault"
enabled = false
""",
    "router.json": "",
    # Moves name units and sites of the deployment: a well-formed name that is no unit or
    # site is 404, a move to where the unit already is 422 ("already primary").
    "controller.json": """
[[operations]]
include-path-regex = "^/v1/(switchover|failover|failback)$"
checks.positive_data_acceptance.expected-statuses = {positive_422}
""",
}


def config_for(document: str, workdir: Path) -> Path:
    """The schemathesis.toml of one service's run (CONFIGS says why each entry)."""
    text = (CONFIGS["common"] + CONFIGS[document]).format(
        positive=json.dumps([*POSITIVE, "503"]),
        positive_421=json.dumps([*POSITIVE, "421", "503"]),
        positive_422=json.dumps([*POSITIVE, "422", "503"]),
        positive_413_422=json.dumps([*POSITIVE, "413", "422", "503"]),
    )
    path = workdir / f"schemathesis-{document}.toml"
    path.write_text(text, encoding="utf-8")
    return path


@dataclass(frozen=True)
class Fuzzed:
    """What one schemathesis run found."""

    name: str
    generated: int
    server_errors: int
    schema_violations: int
    failures: list[dict[str, Any]]
    output: str

    def report(self) -> str:
        """The failures schemathesis printed, each line cut to 400 characters."""
        failures = self.output.partition("FAILURES")[2].partition("SUMMARY")[0]
        return "\n".join(line[:400] for line in failures.splitlines())[:12000]

    def __str__(self) -> str:
        return (
            f"{self.name}: {self.generated} cases, {self.server_errors} server errors, "
            f"{self.schema_violations} schema violations"
        )


def fuzz(
    name: str, document: str, base_url: str, workdir: Path, token: str | None = None
) -> Fuzzed:
    """Run every check of schemathesis against ``base_url`` with the published
    ``docs/api/<document>``, with ``Authorization: Bearer <token>`` when given."""
    report = workdir / f"{name}.json"
    # One worker: with two, Hypothesis parsed source in two threads at once and CPython
    # 3.11's AST constructor crashed ("recursion depth mismatch"; CI, 2026-11-30), which
    # schemathesis reports as a runtime error of the run, not of the service.
    command = [
        str(SCHEMATHESIS), "--config-file", str(config_for(document, workdir)),
        "run", str(DOCS / document), "--url", base_url,
        "--checks", "all", "--max-examples", str(EXAMPLES_PER_OPERATION),
        "--seed", str(SEED), "--workers", "1", "--no-shrink", "--request-timeout", "10",
        "--report", "json", "--report-json-path", str(report),
    ]  # fmt: skip
    if token is not None:
        command += ["--header", f"Authorization: Bearer {token}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, cwd=workdir)
    if not report.exists():
        raise AssertionError(f"schemathesis wrote no report:\n{done.stdout}\n{done.stderr}")
    result = json.loads(report.read_text(encoding="utf-8"))
    failures = list(result["failures"])
    if result["errors"]:
        raise AssertionError(f"schemathesis errors: {result['errors']}\n{done.stdout}")
    server = sum(f["count"] for f in failures if f["code"] == SERVER_ERROR)
    other = sum(f["count"] for f in failures if f["code"] != SERVER_ERROR)
    fuzzed = Fuzzed(name, result["test_cases"]["generated"], server, other, failures, done.stdout)
    print(fuzzed)
    return fuzzed
