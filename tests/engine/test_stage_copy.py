"""``stages: auto`` where one app copies the other's first pipeline 1:1 (xentral's "Automatisch")."""

from __future__ import annotations

from accord.engine.stages import copied_stage_map, missing_stages
from accord.model import Pipeline, Stage


def _pipe(pid: str, *labels: str) -> Pipeline:
    return Pipeline(pid, pid, tuple(Stage(f"{pid}:{i}", label) for i, label in enumerate(labels)))


SALES = _pipe("sales", "Appointment Scheduled", "Closed Won", "Closed Lost", "closed won")
RENEWALS = _pipe("renewals", "Renewal Open", "Closed Won")


def test_missing_stages_by_label_in_order_each_once() -> None:
    board = _pipe("board", " closed WON ", "Nachfassen")
    assert missing_stages(SALES, [board]) == ["Appointment Scheduled", "Closed Lost"]
    assert missing_stages(SALES, [_pipe("full", "Appointment Scheduled", "Closed Won", "Closed Lost")]) == []


def test_the_first_pipeline_maps_one_to_one_by_label_before_any_similarity() -> None:
    # "Closed Lost" would pass for "Closed Won" by similarity; by label each finds its own
    board = _pipe("board", "Closed Won", "Appointment Scheduled", "Closed Lost", "Renewal open")
    pairs = copied_stage_map([RENEWALS, SALES], [board])  # the first pipeline is the one copied
    assert pairs["renewals:0"] == "board:3" and pairs["renewals:1"] == "board:0"
    # the other pipeline's stages pair by similarity with what is left: its "Closed Won" is taken
    assert pairs["sales:0"] == "board:1" and pairs["sales:2"] == "board:2" and "sales:1" not in pairs


def test_nothing_to_copy_from_or_to() -> None:
    assert copied_stage_map([], [_pipe("board", "A")]) == {}
    assert copied_stage_map([SALES], []) == {}
