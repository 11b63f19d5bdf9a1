"""HubSpot tickets ↔ Salesforce cases with the catalog's defaults, through `accord sync` processes
against both sandboxes (issue #20: objects beyond contacts, companies and deals)."""

from __future__ import annotations

from pathlib import Path

import yaml

from accord.demo import Sandboxes, sandboxes
from helpers import accord_sync, sandbox_apps


def _config(tmp_path: Path, boxes: Sandboxes) -> None:
    (tmp_path / "accord.yaml").write_text(yaml.safe_dump({
        "state": f"sqlite:///{tmp_path}/index.db",
        "apps": sandbox_apps(boxes, "pat-tickets"),
        # no mappings named: the catalog's subject, description, status and priority
        "syncs": [{"name": "tickets", "left": {"app": "hubspot", "object": "tickets"},
                   "right": {"app": "salesforce", "object": "Case"}}]}))


def test_tickets_sync_to_cases_and_back(tmp_path: Path) -> None:
    with sandboxes() as boxes:
        hs, sf = boxes.hubspot, boxes.salesforce
        made = [hs.user_create("tickets", {"subject": f"Printer {i} on fire", "content": f"Floor {i}",
                                           "hs_pipeline_stage": stage, "hs_ticket_priority": prio})
                for i, (stage, prio) in enumerate([("1", "HIGH"), ("2", "LOW"), ("4", "URGENT")])]
        sf.create("Case", {"Subject": "Cannot log in", "Status": "Escalated", "Priority": "Medium",
                           "Description": "since Monday"})
        _config(tmp_path, boxes)
        accord_sync(tmp_path, "--full")
        cases = {c["Subject"]: c for c in sf.records("Case")}
        assert {s: (c["Status"], c["Priority"], c["Description"]) for s, c in cases.items()} == {
            "Printer 0 on fire": ("New", "High", "Floor 0"),
            "Printer 1 on fire": ("Working", "Low", "Floor 1"),
            "Printer 2 on fire": ("Closed", "High", "Floor 2"),  # Salesforce has no "urgent"
            "Cannot log in": ("Escalated", "Medium", "since Monday"),
        }
        tickets = {t["properties"]["subject"]: t["properties"] for t in hs.records("tickets")}
        assert len(tickets) == 4
        login = tickets["Cannot log in"]
        assert (login["hs_pipeline_stage"], login["hs_ticket_priority"], login["hs_pipeline"]) == ("3", "MEDIUM", "0")
        # a change on either side travels with the next (incremental) pass
        sf.update("Case", cases["Printer 0 on fire"]["Id"], {"Status": "Closed"})
        hs.user_update("tickets", made[1]["id"], {"subject": "Printer 1 fixed?"})
        accord_sync(tmp_path)
        assert hs.get("tickets", made[0]["id"])["properties"]["hs_pipeline_stage"] == "4"
        assert "Printer 1 fixed?" in {c["Subject"] for c in sf.records("Case")}
        assert len(sf.records("Case")) == 4 and len(hs.records("tickets")) == 4


def test_a_tickets_company_and_contact_follow_the_cases_account_and_contact(tmp_path: Path) -> None:
    """Case.AccountId / Case.ContactId are lookups: they hold the ticket's primary company and its
    contact, and a change on either side moves the other (issue #20, associations in full)."""
    with sandboxes() as boxes:
        hs, sf = boxes.hubspot, boxes.salesforce
        acme = hs.user_create("companies", {"name": "Acme Printing", "domain": "acme.example"})
        globex = hs.user_create("companies", {"name": "Globex", "domain": "globex.example"})
        ann = hs.user_create("contacts", {"email": "ann@acme.example", "firstname": "Ann", "lastname": "Lee"})
        ticket = hs.user_create("tickets", {"subject": "Toner leak", "hs_pipeline_stage": "1"})
        hs.associate("tickets", ticket["id"], "companies", acme["id"], primary=True)
        hs.associate("tickets", ticket["id"], "contacts", ann["id"])
        _config(tmp_path, boxes)
        cfg = yaml.safe_load((tmp_path / "accord.yaml").read_text())
        cfg["syncs"] = [
            {"name": "companies", "left": {"app": "hubspot", "object": "companies"},
             "right": {"app": "salesforce", "object": "Account"}},
            {"name": "contacts", "left": {"app": "hubspot", "object": "contacts"},
             "right": {"app": "salesforce", "object": "Contact"}},
            {**cfg["syncs"][0], "associations": ["companies", "contacts"]},
        ]
        (tmp_path / "accord.yaml").write_text(yaml.safe_dump(cfg))
        accord_sync(tmp_path, "--full")

        def account(name: str) -> str:
            return str(next(a["Id"] for a in sf.records("Account") if a["Name"] == name))

        case = next(c for c in sf.records("Case") if c["Subject"] == "Toner leak")
        ann_sf = next(c["Id"] for c in sf.records("Contact") if c["Email"] == "ann@acme.example")
        assert (case["AccountId"], case["ContactId"]) == (account("Acme Printing"), ann_sf)

        # moved in Salesforce: the ticket's primary company follows, the old one is dropped
        sf.update("Case", case["Id"], {"AccountId": account("Globex")})
        accord_sync(tmp_path)
        assert hs.primary("tickets", ticket["id"], "companies") == int(globex["id"])
        assert set(hs.store.associated(hs.store.type_of("tickets"), int(ticket["id"]),
                                       hs.store.type_of("companies"))) == {int(globex["id"])}

        # the contact removed in HubSpot: the case's ContactId is cleared
        hs.dissociate("tickets", ticket["id"], "contacts", ann["id"])
        accord_sync(tmp_path)
        case = next(c for c in sf.records("Case") if c["Subject"] == "Toner leak")
        assert case["ContactId"] is None and case["AccountId"] == account("Globex")
        assert len(sf.records("Case")) == 1 and len(hs.records("tickets")) == 1
