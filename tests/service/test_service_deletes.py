"""Held deletes through ``accord run``: shown by the API, confirmed with
``POST /api/syncs/NAME/confirm-deletes``, kept across a restart of the service."""

from __future__ import annotations

from pathlib import Path

import httpx
from service_world import World, login

PROPAGATE = {"deletes": "propagate"}


def seed(world: World, n: int = 40) -> list[str]:
    return [world.left.user_create("contacts", {"first_name": f"P{i}", "last_name": "Pair", "email": f"p{i}@x.com"})
            for i in range(n)]


def test_a_mass_delete_is_held_shown_and_confirmed_through_the_api(tmp_path: Path) -> None:
    with World(tmp_path, contacts=PROPAGATE) as world:
        ids = seed(world)
        assert world.run_pass()["status"] == "ok"
        right_before = len(world.right.live("contacts"))
        for rid in ids[:30]:
            world.left.user_delete("contacts", rid)
        run = world.run_pass()
        assert run["status"] == "failed" and run["error"].startswith("DeletesHeld: sync contacts: 30 deletes held")
        sync = world.client.get("/api/syncs/contacts").json()
        held = sync["deletes_held"]
        assert (held["kind"], held["category"], held["count"], held["targets"]) == (
            "mass", "mass_delete", 30, {"left": 0, "right": 30})
        assert "POST /api/syncs/contacts/confirm-deletes" in held["hint"]
        assert len(world.right.live("contacts")) == right_before  # nothing deleted

        stale = world.client.post("/api/syncs/contacts/confirm-deletes", json={"hold": held["id"] + 1000})
        assert stale.status_code == 409 and "changed since hold" in stale.json()["detail"]
        assert world.client.post("/api/syncs/nope/confirm-deletes").status_code == 404
        assert httpx.post(f"{world.url}/api/syncs/contacts/confirm-deletes").status_code == 401

        ok = world.client.post("/api/syncs/contacts/confirm-deletes", json={"hold": held["id"]})
        assert ok.status_code == 200, ok.text
        assert (ok.json()["sync"], ok.json()["confirmed"], ok.json()["started"]) == ("contacts", 30, True)
        world.wait(lambda: len(world.right.live("contacts")) == right_before - 30)
        world.wait(lambda: not world.client.get("/api/syncs/contacts").json()["running"])
        assert world.client.get("/api/syncs/contacts").json()["deletes_held"] is None
        again = world.client.post("/api/syncs/contacts/confirm-deletes")
        assert again.status_code == 409 and "no held deletes" in again.json()["detail"]

        for rid in ids[30:]:  # a small delete afterwards: carried out by the next pass, no hold
            world.left.user_delete("contacts", rid)
        assert world.run_pass()["status"] == "ok" and len(world.right.live("contacts")) == right_before - 40


def test_held_deletes_survive_a_restart_of_the_service(tmp_path: Path) -> None:
    with World(tmp_path, contacts=PROPAGATE) as world:
        ids = seed(world)
        world.run_pass()
        for rid in ids[:30]:
            world.left.user_delete("contacts", rid)
        assert world.run_pass()["status"] == "failed"
        apps = (world.left, world.right)
        held = world.client.get("/api/syncs/contacts").json()["deletes_held"]
    right_before = len(apps[1].live("contacts"))
    with World(tmp_path, contacts=PROPAGATE, apps=apps) as again:  # a new process on the same index
        assert again.client.get("/api/syncs/contacts").json()["deletes_held"] == held
        assert again.run_pass()["status"] == "failed" and len(again.right.live("contacts")) == right_before
        summary = login(again.url).get("/").text
        assert "deletes held" in summary  # the dashboard's summary row says so
        assert again.client.post("/api/syncs/contacts/confirm-deletes").json()["confirmed"] == 30
        again.wait(lambda: len(again.right.live("contacts")) == right_before - 30)


def test_an_unmatched_start_waits_on_the_dashboard_and_is_confirmed_through_the_api(tmp_path: Path) -> None:
    """A sync with no match key over two apps that both hold records (an index lost, say) writes
    nothing until confirmed; its pages say what it waits for and offer the confirmation."""
    with World(tmp_path, contacts={"match": "none"}) as world:
        seed(world, 30)
        left, right = len(world.left.live("contacts")), len(world.right.live("contacts"))
        for i in range(30):
            world.right.user_create("contacts", {"first_name": f"R{i}", "last_name": "Right", "email": f"r{i}@x.com"})
        right += 30
        run = world.run_pass()
        assert run["status"] == "failed" and "this sync has no match key" in run["error"]
        held = world.client.get("/api/syncs/contacts").json()["deletes_held"]
        assert (held["kind"], held["category"]) == ("unmatched", "unmatched_start")
        web = login(world.url)
        assert "waits for a confirmation" in web.get("/").text
        page = web.get("/syncs/contacts").text
        assert "Waiting for a confirmation" in page and "Confirm and create them…" in page
        assert "Deletes held" not in page
        assert "last: initial, stopped" in page  # (not "last: pass", the kind a scheduled pass asks for)
        assert (len(world.left.live("contacts")), len(world.right.live("contacts"))) == (left, right)  # nothing written

        ok = world.client.post("/api/syncs/contacts/confirm-deletes", json={"hold": held["id"]})
        assert ok.status_code == 200 and (ok.json()["kind"], ok.json()["confirmed"]) == ("unmatched", True), ok.text
        world.wait(lambda: len(world.left.live("contacts")) == left + right)  # each of b's created in a
        world.wait(lambda: not world.client.get("/api/syncs/contacts").json()["running"])
        failing = world.client.get("/api/syncs/contacts").json()["counts"].get("failing", 0)
        assert len(world.right.live("contacts")) == left + right - failing  # (the world's b refuses a few)
        assert world.client.get("/api/syncs/contacts").json()["deletes_held"] is None
        assert world.run_pass()["status"] == "ok" and len(world.left.live("contacts")) == left + right
