"""Default property definitions, pipelines and association types of a fresh HubSpot portal.

Only the subset Accord and its tests use; names, types and field types follow HubSpot's
standard properties. Property JSON follows the ``Property`` schema of the properties v3 spec.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Kind:
    """One object type of the portal: how URLs, webhooks and v3 association names call it, its
    change-cursor and create-date properties, what reads return by default and what creates need."""

    name: str  # as in URLs: contacts, line_items; a custom object's fullyQualifiedName (p12345678_cars)
    type_id: str  # 0-1 …; custom objects 2-<schema id>
    singular: str  # legacy webhook prefix and v3 association names (contact_to_company)
    default_props: tuple[str, ...]
    modified: str = "hs_lastmodifieddate"  # contacts are the odd one out (lastmodifieddate)
    created: str = "createdate"  # engagements and custom objects: hs_createdate
    aliases: tuple[str, ...] = ()  # other names object paths accept (singular, p_<name>, …)
    required: tuple[str, ...] = ()  # properties a create must set
    defaults: tuple[tuple[str, str], ...] = ()  # values a create gets when it sets none
    custom: bool = False


def _kind(name: str, type_id: str, singular: str, props: tuple[str, ...], **kw: Any) -> Kind:
    engagement = kw.pop("engagement", False)
    if engagement:  # engagements: hs_timestamp is required; create date is hs_createdate
        kw.setdefault("created", "hs_createdate")
        kw.setdefault("required", ("hs_timestamp",))
    created = kw.get("created", "createdate")
    modified = kw.get("modified", "hs_lastmodifieddate")
    return Kind(name, type_id, singular, (*props, created, modified, "hs_object_id"), aliases=(singular,), **kw)


# The standard object types, with HubSpot's object type ids (0-x) and default read properties.
STANDARD_KINDS: tuple[Kind, ...] = (
    _kind("contacts", "0-1", "contact", ("firstname", "lastname", "email"), modified="lastmodifieddate"),
    _kind("companies", "0-2", "company", ("name", "domain")),
    _kind("deals", "0-3", "deal", ("dealname", "amount", "closedate", "pipeline", "dealstage")),
    _kind("tickets", "0-5", "ticket", ("content", "hs_pipeline", "hs_pipeline_stage", "hs_ticket_category",
                                        "hs_ticket_priority", "subject"),
          required=("hs_pipeline_stage",), defaults=(("hs_pipeline", "0"),)),
    _kind("products", "0-7", "product", ("name", "description", "price")),
    _kind("line_items", "0-8", "line_item", ("name", "price", "quantity", "hs_product_id")),
    _kind("calls", "0-48", "call", ("hs_call_title", "hs_call_body", "hs_timestamp"), engagement=True),
    _kind("emails", "0-49", "email", ("hs_email_subject", "hs_email_text", "hs_timestamp"), engagement=True),
    _kind("meetings", "0-47", "meeting", ("hs_meeting_title", "hs_meeting_start_time", "hs_meeting_end_time",
                                           "hs_timestamp"), engagement=True),
    _kind("notes", "0-46", "note", ("hs_note_body", "hs_timestamp"), engagement=True),
    _kind("tasks", "0-27", "task", ("hs_task_subject", "hs_task_status", "hs_task_priority", "hs_timestamp"),
          engagement=True, defaults=(("hs_task_status", "NOT_STARTED"),)),
)
KINDS = {k.name: k for k in STANDARD_KINDS}

# Object names used in URLs, their object type ids, and webhook subscription prefixes.
OBJECT_TYPE_IDS = {k.name: k.type_id for k in STANDARD_KINDS}
OBJECT_BY_TYPE_ID = {v: k for k, v in OBJECT_TYPE_IDS.items()}
SINGULAR = {k.name: k.singular for k in STANDARD_KINDS}
ALIASES = {**{a: k.name for k in STANDARD_KINDS for a in k.aliases}, **OBJECT_BY_TYPE_ID}

# The property whose change cursor search uses; contacts are the odd one out.
MODIFIED_PROP = {k.name: k.modified for k in STANDARD_KINDS}

# Properties returned by list/read/search when the request names none (as HubSpot does).
DEFAULT_PROPS = {k.name: list(k.default_props) for k in STANDARD_KINDS}

# Default (HUBSPOT_DEFINED) association type ids: (from, to) -> (typeId, label); the inverse of
# each pair's n-th type is the other direction's n-th type (HubSpot's numbering).
ASSOC_TYPES: dict[tuple[str, str], list[tuple[int, str | None]]] = {
    ("contacts", "companies"): [(279, None), (1, "Primary")],
    ("companies", "contacts"): [(280, None), (2, "Primary")],
    ("deals", "contacts"): [(3, None)],
    ("contacts", "deals"): [(4, None)],
    ("deals", "companies"): [(341, None), (5, "Primary")],
    ("companies", "deals"): [(342, None), (6, "Primary")],
    ("contacts", "tickets"): [(15, None)],
    ("tickets", "contacts"): [(16, None)],
    ("tickets", "companies"): [(339, None), (26, "Primary")],
    ("companies", "tickets"): [(340, None), (25, "Primary")],
    ("deals", "tickets"): [(27, None)],
    ("tickets", "deals"): [(28, None)],
    ("deals", "line_items"): [(19, None)],
    ("line_items", "deals"): [(20, None)],
}
# engagements ↔ contacts, companies, deals, tickets: (object → engagement, engagement → object)
_ENGAGEMENT_TYPES = {
    "calls": {"contacts": 193, "companies": 181, "deals": 205, "tickets": 219},
    "emails": {"contacts": 197, "companies": 185, "deals": 209, "tickets": 223},
    "meetings": {"contacts": 199, "companies": 187, "deals": 211, "tickets": 225},
    "notes": {"contacts": 201, "companies": 189, "deals": 213, "tickets": 227},
    "tasks": {"contacts": 203, "companies": 191, "deals": 215, "tickets": 229},
}
for _eng, _pairs in _ENGAGEMENT_TYPES.items():
    for _obj, _tid in _pairs.items():
        ASSOC_TYPES[(_obj, _eng)] = [(_tid, None)]
        ASSOC_TYPES[(_eng, _obj)] = [(_tid + 1, None)]


def inverse_type(from_obj: str, to_obj: str, type_id: int,
                 types: dict[tuple[str, str], list[tuple[int, str | None]]] | None = None) -> int:
    """The type id seen from the other side (279 <-> 280, 1 <-> 2, ...)."""
    table = ASSOC_TYPES if types is None else types
    fwd = table.get((from_obj, to_obj), [])
    back = table.get((to_obj, from_obj), [])
    for i, (tid, _) in enumerate(fwd):
        if tid == type_id and i < len(back):
            return back[i][0]
    return back[0][0] if back else type_id


LIFECYCLE = ["subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity",
             "customer", "evangelist", "other"]
LEAD_STATUS = ["NEW", "OPEN", "IN_PROGRESS", "OPEN_DEAL", "UNQUALIFIED", "ATTEMPTED_TO_CONTACT",
               "CONNECTED", "BAD_TIMING"]
COMPANY_INDUSTRY = ["ACCOUNTING", "COMPUTER_SOFTWARE", "FINANCIAL_SERVICES", "HOSPITAL_HEALTH_CARE",
                    "MARKETING_AND_ADVERTISING", "RETAIL", "AUTOMOTIVE", "CONSTRUCTION", "EDUCATION_MANAGEMENT",
                    "INFORMATION_TECHNOLOGY_AND_SERVICES"]

PIPELINES: list[dict[str, Any]] = [
    {"id": "default", "label": "Sales Pipeline", "stages": [
        ("appointmentscheduled", "Appointment Scheduled", "0.2", False),
        ("qualifiedtobuy", "Qualified To Buy", "0.4", False),
        ("presentationscheduled", "Presentation Scheduled", "0.6", False),
        ("decisionmakerboughtin", "Decision Maker Bought-In", "0.8", False),
        ("contractsent", "Contract Sent", "0.9", False),
        ("closedwon", "Closed Won", "1.0", True),
        ("closedlost", "Closed Lost", "0.0", True),
    ]},
    {"id": "renewals", "label": "Renewals", "stages": [
        ("renewal_open", "Renewal Open", "0.5", False),
        ("renewal_won", "Renewed", "1.0", True),
        ("renewal_lost", "Churned", "0.0", True),
    ]},
]

# the ticket pipeline of a new portal: stages have a ticket state instead of a probability
TICKET_PIPELINES: list[dict[str, Any]] = [
    {"id": "0", "label": "Support Pipeline", "stages": [
        ("1", "New", "OPEN"), ("2", "Waiting on contact", "OPEN"), ("3", "Waiting on us", "OPEN"),
        ("4", "Closed", "CLOSED"),
    ]},
]
TICKET_PRIORITY = ["LOW", "MEDIUM", "HIGH", "URGENT"]
TICKET_CATEGORY = ["PRODUCT_ISSUE", "BILLING_ISSUE", "FEATURE_REQUEST", "GENERAL_INQUIRY"]


@dataclass
class PropDef:
    """One property definition; ``to_json`` gives HubSpot's ``Property`` shape."""

    name: str
    label: str
    type: str = "string"  # string | number | date | datetime | enumeration | bool | phone_number
    field_type: str = "text"  # text | textarea | number | date | select | radio | checkbox | booleancheckbox | ...
    options: list[tuple[str, str]] = field(default_factory=list)  # (value, label)
    read_only: bool = False
    calculated: bool = False
    unique: bool = False
    hubspot_defined: bool = True
    group: str = "contactinformation"
    description: str = ""

    def to_json(self, created_at: str) -> dict[str, Any]:
        return {
            "name": self.name, "label": self.label, "type": self.type, "fieldType": self.field_type,
            "description": self.description, "groupName": self.group,
            "options": [{"value": v, "label": lab, "displayOrder": i, "hidden": False}
                        for i, (v, lab) in enumerate(self.options)],
            "calculated": self.calculated, "externalOptions": False, "hasUniqueValue": self.unique,
            "hidden": False, "hubspotDefined": self.hubspot_defined, "formField": not self.read_only,
            "displayOrder": -1, "archived": False, "createdAt": created_at, "updatedAt": created_at,
            "modificationMetadata": {"archivable": not self.hubspot_defined, "readOnlyDefinition": self.hubspot_defined,
                                     "readOnlyValue": self.read_only or self.calculated},
        }


