"""Peer benchmark: a one-way Salesforce → SQLite load of Contacts, Accord against singer's tap-salesforce.

One Salesforce sandbox process (uvicorn over TLS on loopback, with a CA made for the run) holds
N Contacts (the sandbox's realistic seed, Contacts only, each given an email of its own). Two loads of them into an empty SQLite
table, each a separate run of its own processes, timed from process start to exit:

* **Accord → SQLite**: ``accord sync`` of a one-way sync, left: Salesforce ``Contact``, right: a
  ``sql`` app's ``contacts`` table (the default contact mappings plus ``Id`` → ``salesforce_id``;
  the connected app's refresh-token flow; the sync index in SQLite on local disk). The table
  exists beforehand (the SQL connector syncs a table of yours; it does not create it).
* **tap-salesforce → SQLite**: singer-io's ``tap-salesforce`` (PyPI, pinned below; installed by
  this script into ``bench/.peer-venv/``), ``api_type: REST``, its login URL
  (``https://login.salesforce.com``, hard-coded) pointed at the sandbox at run time by
  ``bench/peer_redirect.py``; the sandbox's token endpoint answers with its own ``instance_url``,
  which the tap then uses for every query, as it would with a real org. The Contact stream with
  the same fields selected (and the ones the tap always adds: ``Id``, ``SystemModstamp``) is piped
  into ``bench/peer_target_sqlite.py`` (its table named after the stream, ``Contact``) (batched ``executemany`` upserts), as in bench/peer.py. The
  catalog is made once before the timed run with the tap's own ``--discover``.

Both get the refresh token a person would get once by clicking Allow on the connected app's
consent page (done here over HTTP). API calls are the sandbox's API-usage counter over each run
(what counts against an org's daily limit); CPU is the user + system time of the run's own
processes. The sandbox's default query page (2,000 records) applies to both. The peer must read
every record: the target's row count is checked (and so is the sandbox's fidelity).

    python bench/peer_salesforce.py                     # 50,000 Contacts
    python bench/peer_salesforce.py --records 2000 --repeat 1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from peer import accord_bin, children_cpu, median_run, peer_python
from results_file import save_section
from sqlalchemy import Boolean, Column, DateTime, Integer, MetaData, String, Table, create_engine, text

from accord.catalog import object_info

BENCH = Path(__file__).resolve().parent
TAP = ["tap-salesforce==2.8.1"]
CONCEPTS = object_info("salesforce", "Contact").concepts  # type: ignore[union-attr]
FIELDS = list(CONCEPTS.values())  # the Salesforce fields of the default contact mappings
REDIRECT_URI = "http://127.0.0.1/bench-callback"


# -- the sandbox process --------------------------------------------------------------------------
def serve(port: int, records: int) -> None:
    """Child process: a Salesforce sandbox with ``records`` Contacts, over TLS on 127.0.0.1:port."""
    import uvicorn

    from accord.sandbox.salesforce import SalesforceSandbox, SandboxSettings
    from accord.sandbox.salesforce.tls import make_certificates

    sb = SalesforceSandbox(SandboxSettings(daily_limit=10_000_000))
    sb.org.seed(records, 7, objects=("Contact",))
    # every Contact with an email of its own (the seed leaves some blank and repeats a few): the
    # sync matches by email, and records without one, or with another's, would not be loaded
    with sb.org.lock:
        for i, row in enumerate(sb.org.rows["Contact"].values()):
            row["Email"] = f"contact{i}@example{i % 997}.com"
    files = make_certificates()
    print(f"ready {files.cafile}", flush=True)
    uvicorn.run(sb.app, host="127.0.0.1", port=port, log_level="warning", access_log=False, date_header=False,
                ssl_certfile=files.certfile, ssl_keyfile=files.keyfile)


def start_sandbox(records: int) -> tuple[subprocess.Popen[str], str, str]:
    from accord.sandbox.server import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port), "--records", str(records)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().split()
    if not line or line[0] != "ready":
        raise RuntimeError("sandbox did not start")
    url, cafile = f"https://127.0.0.1:{port}", line[1]
    for _ in range(200):
        try:
            admin(url, cafile, "GET", "/_sandbox/stats")
            return proc, url, cafile
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"sandbox on {url} does not answer")


def admin(url: str, cafile: str, method: str, path: str, form: dict[str, str] | None = None) -> Any:
    import ssl

    ctx = ssl.create_default_context(cafile=cafile)
    data = urllib.parse.urlencode(form).encode() if form is not None else None

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=ctx), NoRedirect)
    req = urllib.request.Request(url + path, data=data, method=method)
    try:
        with opener.open(req, timeout=60) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        if e.code == 302:
            return {"location": e.headers["Location"]}
        raise


def refresh_token(url: str, cafile: str) -> tuple[str, str, str]:
    """(client id, secret, refresh token): the connected app's consent, Allow clicked, the code redeemed."""
    cid, secret = "accord-sandbox-consumer-key", "accord-sandbox-consumer-secret"
    allowed = admin(url, cafile, "POST", "/services/oauth2/authorize", {
        "client_id": cid, "redirect_uri": REDIRECT_URI, "scope": "api refresh_token", "state": "bench",
        "decision": "allow"})
    code = urllib.parse.parse_qs(urllib.parse.urlparse(allowed["location"]).query)["code"][0]
    tok = admin(url, cafile, "POST", "/services/oauth2/token", {
        "grant_type": "authorization_code", "code": code, "client_id": cid, "client_secret": secret,
        "redirect_uri": REDIRECT_URI})
    return cid, secret, str(tok["refresh_token"])


