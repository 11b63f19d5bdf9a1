"""Regression: a record excluded as a duplicate stays excluded when a later pass reads it again."""

from __future__ import annotations

from helpers import Pair, person


async def test_duplicate_changed_later_is_not_created() -> None:
    p = Pair()
    p.right.user_create("contacts", person("Ann", "One", "ann@x.com"))
    second = p.right.user_create("contacts", person("Ann", "Two", "ANN@x.com"))
    await p.run()
    p.right.user_update("contacts", second, {"phone": "123"})  # the duplicate shows up in the change feed
    res = await p.run()
    assert res.counters.created == {"left": 0, "right": 0} and res.counters.failed == {"left": 0, "right": 0}
    assert len(p.left.live("contacts")) == 1
    assert p.link_of("right", second).reason == "duplicate"


async def test_duplicate_company_is_never_created_by_later_passes() -> None:
    # Company names are not unique in the apps, so a second create would succeed: a real duplicate.
    p = Pair(left={"app": "a", "object": "companies"}, right={"app": "b", "object": "companies"}, name="companies")
    p.left.user_create("companies", {"name": "Acme", "domain": "acme.com"})
    dup = p.left.user_create("companies", {"name": "Acme", "domain": "acme.com", "city": "Rome"})
    await p.run()
    p.left.user_update("companies", dup, {"city": "Paris"})
    await p.run()
    await p.run(full=True)
    assert len(p.right.live("companies")) == 1
    assert p.link_of("left", dup).reason == "duplicate"
