"""Manual sync through the API (issue #19): one record, indexed or created after the last pass,
and every member of a list."""

from __future__ import annotations

from service_world import World


def test_a_record_created_after_the_last_pass_syncs_by_its_id(world: World) -> None:
    world.run_pass()
    new = world.left.user_create("contacts", {"first_name": "Neu", "last_name": "Kunde", "email": "neu@x.com"})
    r = world.client.post(f"/api/syncs/contacts/records/{new}/resync")
    assert r.status_code == 200, r.text
    assert r.json()["created"] == {"left": 0, "right": 1}
    assert any(x.properties["email"] == "neu@x.com" for x in world.right.live("contacts"))
    gone = world.client.post("/api/syncs/contacts/records/zz9/resync")
    assert gone.status_code == 404
    assert gone.json()["detail"] == "no record 'zz9' in a (contacts) or b (contacts)"
    wrong_side = world.client.post(f"/api/syncs/contacts/records/{new}/resync", params={"side": "right"})
    assert wrong_side.status_code == 404 and wrong_side.json()["detail"] == f"no record {new!r} in b (contacts)"
    assert world.client.post(f"/api/syncs/contacts/records/{new}/resync", params={"side": "up"}).status_code == 422


def test_every_member_of_a_list_syncs(world: World) -> None:
    world.run_pass()
    ids = [world.left.user_create("contacts", {"first_name": f"L{i}", "last_name": "X", "email": f"l{i}@x.com"})
           for i in range(2)]
    world.left.user_create("contacts", {"first_name": "Not", "last_name": "Listed", "email": "not@x.com"})
    world.left.lists["Fair"] = set(ids)
    r = world.client.post("/api/syncs/contacts/resync-list", json={"list": "Fair"})
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["list"], got["members"], got["kind"], got["created"]["right"]) == ("Fair", 2, "list", 2)
    emails = {x.properties["email"] for x in world.right.live("contacts")}
    assert {"l0@x.com", "l1@x.com"} <= emails and "not@x.com" not in emails
    none = world.client.post("/api/syncs/contacts/resync-list")
    assert none.status_code == 409
    assert none.json()["detail"] == "sync 'contacts' has no inclusion list; name the list to sync"
    assert world.client.post("/api/syncs/nope/resync-list", json={"list": "Fair"}).status_code == 404
