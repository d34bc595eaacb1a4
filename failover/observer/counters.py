"""Consecutive-failure counters: pure bookkeeping of one observer's rounds.

A target reached in a round goes back to 0; a target not reached gets one more failed
round; a target not probed this round keeps no entry (no information, docs/design.md §3.4).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


def next_counts(previous: Mapping[K, int], reached: Mapping[K, bool]) -> dict[K, int]:
    """Counters after a round in which ``reached[target]`` says whether it answered."""
    return {target: 0 if ok else previous.get(target, 0) + 1 for target, ok in reached.items()}
