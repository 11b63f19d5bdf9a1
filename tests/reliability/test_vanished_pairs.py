"""A pair whose records vanished from both apps without a trace is found by a full pass.

Found by the convergence fuzzer: webhooks synced a contact before the initial pass, then
users deleted it in both apps; the initial scan saw neither record, and since no phase
reaches a pair neither scan returns, the index kept calling the pair "syncing".
"""

from __future__ import annotations

from accord.model import Side
from helpers import Pair, person


async def test_full_pass_marks_a_pair_gone_from_both_apps() -> None:
    p = Pair()
    lid = p.left.user_create("contacts", person("Ann", "Lee", "ann@x.com"))
    p.left.user_create("contacts", person("Bob", "Ray", "bob@x.com"))
    await p.run()
    rid = p.link_of("left", lid).right_id
    p.left.purge("contacts", lid)  # gone without a tombstone (a purged delete log)
    p.right.purge("contacts", rid)
    await p.run(full=True)
    link = p.link_of("left", lid)
    assert (link.status, link.reason, link.left_deleted, link.right_deleted) == ("excluded", "deleted", True, True)
    assert p.status() == {"syncing": 1, "excluded": 1}
    again = await p.run(full=True)  # marked once; nothing to write
    assert sum(again.counters.created.values()) + sum(again.counters.updated.values()) == 0
    assert p.store.links_by_record("contacts", Side.RIGHT, [rid])[rid].status == "excluded"


async def test_records_synced_by_webhooks_then_deleted_before_the_initial_pass() -> None:
    p = Pair()
    lid = p.left.user_create("contacts", person("Ann", "Lee", "ann@x.com"))
    await p.runner.sync_records(Side.LEFT, [lid])  # a webhook before the first pass
    rid = p.link_of("left", lid).right_id
    assert rid is not None
    p.left.user_delete("contacts", lid)
    p.right.user_delete("contacts", rid)
    res = await p.run()
    assert res.kind == "initial"
    assert p.status() == {"excluded": 1}
