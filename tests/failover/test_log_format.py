"""The one log setup: JSON lines off a terminal, human text on one, and the override."""

from __future__ import annotations

import io
import json
import logging
import sys
import threading
import warnings
from datetime import datetime

import pytest

from failover.log_format import (
    LOG_FORMAT_VARIABLE,
    JsonLinesFormatter,
    LogContext,
    choose_format,
    configure_logging,
    readable,
)

UNIT = LogContext("unit", site="production", unit="u00", epoch=lambda: 7)


def record(message: str = "hello %s", *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("app.node", logging.WARNING, __file__, 1, message, args, None)
    made.__dict__.update(extra)
    return made


def line_of(made: logging.LogRecord, context: LogContext = UNIT) -> dict[str, object]:
    text = JsonLinesFormatter(context).format(made)
    assert "\n" not in text and len(text.splitlines()) == 1
    parsed: dict[str, object] = json.loads(text)
    return parsed


class Terminal(io.StringIO):
    encoding = "utf-8"

    def isatty(self) -> bool:
        return True


class File(io.StringIO):
    encoding = "utf-8"


def test_a_record_becomes_one_json_object_with_every_field() -> None:
    line = line_of(record("hello %s", "world"))
    assert line["message"] == "hello world"
    assert line["level"] == "WARNING"
    assert line["logger"] == "app.node"
    assert (line["process"], line["site"], line["unit"], line["epoch"]) == (
        "unit", "production", "u00", 7
    )  # fmt: skip
    assert "exc" not in line


def test_the_timestamp_is_utc_iso_8601_with_milliseconds() -> None:
    made = record()
    made.created = 1_790_000_000.1234
    ts = str(line_of(made)["ts"])
    assert ts == "2026-09-21T14:13:20.123Z"
    assert datetime.fromisoformat(ts).utcoffset() is not None


def test_newlines_and_non_ascii_stay_on_one_valid_line() -> None:
    message = "商户 café\nsecond line\r\u2028third\x85fourth\u2029 \udcff"
    text = JsonLinesFormatter(UNIT).format(record(message))
    assert len(text.splitlines()) == 1
    assert "商户 café" in text  # readable as it is, not escaped
    text.encode("utf-8")  # writable, the lone surrogate included
    assert json.loads(text)["message"].startswith("商户 café\nsecond line\r\u2028third")


def test_a_stream_that_cannot_take_utf8_gets_ascii_escapes() -> None:
    text = JsonLinesFormatter(UNIT, ascii_only=True).format(record("café"))
    assert text.isascii()
    assert json.loads(text)["message"] == "café"


def test_an_exception_is_carried_as_its_formatted_traceback() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        made = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    line = line_of(made)
    assert "Traceback (most recent call last)" in str(line["exc"])
    assert "RuntimeError: boom" in str(line["exc"])
    assert line["message"] == "failed"


def test_extra_fields_are_kept_and_never_overwrite_the_context() -> None:
    line = line_of(record(peer="same-city", site="remote-dr", lsn=12, when=datetime(2026, 1, 1)))
    assert line["peer"] == "same-city" and line["lsn"] == 12
    assert line["site"] == "production" and line["extra_site"] == "remote-dr"
    assert line["when"] == "2026-01-01 00:00:00"  # not JSON: written as str()


def test_uvicorns_coloured_copy_of_the_message_is_left_out() -> None:
    line = line_of(record("Started server process", color_message="\x1b[36mStarted\x1b[0m"))
    assert "color_message" not in line and line["message"] == "Started server process"


def test_the_epoch_is_read_when_each_record_is_emitted() -> None:
    epochs = iter([3, 4])
    context = LogContext("unit", site="production", unit="u00", epoch=lambda: next(epochs))
    assert [line_of(record(), context)["epoch"] for _ in range(2)] == [3, 4]


def test_an_epoch_not_yet_known_or_failing_is_null_and_the_record_is_kept() -> None:
    assert line_of(record(), LogContext("unit", site="production", unit="u00"))["epoch"] is None

    def broken() -> int:
        raise AttributeError("no node yet")

    failing = LogContext("unit", site="production", unit="u00", epoch=broken)
    assert line_of(record(), failing)["epoch"] is None


def test_processes_outside_every_site_say_so_and_carry_no_unit() -> None:
    line = line_of(record(), LogContext("router"))
    assert line["process"] == "router" and line["site"] is None
    assert "unit" not in line and "epoch" not in line


def test_text_on_a_terminal_and_json_lines_anywhere_else() -> None:
    assert choose_format({}, Terminal()) == "text"
    assert choose_format({}, File()) == "json"


@pytest.mark.parametrize(("value", "chosen"), [("json", "json"), (" TEXT ", "text")])
def test_the_variable_overrides_the_choice_either_way(value: str, chosen: str) -> None:
    stream = Terminal() if chosen == "json" else File()
    assert choose_format({LOG_FORMAT_VARIABLE: value}, stream) == chosen


def test_an_unknown_format_is_refused_naming_the_variable_and_the_choices() -> None:
    with pytest.raises(ValueError, match=r"WATERTIGHT_LOG_FORMAT='xml': use one of json, text"):
        choose_format({LOG_FORMAT_VARIABLE: "xml"}, File())


def test_the_setup_sends_uvicorn_and_warnings_through_one_json_handler() -> None:
    logging.getLogger("uvicorn.error").addHandler(logging.StreamHandler(io.StringIO()))
    logging.getLogger("uvicorn.error").propagate = False  # what uvicorn's own config does
    # An in-process uvicorn in an earlier test (log_level="warning") leaves its level set.
    logging.getLogger("uvicorn.error").setLevel(logging.NOTSET)
    out = File()
    assert configure_logging(LogContext("router"), "info", environ={}, stream=out) == "json"
    logging.getLogger("uvicorn.error").info("Started server process")
    logging.getLogger("failover.router").debug("below the level: not written")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("old api", DeprecationWarning, stacklevel=1)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(line["logger"], line["process"]) for line in lines] == [
        ("uvicorn.error", "router"), ("py.warnings", "router")
    ]  # fmt: skip


