"""Default property definitions, pipelines and association types of a fresh HubSpot portal.

Only the subset Accord and its tests use; names, types and field types follow HubSpot's
standard properties. Property JSON follows the ``Property`` schema of the properties v3 spec.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Object names used in URLs, their object type ids, and webhook subscription prefixes.
OBJECT_TYPE_IDS = {"contacts": "0-1", "companies": "0-2", "deals": "0-3"}
OBJECT_BY_TYPE_ID = {v: k for k, v in OBJECT_TYPE_IDS.items()}
SINGULAR = {"contacts": "contact", "companies": "company", "deals": "deal"}
ALIASES = {"contact": "contacts", "company": "companies", "deal": "deals", **OBJECT_BY_TYPE_ID}

# The property whose change cursor search uses; contacts are the odd one out.
MODIFIED_PROP = {"contacts": "lastmodifieddate", "companies": "hs_lastmodifieddate", "deals": "hs_lastmodifieddate"}

# Properties returned by list/read/search when the request names none (as HubSpot does).
DEFAULT_PROPS = {
    "contacts": ["firstname", "lastname", "email", "createdate", "lastmodifieddate", "hs_object_id"],
    "companies": ["name", "domain", "createdate", "hs_lastmodifieddate", "hs_object_id"],
    "deals": ["dealname", "amount", "closedate", "pipeline", "dealstage", "createdate",
              "hs_lastmodifieddate", "hs_object_id"],
}

# Default (HUBSPOT_DEFINED) association type ids: (from, to) -> (typeId, label)
ASSOC_TYPES: dict[tuple[str, str], list[tuple[int, str | None]]] = {
    ("contacts", "companies"): [(279, None), (1, "Primary")],
    ("companies", "contacts"): [(280, None), (2, "Primary")],
    ("deals", "contacts"): [(3, None)],
    ("contacts", "deals"): [(4, None)],
    ("deals", "companies"): [(341, None), (5, "Primary")],
    ("companies", "deals"): [(342, None), (6, "Primary")],
}


def inverse_type(from_obj: str, to_obj: str, type_id: int) -> int:
    """The type id seen from the other side (279 <-> 280, 1 <-> 2, ...)."""
    fwd = ASSOC_TYPES.get((from_obj, to_obj), [])
    back = ASSOC_TYPES.get((to_obj, from_obj), [])
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


def _system(modified: str, group: str) -> list[PropDef]:
    return [
        PropDef("hs_object_id", "Record ID", "number", "number", read_only=True, group=group),
        PropDef("createdate", "Create Date", "datetime", "date", read_only=True, group=group),
        PropDef(modified, "Last Modified Date", "datetime", "date", read_only=True, group=group),
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
    return {obj: {p.name: p for p in props} for obj, props in
            (("contacts", contacts), ("companies", companies), ("deals", deals))}


def pipeline_json(created_at: str) -> list[dict[str, Any]]:
    out = []
    for order, p in enumerate(PIPELINES):
        stages = [{"id": sid, "label": label, "displayOrder": i, "archived": False, "createdAt": created_at,
                   "updatedAt": created_at, "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
                   "metadata": {"isClosed": str(closed).lower(), "probability": prob}}
                  for i, (sid, label, prob, closed) in enumerate(p["stages"])]
        out.append({"id": p["id"], "label": p["label"], "displayOrder": order, "archived": False,
                    "createdAt": created_at, "updatedAt": created_at, "stages": stages})
    return out
