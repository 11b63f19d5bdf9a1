"""Standard objects of each vendor and the default field mappings between them.

Each vendor object names which of its fields carries a *concept* (first name, email,
company domain, deal stage …). The default mappings of any object pair are the concepts
both sides carry; the concepts marked required are locked (cannot be removed or changed),
as the asterisked mappings of HubSpot Data Sync and Snov.io are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

KIND_CONCEPTS: dict[str, tuple[str, ...]] = {
    "contact": (
        "first_name", "last_name", "email", "phone", "company_name", "job_title",
        "country", "city", "industry", "lead_status",
    ),
    "company": ("name", "domain", "industry", "phone", "city", "country"),
    "deal": ("name", "amount", "stage", "close_date"),
    "ticket": ("subject", "description", "status", "priority"),
    "product": ("name", "sku", "description", "price"),
    "line_item": ("quantity", "unit_price", "description"),
}

REQUIRED_CONCEPTS: dict[str, frozenset[str]] = {
    "contact": frozenset({"first_name", "last_name", "email"}),
    "company": frozenset({"name"}),
    "deal": frozenset({"name", "stage"}),
    "ticket": frozenset({"subject", "status"}),  # a HubSpot ticket needs its status (pipeline stage)
    "product": frozenset({"name"}),
    "line_item": frozenset({"quantity"}),
}

# Default match keys per kind; each key names a concept (several keys = match on any).
DEFAULT_MATCH: dict[str, tuple[str, ...]] = {
    "contact": ("email",),
    "company": ("name", "domain"),
    "deal": (),  # deals are matched by link only (HubSpot Data Sync does not dedupe deals)
    "ticket": (),  # as deals: by link only
    "product": ("sku",),  # the product code identifies a product in both apps
    "line_item": (),  # a line item belongs to its deal: by link only
}


@dataclass(frozen=True)
class ObjectInfo:
    kind: str
    concepts: dict[str, str]  # concept -> field name on this object
    # concepts whose existing values in this app a default mapping never overwrites
    # (xentral keeps its own data: values from the other app only fill empty fields)
    fill_blanks: frozenset[str] = frozenset()
    # the records this object belongs to, per kind: (their object in this app, the reference field
    # holding the parent's id when the app keeps the link on the record, else None: an association)
    parents: dict[str, tuple[str, str | None]] = field(default_factory=dict)


_CONTACT = "contact"
_COMPANY = "company"
_DEAL = "deal"
_TICKET = "ticket"
_PRODUCT = "product"
_LINE_ITEM = "line_item"

OBJECTS: dict[tuple[str, str], ObjectInfo] = {
    # in-memory test apps use the concept names as field names
    ("memory", "contacts"): ObjectInfo(_CONTACT, {c: c for c in KIND_CONCEPTS[_CONTACT]}),
    ("memory", "companies"): ObjectInfo(_COMPANY, {c: c for c in KIND_CONCEPTS[_COMPANY]}),
    ("memory", "deals"): ObjectInfo(_DEAL, {c: c for c in KIND_CONCEPTS[_DEAL]}),
    ("hubspot", "contacts"): ObjectInfo(_CONTACT, {
        "first_name": "firstname", "last_name": "lastname", "email": "email", "phone": "phone",
        "company_name": "company", "job_title": "jobtitle", "country": "country", "city": "city",
        "industry": "industry", "lead_status": "hs_lead_status",
    }),
    ("hubspot", "companies"): ObjectInfo(_COMPANY, {
        "name": "name", "domain": "domain", "industry": "industry", "phone": "phone",
        "city": "city", "country": "country",
    }),
    ("hubspot", "deals"): ObjectInfo(_DEAL, {
        "name": "dealname", "amount": "amount", "stage": "dealstage", "close_date": "closedate",
    }),
    ("hubspot", "tickets"): ObjectInfo(_TICKET, {
        "subject": "subject", "description": "content", "status": "hs_pipeline_stage", "priority": "hs_ticket_priority",
    }),
    ("hubspot", "products"): ObjectInfo(_PRODUCT, {
        "name": "name", "sku": "hs_sku", "description": "description", "price": "price",
    }),
    # a line item's deal is an association (line_items → deals); its product is its hs_product_id
    ("hubspot", "line_items"): ObjectInfo(_LINE_ITEM, {
        "quantity": "quantity", "unit_price": "price", "description": "description",
    }, parents={_DEAL: ("deals", None), _PRODUCT: ("products", "hs_product_id")}),
    ("salesforce", "Case"): ObjectInfo(_TICKET, {
        "subject": "Subject", "description": "Description", "status": "Status", "priority": "Priority",
    }),
    # a product's price is its standard price book entry's UnitPrice, which the connector shows as
    # Product2.StandardPrice (and creates with the product: a product without one cannot be sold)
    ("salesforce", "Product2"): ObjectInfo(_PRODUCT, {
        "name": "Name", "sku": "ProductCode", "description": "Description", "price": "StandardPrice",
    }),
    # an opportunity product's opportunity and product are its OpportunityId and Product2Id lookups
    ("salesforce", "OpportunityLineItem"): ObjectInfo(_LINE_ITEM, {
        "quantity": "Quantity", "unit_price": "UnitPrice", "description": "Description",
    }, parents={_DEAL: ("Opportunity", "OpportunityId"), _PRODUCT: ("Product2", "Product2Id")}),
    ("salesforce", "Contact"): ObjectInfo(_CONTACT, {
        "first_name": "FirstName", "last_name": "LastName", "email": "Email", "phone": "Phone",
        "job_title": "Title", "country": "MailingCountry", "city": "MailingCity",
    }),
    ("salesforce", "Lead"): ObjectInfo(_CONTACT, {
        "first_name": "FirstName", "last_name": "LastName", "email": "Email", "phone": "Phone",
        "company_name": "Company", "job_title": "Title", "country": "Country", "city": "City",
        "industry": "Industry", "lead_status": "Status",
    }),
    # Contact/Lead routing (object: [Contact, Lead]): the concepts both objects hold in fields of one name
    ("salesforce", "Contact+Lead"): ObjectInfo(_CONTACT, {
        "first_name": "FirstName", "last_name": "LastName", "email": "Email", "phone": "Phone", "job_title": "Title",
    }),
    ("salesforce", "Account"): ObjectInfo(_COMPANY, {
        "name": "Name", "domain": "Website", "industry": "Industry", "phone": "Phone",
        "city": "BillingCity", "country": "BillingCountry",
    }),
    ("salesforce", "Opportunity"): ObjectInfo(_DEAL, {
        "name": "Name", "amount": "Amount", "stage": "StageName", "close_date": "CloseDate",
    }),
    ("snovio", "prospects"): ObjectInfo(_CONTACT, {
        "first_name": "firstName", "last_name": "lastName", "email": "email", "phone": "phones",
        "country": "country", "industry": "industry",
    }),
    ("sql", "contacts"): ObjectInfo(_CONTACT, {c: c for c in KIND_CONCEPTS[_CONTACT]}),
    # xentral: addresses of the sync group ↔ contacts; data from the other app never overwrites an
    # address's own values (seed 003), the HubSpot status (a free field) follows the winner
    ("xentral", "adressen"): ObjectInfo(_CONTACT, {
        "first_name": "vorname", "last_name": "nachname", "email": "email", "phone": "telefon", "city": "ort",
        "lead_status": "hubspot_status",
    }, fill_blanks=frozenset({"first_name", "last_name", "email", "phone", "city"})),
    # resubmissions (Wiedervorlagen) ↔ deals: existing ones keep their title and close date, only
    # amount and stage are updated (seed 003)
    ("xentral", "wiedervorlagen"): ObjectInfo(_DEAL, {
        "name": "bezeichnung", "amount": "betrag", "stage": "stages", "close_date": "datum_abschluss",
    }, fill_blanks=frozenset({"name", "close_date"})),
}


def object_info(vendor: str, object: str) -> ObjectInfo | None:
    return OBJECTS.get((vendor, object))


def default_associations(left_vendor: str, left_object: str, right_vendor: str,
                         right_object: str) -> list[tuple[str, tuple[str, str | None], tuple[str, str | None]]]:
    """The parent links both sides of an object pair keep, per kind: (kind, left parent, right parent),
    each parent as (object, reference field or None); e.g. a HubSpot line item's deal association
    ↔ an OpportunityLineItem's OpportunityId, its hs_product_id ↔ the OpportunityLineItem's Product2Id."""
    li, ri = object_info(left_vendor, left_object), object_info(right_vendor, right_object)
    if li is None or ri is None or li.kind != ri.kind:
        return []
    return [(k, li.parents[k], ri.parents[k]) for k in li.parents if k in ri.parents]


# Default enumeration value maps between vendors whose option sets differ, per concept,
# written from the first vendor's values to the second's (the reverse is derived: the
# first pair naming a target value wins). Only options present in both apps' schemas are
# used; a value with no counterpart is written as it is, and the app may reject it
# (the record then shows as failing with a hint to add a value map).
VALUE_MAPS: dict[tuple[str, str], dict[str, dict[str, str]]] = {
    ("hubspot", "salesforce"): {
        # HubSpot's lead status ↔ Salesforce's standard Lead.Status picklist
        "lead_status": {
            "NEW": "Open - Not Contacted", "IN_PROGRESS": "Working - Contacted",
            "OPEN_DEAL": "Closed - Converted", "UNQUALIFIED": "Closed - Not Converted",
            "OPEN": "Open - Not Contacted", "ATTEMPTED_TO_CONTACT": "Working - Contacted",
            "CONNECTED": "Working - Contacted", "BAD_TIMING": "Closed - Not Converted",
        },
        # a ticket's status (its pipeline stage in HubSpot's default pipeline) ↔ Case.Status
        "status": {"1": "New", "2": "Working", "3": "Escalated", "4": "Closed"},
        # ticket priority ↔ Case.Priority (Salesforce has no "urgent")
        "priority": {"LOW": "Low", "MEDIUM": "Medium", "HIGH": "High", "URGENT": "High"},
        # HubSpot's industry values ↔ Salesforce's standard Industry picklist
        "industry": {
            "COMPUTER_SOFTWARE": "Technology", "FINANCIAL_SERVICES": "Finance", "HOSPITAL_HEALTH_CARE": "Healthcare",
            "MARKETING_AND_ADVERTISING": "Media", "RETAIL": "Retail", "AUTOMOTIVE": "Manufacturing",
            "EDUCATION_MANAGEMENT": "Education", "BANKING": "Banking", "TELECOMMUNICATIONS": "Communications",
            "MANAGEMENT_CONSULTING": "Consulting", "CONSUMER_ELECTRONICS": "Electronics", "OIL_ENERGY": "Energy",
            "FARMING": "Agriculture", "ACCOUNTING": "Finance", "INFORMATION_TECHNOLOGY_AND_SERVICES": "Technology",
            "CONSTRUCTION": "Other",
        },
    },
}


def default_values(left_vendor: str, right_vendor: str, concept: str) -> dict[str, str] | None:
    """The default value map of a concept, from left values to right values (``None``: none)."""
    direct = VALUE_MAPS.get((left_vendor, right_vendor), {}).get(concept)
    if direct is not None:
        return dict(direct)
    reverse = VALUE_MAPS.get((right_vendor, left_vendor), {}).get(concept)
    if reverse is None:
        return None
    out: dict[str, str] = {}
    for k, v in reverse.items():
        out.setdefault(v, k)
    return out


@dataclass(frozen=True)
class DefaultMapping:
    concept: str
    left: str
    right: str
    required: bool
    values: dict[str, str] | None = None  # enumeration value map, left → right
    rule: str | None = None  # the mapping's default conflict rule (None: the sync's winner)


def _default_rule(left: ObjectInfo, right: ObjectInfo, concept: str) -> str | None:
    guard_l, guard_r = concept in left.fill_blanks, concept in right.fill_blanks
    if guard_l and guard_r:
        return "fill-blanks-only"
    return "fill-blanks-only-left" if guard_l else "fill-blanks-only-right" if guard_r else None


def default_mappings(left_vendor: str, left_object: str, right_vendor: str, right_object: str) -> list[DefaultMapping]:
    """The default mappings of an object pair; empty when the objects are of different kinds."""
    li, ri = object_info(left_vendor, left_object), object_info(right_vendor, right_object)
    if li is None or ri is None or li.kind != ri.kind:
        return []
    required = REQUIRED_CONCEPTS[li.kind]
    return [
        DefaultMapping(c, li.concepts[c], ri.concepts[c], c in required, default_values(left_vendor, right_vendor, c),
                       _default_rule(li, ri, c))
        for c in KIND_CONCEPTS[li.kind]
        if c in li.concepts and c in ri.concepts
    ]


def kind_of(vendor: str, object: str) -> str | None:
    info = object_info(vendor, object)
    return info.kind if info else None


# -- how a vendor's own integration with another behaves, where it differs from Accord's defaults --
@dataclass(frozen=True)
class PairRules:
    # the default of a two-way sync's `deletes` (None: Accord's own, `mark`)
    deletes: Literal["mark", "propagate"] | None = None
    # a record created in the other app whose match key meets a list-side record outside the
    # inclusion list syncs that pair once (later changes wait for list membership)
    match_once_outside_list: bool = False


ANY = "*"  # a vendor's rules with any other vendor

PAIR_RULES: dict[tuple[str, str], PairRules] = {
    # seed 004: a new Salesforce lead or contact "syncs the existing contact" in HubSpot even when
    # that contact is not in the inclusion list; further updates wait for the list's criteria
    ("hubspot", "salesforce"): PairRules(match_once_outside_list=True),
    # seed 000: "each time you add, update or delete a prospect in one app, the changes are made
    # in the other app": Snov.io's integrations sync deletes both ways
    ("snovio", ANY): PairRules(deletes="propagate"),
}


def pair_rules(left_vendor: str, right_vendor: str) -> PairRules:
    """The rules of a vendor pair (in either order): the pair's own entry, else either vendor's
    entry for any partner, else Accord's defaults."""
    for key in ((left_vendor, right_vendor), (right_vendor, left_vendor), (left_vendor, ANY), (right_vendor, ANY)):
        if key in PAIR_RULES:
            return PAIR_RULES[key]
    return PairRules()
