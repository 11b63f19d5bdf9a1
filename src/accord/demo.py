"""``accord demo``: HubSpot and Salesforce sandboxes seeded with overlapping, conflicting records, synced.

Runs fully offline on the embedded default: an SQLite sync index and both vendor sandboxes
in-process, served over loopback HTTP (HubSpot) and HTTPS (Salesforce, with a throw-away CA),
reached by the real connectors exactly as a user's ``accord.yaml`` would reach them.

The seed (see ``docs/demo.md``): contacts, companies and deals on both sides, some in one
app only, some in both with conflicting values; contacts without an email; duplicate
contacts in Salesforce and duplicate companies in HubSpot; deals in stages ``stages: auto``
maps and in stages it leaves unmapped.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn
from faker import Faker
from rich.console import Console

from accord.config import Config, parse_config
from accord.ordering import run_order
from accord.report import changes_line, reasons_line, summary_table
from accord.runner import PassResult
from accord.sandbox.hubspot import HubSpotSandbox
from accord.sandbox.hubspot import SandboxSettings as HubSpotSettings
from accord.sandbox.salesforce import SalesforceSandbox
from accord.sandbox.server import ServerThread
from accord.session import Session

if TYPE_CHECKING:
    from accord.service.core import Service

DEMO_SYNCS: list[dict[str, Any]] = [
    # companies first (they would run first anyway, accord.ordering): contacts and deals keep their
    # company associations through this sync
    {"name": "companies", "left": {"app": "hubspot", "object": "companies"},
     "right": {"app": "salesforce", "object": "Account"}, "winner": "hubspot"},
    {"name": "contacts", "left": {"app": "hubspot", "object": "contacts"},
     "right": {"app": "salesforce", "object": "Contact"}, "winner": "hubspot", "associations": ["companies"]},
    {"name": "deals", "left": {"app": "hubspot", "object": "deals"},
     "right": {"app": "salesforce", "object": "Opportunity"}, "stages": "auto", "winner": "salesforce",
     # deals have no match key by default: matched by name, the twins of an earlier sync pair up (and
     # the first pass need not wait for a confirmation, README "A sync with no match key …")
     "match": [{"left": "dealname", "right": "Name"}], "associations": ["companies"]},
]

# Stages `stages: auto` pairs by label (HubSpot id → Salesforce API name), and some it leaves unmapped.
MAPPED_STAGES = {"closedwon": "Closed Won", "closedlost": "Closed Lost", "decisionmakerboughtin": "Id. Decision Makers"}
UNMAPPED_HUBSPOT = ("appointmentscheduled", "qualifiedtobuy", "contractsent")
UNMAPPED_SALESFORCE = ("Prospecting", "Needs Analysis", "Negotiation/Review")
# HubSpot industries with a Salesforce counterpart in the default value map (accord.catalog.VALUE_MAPS).
INDUSTRIES = {"COMPUTER_SOFTWARE": "Technology", "FINANCIAL_SERVICES": "Finance", "RETAIL": "Retail",
              "HOSPITAL_HEALTH_CARE": "Healthcare", "EDUCATION_MANAGEMENT": "Education"}


@dataclass
class Seeded:
    """What the seed put where (for the summary line and for tests)."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n