def api_usage(url: str, cafile: str) -> int:
    return int(admin(url, cafile, "GET", "/_sandbox/stats")["api_usage"])


# -- one run each ---------------------------------------------------------------------------------------
def table_check(url: str, table: str, email_column: str) -> dict[str, int]:
    eng = create_engine(url)
    with eng.connect() as c:
        rows, emails = c.execute(text(f"SELECT count(*), count(DISTINCT {email_column}) FROM {table}")).one()
    eng.dispose()
    return {"rows": int(rows), "distinct_emails": int(emails)}


def accord_table(db_url: str) -> None:
    meta = MetaData()
    Table("contacts", meta, Column("id", Integer, primary_key=True, autoincrement=True),
          Column("salesforce_id", String(18)), *[Column(c, String(255)) for c in CONCEPTS],
          Column("updated_at", DateTime, nullable=False), Column("deleted", Boolean, default=False))
    eng = create_engine(db_url)
    meta.create_all(eng)
    if db_url.startswith("sqlite"):  # in WAL mode, as the peers' targets set theirs (Accord keeps a file's own mode)
        with eng.begin() as c:
            c.exec_driver_sql("PRAGMA journal_mode=WAL")
    eng.dispose()


def run_accord(sandbox: str, cafile: str, oauth: tuple[str, str, str], db_url: str, tmp: Path) -> dict[str, Any]:
    accord_table(db_url)
    work = Path(tempfile.mkdtemp(dir=tmp))
    cid, secret, refresh = oauth
    cfg = {
        "state": f"sqlite:///{work}/index.db",
        "apps": {"sf": {"type": "salesforce", "instance_url": sandbox, "login_url": sandbox, "client_id": cid,
                        "client_secret": secret, "refresh_token": refresh, "verify": cafile},
                 "db": {"type": "sql", "url": db_url, "tables": {"contacts": "contacts"}}},
        "syncs": [{"name": "contacts", "left": {"app": "sf", "object": "Contact"},
                   "right": {"app": "db", "object": "contacts"}, "direction": "left-to-right",
                   "mappings": [{"left": "Id", "right": "salesforce_id"}]}],
    }
    (work / "accord.yaml").write_text(yaml.safe_dump(cfg))
    before, cpu0 = api_usage(sandbox, cafile), children_cpu()
    t0 = time.perf_counter()
    p = subprocess.run([accord_bin(), "sync", "-c", str(work / "accord.yaml"), "--json"], capture_output=True,
                       text=True, cwd=work)
    seconds = time.perf_counter() - t0
    cpu = children_cpu() - cpu0
    if p.returncode != 0:
        raise RuntimeError(f"accord sync failed ({p.returncode}): {p.stderr[-2000:]}")
    res = json.loads(p.stdout)[0]
    return {"seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2),
            "api_calls": api_usage(sandbox, cafile) - before, "created": res["created"],
            "table": table_check(db_url, "contacts", "email")}