def test_the_setup_writes_the_human_format_on_a_terminal_and_replaces_old_handlers() -> None:
    first, out = File(), Terminal()
    configure_logging(LogContext("observer", site="production"), "INFO", environ={}, stream=first)
    assert configure_logging(LogContext("observer"), "INFO", environ={}, stream=out) == "text"
    logging.getLogger("failover.observer").info("observer of %s running", "production")
    assert first.getvalue() == ""
    written = out.getvalue().rstrip()
    assert written.endswith(" INFO failover.observer: observer of production running")


def test_an_uncaught_exception_in_a_thread_is_one_json_record() -> None:
    out = File()
    configure_logging(LogContext("controller", site="remote-dr"), "INFO", environ={}, stream=out)

    def crash() -> None:
        raise KeyError("gone")

    thread = threading.Thread(target=crash, name="cycle")
    thread.start()
    thread.join()
    (line,) = [json.loads(text) for text in out.getvalue().splitlines()]
    assert line["message"] == "uncaught exception in thread cycle"
    assert "KeyError: 'gone'" in line["exc"]


def test_a_bad_format_changes_nothing() -> None:
    handlers = list(logging.getLogger().handlers)
    with pytest.raises(ValueError, match=LOG_FORMAT_VARIABLE):
        configure_logging(LogContext("unit"), "INFO", environ={LOG_FORMAT_VARIABLE: "yaml"})
    assert logging.getLogger().handlers == handlers


def test_a_json_record_reads_back_as_the_human_line_and_other_lines_stay_as_they_are() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        made = logging.LogRecord(
            "app.node", logging.ERROR, __file__, 1, "failed", None, sys.exc_info()
        )
    made.created = 1_790_000_000.0
    text = JsonLinesFormatter(UNIT).format(made)
    assert readable(text) == "2026-09-21T14:13:20.000Z ERROR app.node: failed (RuntimeError: boom)"
    for other in ("invalid unit settings: x", '{"level":"info","msg":"etcd"}', "[1, 2]"):
        assert readable(other) == other
