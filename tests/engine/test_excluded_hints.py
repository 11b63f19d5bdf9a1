"""An excluded record says what to do to have it sync (its hint), and doing it makes the next
pass sync it: a hint whose promise the engine does not keep fails here."""

from __future__ import annotations

import pytest

from accord.index.store import PageWrite
from accord.model import Pipeline, Side, Stage
from helpers import Pair, by_email, person


@pytest.mark.parametrize("full", [False, True], ids=["incremental", "full"])
async def test_a_contact_without_email_syncs_once_it_has_one(full: bool) -> None:
    p = Pair()
    p.left.user_create("contacts", person("Ann", "Lee", "ann@x.com"))
    await p.run()
    bob = p.left.user_create("contacts", person("Bob", "Ray", None))
    await p.run(full=full)
    link = p.link_of("left", bob)
    assert (link.status, link.reason) == ("excluded", "no_match_key")
    assert link.hint == ("Fill in its email in a: the next pass then pairs it with the b record that has the same "
                         "email, or creates it there.")
    p.left.user_update("contacts", bob, {"email": "bob@x.com"})
    await p.run(full=full)
    assert set(by_email(p.right)) == {"ann@x.com", "bob@x.com"}
    assert p.link_of("left", bob).status == "syncing"


@pytest.mark.parametrize("full", [False, True], ids=["incremental", "full"])
async def test_a_duplicate_given_another_email_syncs_and_one_read_again_stays_excluded(full: bool) -> None:
    p = Pair()
    ann = p.left.user_create("contacts", person("Ann", "Lee", "ann@x.com"))
    await p.run()
    twin = p.left.user_create("contacts", person("Anna", "Lee", "ANN@x.com"))
    await p.run(full=full)
    link = p.link_of("left", twin)
    assert (link.status, link.reason) == ("excluded", "duplicate")
    assert link.message == f"same match key as {ann}, which syncs instead"
    assert link.hint == ("If the two are the same, merge them in a: the merged record syncs on and nothing is lost. "
                         "If not, give one of them another email in a.")
    hint = link.hint
    # a duplicate excluded by a version that gave it no hint gets it when read again
    link.hint = None
    w = PageWrite()
    w.touch(link)
    p.store.save("contacts", w)
    # read again with the same email (an edit, a full pass): it stays excluded, nothing is created
    p.left.user_update("contacts", twin, {"phone": "555"})
    await p.run(full=full)
    assert p.link_of("left", twin).hint == hint
    await p.run(full=True)
    assert len(p.right.live("contacts")) == 1
    assert p.link_of("left", twin).reason == "duplicate"
    # given another email, it syncs as a record of its own, once
    p.left.user_update("contacts", twin, {"email": "anna@x.com"})
    await p.run(full=full)
    await p.run(full=True)
    assert sorted(by_email(p.right)) == ["ann@x.com", "anna@x.com"]
    assert len(p.right.live("contacts")) == 2
    assert p.link_of("left", twin).status == "syncing"
    assert p.status().get("excluded", 0) == 0


async def test_a_duplicate_whose_new_email_another_record_has_stays_excluded() -> None:
    p = Pair()
    p.left.user_create("contacts", person("Ann", "Lee", "ann@x.com"))
    p.left.user_create("contacts", person("Bob", "Ray", "bob@x.com"))
    await p.run()
    twin = p.left.user_create("contacts", person("Anna", "Lee", "ann@x.com"))
    await p.run()
    p.left.user_update("contacts", twin, {"email": "BOB@x.com"})  # still someone else's
    await p.run()
    await p.run(full=True)
    assert len(p.right.live("contacts")) == 2
    assert p.link_of("left", twin).reason == "duplicate"


async def test_a_contact_outside_the_list_or_the_filter_says_how_it_gets_in() -> None:
    p = Pair(inclusion={"side": "left", "list": "Sync me"})
    a = p.left.user_create("contacts", person("Ann", "Lee", "ann@x.com"))
    p.left.lists["Sync me"] = set()
    await p.run()
    assert p.link_of("left", a).hint == "Add it to the list 'Sync me' in a: the next pass syncs it."
    p.left.lists["Sync me"].add(a)
    await p.run()
    assert set(by_email(p.right)) == {"ann@x.com"}

    f = Pair(filters={"left": [{"field": "lead_status", "op": "in", "value": ["qualified"]}]})
    b = f.left.user_create("contacts", person("Bob", "Ray", "bob@x.com", lead_status="new"))
    await f.run()
    assert f.link_of("left", b).hint == ("It starts syncing with the first pass after it matches them (a change in a), "
                                         "or after the filters change to let it in.")
    f.left.user_update("contacts", b, {"lead_status": "qualified"})
    await f.run()
    assert set(by_email(f.right)) == {"bob@x.com"}


async def test_a_deal_in_an_unmapped_stage_syncs_once_the_stage_is_mapped() -> None:
    p = Pair(left={"app": "a", "object": "deals"}, right={"app": "b", "object": "deals"}, name="deals",
             stages={"closed_won": "S2"})
    p.right.set_pipelines("deals", [Pipeline("p", "Pipe", (Stage("S2", "Closed Won"), Stage("S3", "Negotiation")))])
    odd = p.left.user_create("deals", {"name": "Odd", "amount": 5, "stage": "contract_sent"})
    await p.run()
    assert p.link_of("left", odd).hint == ("Map contract_sent to a b stage in the sync's stage map: the pass after "
                                           "that change syncs the deal.")
    p.reconfigure(left={"app": "a", "object": "deals"}, right={"app": "b", "object": "deals"}, name="deals",
                  stages={"closed_won": "S2", "contract_sent": "S3"})
    await p.run()
    [deal] = p.right.live("deals")
    assert deal.properties["name"] == "Odd" and deal.properties["stage"] == "S3"


async def test_a_deleted_records_duplicate_takes_over_and_resync_recreates_only_the_others() -> None:
    """Of two contacts with one e-mail, the synced one is deleted: the duplicate still there takes
    its place in the pair at once (accord.runner.pairing.survivors; tests/engine/
    test_duplicate_deleted.py), so "Resync deleted" has only the record without such a duplicate
    to recreate, and never creates the person a third time."""
    p = Pair()
    ann = p.left.user_create("contacts", person("Ann", "Lee", "ann@x.com"))
    bob = p.left.user_create("contacts", person("Bob", "Ray", "bob@x.com"))
    await p.run()
    twin = p.left.user_create("contacts", person("Anna", "Lee", "ANN@x.com", phone="555"))
    await p.run()
    assert p.link_of("left", twin).reason == "duplicate"
    anns_twin = p.link_of("left", ann).right_id
    p.left.user_delete("contacts", ann)
    p.left.user_delete("contacts", bob)
    await p.run()
    assert p.status() == {"failing": 1, "syncing": 1}  # Bob's pair failing (deleted); Anna took Ann's place
    res = await p.runner.resync_deleted(Side.LEFT)
    assert res.counters.created == {"left": 1, "right": 0}  # Bob recreated
    live = sorted(str(r.properties["email"]).lower() for r in p.left.live("contacts"))
    assert live == ["ann@x.com", "bob@x.com"]
    link = p.link_of("left", twin)
    assert link.status == "syncing" and link.right_id == anns_twin
    assert by_email(p.right)["ann@x.com"]["phone"] == "555"  # merged as a fresh match: blanks filled
    assert p.status() == {"syncing": 2}
    await p.run(full=True)
    assert p.status() == {"syncing": 2} and len(p.left.live("contacts")) == 2 and len(p.right.live("contacts")) == 2
