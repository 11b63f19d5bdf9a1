"""Deterministic realistic seed data (faker): companies, contacts working there, deals."""

from __future__ import annotations

import random

from faker import Faker

from accord.sandbox.hubspot.schema import COMPANY_INDUSTRY, LEAD_STATUS, LIFECYCLE, PIPELINES
from accord.sandbox.hubspot.store import SEED, Store

DAY_MS = 86_400_000


def seed(store: Store, records: int, seed: int = 0) -> dict[str, list[int]]:
    """Create ``records`` companies, contacts and deals, associated with each other.

    Same ``seed`` → same data (emails, names, timestamps relative to the store clock's day).
    Timestamps are spread over the past year so change cursors have something to walk.
    """
    fake = Faker(["en_US", "de_DE", "en_GB"])
    fake.seed_instance(seed)
    rng = random.Random(seed)
    now = store.clock()
    today = now - now % DAY_MS

    def stamps() -> tuple[int, int]:
        created = today - rng.randint(2, 365) * DAY_MS + rng.randint(0, DAY_MS - 1)
        return created, min(created + rng.randint(0, 30 * DAY_MS), now - 1)

    ids: dict[str, list[int]] = {"companies": [], "contacts": [], "deals": []}
    with store.lock:
        companies: list[tuple[int, str, str]] = []
        seen: set[str] = set()
        for i in range(records):
            name = fake.company()
            name = name if name not in seen else f"{name} {i}"  # names match companies: keep them unique
            seen.add(name)
            domain = f"{fake.domain_word()}{i}.{rng.choice(['com', 'io', 'de', 'co.uk'])}"
            created, modified = stamps()
            obj = store.create("companies", {
                "name": name, "domain": domain, "industry": rng.choice(COMPANY_INDUSTRY), "city": fake.city(),
                "country": fake.current_country(), "phone": fake.phone_number(),
                "numberofemployees": str(rng.choice([5, 12, 40, 120, 500, 2000])),
            }, SEED, at=created, modified_at=modified)
            companies.append((obj.id, name, domain))
            ids["companies"].append(obj.id)
        for i in range(records):
            first, last = fake.first_name(), fake.last_name()
            comp = companies[rng.randrange(len(companies))] if companies else None
            domain = comp[2] if comp else fake.free_email_domain()
            email = f"{first}.{last}.{i}@{domain}".lower().replace(" ", "").replace("'", "")
            created, modified = stamps()
            obj = store.create("contacts", {
                "firstname": first, "lastname": last, "email": email, "phone": fake.phone_number(),
                "company": comp[1] if comp else "", "jobtitle": fake.job(),
                "lifecyclestage": rng.choice(LIFECYCLE), "hs_lead_status": rng.choice(LEAD_STATUS),
                "country": fake.current_country(), "industry": rng.choice(COMPANY_INDUSTRY).replace("_", " ").title(),
            }, SEED, at=created, modified_at=modified)
            ids["contacts"].append(obj.id)
            if comp:
                store.associate("contacts", obj.id, "companies", comp[0], 279)
                store.associate("contacts", obj.id, "companies", comp[0], 1)
        for _ in range(records):
            pipeline = PIPELINES[0] if rng.random() < 0.8 else PIPELINES[1]
            stage = rng.choice(pipeline["stages"])[0]
            created, modified = stamps()
            close = created + rng.randint(10, 120) * DAY_MS
            comp = companies[rng.randrange(len(companies))] if companies else None
            obj = store.create("deals", {
                "dealname": f"{comp[1] if comp else fake.bs().title()} – {fake.word().title()} deal",
                "amount": str(rng.randrange(500, 250_000, 50)), "pipeline": pipeline["id"], "dealstage": stage,
                "closedate": str(close),
            }, SEED, at=created, modified_at=modified)
            ids["deals"].append(obj.id)
            if comp:
                store.associate("deals", obj.id, "companies", comp[0], 341)
            if ids["contacts"]:
                store.associate("deals", obj.id, "contacts", rng.choice(ids["contacts"]), 3)
    return ids