def _opts(values: list[str]) -> list[tuple[str, str]]:
    return [(v, v.replace("_", " ").title()) for v in values]


def _system(modified: str, group: str, created: str = "createdate") -> list[PropDef]:
    return [
        PropDef("hs_object_id", "Record ID", "number", "number", read_only=True, group=group),
        PropDef(created, "Create Date", "datetime", "date", read_only=True, group=group),
        PropDef(modified, "Last Modified Date", "datetime", "date", read_only=True, group=group),
        # set by a merge on the record it makes: the ids merged into it, ";"-separated
        PropDef("hs_merged_object_ids", "Merged Record IDs", "enumeration", "checkbox", read_only=True, group=group,
                description="The list of record IDs that have been merged into this record. This value is set "
                            "automatically by HubSpot."),
    ]


def default_properties() -> dict[str, dict[str, PropDef]]:
    stage_opts = [(s[0], s[1]) for p in PIPELINES for s in p["stages"]]
    contacts = [
        PropDef("email", "Email", field_type="text"),
        PropDef("firstname", "First Name"), PropDef("lastname", "Last Name"),
        PropDef("phone", "Phone Number", "string", "phonenumber"),
        PropDef("mobilephone", "Mobile Phone Number", "string", "phonenumber"),
        PropDef("company", "Company Name"), PropDef("jobtitle", "Job Title"), PropDef("website", "Website URL"),
        PropDef("address", "Street Address"), PropDef("city", "City"), PropDef("state", "State/Region"),
        PropDef("zip", "Postal Code"), PropDef("country", "Country/Region"), PropDef("industry", "Industry"),
        PropDef("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", _opts(LIFECYCLE)),
        PropDef("hs_lead_status", "Lead Status", "enumeration", "radio", _opts(LEAD_STATUS)),
        PropDef("associatedcompanyid", "Primary Associated Company ID", "number", "number", read_only=True),
        PropDef("num_associated_deals", "Number of Associated Deals", "number", "number", calculated=True),
        PropDef("hs_email_domain", "Email Domain", "string", "text", read_only=True),
        *_system("lastmodifieddate", "contactinformation"),
    ]
    companies = [
        PropDef("name", "Company name", group="companyinformation"),
        PropDef("domain", "Company Domain Name", group="companyinformation"),
        PropDef("industry", "Industry", "enumeration", "select", _opts(COMPANY_INDUSTRY), group="companyinformation"),
        PropDef("city", "City", group="companyinformation"), PropDef("country", "Country/Region", group="companyinformation"),
        PropDef("phone", "Phone Number", "string", "phonenumber", group="companyinformation"),
        PropDef("website", "Website URL", group="companyinformation"),
        PropDef("numberofemployees", "Number of Employees", "number", "number", group="companyinformation"),
        PropDef("annualrevenue", "Annual Revenue", "number", "number", group="companyinformation"),
        PropDef("description", "Description", "string", "textarea", group="companyinformation"),
        PropDef("num_associated_contacts", "Number of Associated Contacts", "number", "number", calculated=True,
                group="companyinformation"),
        *_system("hs_lastmodifieddate", "companyinformation"),
    ]
    deals = [
        PropDef("dealname", "Deal Name", group="dealinformation"),
        PropDef("amount", "Amount", "number", "number", group="dealinformation"),
        PropDef("dealstage", "Deal Stage", "enumeration", "radio", stage_opts, group="dealinformation"),
        PropDef("pipeline", "Pipeline", "enumeration", "select", [(p["id"], p["label"]) for p in PIPELINES],
                group="dealinformation"),
        PropDef("closedate", "Close Date", "datetime", "date", group="dealinformation"),
        PropDef("description", "Deal Description", "string", "textarea", group="dealinformation"),
        PropDef("hs_is_closed_won", "Is Closed Won", "bool", "booleancheckbox", [("true", "Yes"), ("false", "No")],
                calculated=True, group="dealinformation"),
        *_system("hs_lastmodifieddate", "dealinformation"),
    ]
    out = {obj: {p.name: p for p in props} for obj, props in
           (("contacts", contacts), ("companies", companies), ("deals", deals))}
    out.update({k: {p.name: p for p in props} for k, props in _more_properties().items()})
    return out


