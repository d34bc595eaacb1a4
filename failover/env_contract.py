"""Loud configuration: a program refuses ``WATERTIGHT_*`` variables it does not read.

Every setting of every program is a ``WATERTIGHT_*`` environment variable, and
pydantic-settings silently ignores a name that no field has. A misspelt or misplaced
variable (a router handed the controller's address map) would start a program that does
something other than what its deployer wrote, and say nothing. An :class:`EnvContract`
is the one definition of what a program reads: its settings class's fields plus any
variable it reads outside that class. Each program checks its environment against it at
start (in its ``main``, never on import: a test process carries the suite's own
``WATERTIGHT_*`` variables), and the chart's acceptance test (``tests/charts``) checks
every rendered container against the same contract.

Like the topology model, this module is pure (the standard library and pydantic-settings)
and is the one part of ``failover`` besides it that ``app`` may import (an import-linter
contract says so), so every program, the unit service included, shares this definition.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic_settings import BaseSettings

PREFIX = "WATERTIGHT_"

PLATFORM_MARKER = "WATERTIGHT_PLATFORM_ID"
"""Set by the local platform's supervisor on every process it starts, so that ``down``
finds them in ``/proc``. It is not configuration and no program reads it; every program
tolerates it, and nothing else."""


class UnknownVariableError(ValueError):
    """The environment holds ``WATERTIGHT_*`` names the program does not read; the message
    names each of them and lists every name the program does read."""


@dataclass(frozen=True)
class EnvContract:
    """What one program reads from the environment, and what it cannot start without.

    ``reads`` is ``env_prefix + field name`` (upper case) of every field of ``settings``,
    plus ``also_reads``: variables the program itself reads outside its settings class.
    Field aliases are not followed (none is used): an aliased field's name would be
    refused, loudly, the first time the program starts.

    ``needs_one_of`` declares what the program's ``main`` refuses to start without beyond
    the settings' required fields: one name of each group (e.g. an address map as a file
    or inline). Each program's tests prove its ``main`` enforces every group declared.
    """

    program: str
    settings: type[BaseSettings]
    also_reads: frozenset[str] = field(default_factory=frozenset)
    needs_one_of: tuple[frozenset[str], ...] = ()

    @property
    def reads(self) -> frozenset[str]:
        prefix = str(self.settings.model_config.get("env_prefix", ""))
        names = {(prefix + name).upper() for name in self.settings.model_fields}
        return frozenset(names | {name.upper() for name in self.also_reads})

    @property
    def required(self) -> frozenset[str]:
        """The variables without which the settings class refuses to load."""
        prefix = str(self.settings.model_config.get("env_prefix", ""))
        return frozenset(
            (prefix + name).upper()
            for name, info in self.settings.model_fields.items()
            if info.is_required()
        )

    def missing(self, environ: Mapping[str, str]) -> list[str]:
        """What ``environ`` lacks for the program to start: each required field's name and
        each ``needs_one_of`` group none of whose names is set (``"A or B"``)."""
        present = {name.upper() for name in environ}
        groups = [frozenset({name}) for name in sorted(self.required)]
        groups += list(self.needs_one_of)
        return [" or ".join(sorted(group)) for group in groups if not group & present]

    def unknown(self, environ: Mapping[str, str]) -> list[str]:
        """Names in ``environ`` that look like settings and that this program does not
        read, sorted. Case is ignored, as pydantic-settings ignores it when reading."""
        tolerated = self.reads | {PLATFORM_MARKER}
        return sorted(
            name
            for name in environ
            if name.upper().startswith(PREFIX) and name.upper() not in tolerated
        )

    def check(self, environ: Mapping[str, str]) -> None:
        """Raise :class:`UnknownVariableError` if ``environ`` holds a name this program
        does not read; return quietly otherwise."""
        unknown = self.unknown(environ)
        if unknown:
            them = "them" if len(unknown) > 1 else "it"
            raise UnknownVariableError(
                f"{self.program} does not read {', '.join(unknown)}: refusing to start "
                f"rather than ignore {them} (misspelt, or meant for another program?). "
                f"{self.program} reads: {', '.join(sorted(self.reads))}"
            )
