"""A mapping whose field is gone from its app is skipped while the other fields sync on: the
dashboard and the API say which, why and what to do. Before, only the service's log said it (a
warning at every pass), so a field could stop syncing unseen."""

from __future__ import annotations

import html
import re
from pathlib import Path

from service_world import World, login


def test_a_mapping_whose_field_was_deleted_is_shown_on_the_sync_page_and_the_summary(tmp_path: Path) -> None:
    with World(tmp_path, contacts={"mappings": [{"left": "notes", "right": "notes"}]}) as w:
        w.run_pass()
        assert w.client.get("/api/syncs/contacts").json()["skipped_mappings"] == []
        w.right.remove_field("contacts", "notes")  # someone deletes the custom field in b
        w.right.remove_field("contacts", "job_title")  # a default mapping's field: no fault, not listed
        assert w.run_pass(full=True)["status"] == "ok"
        assert w.client.get("/api/syncs/contacts").json()["skipped_mappings"] == [
            {"path": "syncs[0].mappings[0].right", "reason": "field 'notes' does not exist on contacts",
             "mapping": "notes ↔ notes", "app": "b"}]
        web = login(w.url)
        raw = web.get("/syncs/contacts").text
        page = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", raw)))
        assert "1 field mapping is skipped: its fields are not synced; the other fields keep syncing." in page
        assert "notes ↔ notes: field 'notes' does not exist on contacts (in b)" in page
        assert "change the mapping in the configuration file: the next pass syncs it again" in page
        assert "job_title" not in raw.split('id="skipped"')[1].split("</div>")[0]
        summary = web.get("/").text
        assert 'href="/syncs/contacts#skipped">1 mapping skipped</a>' in summary
        assert "skipped</a>" not in summary.split('id="sync-companies"')[1]
        # the field is made again: the next pass maps it, and the notice goes
        from accord.model import FieldSchema, FieldType
        w.right.add_field("contacts", FieldSchema("notes", FieldType.TEXT))
        w.run_pass(full=True)
        assert w.client.get("/api/syncs/contacts").json()["skipped_mappings"] == []
        assert 'id="skipped"' not in web.get("/syncs/contacts").text
