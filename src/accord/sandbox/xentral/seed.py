"""Deterministic seed data for a xentral instance, as xentral's HubSpot module leaves one.

The module's installation creates the group "Hubspot", labels two address free fields
for HubSpot's status, and creates a resubmission board whose stages copy HubSpot's
default deal pipeline 1:1. On top of that: ``records`` addresses (about two thirds in the
group, some with the HubSpot status set) and ``records // 2`` resubmissions on the board.
"""

from __future__ import annotations

import random
from typing import Any

from faker import Faker

from accord.sandbox.xentral.store import Store

GROUP = "Hubspot"
STATUS_LABEL = "Hubspot Status"
BOARD = "Hubspot"
# HubSpot's default sales pipeline, as the module copies it ("Automatisch": 1:1)
HUBSPOT_STAGES = ("Appointment Scheduled", "Qualified To Buy", "Presentation Scheduled", "Decision Maker Bought-In",
                  "Contract Sent", "Closed Won", "Closed Lost")
STATUSES = ("NEW", "OPEN", "IN_PROGRESS", "CONNECTED", "UNQUALIFIED")


def install(store: Store) -> dict[str, Any]:
    """What the module's installation sets up: the group, the free fields, the board and its stages."""
    with store.lock:
        group = store.group_by_name(GROUP) or store.create_group({"name": GROUP, "kennziffer": "hubspot"})
        store.free_field_labels["freifeld1"] = STATUS_LABEL
        store.free_field_labels["freifeld2"] = "Hubspot ID"
        board = next((b for b in store.boards.values() if b.name == BOARD), None)
        if board is None:
            board = store.create_board(BOARD, "HUBSPOT")
            for i, label in enumerate(HUBSPOT_STAGES):
                store.create_stage({"name": label, "view": board.id, "sort": i + 1})
        stages = [s.id for s in store.stages.values() if s.view == board.id]
        return {"group": group.id, "board": board.id, "stages": stages}


def seed(store: Store, records: int, seed: int = 0) -> dict[str, Any]:
    """Install the module's set-up, then create ``records`` addresses and ``records // 2`` resubmissions."""
    fake = Faker("de_DE")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    setup = install(store)
    ids: dict[str, Any] = {**setup, "addresses": [], "resubmissions": []}
    with store.lock:
        for i in range(records):
            first, last = fake.first_name(), fake.last_name()
            company = rng.random() < 0.2
            body: dict[str, Any] = {
                "typ": "firma" if company else rng.choice(["herr", "frau"]),
                "name": fake.company() if company else f"{first} {last}",
                "vorname": "" if company else first, "nachname": "" if company else last,
                "email": f"{first}.{last}{i}@{fake.free_email_domain()}".lower().replace(" ", ""),
                "telefon": fake.phone_number(), "strasse": fake.street_address(), "plz": fake.postcode(),
                "ort": fake.city(), "land": "DE", "lead": int(rng.random() < 0.5),
            }
            if rng.random() < 0.4:
                body["freifeld1"] = rng.choice(STATUSES)
            if rng.random() < 0.66:
                body["gruppen"] = [{"id": setup["group"]}]
            ids["addresses"].append(store.create_address(body).id)
        for i in range(records // 2):
            when = fake.date_between("-30d", "+60d").isoformat()
            r = store.create_resubmission({
                "bezeichnung": f"{fake.catch_phrase()} {i}", "betrag": rng.choice([500, 1200, 4800, 15000]),
                "stages": rng.choice(setup["stages"]), "chance": rng.choice([10, 20, 40, 60, 80]),
                "adresse": rng.choice(ids["addresses"]) if ids["addresses"] else 0,
                "datum_erinnerung": when, "zeit_erinnerung": "09:00:00", "datum_abschluss": when,
            })
            ids["resubmissions"].append(r.id)
    return ids
