"""A file sync renamed while ``accord run`` serves the index: its passes are refused with the
reason in the run history (nothing created twice), and once the pairs are moved to the new
name (``accord rename``) the running service's next pass goes on from them."""

from __future__ import annotations

from pathlib import Path

from service_world import World


def test_a_renamed_sync_fails_its_passes_saying_why_until_its_pairs_move(tmp_path: Path) -> None:
    with World(tmp_path) as w:
        w.run_pass()
        apps = (w.left, w.right)
    created = len(apps[1].live("contacts"))
    with World(tmp_path, apps=apps, contacts={"name": "people"}) as w:
        run = w.run_pass("people")
        assert run["status"] == "failed"
        assert "sync 'people' would start from an empty index" in run["error"]
        assert "accord rename contacts people" in run["error"]
        assert len(apps[1].live("contacts")) == created
        page = w.client.get("/syncs/people").text
        # said at the top of the sync's page, and on the summary's row, not only in the run history
        banner = page[page.index('id="refused"'):]
        assert "Not synced:" in banner[:200] and "<code>accord rename contacts people</code>" in banner[:900]
        assert "refused: see why" in w.client.get("/").text
        assert "accord rename contacts people" in w.client.get("/api/syncs/people").json()["refused"]

        w.service.store.rename_sync("contacts", "people")  # what `accord rename contacts people` does
        run = w.run_pass("people")
        assert run["status"] == "ok" and run["counters"]["created"] == {"left": 0, "right": 0}
        assert len(apps[1].live("contacts")) == created
        assert w.client.get("/api/syncs/people").json()["counts"]["syncing"] == 2
        assert w.client.get("/api/syncs/people").json()["refused"] is None
        assert 'id="refused"' not in w.client.get("/syncs/people").text
