"""Entry point of the Pulumi project ``watertight`` (see ``infra.pulumi.program``)."""

from infra.pulumi.program import run

run()
