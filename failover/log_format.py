"""How every long-running watertight process writes its log: one setup, defined once.

:func:`configure_logging` is called first thing (after the environment check) by each
program's entry point: the unit service, the router, the controller, the observer and the
link proxy. It installs one handler on stderr for the root logger and routes uvicorn's
loggers through it, so every record of the process has one format:

- **JSON lines** when stderr is not a terminal (the local platform's log files under
  ``<state>/logs/``, containers, Kubernetes): one JSON object per record, on one line
  whatever the message holds, with ``ts`` (UTC, ISO-8601, milliseconds), ``level``,
  ``logger``, ``message``, ``process`` (unit, router, controller, observer, linkproxy),
  ``site`` (null for the processes outside every site: the router and the link proxy),
  for a unit instance ``unit`` and ``epoch`` (its node's epoch when the record is
  emitted; null before the node exists), ``exc`` (the formatted traceback) when the
  record carries one, and every ``extra=`` field of the call.
- **Human text** on a terminal: ``%(asctime)s %(levelname)s %(name)s: %(message)s``.

``WATERTIGHT_LOG_FORMAT=json|text`` overrides the choice. Every program reads it, so it is
in every program's :class:`~failover.env_contract.EnvContract` (``also_reads``); any
other value refuses the start like any bad setting.

Pure (the standard library only): like the topology model and the env contract, a part of
``failover`` that ``app`` and ``infra`` may import (an import-linter contract says so).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Literal, TextIO

LOG_FORMAT_VARIABLE = "WATERTIGHT_LOG_FORMAT"
FORMATS = ("json", "text")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
HANDLER_NAME = "watertight"
"""The name of the one handler :func:`configure_logging` installs on the root logger."""

LogFormat = Literal["json", "text"]

# What every LogRecord carries by itself; anything else on a record came from ``extra=``.
# ``message``/``asctime`` are set by formatters, ``taskName`` by Python 3.12.
_PLAIN_RECORD = logging.LogRecord("", 0, "", 0, "", None, None)
_RECORD_ATTRIBUTES = frozenset(_PLAIN_RECORD.__dict__) | {"message", "asctime", "taskName"}

# uvicorn adds its message again with terminal colour codes: noise in a JSON line.
_DROPPED_EXTRAS = frozenset({"color_message"})

# json.dumps(ensure_ascii=False) leaves these raw, and str.splitlines() (our own log
# tails, many a reader) breaks a line at each: escaped, a record stays one line anywhere.
_LINE_BREAKERS = {"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}


@dataclass
class LogContext:
    """Who is logging: the fields every JSON record of this process carries.

    ``epoch`` is read when a record is emitted, so a unit instance's records follow its
    role changes. It must be cheap and lock-free (it runs on every record, on the hot
    path, possibly while the node holds its own lock): reading one immutable attribute is.
    """

    process: str
    site: str | None = None
    unit: str | None = None
    epoch: Callable[[], int | None] | None = field(default=None, repr=False)

    def fields(self) -> dict[str, object]:
        """``process`` and ``site`` always; ``unit`` and ``epoch`` for a unit instance."""
        out: dict[str, object] = {"process": self.process, "site": self.site}
        if self.unit is not None:
            out["unit"] = self.unit
            out["epoch"] = self._epoch()
        return out

    def _epoch(self) -> int | None:
        if self.epoch is None:
            return None
        try:
            return self.epoch()
        except Exception:  # a context that fails must not lose the record
            return None


class JsonLinesFormatter(logging.Formatter):
    """Formats a record as one line of JSON (module docstring lists the fields).

    Core and context fields win over an ``extra=`` field of the same name, which is kept
    as ``extra_<name>`` rather than lost. Values JSON cannot hold are written as ``str()``.
    With ``ascii_only`` every non-ASCII character is escaped (for a stream that cannot
    encode it); otherwise it is written as UTF-8, readable as it is.
    """

    def __init__(self, context: LogContext, *, ascii_only: bool = False) -> None:
        super().__init__()
        self.context = context
        self.ascii_only = ascii_only

    def format(self, record: logging.LogRecord) -> str:
        created = datetime.fromtimestamp(record.created, tz=UTC)
        line: dict[str, object] = {
            "ts": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **self.context.fields(),
        }
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES and key not in _DROPPED_EXTRAS:
                line[f"extra_{key}" if key in line else key] = value
        text = json.dumps(line, ensure_ascii=self.ascii_only, default=str)
        for raw, escaped in _LINE_BREAKERS.items():
            text = text.replace(raw, escaped)
        # A lone surrogate (undecodable bytes smuggled into a str) cannot be written as
        # UTF-8; as a \\uXXXX escape it is still valid JSON.
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def readable(line: str) -> str:
    """One log line as a person reads it: a JSON record of :class:`JsonLinesFormatter` as
    ``ts LEVEL logger: message`` (plus the last line of its traceback), any other line (a
    text record, a program's refusal to start, another program's log) unchanged. For the
    log tails that error messages quote."""
    try:
        parsed = json.loads(line)
    except ValueError:
        return line
    if not isinstance(parsed, dict) or not {"ts", "level", "logger", "message"} <= parsed.keys():
        return line
    text = f"{parsed['ts']} {parsed['level']} {parsed['logger']}: {parsed['message']}"
    exc = str(parsed.get("exc") or "").strip()
    return f"{text} ({exc.splitlines()[-1]})" if exc else text


def choose_format(environ: Mapping[str, str], stream: TextIO) -> LogFormat:
    """``WATERTIGHT_LOG_FORMAT`` if set (case and spaces ignored), else text on a terminal
    and JSON otherwise. Raises ``ValueError`` naming the variable for any other value."""
    value = environ.get(LOG_FORMAT_VARIABLE, "").strip().lower()
    if value == "json":
        return "json"
    if value == "text":
        return "text"
    if value:
        raise ValueError(
            f"{LOG_FORMAT_VARIABLE}={environ[LOG_FORMAT_VARIABLE]!r}: use one of "
            f"{', '.join(FORMATS)} (unset: text on a terminal, JSON lines otherwise)"
        )
    try:
        return "text" if stream.isatty() else "json"
    except (AttributeError, ValueError):  # no isatty, or a closed stream: not a terminal
        return "json"


def formatter_for(chosen: LogFormat, context: LogContext, stream: TextIO) -> logging.Formatter:
    """The formatter of ``chosen`` for records written to ``stream``."""
    if chosen == "text":
        return logging.Formatter(TEXT_FORMAT)
    encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
    return JsonLinesFormatter(context, ascii_only=encoding != "utf8")


def configure_logging(
    context: LogContext,
    level: int | str,
    *,
    environ: Mapping[str, str] | None = None,
    stream: TextIO | None = None,
) -> LogFormat:
    """Send every record of this process, uvicorn's included, to ``stream`` (default
    stderr) in the chosen format at ``level``; return the format chosen.

    Replaces whatever handlers the root logger had, so calling it again reconfigures
    rather than duplicating lines. Uvicorn's loggers lose their own handlers and
    propagate to the root: callers pass ``log_config=None`` to uvicorn so that it does
    not install them again. Warnings and uncaught exceptions (any thread) become records
    too, so nothing of the process's own writes a line outside the format. Raises
    ``ValueError`` for a bad ``WATERTIGHT_LOG_FORMAT``, before changing anything.
    """
    out = sys.stderr if stream is None else stream
    chosen = choose_format(os.environ if environ is None else environ, out)
    handler = logging.StreamHandler(out)
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(formatter_for(chosen, context, out))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    for name in UVICORN_LOGGERS:
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread
    return chosen


def _log_uncaught(
    kind: type[BaseException], value: BaseException, traceback: TracebackType | None
) -> None:
    logging.getLogger("uncaught").critical("uncaught exception", exc_info=(kind, value, traceback))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return  # what threading's own hook does: a thread's exit is not an error
    name = args.thread.name if args.thread is not None else "?"
    if args.exc_value is None:
        logging.getLogger("uncaught").critical("uncaught %s in thread %s", args.exc_type, name)
        return
    logging.getLogger("uncaught").critical(
        "uncaught exception in thread %s",
        name,
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )
