"""Run the real Pulumi program of one stack under ``pulumi.runtime.set_mocks``.

Usage: ``python pulumi_stack_driver.py STACK [KEY=VALUE ...]``. Reads
``infra/pulumi/Pulumi.<STACK>.yaml`` (``KEY=VALUE`` pairs override ``watertight:KEY``),
runs ``infra.pulumi.program.run`` and prints one JSON line prefixed ``RESULT `` with every
registered resource (type, name, parent URN, provider, inputs) and the stack exports.
Each stack runs in its own process: the Pulumi runtime is process-global.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pulumi
import yaml
from google.protobuf import json_format
from pulumi.runtime import MockCallArgs, MockResourceArgs, Mocks, set_all_config, set_mocks
from pulumi.runtime.mocks import MockMonitor

from infra.pulumi.program import run

REPO = Path(__file__).resolve().parents[3]
CREDENTIALS = {
    "replication": "mock-replication-token-0123456789",
    "admin": "mock-admin-token-0123456789abcdef",
    "operator": "mock-operator-token-0123456789ab",
    "approvers": "rehearsal mock-approver-token-0123456789\n",
}


class RecordingMocks(Mocks):
    """Echo inputs as outputs; ids are the logical names."""

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], None]:
        return {}, None


class RecordingMonitor(MockMonitor):  # type: ignore[misc]
    """A mock monitor that also keeps what the engine would see (parent, provider)."""

    def __init__(self, mocks: Mocks) -> None:
        super().__init__(mocks)
        self.registrations: list[dict[str, Any]] = []

    def RegisterResource(self, request: Any) -> Any:
        inputs = json_format.MessageToDict(request.object)
        self.registrations.append(
            {
                "type": request.type,
                "name": request.name,
                "parent": request.parent,
                "provider": request.provider,
                "inputs": inputs,
            }
        )
        return super().RegisterResource(request)


def stack_config(stack: str, overrides: dict[str, str]) -> dict[str, str]:
    document = yaml.safe_load((REPO / "infra" / "pulumi" / f"Pulumi.{stack}.yaml").read_text())
    config = {
        key: value if isinstance(value, str) else json.dumps(value)
        for key, value in document["config"].items()
    }
    config["watertight:credentials"] = json.dumps(CREDENTIALS)
    config.update({f"watertight:{k}": v for k, v in overrides.items()})
    return config


def main(argv: list[str]) -> int:
    stack, *pairs = argv
    overrides = dict(pair.split("=", 1) for pair in pairs)
    mocks = RecordingMocks()
    monitor = RecordingMonitor(mocks)
    set_mocks(mocks, project="watertight", stack=stack, preview=False, monitor=monitor)
    # The TLS material, when a test gives it (tls=<JSON>), is a secret like the credentials.
    secret_keys = ["watertight:credentials"] + (["watertight:tls"] if "tls" in overrides else [])
    set_all_config(stack_config(stack, overrides), secret_keys=secret_keys)

    exports: dict[str, Any] = {}

    @pulumi.runtime.test  # type: ignore[misc]
    def program() -> pulumi.Output[Any]:
        run()
        outputs = pulumi.runtime.get_root_resource().outputs  # type: ignore[union-attr]
        return pulumi.Output.all(**outputs).apply(exports.update)

    program()
    print("RESULT " + json.dumps({"resources": monitor.registrations, "exports": exports}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
