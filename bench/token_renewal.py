"""Long run against sandboxes whose access tokens expire every 30 seconds: credentials that renew.

A HubSpot portal (an OAuth app: client id, secret and refresh token; tokens announce their
``expires_in``, so they are renewed shortly before they expire) and a Salesforce org (a
connected app, by default on the JWT bearer flow, the headless-server choice; sessions say
nothing of their life, so they are renewed on ``401 INVALID_SESSION_ID``) are synced two-way,
contacts with Contacts, a pass every ``--interval`` seconds while people edit both apps, for
``--seconds``. Every access token lives ``--ttl`` seconds.

    python bench/token_renewal.py                   # 30 s tokens, 11 minutes
    python bench/token_renewal.py --ttl 2 --seconds 60 --no-save   # a quick look

Reports passes, failed passes (target 0), renewals per app (target >= 20 over the default
run), tokens the sandboxes issued, 401s answered, records synced and failing; saves them
under ``token_renewal`` in bench/results.json (``--no-save`` to skip). Prints one JSON line
last (``--json``) for tests/connectors/test_token_renewal.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from accord.config import parse_config  # noqa: E402
from accord.sandbox.hubspot import HubSpotSandbox, SandboxSettings  # noqa: E402
from accord.sandbox.salesforce import SalesforceSandbox  # noqa: E402
from accord.sandbox.salesforce.tls import make_jwt_keys  # noqa: E402
from accord.sandbox.server import ServerThread  # noqa: E402
from accord.session import Session  # noqa: E402


class Edits:
    """People editing both apps between passes."""

    def __init__(self, hs: HubSpotSandbox, sf: SalesforceSandbox, seed: int) -> None:
        self.hs, self.sf, self.rnd, self.n = hs, sf, random.Random(seed), 0

    def step(self) -> None:
        self.n += 1
        if self.rnd.random() < 0.5:
            self.hs.user_create("contacts", {"email": f"hs{self.n}@example.com", "firstname": "Hs",
                                             "lastname": f"Person{self.n}"})
        else:
            self.sf.create("Contact", {"Email": f"sf{self.n}@example.com", "FirstName": "Sf", "LastName": f"P{self.n}"})
        contacts = self.hs.records("contacts")
        if contacts:
            self.hs.user_update("contacts", self.rnd.choice(contacts)["id"], {"jobtitle": f"Title {self.n}"})


def _config(hs: HubSpotSandbox, hs_url: str, sf: SalesforceSandbox, sf_url: str, flow: str, state: str) -> Any:
    s, o = hs.settings, sf.settings
    salesforce: dict[str, Any] = {"type": "salesforce", "instance_url": sf_url, "client_id": o.client_id,
                                  "login_url": sf_url}
    if flow == "jwt":
        keys = make_jwt_keys()
        o.jwt_certificate = keys.certificate
        salesforce.update(username=o.username, private_key=keys.private_key)
    elif flow == "refresh_token":
        salesforce.update(client_secret=o.client_secret, refresh_token=sf.oauth.new_refresh(o.client_id))
    else:
        salesforce.update(client_secret=o.client_secret)
    return parse_config({
        "state": state,
        "apps": {"hubspot": {"type": "hubspot", "base_url": hs_url, "client_id": s.client_id,
                             "client_secret": s.client_secret, "refresh_token": hs.oauth.new_refresh(s.client_id)},
                 "salesforce": salesforce},
        "syncs": [{"name": "contacts", "left": {"app": "hubspot", "object": "contacts"},
                   "right": {"app": "salesforce", "object": "Contact"}}],
    }, "token_renewal", env={})


async def _passes(session: Session, edits: Edits, seconds: float, interval: float, say: Any) -> dict[str, Any]:
    runner = session.runner("contacts")
    passes = failed = 0
    errors: list[str] = []
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        t0 = time.monotonic()
        edits.step()
        try:
            await runner.run(full=passes % 20 == 19)  # now and then a full reconciliation
        except Exception as e:  # a failed pass: what this run must never see
            failed += 1
            errors.append(f"{type(e).__name__}: {e}"[:300])
        passes += 1
        if passes % 25 == 0:
            say(f"  {time.monotonic() - started:5.0f} s  {passes} passes, {failed} failed")
        await asyncio.sleep(max(0.0, interval - (time.monotonic() - t0)))
    return {"passes": passes, "failed_passes": failed, "errors": errors[:5]}


async def run(ttl: float, seconds: float, interval: float, flow: str, seed: int, say: Any = print) -> dict[str, Any]:
    hs = HubSpotSandbox(SandboxSettings(token_ttl=ttl, seed=seed))
    sf = SalesforceSandbox(token_ttl=ttl)
    hs_srv, sf_srv = ServerThread(hs.app).start(), ServerThread(sf.app).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            session = Session(_config(hs, hs_srv.url, sf, sf_srv.url, flow, f"sqlite:///{tmp}/index.db"))
            try:
                out = await _passes(session, Edits(hs, sf, seed), seconds, interval, say)
                hub, org = session.connector("hubspot"), session.connector("salesforce")
                out.update(renewals={"hubspot": hub.auth.renewals, "salesforce": org.auth.renewals},  # type: ignore[attr-defined]
                           tokens_issued={"hubspot": hs.oauth.issued, "salesforce": sf.oauth.issued},
                           api_calls={"hubspot": hub.counters().api_calls, "salesforce": org.counters().api_calls},
                           counts=session.store.counts("contacts"))
            finally:
                await session.aclose()
    finally:
        hs_srv.stop()
        sf_srv.stop()
        hs.close()
    out.update(ttl_seconds=ttl, seconds=seconds, interval_seconds=interval, salesforce_flow=flow)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ttl", type=float, default=30.0, help="seconds an access token lives")
    ap.add_argument("--seconds", type=float, default=660.0, help="how long to run")
    ap.add_argument("--interval", type=float, default=2.0, help="seconds between passes")
    ap.add_argument("--flow", choices=("jwt", "refresh_token", "client_credentials"), default="jwt",
                    help="Salesforce's flow")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--no-save", action="store_true")
    ap.add_argument("--json", action="store_true", help="print only the result, as one JSON line")
    a = ap.parse_args()
    say = (lambda *_: None) if a.json else print
    say(f"token renewal: tokens live {a.ttl:g} s, {a.seconds:g} s of passes every {a.interval:g} s "
        f"(Salesforce: {a.flow})")
    result = asyncio.run(run(a.ttl, a.seconds, a.interval, a.flow, a.seed, say))
    if a.json:
        print(json.dumps(result))
        return
    print(json.dumps(result, indent=2))
    if not a.no_save:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from results_file import save_section

        save_section(Path(__file__).resolve().parent / "results.json", "token_renewal", result)


if __name__ == "__main__":
    main()
