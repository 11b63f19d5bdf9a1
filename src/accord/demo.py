"""``accord demo``: two apps seeded with overlapping, conflicting records, synced before your eyes.

Runs fully offline on the embedded default (SQLite index, apps in-process). Until the
vendor sandboxes are wired in, both sides are in-memory apps shaped like CRMs.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from faker import Faker
from rich.console import Console

from accord.config import parse_config
from accord.connectors.memory import MemoryApp
from accord.model import Pipeline, Stage
from accord.runner import PassResult
from accord.session import Session

DEMO_SYNCS: list[dict[str, Any]] = [
    {"name": "contacts", "left": {"app": "crm", "object": "contacts"}, "right": {"app": "sales", "object": "contacts"},
     "winner": "crm", "constants": {"to_right": {"source": "from CRM"}}},
    {"name": "companies", "left": {"app": "crm", "object": "companies"}, "right": {"app": "sales", "object": "companies"}},
    {"name": "deals", "left": {"app": "crm", "object": "deals"}, "right": {"app": "sales", "object": "deals"},
     "stages": "auto"},
]


def seed_apps(crm: MemoryApp, sales: MemoryApp, records: int, seed: int) -> None:
    """Overlapping records with conflicting values, duplicates and contacts without email."""
    fake = Faker()
    Faker.seed(seed)
    rnd = random.Random(seed)
    sales.set_pipelines("deals", [Pipeline("sales", "Sales", tuple(Stage(f"s{i}", label) for i, label in enumerate(
        ("Appointment Scheduled", "Qualified", "Presentation", "Contract Sent", "Closed Won", "Closed Lost"))))])
    for i in range(records):
        first, last = fake.first_name(), fake.last_name()
        email = f"{first}.{last}.{i}@{fake.free_email_domain()}".lower()
        base: dict[str, str | None] = {"first_name": first, "last_name": last, "email": email, "phone": fake.phone_number(),
                "job_title": fake.job(), "city": fake.city(), "country": fake.country()}
        roll = rnd.random()
        if roll < 0.03:
            base["email"] = None  # no match key: excluded unless the sync allows it
        if roll < 0.5 or roll >= 0.75:
            crm.user_create("contacts", base)
        if roll >= 0.5:
            twin = dict(base)
            if roll >= 0.75:  # in both apps, with conflicting edits
                twin["phone"] = fake.phone_number()
                twin["job_title"] = fake.job() if rnd.random() < 0.5 else None
                twin["email"] = (base["email"] or "").upper() or None
            sales.user_create("contacts", twin)
            if rnd.random() < 0.02:
                sales.user_create("contacts", twin)  # a duplicate in the same app
        company = {"name": fake.company(), "domain": fake.domain_name(), "city": fake.city(), "industry": fake.bs().split()[0]}
        if i % 2 == 0:
            (crm if rnd.random() < 0.6 else sales).user_create("companies", company)
            if rnd.random() < 0.3:
                sales.user_create("companies", {**company, "city": fake.city()})
        if i % 3 == 0:
            stages = [s.id for s in crm.pipeline_defs["deals"][0].stages]
            app = crm if rnd.random() < 0.5 else sales
            stage = rnd.choice(stages) if app is crm else rnd.choice([s.id for s in sales.pipeline_defs["deals"][0].stages])
            app.user_create("deals", {"name": f"{fake.company()} deal", "amount": rnd.randint(1, 500) * 100,
                                      "stage": stage, "close_date": fake.date_this_year().isoformat()})


def user_edits(apps: list[MemoryApp], rnd: random.Random, fake: Faker, n: int = 5) -> None:
    for _ in range(n):
        app = rnd.choice(apps)
        live = app.live("contacts")
        if live:
            rec = rnd.choice(live)
            app.user_update("contacts", rec.id, {"job_title": fake.job(), "phone": fake.phone_number()})
    apps[0].user_create("contacts", {"first_name": fake.first_name(), "last_name": fake.last_name(),
                                     "email": fake.unique.email()})


async def run_demo(*, records: int, serve: bool, port: int, state: str | None, seed: int, console: Console,
                   progress: Callable[[bool], AbstractContextManager[Any]]) -> int:
    tmp = tempfile.TemporaryDirectory()
    url = state or f"sqlite:///{Path(tmp.name) / 'accord-demo.db'}"
    cfg = parse_config({"state": url, "apps": {"crm": {"type": "memory"}, "sales": {"type": "memory"}},
                        "syncs": DEMO_SYNCS}, "demo", env={})
    crm, sales = MemoryApp("crm", id_prefix="c"), MemoryApp("sales", id_prefix="s")
    seed_apps(crm, sales, records, seed)
    session = Session(cfg, connectors={"crm": crm, "sales": sales})
    from accord.cli import summary_table

    console.print(f"Seeded two apps with {records} records per object (overlapping, conflicting, with duplicates).")
    results: list[PassResult] = []
    with progress(True) as bar:
        for s in cfg.syncs:
            results.append(await session.runner(s.name, bar).run())
    console.print(summary_table(results, session.store))
    if serve:
        console.print("Incremental sync every 3 s while simulated users edit both apps. Ctrl-C to stop.")
        rnd, fake = random.Random(seed), Faker()
        try:
            while True:
                await asyncio.sleep(3)
                user_edits([crm, sales], rnd, fake)
                for s in cfg.syncs:
                    r = await session.runner(s.name).run()
                    k = r.counters
                    if sum(k.updated.values()) + sum(k.created.values()):
                        console.print(f"{s.name}: created {k.created}, updated {k.updated}, conflicts {k.conflicts}")
        except (KeyboardInterrupt, asyncio.CancelledError):
            pass
    await session.aclose()
    tmp.cleanup()
    return 0
