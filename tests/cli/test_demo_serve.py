"""``accord demo`` past the summary: the dashboard served beside the sandboxes, its one-time login
link, and incremental passes that pick up simulated users' edits in both apps."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from rich.console import Console

from accord.demo import Dashboard, run_demo


@contextmanager
def no_bar(enabled: bool) -> Iterator[None]:
    yield None


def _visit(dash: Dashboard) -> dict[str, object]:
    """What a browser opening the printed link sees (run off the demo's event loop)."""
    with httpx.Client(timeout=10) as browser:
        first = browser.get(dash.login_link, follow_redirects=True)
        summary = first.text if first.url.path == "/" else ""
        again = httpx.get(dash.login_link, timeout=10)
        api = httpx.get(dash.url + "api/syncs", headers={"Authorization": f"Bearer {dash.token}"}, timeout=10)
    return {"summary": summary, "again": again.status_code, "again_text": again.text,
            "syncs": [s["name"] for s in api.json()]}


async def test_demo_serves_the_dashboard_and_incremental_passes() -> None:
    buf = io.StringIO()
    console = Console(file=buf, width=200, no_color=True)
    seen: dict[str, object] = {}
    visit: list[asyncio.Future[dict[str, object]]] = []

    def ready(dash: Dashboard) -> None:
        visit.append(asyncio.get_running_loop().run_in_executor(None, _visit, dash))

    rc = await run_demo(records=60, serve=True, port=0, state=None, seed=3, console=console, progress=no_bar,
                        interval=0.3, rounds=3, ready=ready)
    seen = await visit[0]
    out = buf.getvalue()
    assert rc == 0
    assert "Sync summary" in out and "Incremental sync every" in out
    # the dashboard: the link logs in once, then is void; the token printed opens the API
    assert "Open this link in your browser to log in" in out and "  http://127.0.0.1:" in out and "/login/once/" in out
    assert "Sync summary" in str(seen["summary"]) and 'id="sync-contacts"' in str(seen["summary"])
    assert seen["again"] == 401 and "This login link was used already or has expired" in str(seen["again_text"])
    assert seen["syncs"] == ["companies", "contacts", "deals"]
    # each round: users edit contacts in both apps and create one; the passes carry it over
    assert out.count("contacts: created") == 3, out
    assert "updated" in out


async def test_a_taken_port_is_said_and_another_one_used() -> None:
    """`make demo` twice (the first still running): the second says why its link has another port."""
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        buf = io.StringIO()
        rc = await run_demo(records=20, serve=True, port=port, state=None, seed=3,
                            console=Console(file=buf, width=200, no_color=True), progress=no_bar, interval=0.1, rounds=1)
    out = buf.getvalue()
    assert rc == 0 and f"Port {port} is in use (another demo still running?)" in out, out
    assert f"http://127.0.0.1:{port}/" not in out


async def test_the_demos_passes_follow_the_dashboard_disabled_and_added_syncs(tmp_path: object) -> None:
    """The demo runs its passes itself: it ran the three seeded syncs whatever the dashboard did,
    so *Disable* changed nothing and a sync made with *New sync* never ran."""
    from pathlib import Path

    from accord.index import Store

    state = f"sqlite:///{Path(str(tmp_path)) / 'demo.db'}"
    done: list[asyncio.Future[None]] = []

    def change(dash: Dashboard) -> None:
        api = {"Authorization": f"Bearer {dash.token}"}
        assert httpx.post(dash.url + "api/syncs/deals/disable", headers=api, timeout=10).status_code == 200
        made = httpx.post(dash.url + "api/syncs", headers=api, timeout=30, json={
            "name": "tickets", "left": {"app": "hubspot", "object": "tickets"},
            "right": {"app": "salesforce", "object": "Case"}})
        assert made.status_code == 201, made.text

    def ready(dash: Dashboard) -> None:
        done.append(asyncio.get_running_loop().run_in_executor(None, change, dash))

    rc = await run_demo(records=40, serve=True, port=0, state=state, seed=3, progress=no_bar, interval=1.0, rounds=3,
                        console=Console(file=io.StringIO(), width=200, no_color=True), ready=ready)
    await done[0]
    assert rc == 0
    store = Store(state)
    assert [r["kind"] for r in store.runs("deals", limit=10)] == ["initial"]  # nothing after the seeded sync's
    assert "initial" in [r["kind"] for r in store.runs("tickets", limit=10)]
    assert len(store.runs("contacts", limit=10)) >= 3
