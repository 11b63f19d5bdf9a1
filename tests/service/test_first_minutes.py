"""What a newcomer sees in the dashboard's first minutes: plain pages, not JSON, when a link is
wrong; tables that fold into cards on a phone; words instead of repeats and internal names."""

from __future__ import annotations

import html
import re

from service_world import World, login

HTML = {"Accept": "text/html,application/xhtml+xml"}


def test_a_wrong_link_in_the_browser_is_a_page_the_api_keeps_json(world: World) -> None:
    web = login(world.url)
    r = web.get("/syncs/nope", headers=HTML)
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "No sync named &#39;nope&#39;." in r.text and 'href="/"' in r.text and '"detail"' not in r.text
    r = web.get("/syncs/contacts/records?status=bogus", headers=HTML)
    assert r.status_code == 404 and "Unknown status &#39;bogus&#39;." in r.text
    r = web.get("/no/such/page", headers=HTML)
    assert r.status_code == 404 and "There is no page /no/such/page." in r.text
    # API clients, htmx calls and callers that do not ask for HTML keep the JSON answer
    assert world.client.get("/api/syncs/nope", headers=HTML).json() == {"detail": "no sync named 'nope'"}
    assert web.get("/syncs/nope").json() == {"detail": "no sync named 'nope'"}
    assert web.get("/syncs/nope", headers={**HTML, "HX-Request": "true"}).json() == {"detail": "no sync named 'nope'"}
    # not logged in: still the login form first, nothing about the sync
    r = login(world.url).get("/login", headers=HTML)
    assert r.status_code == 200


def test_apps_table_folds_into_cards_with_labelled_cells(world: World) -> None:
    page = login(world.url).get("/apps").text
    assert '<table id="apps" class="stack">' in page
    row = re.search(r'<tr id="app-a".*?</tr>', page, re.S).group(0)  # type: ignore[union-attr]
    assert '<th scope="row" class="name">a' in row
    for label in ("Vendor", "Account", "Signs in with", "Used by", "Connection"):
        assert f'data-label="{label}"' in row


def test_record_list_columns_say_status_reason_or_error(world: World) -> None:
    world.run_pass()
    web = login(world.url)

    def heading(status: str) -> list[str]:
        head = re.search(r"<thead>.*?</thead>", web.get(f"/syncs/contacts/records?status={status}").text, re.S)
        return re.findall(r'<th scope="col">([^<]+)</th>', head.group(0))  # type: ignore[union-attr]

    assert heading("syncing")[3] == "Status"
    assert heading("excluded")[3] == "Reason"
    assert heading("failing")[3] == "Error category"
    # on a phone the reason and its key stay one cell, side by side with its label
    page = web.get("/syncs/contacts/records?status=excluded").text
    assert re.search(r'data-label="Reason"><span>no match key \(e\.g\. no e-mail\) <span class="hint key">\(no_match_key\)</span></span>', page)


def test_sync_page_hours_and_setup_app_names(world: World) -> None:
    web = login(world.url)
    assert "full reconciliation every 24 h</p>" in web.get("/syncs/contacts").text
    setup = web.get("/setup").text
    # the app's name and its vendor as people name it ("a (Memory)"; "hubspot (hubspot)" was the type twice)
    assert re.search(r'<option value="a" [^>]*>a \(Memory\)</option>', setup) and "(memory)" not in setup
    edit = web.get("/syncs/contacts/edit").text
    assert "part of the configuration Accord was started with (accord.yaml): change it there and restart" in edit