def tap_config(work: Path, sandbox: str, oauth: tuple[str, str, str]) -> Path:
    cid, secret, refresh = oauth
    path = work / "tap.json"
    path.write_text(json.dumps({"client_id": cid, "client_secret": secret, "refresh_token": refresh,
                                "start_date": "2000-01-01T00:00:00Z", "api_type": "REST",
                                "select_fields_by_default": False}))
    return path


def tap_env(cafile: str) -> dict[str, str]:
    return {**os.environ, "REQUESTS_CA_BUNDLE": cafile}  # the sandbox's CA, as a client of a private CA sets it


def tap_catalog(tap_py: Path, sandbox: str, cafile: str, oauth: tuple[str, str, str], work: Path) -> Path:
    """The tap's ``--discover`` catalog with only Contact selected, and of it the mapped fields."""
    out = subprocess.run([str(tap_py), str(BENCH / "peer_redirect.py"), "tap-salesforce", sandbox, "--discover",
                          "--config", str(tap_config(work, sandbox, oauth))],
                         capture_output=True, text=True, env=tap_env(cafile))
    if out.returncode:
        raise RuntimeError(f"tap-salesforce --discover failed: {out.stderr[-3000:]}")
    catalog = json.loads(out.stdout)
    streams = [s for s in catalog["streams"] if s["tap_stream_id"] == "Contact"]
    assert streams, [s["tap_stream_id"] for s in catalog["streams"]]
    for entry in streams[0]["metadata"]:
        crumb = entry["breadcrumb"]
        if not crumb:
            entry["metadata"]["selected"] = True
        elif entry["metadata"].get("inclusion") != "automatic":
            entry["metadata"]["selected"] = crumb[1] in FIELDS
    path = work / "catalog.json"
    path.write_text(json.dumps({"streams": streams}))
    return path


def run_tap(sandbox: str, cafile: str, oauth: tuple[str, str, str], db_url: str, tmp: Path, tap_py: Path,
            catalog: Path) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(dir=tmp))
    config = tap_config(work, sandbox, oauth)
    (work / "target.json").write_text(json.dumps({"database": db_url.removeprefix("sqlite:///")}))
    before, cpu0 = api_usage(sandbox, cafile), children_cpu()
    t0 = time.perf_counter()
    with open(work / "tap.log", "w") as tap_log, open(work / "target.log", "w") as target_log:
        tap = subprocess.Popen([str(tap_py), str(BENCH / "peer_redirect.py"), "tap-salesforce", sandbox,
                                "--config", str(config), "--properties", str(catalog)],
                               stdout=subprocess.PIPE, stderr=tap_log, env=tap_env(cafile))
        tgt = subprocess.Popen([str(tap_py), str(BENCH / "peer_target_sqlite.py"), "--config", str(work / "target.json")],
                               stdin=tap.stdout, stdout=subprocess.DEVNULL, stderr=target_log)
        assert tap.stdout is not None
        tap.stdout.close()
        tap_rc, target_rc = tap.wait(), tgt.wait()
    seconds = time.perf_counter() - t0
    cpu = children_cpu() - cpu0
    if tap_rc or target_rc:
        raise RuntimeError(f"tap exited {tap_rc}, target {target_rc}; logs in {work}: "
                           f"{(work / 'tap.log').read_text()[-1500:]} {(work / 'target.log').read_text()[-1500:]}")
    return {"seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2),
            "api_calls": api_usage(sandbox, cafile) - before, "table": table_check(db_url, "Contact", "Email")}


