"""A write the target rejects is tried once per incremental pass.

Before, one rejected update was sent two or three times in the same pass: once for the change,
again for the echo of the pair's other record in the other app's change feed, again by the pass's
retry phase. The pass reported three failures for one record, and the row's bounded retries
(``incremental.retry_conditions``: 10) ran out after three or four passes instead of ten.
"""

from __future__ import annotations

from typing import Any

from accord.model import ErrorCategory, WriteError
from helpers import Pair, person


def _reject_ray(p: Pair) -> list[str]:
    """The right app rejects every write of last name "Ray"; the returned list grows by one each time."""
    sent: list[str] = []

    def no_ray(obj: str, props: Any) -> WriteError | None:
        if props.get("last_name") == "Ray":
            sent.append(str(props.get("email")))
            return WriteError(ErrorCategory.CUSTOM_CODE, "Validation rule: Ray is not allowed", hint="Fix the rule")
        return None

    p.right.validators.append(no_ray)
    return sent


async def test_a_rejected_update_is_sent_once_a_pass_and_counted_once() -> None:
    p = Pair()
    ann = p.left.user_create("contacts", person("Ann", "Lee", "ann@x.com"))
    p.left.user_create("contacts", person("Bob", "Kim", "bob@x.com"))
    await p.run()
    sent = _reject_ray(p)
    p.left.user_update("contacts", ann, {"last_name": "Ray"})
    res = await p.run()
    assert res.counters.failed == {"left": 0, "right": 1}
    assert len(sent) == 1
    assert p.link_of("left", ann).attempts == 1
    res = await p.run()  # the next pass retries it, once
    assert res.counters.failed == {"left": 0, "right": 1}
    assert len(sent) == 2
    assert p.link_of("left", ann).attempts == 2
    p.right.validators.clear()  # the rule is fixed: the next pass syncs it
    await p.run()
    assert p.status() == {"syncing": 2}
    assert {r.properties["last_name"] for r in p.right.live("contacts")} == {"Ray", "Kim"}


async def test_two_contacts_swapping_emails_fail_once_each_a_pass() -> None:
    """A swap no order of writes can make (each new e-mail is the other's old one, and the app
    keeps e-mails unique): both fail with the app's message, once each."""
    p = Pair()
    a1 = p.left.user_create("contacts", person("A", "One", "x@x.com"))
    a2 = p.left.user_create("contacts", person("B", "Two", "y@x.com"))
    await p.run()
    p.left.user_update("contacts", a1, {"email": "y@x.com"})
    p.left.user_update("contacts", a2, {"email": "x@x.com"})
    res = await p.run()
    assert res.counters.failed == {"left": 0, "right": 2}
    assert [lk.attempts for lk in (p.link_of("left", a1), p.link_of("left", a2))] == [1, 1]
    assert {f.category for f in p.store.records("contacts", "failing")} == {"duplicates"}