def _engagement(name: str, group: str, *props: PropDef) -> list[PropDef]:
    return [PropDef("hs_timestamp", "Activity date", "datetime", "date", group=group),
            PropDef("hubspot_owner_id", "Activity assigned to", "enumeration", "select", group=group),
            *props, *_system("hs_lastmodifieddate", group, created="hs_createdate")]


def _more_properties() -> dict[str, list[PropDef]]:
    """Tickets, products, line items, then the engagements (calls, emails, meetings, notes, tasks)."""
    stages = [(s[0], s[1]) for p in TICKET_PIPELINES for s in p["stages"]]
    g = "ticketinformation"
    tickets = [
        PropDef("subject", "Ticket name", group=g),
        PropDef("content", "Ticket description", "string", "textarea", group=g),
        PropDef("hs_pipeline", "Pipeline", "enumeration", "select", [(p["id"], p["label"]) for p in TICKET_PIPELINES],
                group=g),
        PropDef("hs_pipeline_stage", "Ticket status", "enumeration", "select", stages, group=g),
        PropDef("hs_ticket_priority", "Priority", "enumeration", "select", _opts(TICKET_PRIORITY), group=g),
        PropDef("hs_ticket_category", "Category", "enumeration", "checkbox", _opts(TICKET_CATEGORY), group=g),
        PropDef("source_type", "Source", "enumeration", "select", _opts(["EMAIL", "CHAT", "PHONE", "FORM"]), group=g),
        PropDef("closed_date", "Close date", "datetime", "date", group=g),
        *_system("hs_lastmodifieddate", g),
    ]
    g = "productinformation"
    products = [
        PropDef("name", "Name", group=g),
        PropDef("description", "Description", "string", "textarea", group=g),
        PropDef("price", "Unit price", "number", "number", group=g),
        PropDef("hs_sku", "SKU", group=g),
        PropDef("hs_cost_of_goods_sold", "Unit cost", "number", "number", group=g),
        PropDef("hs_recurring_billing_period", "Term", group=g),
        PropDef("hs_product_type", "Product type", "enumeration", "select",
                _opts(["inventory", "non_inventory", "service"]), group=g),
        *_system("hs_lastmodifieddate", g),
    ]
    g = "lineiteminformation"
    line_items = [
        PropDef("name", "Name", group=g),
        PropDef("description", "Description", "string", "textarea", group=g),
        PropDef("quantity", "Quantity", "number", "number", group=g),
        PropDef("price", "Unit price", "number", "number", group=g),
        PropDef("amount", "Net price", "number", "number", calculated=True, group=g),
        PropDef("hs_product_id", "Product ID", "number", "number", group=g),
        PropDef("hs_sku", "SKU", group=g),
        PropDef("discount", "Unit discount", "number", "number", group=g),
        *_system("hs_lastmodifieddate", g),
    ]
    return {"tickets": tickets, "products": products, "line_items": line_items, **_engagements()}