# -- the benchmark ---------------------------------------------------------------------------------------
def measure(records: int, repeat: int = 1) -> dict[str, Any]:
    tap_py = peer_python("tap-salesforce", TAP)
    proc, sandbox, cafile = start_sandbox(records)
    out: dict[str, Any] = {"records": records, "object": "Contact", "peer": {
        "tap": TAP[0], "api_type": "REST", "target": "bench/peer_target_sqlite.py (stdlib sqlite3)"}}
    try:
        with tempfile.TemporaryDirectory() as tmp_s:
            tmp = Path(tmp_s)
            oauth = refresh_token(sandbox, cafile)
            catalog = tap_catalog(tap_py, sandbox, cafile, oauth, Path(tempfile.mkdtemp(dir=tmp)))
            runs: dict[str, list[dict[str, Any]]] = {"accord": [], "peer": []}
            for i in range(repeat):
                for who in ("accord", "peer"):
                    db_url = f"sqlite:///{tmp}/{who}_{i}.db"
                    load = os.getloadavg()[0]
                    r = (run_accord(sandbox, cafile, oauth, db_url, tmp) if who == "accord"
                         else run_tap(sandbox, cafile, oauth, db_url, tmp, tap_py, catalog))
                    if r["table"]["rows"] != records:  # every record read, by both
                        raise RuntimeError(f"{who} wrote {r['table']} rows of {records} Contacts")
                    r["load_average_before"] = round(load, 2)
                    runs[who].append(r)
                    print(f"  sqlite {who:<6} {r['seconds']:>7.2f} s  cpu {r['cpu_seconds']:>6.2f} s  "
                          f"{r['api_calls']:>5} calls  load {load:.1f}  {r['table']}", file=sys.stderr, flush=True)
            pair: dict[str, Any] = {who: median_run(rs) for who, rs in runs.items()}
            pair["time_ratio"] = round(pair["accord"]["seconds"] / pair["peer"]["seconds"], 3)
            pair["cpu_ratio"] = round(pair["accord"]["cpu_seconds"] / pair["peer"]["cpu_seconds"], 3)
            if repeat > 1:
                pair["all_runs"] = runs
            out["runs"] = {"sqlite": pair}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return out


def rows(section: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Summary rows (figure, value, target, verdict) for bench/run.py's table."""
    out = []
    n = section["records"]
    for kind, r in section["runs"].items():
        a, p = r["accord"], r["peer"]
        out.append((f"peer: {n:,} Contacts Salesforce → {kind}, Accord ÷ tap-salesforce wall time",
                    f"{a['seconds']:.1f} s ÷ {p['seconds']:.1f} s = {r['time_ratio']:.2f}", "≤ 0.5",
                    "met" if r["time_ratio"] <= 0.5 else "NOT met"))
        out.append((f"peer: Salesforce → {kind}, CPU seconds / API calls, Accord vs tap-salesforce",
                    f"{a['cpu_seconds']:.1f} / {a['api_calls']:,} vs {p['cpu_seconds']:.1f} / {p['api_calls']:,}", "", ""))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=1, help="alternating runs per loader (medians)")
    ap.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=str(BENCH / "results.json"))
    ap.add_argument("--no-write", action="store_true", help="print only; leave results.json alone")
    args = ap.parse_args()
    if args.serve:
        serve(args.serve, args.records)
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    res = measure(args.records, args.repeat)
    for r in rows(res):
        print(f"{r[0]:<72} {r[1]:<28} {r[2]:<6} {r[3]}")
    if args.no_write:
        return
    res["machine"] = (f"{platform.machine()}, {os.cpu_count()} cores shared by the sandbox and the loader processes, "
                      f"Python {platform.python_version()}")
    save_section(args.out, "peer_salesforce", res)


if __name__ == "__main__":
    main()
