"""The collector's pace during passes (accord.runner.collector): raised while any pass runs,
the process's own setting back once the last one ends, and left alone when turned off."""

from __future__ import annotations

import gc

from accord.runner.collector import PASS_THRESHOLD, fewer_collections


def test_threshold_raised_while_passes_overlap_and_restored_after_the_last() -> None:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    try:
        first, second = fewer_collections(), fewer_collections()
        first.__enter__()
        assert gc.get_threshold() == (PASS_THRESHOLD, 10, 10)
        second.__enter__()
        first.__exit__(None, None, None)  # passes may end in any order
        assert gc.get_threshold() == (PASS_THRESHOLD, 10, 10)
        second.__exit__(None, None, None)
        assert gc.get_threshold() == (700, 10, 10)
    finally:
        gc.set_threshold(*before)


def test_collection_turned_off_or_already_rarer_is_left_alone() -> None:
    before = gc.get_threshold()
    try:
        for setting in ((0, 10, 10), (PASS_THRESHOLD * 2, 5, 5)):
            gc.set_threshold(*setting)
            with fewer_collections():
                assert gc.get_threshold() == setting
            assert gc.get_threshold() == setting
    finally:
        gc.set_threshold(*before)
