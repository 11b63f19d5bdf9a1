"""How the index names a record (its label, shown in the record lists and exports): by its match
field (a person's email, a company's name or domain), else by its name ("First Last" for a
person, a deal's name), else by its first mapped field."""

from __future__ import annotations

from accord.engine.mapping import FieldMap, SyncSpec
from accord.engine.matching import key_spec
from accord.model import FieldType, Side
from helpers import Pair, person


def _spec(mapped: list[tuple[str, str]], keys: list[tuple[str, str, str]]) -> SyncSpec:
    return SyncSpec(name="s", direction="two-way", winner=Side.LEFT, deletes="sync",
                    mappings=tuple(FieldMap(a, b, "default", True, True, FieldType.TEXT, FieldType.TEXT) for a, b in mapped),
                    match=tuple(key_spec(*k) for k in keys))


def test_label_fields_per_vendor_naming() -> None:
    contacts = _spec([("email", "Email"), ("firstname", "FirstName"), ("lastname", "LastName"), ("phone", "Phone")],
                     [("email", "email", "Email")])
    assert contacts.label_fields(Side.LEFT) == (("email",), ("firstname", "lastname"))
    assert contacts.label_fields(Side.RIGHT) == (("Email",), ("FirstName", "LastName"))
    snov = _spec([("phone", "phone"), ("last_name", "last_name"), ("first_name", "first_name")], [])
    assert snov.label_fields(Side.LEFT) == (("first_name", "last_name"), ("phone",))  # first name first
    companies = _spec([("name", "Name"), ("domain", "Website")], [("name", "name", "Name"), ("domain", "domain", "Website")])
    assert companies.label_fields(Side.LEFT) == (("name",), ("domain",))
    deals = _spec([("amount", "Amount"), ("dealname", "Name")], [])
    assert deals.label_fields(Side.LEFT) == (("dealname",), ("amount",))  # the name, not the amount
    assert deals.label_fields(Side.RIGHT) == (("Name",), ("Amount",))
    bare = _spec([("notes", "notes")], [("email", "email", "email")])
    assert bare.label_fields(Side.LEFT) == (("email",), ("notes",))  # as before: the match field, else the first mapped


async def test_a_person_without_email_reads_first_and_last_name() -> None:
    p = Pair()
    with_mail = p.left.user_create("contacts", person("Ann", "Lee", "ann@x.com"))
    no_mail = p.left.user_create("contacts", person("Graham", "Bell", None))
    first_only = p.right.user_create("contacts", person("Cher", "", None))
    await p.run()
    assert p.link_of("left", with_mail).label == "ann@x.com"
    assert p.link_of("left", no_mail).label == "Graham Bell"  # was "Graham": the first mapped field only
    assert p.link_of("right", first_only).label == "Cher"


async def test_a_last_name_alone_names_a_person() -> None:
    p = Pair()
    rid = p.left.user_create("contacts", {"last_name": "Bell", "phone": "1"})
    await p.run()
    assert p.link_of("left", rid).label == "Bell"  # was unnamed: the first mapped field (first_name) is blank