def _engagements() -> dict[str, list[PropDef]]:
    calls = _engagement(
        "calls", "call",
        PropDef("hs_call_title", "Call title", group="call"),
        PropDef("hs_call_body", "Call notes", "string", "html", group="call"),
        PropDef("hs_call_direction", "Call direction", "enumeration", "select", _opts(["INBOUND", "OUTBOUND"]),
                group="call"),
        PropDef("hs_call_duration", "Call duration", "number", "number", group="call"),
        PropDef("hs_call_status", "Call status", "enumeration", "select", _opts(
            ["BUSY", "CALLING_CRM_USER", "CANCELED", "COMPLETED", "CONNECTING", "FAILED", "IN_PROGRESS",
             "NO_ANSWER", "QUEUED", "RINGING"]), group="call"),
        PropDef("hs_call_from_number", "From number", group="call"),
        PropDef("hs_call_to_number", "To number", group="call"),
        PropDef("hs_call_disposition", "Call outcome", group="call"))
    emails = _engagement(
        "emails", "email",
        PropDef("hs_email_subject", "Email subject", group="email"),
        PropDef("hs_email_text", "Email body", "string", "textarea", group="email"),
        PropDef("hs_email_html", "Email HTML body", "string", "html", group="email"),
        PropDef("hs_email_direction", "Email direction", "enumeration", "select",
                _opts(["EMAIL", "INCOMING_EMAIL", "FORWARDED_EMAIL"]), group="email"),
        PropDef("hs_email_status", "Email send status", "enumeration", "select",
                _opts(["BOUNCED", "FAILED", "SCHEDULED", "SENDING", "SENT"]), group="email"),
        PropDef("hs_email_headers", "Email headers", "string", "textarea", group="email"))
    meetings = _engagement(
        "meetings", "meeting",
        PropDef("hs_meeting_title", "Meeting name", group="meeting"),
        PropDef("hs_meeting_body", "Meeting description", "string", "html", group="meeting"),
        PropDef("hs_meeting_start_time", "Start time", "datetime", "date", group="meeting"),
        PropDef("hs_meeting_end_time", "End time", "datetime", "date", group="meeting"),
        PropDef("hs_meeting_location", "Location", group="meeting"),
        PropDef("hs_meeting_outcome", "Meeting outcome", "enumeration", "select",
                _opts(["SCHEDULED", "COMPLETED", "RESCHEDULED", "NO_SHOW", "CANCELED"]), group="meeting"))
    notes = _engagement(
        "notes", "note",
        PropDef("hs_note_body", "Note body", "string", "html", group="note"),
        PropDef("hs_attachment_ids", "Attached files", group="note"))
    tasks = _engagement(
        "tasks", "task",
        PropDef("hs_task_subject", "Task title", group="task"),
        PropDef("hs_task_body", "Task notes", "string", "html", group="task"),
        PropDef("hs_task_status", "Task status", "enumeration", "select",
                _opts(["NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED"]), group="task"),
        PropDef("hs_task_priority", "Priority", "enumeration", "select", _opts(["NONE", "LOW", "MEDIUM", "HIGH"]),
                group="task"),
        PropDef("hs_task_type", "Task type", "enumeration", "select", _opts(["CALL", "EMAIL", "TODO"]), group="task"),
        PropDef("hs_task_completion_date", "Completed at", "datetime", "date", read_only=True, group="task"))
    return {"calls": calls, "emails": emails, "meetings": meetings, "notes": notes, "tasks": tasks}


