"""Deterministic realistic seed data (faker): two prospect lists, custom fields, prospects
with one or two emails and phones, spread over the past year."""

from __future__ import annotations

import base64
import random
from datetime import timedelta

from faker import Faker

from accord.sandbox.snovio.store import Prospect, Store

INDUSTRIES = ("Computer Software", "Financial Services", "Marketing and Advertising", "Retail", "Hospital & Health Care",
              "Information Technology and Services", "Education Management", "Telecommunications")
SOURCES = ("Email finder", "LinkedIn", "Domain search", "Import", "Chrome extension")


def seed(store: Store, records: int, seed: int = 0) -> dict[str, object]:
    """``records`` prospects over the lists "Cold leads" (about two thirds) and "Webinar 2024".

    Same ``seed`` → same data. About one prospect in five has a second email and one in
    three a second phone; the custom fields "Lead source" and "Seniority" exist and are
    filled for most prospects.
    """
    fake = Faker(["en_US", "en_GB", "de_DE"])
    fake.seed_instance(seed)
    rng = random.Random(seed)
    with store.lock:
        fields = {f.name: f for f in store.fields.values()}
        for name in ("Lead source", "Seniority"):
            if name not in fields:
                fields[name] = store.add_field(name)
        lists = [store.list_by_name(n) or store.create_list(n) for n in ("Cold leads", "Webinar 2024")]
        now = store.clock()
        made = []
        for i in range(records):
            first, last = fake.first_name(), fake.last_name()
            domain = f"{fake.domain_word()}{i}.{rng.choice(['com', 'io', 'de', 'co.uk'])}"
            email = f"{first}.{last}.{i}@{domain}".lower().replace(" ", "").replace("'", "")
            emails = [email] + ([f"{first[0]}{last}.{i}@{fake.free_email_domain()}".lower().replace(" ", "")
                                 .replace("'", "")] if rng.random() < 0.2 else [])
            created = now - timedelta(days=rng.randint(2, 365), seconds=rng.randint(0, 86_399))
            p = Prospect(
                id=base64.urlsafe_b64encode(rng.randbytes(16)).decode(), emails=emails,
                values={"firstName": first, "lastName": last, "country": fake.current_country(),
                        "locality": fake.city(), "industry": rng.choice(INDUSTRIES), "position": fake.job(),
                        "companyName": fake.company(), "companySite": f"https://{domain}"},
                phones=[fake.phone_number() for _ in range(1 if rng.random() < 0.67 else 2)],
                custom={f.id: v for f, v in ((fields["Lead source"], rng.choice(SOURCES)),
                                             (fields["Seniority"], rng.choice(["Junior", "Senior", "Head", "C-level"])))
                        if rng.random() < 0.8},
                source="seed", created=created,
                updated=min(created + timedelta(days=rng.randint(0, 30)), now - timedelta(seconds=1)),
            )
            store.prospects[p.id] = p
            lists[0 if rng.random() < 0.67 else 1].members[p.id] = None
            made.append(p.id)
    return {"prospects": len(made), "lists": {x.name: x.id for x in lists}}