def test_setup_says_rules_in_words_and_link_only_matching_in_the_review(world: World) -> None:
    from test_setup_flow_forms import Flow

    flow = Flow(login(world.url))
    flow.post("objects", "next", name="pipeline", left_app="a", left_object="deals", right_app="b", right_object="deals")
    page = flow.post("direction", "next", direction="two-way", winner="")
    # the config's values stay the options' values; the words name the apps
    assert '<option value="always-left" >always a&#39;s value</option>' in page
    assert '<option value="prefer-right-unless-blank">b&#39;s value, unless blank</option>' in page
    assert ">prefer-left-unless-blank<" not in page
    flow.post("mappings", "next")
    flow.post("filters", "next")
    review = flow.post("options", "next")
    assert 'data-step="review"' in review
    # deals have no match key: "a record without a match key is left out" would leave out none
    assert "matched by link only: every record is created in the other app once" in review
    assert "without a match key" not in review
    assert "the first pass waits for a confirmation" not in review  # (neither app holds deals yet)
    for i in range(25):  # both apps hold deals: the review says the first pass will wait, and why
        world.left.user_create("deals", {"name": f"A{i}"})
        world.right.user_create("deals", {"name": f"B{i}"})
    review = flow.post("options", "next")
    assert ("match: no match key, and both apps already hold records: the first pass waits for a confirmation"
            in review), review


def test_the_review_says_when_a_second_sync_would_create_every_record_again_as_another_object(world: World) -> None:
    """a contacts already sync with b contacts: a sync of a contacts with b leads would create each
    contact in b a second time, as a lead (accord.config.twice_created)."""
    from test_setup_flow_forms import Flow

    from accord.connectors.memory import STANDARD_FIELDS

    world.right.add_object("leads", STANDARD_FIELDS["contacts"])
    flow = Flow(login(world.url))
    flow.post("objects", "next", name="leads", left_app="a", left_object="contacts", right_app="b", right_object="leads")
    flow.post("direction", "next", direction="two-way", winner="")
    flow.post("mappings", "next")
    flow.post("filters", "next")
    review = html.unescape(flow.post("options", "next"))
    assert ("sync 'leads' and sync 'contacts' each create every a contacts record in b, as leads here and as "
            "contacts there: each would be in b twice.") in review, review
    # one-way from b: nothing of a is created in b, nothing to say
    flow.post("objects", "next", name="leads", left_app="a", left_object="contacts", right_app="b", right_object="leads")
    flow.post("direction", "next", direction="right-to-left", winner="")
    flow.post("mappings", "next")
    flow.post("filters", "next")
    assert "would be in b twice" not in flow.post("options", "next")


def test_a_taken_sync_name_is_said_by_the_fields_name(world: World) -> None:
    from test_setup_flow_forms import Flow

    flow = Flow(login(world.url))
    page = flow.post("objects", "next", status=422, name="contacts", left_app="a", left_object="deals",
                     right_app="b", right_object="deals")
    assert "Sync name: a sync named &#39;contacts&#39; exists" in page


def test_sync_now_on_an_excluded_record_says_it_was_not_synced(world: World) -> None:
    world.run_pass()
    no_mail = next(r.id for r in world.left.live("contacts") if r.properties.get("email") is None)
    r = world.client.post(f"/ui/syncs/contacts/records/{no_mail}/resync", data={"side": "left", "status": "excluded"})
    assert r.status_code == 200
    assert "Not synced, it is excluded: no match key (e.g. no e-mail)." in r.text and "both apps agree" not in r.text


def test_apps_of_the_configuration_name_its_file_or_none(world: World, tmp_path: object) -> None:
    """The badge of an app the configuration defines names the file Accord was started with; the
    demo's configuration is built in memory, so it must not name an accord.yaml that is not there."""
    from pathlib import Path

    web = login(world.url)
    page = web.get("/apps").text
    row = re.search(r'<tr id="app-a".*?</tr>', page, re.S).group(0)  # type: ignore[union-attr]
    assert '<span class="badge" title="defined in the configuration Accord was started with">configuration</span>' in row
    assert "accord.yaml" not in page and "Apps of the configuration Accord was started with are listed too." in page
    file = Path(str(tmp_path)) / "sales.yaml"
    file.write_text("# the file the service was started with\n")
    reg = world.service.registry
    reg.file_cfg = reg.file_cfg.model_copy(update={"source": str(file)})  # (frozen: a copy naming the file)
    page = web.get("/apps").text
    assert ">sales.yaml</span>" in page and "Apps defined in sales.yaml are listed too; change them in the file." in page