def custom_properties(group: str) -> list[PropDef]:
    """The system properties every custom object has."""
    return _system("hs_lastmodifieddate", group, created="hs_createdate")


def pipeline_json(created_at: str) -> list[dict[str, Any]]:
    """The deal pipelines."""
    return _pipelines_json([(p["id"], p["label"], [(sid, label, {"isClosed": str(closed).lower(), "probability": prob})
                                                   for sid, label, prob, closed in p["stages"]]) for p in PIPELINES],
                           created_at)


def ticket_pipeline_json(created_at: str) -> list[dict[str, Any]]:
    return _pipelines_json([(p["id"], p["label"], [(sid, label, {"ticketState": state, "isClosed": str(
        state == "CLOSED").lower()}) for sid, label, state in p["stages"]]) for p in TICKET_PIPELINES], created_at)


def _pipelines_json(pipes: list[tuple[str, str, list[tuple[str, str, dict[str, str]]]]],
                    created_at: str) -> list[dict[str, Any]]:
    out = []
    for order, (pid, plabel, pstages) in enumerate(pipes):
        stages = [{"id": sid, "label": label, "displayOrder": i, "archived": False, "createdAt": created_at,
                   "updatedAt": created_at, "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT", "metadata": meta}
                  for i, (sid, label, meta) in enumerate(pstages)]
        out.append({"id": pid, "label": plabel, "displayOrder": order, "archived": False,
                    "createdAt": created_at, "updatedAt": created_at, "stages": stages})
    return out
