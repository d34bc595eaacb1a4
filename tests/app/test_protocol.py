"""Where two journals diverge, judged from their epoch ranges."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.protocol import EpochRange, first_divergent_lsn


def r(epoch: int, first: int, last: int) -> EpochRange:
    return EpochRange(epoch=epoch, first_lsn=first, last_lsn=last)


def test_a_standby_that_is_a_prefix_of_the_primary_keeps_everything() -> None:
    assert first_divergent_lsn([r(1, 1, 50)], [r(1, 1, 80)], 80) is None


def test_an_empty_standby_keeps_everything() -> None:
    assert first_divergent_lsn([], [r(1, 1, 5)], 5) is None


def test_a_former_primary_loses_its_tail_past_the_new_primarys_epoch_start() -> None:
    # Old primary wrote 1..105 at epoch 1; the new one had 1..100 and wrote 101.. at 2.
    assert first_divergent_lsn([r(1, 1, 105)], [r(1, 1, 100), r(2, 101, 130)], 130) == 101


def test_entries_past_the_primarys_last_lsn_diverge_even_before_it_writes_more() -> None:
    assert first_divergent_lsn([r(1, 1, 105)], [r(1, 1, 100)], 100) == 101


def test_a_whole_epoch_the_primary_never_saw_is_discarded() -> None:
    local = [r(1, 1, 10), r(2, 11, 20)]
    primary = [r(1, 1, 12), r(3, 13, 30)]
    assert first_divergent_lsn(local, primary, 30) == 11


def test_the_same_epochs_with_the_same_boundaries_do_not_diverge() -> None:
    ranges = [r(1, 1, 10), r(4, 11, 20)]
    assert first_divergent_lsn(ranges, [*ranges[:1], r(4, 11, 25)], 25) is None


@given(
    common=st.integers(min_value=0, max_value=50),
    extra_local=st.integers(min_value=0, max_value=20),
    extra_primary=st.integers(min_value=0, max_value=20),
)
def test_divergence_starts_right_after_the_common_prefix(
    common: int, extra_local: int, extra_primary: int
) -> None:
    # Both share epoch 1 up to ``common``; then local wrote at epoch 1, primary at 2.
    local = [r(1, 1, common + extra_local)] if common + extra_local else []
    primary = [r(1, 1, common)] if common else []
    if extra_primary:
        primary.append(r(2, common + 1, common + extra_primary))
    expected = common + 1 if extra_local else None
    assert first_divergent_lsn(local, primary, common + extra_primary) == expected