def seed_sandboxes(hs: HubSpotSandbox, sf: SalesforceSandbox, records: int, seed: int) -> Seeded:
    """``records`` contacts, ``records // 2`` companies and ``records // 3`` deals across both apps.

    Contacts: 35 % HubSpot only, 30 % Salesforce only, 30 % in both with conflicting phone and
    title (and the e-mail in another case), 5 % without e-mail; 2 % of the Salesforce ones
    have a duplicate. Companies: 40 % / 30 % / 30 % the same way (matched by name or by the
    domain of the Salesforce website), a few HubSpot duplicates. Deals: half in each app,
    80 % in stages the automatic stage map pairs.
    """
    fake = Faker(["en_US", "en_GB", "de_DE"])
    fake.seed_instance(seed)
    rnd = random.Random(seed)
    out = Seeded()
    # one Faker and one Random through all steps, in this order: the same seed gives the same data
    _seed_contacts(hs, sf, records, fake, rnd, out)
    _seed_companies(hs, sf, records // 2, fake, rnd, out)
    _seed_deals(hs, sf, records // 3, fake, rnd, out)
    _seed_companies_of_records(hs, sf, rnd, out)
    return out


def _seed_contacts(hs: HubSpotSandbox, sf: SalesforceSandbox, n: int, fake: Faker, rnd: random.Random,
                   out: Seeded) -> None:
    for i in range(n):
        first, last = fake.first_name(), fake.last_name()
        slug = "".join(c for c in f"{first}.{last}".lower() if (c.isascii() and c.isalpha()) or c == ".")
        email: str | None = f"{slug}.{i}@{fake.free_email_domain()}"
        city, country, phone, title = fake.city(), fake.current_country(), fake.phone_number(), fake.job()[:120]
        roll = rnd.random()
        if roll < 0.05:
            email = None  # no match key: excluded/no_match_key
        hs_props = {"firstname": first, "lastname": last, "email": email, "phone": phone, "jobtitle": title,
                    "city": city, "country": country, "lifecyclestage": rnd.choice(["lead", "customer"])}
        sf_props = {"FirstName": first, "LastName": last, "Email": email, "Phone": phone, "Title": title,
                    "MailingCity": city, "MailingCountry": country}
        where = rnd.random()
        if email is None:  # counted as records, one per app it is in, as the summary counts them
            out.add("contacts without email", 1 if where < 0.65 else 2)
        if where < 0.35:
            hs.user_create("contacts", hs_props)
        elif where < 0.65:
            sf.create("Contact", sf_props)
            if email and rnd.random() < 0.02:
                sf.create("Contact", {**sf_props, "FirstName": fake.first_name()})  # excluded/duplicate
                out.add("duplicate contacts")
        else:
            hs.user_create("contacts", hs_props)
            sf.create("Contact", {**sf_props, "Email": email.upper() if email else None,
                                  "Phone": fake.phone_number(), "Title": fake.job()[:120] if rnd.random() < 0.5 else None})
            out.add("contacts in both apps (conflicting)")


def _seed_companies(hs: HubSpotSandbox, sf: SalesforceSandbox, n: int, fake: Faker, rnd: random.Random,
                    out: Seeded) -> None:
    for i in range(n):
        name = f"{fake.company()} {i}"
        domain = f"{fake.domain_word()}{i}.{rnd.choice(['com', 'io', 'de'])}"
        industry = rnd.choice(list(INDUSTRIES))
        hs_co = {"name": name, "domain": domain, "industry": industry, "city": fake.city(), "phone": fake.phone_number()}
        sf_co = {"Name": name, "Website": f"https://www.{domain}/", "Industry": INDUSTRIES[industry],
                 "BillingCity": hs_co["city"], "Phone": hs_co["phone"]}
        where = rnd.random()
        if where < 0.4:
            hs.user_create("companies", hs_co)
            if rnd.random() < 0.03:
                hs.user_create("companies", {**hs_co, "city": fake.city()})  # same name and domain: a duplicate
                out.add("duplicate companies")
        elif where < 0.7:
            sf.create("Account", sf_co)
        else:
            hs.user_create("companies", hs_co)
            sf.create("Account", {**sf_co, "Name": name.upper(), "BillingCity": fake.city()})
            out.add("companies in both apps (conflicting)")


def _seed_deals(hs: HubSpotSandbox, sf: SalesforceSandbox, n: int, fake: Faker, rnd: random.Random,
                out: Seeded) -> None:
    today = date.today()
    for _ in range(n):
        name = f"{fake.company()} – {fake.word().title()} deal"
        amount = rnd.randrange(500, 250_000, 50)
        close = (today + timedelta(days=rnd.randint(-60, 120))).isoformat()
        mapped = rnd.random() < 0.8
        if rnd.random() < 0.5:
            stage = rnd.choice(list(MAPPED_STAGES)) if mapped else rnd.choice(UNMAPPED_HUBSPOT)
            hs.user_create("deals", {"dealname": name, "amount": str(amount), "pipeline": "default",
                                     "dealstage": stage, "closedate": close})
        else:
            stage = rnd.choice(list(MAPPED_STAGES.values())) if mapped else rnd.choice(UNMAPPED_SALESFORCE)
            sf.create("Opportunity", {"Name": name, "Amount": amount, "StageName": stage, "CloseDate": close})
        if not mapped:
            out.add("deals in unmapped stages")


def _seed_companies_of_records(hs: HubSpotSandbox, sf: SalesforceSandbox, rnd: random.Random, out: Seeded) -> None:
    """Some contacts and deals belong to a company (HubSpot associations, Salesforce AccountId)."""
    hs_companies = [str(c["id"]) for c in hs.records("companies")]
    accounts = [str(a["Id"]) for a in sf.records("Account")]
    for obj in ("contacts", "deals"):
        for rec in hs.records(obj):
            if hs_companies and rnd.random() < 0.3:
                hs.associate(obj, rec["id"], "companies", rnd.choice(hs_companies))
                out.add("contacts and deals with a company")
    for obj in ("Contact", "Opportunity"):
        for rec in sf.records(obj):
            if accounts and rnd.random() < 0.3:
                sf.update(obj, str(rec["Id"]), {"AccountId": rnd.choice(accounts)})


def _port(wanted: int | None) -> int | None:
    """``wanted`` if it is free on loopback, else ``None`` (any free port)."""
    if not wanted:
        return None
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", wanted))
        except OSError:
            return None
    return wanted


@dataclass
class Sandboxes:
    hubspot: HubSpotSandbox
    salesforce: SalesforceSandbox
    hubspot_server: ServerThread

    def config(self, state: str) -> Config:
        """The ``accord.yaml`` a user would write for these two apps and the three syncs."""
        assert self.salesforce.tls is not None
        return parse_config({
            "state": state,
            "apps": {
                "hubspot": {"type": "hubspot", "token": "demo-token", "base_url": self.hubspot_server.url,
                            "poll": "3s"},
                # a connected app's client credentials, as docs/connectors/salesforce.md recommends for a
                # server: Accord renews the session itself when it expires (the sandbox's live 2 hours)
                "salesforce": {"type": "salesforce", "instance_url": self.salesforce.url,
                               "client_id": self.salesforce.settings.client_id,
                               "client_secret": self.salesforce.settings.client_secret,
                               "verify": self.salesforce.tls.cafile, "poll": "3s"},
            },
            "syncs": DEMO_SYNCS,
        }, "demo", env={})


def _no_proxy_for_loopback() -> None:
    """The sandboxes are on loopback: a proxy configured in the environment must not be used for them."""
    for var in ("NO_PROXY", "no_proxy"):
        have = [h.strip() for h in os.environ.get(var, "").split(",") if h.strip()]
        os.environ[var] = ",".join(have + [h for h in ("127.0.0.1", "localhost") if h not in have])


@contextmanager
def sandboxes(port: int | None = None) -> Iterator[Sandboxes]:
    """Both vendor sandboxes on loopback: HubSpot on ``port`` (if free), Salesforce on the next one."""
    _no_proxy_for_loopback()
    hs = HubSpotSandbox(HubSpotSettings())
    sf = SalesforceSandbox()
    hs_srv = ServerThread(hs.app, port=_port(port)).start()
    try:
        sf.start(port=_port(port + 1) if port else None)
        try:
            yield Sandboxes(hs, sf, hs_srv)
        finally:
            sf.stop()
    finally:
        hs_srv.stop()
        hs.close()


class UserSimulator:
    """People editing both apps between passes: updates, new records, stage changes."""

    def __init__(self, boxes: Sandboxes, seed: int) -> None:
        self.hs, self.sf = boxes.hubspot, boxes.salesforce
        self.rnd = random.Random(seed)
        self.fake = Faker()
        self.fake.seed_instance(seed + 1)
        self.n = 0

    def _pick(self, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
        return self.rnd.choice(rows) if rows else None

    def step(self) -> list[str]:
        rnd, fake = self.rnd, self.fake
        self.n += 1
        done = []
        for _ in range(rnd.randint(1, 3)):
            c = self._pick(self.hs.records("contacts"))
            if c:
                self.hs.user_update("contacts", c["id"], {"jobtitle": fake.job()[:120]})
                done.append(f"HubSpot: new job title for contact {c['id']}")
            s = self._pick(self.sf.records("Contact"))
            if s:
                self.sf.update("Contact", s["Id"], {"Phone": fake.phone_number()})
                done.append(f"Salesforce: new phone for Contact {s['Id']}")
        o = self._pick([r for r in self.sf.records("Opportunity") if r["StageName"] in MAPPED_STAGES.values()])
        if o:
            self.sf.update("Opportunity", o["Id"], {"StageName": rnd.choice(list(MAPPED_STAGES.values())),
                                                    "Amount": rnd.randrange(500, 250_000, 50)})
            done.append(f"Salesforce: stage/amount of Opportunity {o['Id']}")
        first, last = fake.first_name(), fake.last_name()
        email = f"{first}.{last}.live{self.n}@example.com".lower().replace(" ", "")
        if rnd.random() < 0.5:
            self.hs.user_create("contacts", {"firstname": first, "lastname": last, "email": email})
            done.append(f"HubSpot: new contact {email}")
        else:
            self.sf.create("Contact", {"FirstName": first, "LastName": last, "Email": email})
            done.append(f"Salesforce: new Contact {email}")
        return done


async def run_demo(*, records: int, serve: bool, port: int, state: str | None, seed: int, console: Console,
                   progress: Callable[[bool], AbstractContextManager[Any]], interval: float = 3.0,
                   rounds: int | None = None, ready: Callable[[Dashboard], None] | None = None) -> int:
    """Seed, sync, summarise; then (``serve``) serve the dashboard on ``port`` and sync
    incrementally while users edit, until Ctrl-C.

    ``rounds`` bounds the incremental loop (tests); ``None`` runs until interrupted. ``ready``
    is called with the dashboard's address and login link once it serves (tests).
    """
    with tempfile.TemporaryDirectory() as tmp, sandboxes(_sandbox_port(port)) as boxes:
        url = state or f"sqlite:///{Path(tmp) / 'accord-demo.db'}"
        seeded = seed_sandboxes(boxes.hubspot, boxes.salesforce, records, seed)
        cfg = boxes.config(url)
        console.print(f"HubSpot sandbox on {boxes.hubspot_server.url}, Salesforce sandbox on {boxes.salesforce.url}")
        console.print(f"Seeded {records} contacts, {records // 2} companies and {records // 3} deals across both apps: "
                      + ", ".join(f"{v} {k}" for k, v in seeded.counts.items()) + ".")
        session = Session(cfg)
        try:
            results: list[PassResult] = []
            with progress(True) as bar:
                for s in run_order(cfg.syncs):  # each after the syncs its associations name
                    results.append(await session.runner(s.name, bar).run())
            listed = [s.name for s in cfg.syncs]
            results.sort(key=lambda r: listed.index(r.sync))  # shown in the config's order
            console.print(summary_table(results, session.store))
            for r in results:
                reasons = session.store.reason_counts(r.sync)
                if reasons:
                    console.print(reasons_line(r.sync, reasons))
            if serve:
                await _serve(session, cfg, boxes, console, seed, interval, rounds, port, ready)
        finally:
            await session.aclose()
    return 0


def _sandbox_port(port: int) -> int | None:
    """The dashboard takes ``port``; the HubSpot and Salesforce sandboxes the next two (when free)."""
    return port + 1 if port else None


@dataclass
class Dashboard:
    """Where the demo's dashboard is, and how to get in."""

    url: str
    login_link: str
    token: str
    taken: int | None = None  # the port asked for, in use by another program


async def _serve(session: Session, cfg: Config, boxes: Sandboxes, console: Console, seed: int, interval: float,
                 rounds: int | None, port: int, ready: Callable[[Dashboard], None] | None) -> None:
    """The dashboard on ``port`` (a free one if taken) beside the sandboxes, and incremental passes
    every ``interval`` seconds while simulated users edit both apps."""
    from accord.service.core import Service

    service = Service(cfg, session, schedule=False)  # the demo runs the passes itself, and prints them
    async with _dashboard(service, cfg, port) as dash:
        _say_dashboard(console, dash, interval)
        if ready is not None:
            ready(dash)
        users = UserSimulator(boxes, seed)
        n = 0
        try:
            while rounds is None or n < rounds:
                n += 1
                await asyncio.sleep(interval)
                for edit in users.step():
                    console.print(f"  [dim]{edit}[/dim]")
                # the service's syncs as they are now: one added in the dashboard runs too, one
                # disabled or deleted there does not
                for s in run_order([slot.cfg for slot in service.slots.values()]):
                    if s.name not in service.slots or not service.enabled(s.name):
                        continue
                    result = await service.run_pass(s.name)  # None: a pass started from the dashboard runs
                    synced = changes_line(result) if result is not None else None
                    if synced:
                        console.print(synced)
        except (KeyboardInterrupt, asyncio.CancelledError):
            console.print("stopped")


def _say_dashboard(console: Console, dash: Dashboard, interval: float) -> None:
    console.print()
    console.rule("[bold]Dashboard[/bold]")
    if dash.taken:
        console.print(f"Port {dash.taken} is in use (another demo still running?), so the dashboard is on another "
                      "port: use the link below.", soft_wrap=True, highlight=False)
    console.print("Open this link in your browser to log in (it works once, within an hour):")
    console.print(f"  [bold]{dash.login_link}[/bold]", soft_wrap=True, highlight=False)
    console.print(f"The dashboard is at {dash.url}; API token (for the REST API, and to log in again): "
                  f"{dash.token}", soft_wrap=True, highlight=False)
    console.rule()
    console.print(f"Incremental sync every {interval:g} s while simulated users edit both apps; "
                  "the dashboard's counts follow. Ctrl-C stops the demo.")


@asynccontextmanager
async def _dashboard(service: Service, cfg: Config, port: int) -> AsyncIterator[Dashboard]:
    """``accord run``'s app for ``service``, served from this event loop on loopback."""
    from accord.service import StartupError, bind
    from accord.service.app import create_app
    from accord.service.web import new_token, one_time_login_url

    taken: int | None = None
    try:
        sock = bind("127.0.0.1", port or 0)
    except StartupError:
        sock, taken = bind("127.0.0.1", 0), port  # the port is taken: any free one (said, with the address)
    token = new_token()
    app = create_app(cfg, service, token=token)
    server = _QuietServer(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # its error
                raise RuntimeError("the dashboard did not start")
            await asyncio.sleep(0.02)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        yield Dashboard(f"{url}/", one_time_login_url(app, url), token, taken)
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.shield(task)
        sock.close()


class _QuietServer(uvicorn.Server):
    """uvicorn without signal handlers of its own: Ctrl-C stops the demo, which stops the server."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield
