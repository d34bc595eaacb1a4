"""Run copies of a callable at the same instant, for tests of concurrent openers."""

from __future__ import annotations

import threading
from collections.abc import Callable


def at_once(task: Callable[[], None], copies: int, timeout: float) -> list[BaseException]:
    """Run ``copies`` of ``task`` in threads released together; return what they raised.

    The threads are daemons joined with ``timeout``, so a task blocked forever (a broken
    lock: openers waiting on each other's DDL) fails the test instead of hanging it.
    """
    barrier = threading.Barrier(copies, timeout=timeout)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            task()
        except BaseException as exc:  # reported to the caller
            errors.append(exc)

    threads = [threading.Thread(target=run, daemon=True) for _ in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a copy of the task is stuck"
    return errors
