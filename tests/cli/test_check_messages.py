"""``accord check`` refuses (exit 2) what the setup flow's pickers prevent, each with a "did you
mean", and never writes to an app."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from accord.connectors.memory import MemoryApp
from helpers import person, two_memory_apps

ACCORD = [sys.executable, "-m", "accord.cli"]


def accord(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ACCORD, *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "400"})


@pytest.fixture
def project(tmp_path: Path) -> Path:
    a = MemoryApp("crm", path=str(tmp_path / "a.json"))
    b = MemoryApp("erp", path=str(tmp_path / "b.json"))
    a.user_create("contacts", person("Ann", "Lee", "ann@x.com"))
    a.lists["VIP Customers"] = set()
    a.save()
    b.save()
    return tmp_path


def check(project: Path, sync: str) -> subprocess.CompletedProcess[str]:
    two_memory_apps(project, f"""
  - name: contacts
    left: {{app: crm, object: contacts}}
    right: {{app: erp, object: contacts}}
{sync}
""", names=("crm", "erp"))
    return accord("check", "-c", "accord.yaml", cwd=project)


@pytest.mark.parametrize(("sync", "message"), [
    ("    mappings: [{left: notes, right: nots}]",
     "syncs[0].mappings[0].right: erp contacts has no field 'nots'; did you mean 'notes'?"),
    ("    mappings: [{left: jobtitle, right: job_title}]",
     "syncs[0].mappings[0].left: crm contacts has no field 'jobtitle'; did you mean 'job_title' (Job Title)?"),
    ("    mappings: [{left: lead_status, right: lead_status, values: {open: in_progres}}]",
     "syncs[0].mappings[0].values.open: 'in_progres' is not one of the values of erp Lead status; "
     "did you mean 'in_progress'?"),
    ("    mappings: [{left: lead_status, right: lead_status, values_to_left: {Open: new}}]",
     "syncs[0].mappings[0].values_to_left.Open: 'Open' is not one of the values of erp Lead status; "
     "did you mean 'open' (its label is 'Open')?"),
    ("    filters: {left: [{field: lead_stats, op: eq, value: new}]}",
     "syncs[0].filters.left[0].field: crm contacts has no field 'lead_stats'; did you mean 'lead_status' (Lead status)?"),
    ("    filters: {right: [{field: lead_status, op: in, value: [new, qualifed]}]}",
     "syncs[0].filters.right[0].value: 'qualifed' is not one of the values of erp Lead status; "
     "did you mean 'qualified'?"),
    ("    constants: {to_right: {sorce: CRM}}",
     "syncs[0].constants.to_right.sorce: erp contacts has no field 'sorce'; did you mean 'source'?"),
    ("    constants: {to_left: {lead_status: newish}}",
     "syncs[0].constants.to_left.lead_status: 'newish' is not one of the values of crm Lead status; "
     "did you mean 'new'?"),
    ("    match: [{left: emial, right: email}]",
     "syncs[0].match[0].left: crm contacts has no field 'emial'; did you mean 'email'?"),
    ("    inclusion: {side: left, list: VIP Customer}",
     "syncs[0].inclusion.list: app 'crm' has no contacts list 'VIP Customer' (a sync stops on an inclusion list "
     "that does not exist); did you mean 'VIP Customers'?"),
])
def test_each_mistake_is_refused_with_a_did_you_mean(project: Path, sync: str, message: str) -> None:
    before = {p.name: p.read_bytes() for p in project.glob("*.json")}
    r = check(project, sync)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert f"accord.yaml: {message}" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    assert {p.name: p.read_bytes() for p in project.glob("*.json")} == before  # nothing written to an app


def test_objects_and_stages_the_apps_do_not_have(project: Path) -> None:
    text = (project / "accord.yaml")
    r = check(project, "")
    assert r.returncode == 0 and "contacts: ok" in r.stdout, r.stderr
    text.write_text(text.read_text().replace("object: contacts}\n    right: {app: erp, object: contacts}",
                                             "object: contact}\n    right: {app: erp, object: contacts}"))
    r = accord("check", "-c", "accord.yaml", cwd=project)
    assert r.returncode == 2 and "syncs[0].left.object: app 'crm' has no object 'contact'; did you mean 'contacts'?" \
        in r.stderr, r.stderr
    (project / "accord.yaml").write_text(text.read_text().replace(
        "name: contacts\n    left: {app: crm, object: contact}\n    right: {app: erp, object: contacts}",
        "name: deals\n    left: {app: crm, object: deals}\n    right: {app: erp, object: deals}\n"
        "    stages: {closed_won: Closed wom, contract_sent: contract_sent}"))
    r = accord("check", "-c", "accord.yaml", cwd=project)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "syncs[0].stages.closed_won: erp has no deal stage 'Closed wom'; did you mean 'Closed won'?" in r.stderr


def test_a_mapping_onto_a_missing_field_is_refused_not_skipped(project: Path) -> None:
    r = check(project, "    mappings: [{left: notes, right: remarks}]")
    assert r.returncode == 2 and "erp contacts has no field 'remarks'" in r.stderr
    assert "will be skipped" not in r.stdout  # refused, not a warning


def test_a_second_sync_creating_every_contact_again_as_another_object_is_a_note(project: Path) -> None:
    """crm contacts already sync with erp contacts; a second sync of crm contacts with erp
    companies would create each contact in erp again (accord.config.twice_created): said, exit 0."""
    r = check(project, """
  - name: people-as-companies
    left: {app: crm, object: contacts}
    right: {app: erp, object: companies}
    defaults: false
    match: none
    mappings: [{left: company_name, right: name}]""")
    assert r.returncode == 0, r.stderr
    assert "people-as-companies: ok (1 field mapping, two-way)" in r.stdout
    assert ("people-as-companies: sync 'people-as-companies' and sync 'contacts' each create every crm contacts "
            "record in erp, as companies here and as contacts there: each would be in erp twice.") in r.stdout, r.stdout
