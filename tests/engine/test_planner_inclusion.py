"""The planner's inclusion-list rules, seed 004 included: a record created in the other app that
meets a list-side record outside the list syncs that pair once, and only once."""

from __future__ import annotations

from dataclasses import replace

from accord.engine.mapping import FieldMap, SyncSpec
from accord.engine.planner import PairInput, plan_pair
from accord.model import ExcludedReason, FieldType, Record, Side, Status

L, R = Side.LEFT, Side.RIGHT


def _fm(left: str, right: str) -> FieldMap:
    return FieldMap(left, right, "default", True, True, FieldType.TEXT, FieldType.TEXT)


def _spec(*, once: bool = True, direction: str = "two-way", inclusion: Side = L) -> SyncSpec:
    return SyncSpec("contacts", direction, L, "mark",
                    (_fm("email", "Email"), _fm("jobtitle", "Title"), _fm("phone", "Phone")),
                    inclusion_side=inclusion, match_once_outside_list=once)


HUBSPOT = Record("h1", {"email": "ann@x.com", "jobtitle": None, "phone": None})  # outside the list
SALESFORCE = Record("s1", {"Email": "ann@x.com", "Title": "CTO", "Phone": "+1 555 0100"})


def test_a_first_match_outside_the_list_is_excluded_without_the_rule() -> None:
    for spec, new_match in ((_spec(once=False), True), (_spec(), False)):
        plan = plan_pair(spec, PairInput(HUBSPOT, SALESFORCE, in_list=False, new_match=new_match))
        assert (plan.status, plan.reason, plan.writes) == (Status.EXCLUDED, ExcludedReason.NOT_IN_LIST, False)


def test_a_new_record_meeting_a_contact_outside_the_list_syncs_the_pair_once() -> None:
    plan = plan_pair(_spec(), PairInput(HUBSPOT, SALESFORCE, in_list=False, new_match=True))
    # a normal merge without bases: values fill the blanks of the list-side record …
    assert plan.update[L] == {"jobtitle": "CTO", "phone": "+1 555 0100"} and plan.update[R] == {}
    # … and the pair is shown outside the list, with the bases of this merge kept
    assert (plan.status, plan.reason) == (Status.EXCLUDED, ExcludedReason.NOT_IN_LIST)
    assert plan.message is not None and "synced once" in plan.message
    assert plan.left_base is not None and plan.right_base is not None
    assert plan.left_base == plan.right_base


def test_the_merge_follows_the_sync_rules_winner_included() -> None:
    hs = replace(HUBSPOT, properties={**HUBSPOT.properties, "jobtitle": "CEO"})
    plan = plan_pair(_spec(), PairInput(hs, SALESFORCE, in_list=False, new_match=True))
    assert plan.update[L] == {"phone": "+1 555 0100"} and plan.update[R] == {"Title": "CEO"}  # left wins
    one_way = plan_pair(_spec(direction="left-to-right"), PairInput(hs, SALESFORCE, in_list=False, new_match=True))
    # a sync that may not write to the list side never syncs a contact outside the list
    assert (one_way.status, one_way.writes) == (Status.EXCLUDED, False)


def test_after_the_first_match_updates_wait_for_the_list() -> None:
    spec = _spec()
    first = plan_pair(spec, PairInput(HUBSPOT, SALESFORCE, in_list=False, new_match=True))
    later = replace(SALESFORCE, properties={**SALESFORCE.properties, "Title": "CFO"})
    hs = Record("h1", {"email": "ann@x.com", "jobtitle": "CTO", "phone": "+1 555 0100"})
    linked = PairInput(hs, later, left_base=first.left_base, right_base=first.right_base, linked=True,
                       in_list=False, new_match=True)  # even if the runner said "new" again
    plan = plan_pair(spec, linked)
    assert (plan.status, plan.reason, plan.writes) == (Status.EXCLUDED, ExcludedReason.NOT_IN_LIST, False)
    # joining the list: a three-way merge from the once-synced bases (the Salesforce edit flows)
    joined = plan_pair(spec, replace(linked, in_list=True, new_match=False))
    assert joined.status is Status.SYNCING and joined.update[L] == {"jobtitle": "CFO"} and joined.update[R] == {}


def test_a_record_alone_or_a_list_on_the_other_side() -> None:
    alone = plan_pair(_spec(), PairInput(HUBSPOT, None, in_list=False, new_match=True))
    assert (alone.status, alone.reason) == (Status.EXCLUDED, ExcludedReason.NOT_IN_LIST)
    # the rule is about the list side's record: here Salesforce holds the list
    spec = _spec(inclusion=R)
    plan = plan_pair(spec, PairInput(HUBSPOT, SALESFORCE, in_list=False, new_match=True))
    assert plan.status is Status.EXCLUDED and plan.update[L] and plan.left_base is not None
