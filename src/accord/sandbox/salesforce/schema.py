"""The emulated org's metadata: objects, fields, picklists, formulas, opportunity stages and ids.

Field attributes follow the REST ``describe`` shape (``calculated``, ``createable``,
``updateable``, ``nillable``, ``defaultedOnCreate`` …) so that a connector reading the
describe learns exactly what a real org would tell it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

Row = dict[str, Any]  # a stored record: API field name -> Python value (str/float/int/bool/date/datetime)
Formula = Callable[[Row, "FormulaContext"], Any]


class FormulaContext:
    """What a formula may look at besides its own row: today's date and parent records."""

    def __init__(self, today: date, lookup: Callable[[str | None], Row | None]) -> None:
        self.today = today
        self.lookup = lookup


@dataclass(frozen=True)
class SField:
    name: str
    type: str  # Salesforce describe type: string, email, phone, picklist, double, currency, ...
    label: str
    length: int = 0
    createable: bool = True
    updateable: bool = True
    nillable: bool = True
    calculated: bool = False
    unique: bool = False
    external_id: bool = False
    defaulted: bool = False  # defaultedOnCreate
    default: Any = None
    picklist: tuple[str, ...] = ()
    restricted: bool = False
    reference_to: tuple[str, ...] = ()
    formula: Formula | None = None
    formula_text: str | None = None
    custom: bool = False

    @property
    def read_only(self) -> bool:
        return not (self.createable or self.updateable)

    def describe(self) -> dict[str, Any]:
        soap = {
            "string": "xsd:string", "email": "xsd:string", "phone": "xsd:string", "url": "xsd:string",
            "textarea": "xsd:string", "picklist": "xsd:string", "double": "xsd:double",
            "currency": "xsd:double", "percent": "xsd:double", "int": "xsd:int", "date": "xsd:date",
            "datetime": "xsd:dateTime", "boolean": "xsd:boolean", "id": "tns:ID", "reference": "tns:ID",
        }[self.type]
        return {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "soapType": soap,
            "length": self.length,
            "precision": 18 if self.type in ("double", "currency", "percent") else 0,
            "scale": 2 if self.type in ("currency", "percent") else 0,
            "digits": 9 if self.type == "int" else 0,
            "calculated": self.calculated,
            "calculatedFormula": self.formula_text,
            "createable": self.createable,
            "updateable": self.updateable,
            "nillable": self.nillable,
            "unique": self.unique,
            "externalId": self.external_id,
            "idLookup": self.type == "id" or self.external_id or self.type == "email",
            "defaultedOnCreate": self.defaulted,
            "defaultValue": self.default if isinstance(self.default, str | bool | int | float) else None,
            "custom": self.custom,
            "filterable": True,
            "sortable": self.type != "textarea",
            "groupable": self.type not in ("textarea", "double", "currency", "percent", "datetime"),
            "picklistValues": [
                {"active": True, "defaultValue": v == self.default, "label": v, "validFor": None, "value": v}
                for v in self.picklist
            ],
            "restrictedPicklist": self.restricted,
            "referenceTo": list(self.reference_to),
            "relationshipName": self.name[:-2] if self.type == "reference" and self.name.endswith("Id") else None,
        }


@dataclass(frozen=True)
class SObject:
    name: str
    label: str
    label_plural: str
    key_prefix: str
    fields: Mapping[str, SField]
    writable: bool = True  # OpportunityStage is read-only metadata
    duplicate_field: str | None = None  # field the sandbox's duplicate rule matches on
    lower: dict[str, str] = field(default_factory=dict)  # lower-cased name -> API name

    def __post_init__(self) -> None:
        self.lower.update({n.lower(): n for n in self.fields})

    def field(self, name: str) -> SField | None:
        api = self.lower.get(name.lower())
        return self.fields[api] if api else None

    def urls(self, version: str) -> dict[str, str]:
        base = f"/services/data/{version}/sobjects/{self.name}"
        return {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"}

    def summary(self, version: str) -> dict[str, Any]:
        return {
            "name": self.name, "label": self.label, "labelPlural": self.label_plural,
            "keyPrefix": self.key_prefix, "custom": False, "queryable": True, "retrieveable": True,
            "replicateable": True, "searchable": self.writable, "createable": self.writable,
            "updateable": self.writable, "deletable": self.writable, "urls": self.urls(version),
        }

    def describe(self, version: str) -> dict[str, Any]:
        return {**self.summary(version), "fields": [f.describe() for f in self.fields.values()]}


# -- ids ------------------------------------------------------------------------------------

_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def id18(id15: str) -> str:
    """Salesforce's case-safe 18-character id: one suffix char per 5-char chunk, whose bits
    flag the upper-case letters of that chunk."""
    suffix = ""
    for i in range(3):
        chunk = id15[i * 5 : i * 5 + 5]
        bits = sum(1 << j for j, c in enumerate(chunk) if "A" <= c <= "Z")
        suffix += _SUFFIX[bits]
    return id15 + suffix


def make_id(prefix: str, n: int) -> str:
    """``prefix`` + pod ``5g`` + ``0`` + 9 base-62 digits of ``n``: ids sort in creation order."""
    digits = ""
    for _ in range(9):
        n, r = divmod(n, 62)
        digits = _B62[r] + digits
    return id18(prefix + "5g0" + digits)


def normalize_id(value: str) -> str | None:
    """15- or 18-char id → 18-char id; ``None`` when it isn't id-shaped (MALFORMED_ID)."""
    if len(value) == 18 and value.isalnum() and id18(value[:15]) == value:
        return value
    if len(value) == 15 and value.isalnum():
        return id18(value)
    return None


# -- objects --------------------------------------------------------------------------------

LEAD_SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")
INDUSTRIES = (
    "Agriculture", "Banking", "Communications", "Consulting", "Education", "Electronics", "Energy",
    "Finance", "Healthcare", "Manufacturing", "Media", "Retail", "Technology", "Other",
)
SALUTATIONS = ("Mr.", "Ms.", "Mrs.", "Dr.", "Prof.")


@dataclass(frozen=True)
class StageInfo:
    label: str
    probability: int
    closed: bool
    won: bool
    forecast: str


STAGES: tuple[StageInfo, ...] = (
    StageInfo("Prospecting", 10, False, False, "Pipeline"),
    StageInfo("Qualification", 10, False, False, "Pipeline"),
    StageInfo("Needs Analysis", 20, False, False, "Pipeline"),
    StageInfo("Value Proposition", 50, False, False, "Pipeline"),
    StageInfo("Id. Decision Makers", 60, False, False, "Pipeline"),
    StageInfo("Perception Analysis", 70, False, False, "Pipeline"),
    StageInfo("Proposal/Price Quote", 75, False, False, "Pipeline"),
    StageInfo("Negotiation/Review", 90, False, False, "Pipeline"),
    StageInfo("Closed Won", 100, True, True, "Closed"),
    StageInfo("Closed Lost", 0, True, False, "Omitted"),
)
STAGE_BY_LABEL = {s.label: s for s in STAGES}


def _sys_fields() -> list[SField]:
    ro: dict[str, Any] = {"createable": False, "updateable": False}
    return [
        SField("Id", "id", "Record ID", 18, nillable=False, defaulted=True, **ro),
        SField("IsDeleted", "boolean", "Deleted", nillable=False, defaulted=True, **ro),
        SField("CreatedDate", "datetime", "Created Date", nillable=False, defaulted=True, **ro),
        SField("LastModifiedDate", "datetime", "Last Modified Date", nillable=False, defaulted=True, **ro),
        SField("SystemModstamp", "datetime", "System Modstamp", nillable=False, defaulted=True, **ro),
    ]


def _s(name: str, label: str, length: int = 80, **kw: Any) -> SField:
    return SField(name, "string", label, length, **kw)


def _pick(name: str, label: str, values: tuple[str, ...], **kw: Any) -> SField:
    return SField(name, "picklist", label, 255, picklist=values, **kw)


def _ext_id() -> SField:
    return SField("External_Id__c", "string", "External Id", 255, unique=True, external_id=True, custom=True)


def _name(row: Row, _ctx: FormulaContext) -> str | None:
    parts = [row.get("Salutation"), row.get("FirstName"), row.get("LastName")]
    return " ".join(p for p in parts if p) or None


def _formula_name(row: Row, _ctx: FormulaContext) -> str | None:
    # FirstName & " " & UPPER(LastName)
    last = row.get("LastName")
    return " ".join(p for p in (row.get("FirstName"), last.upper() if last else None) if p) or None


def _account_name(row: Row, ctx: FormulaContext) -> str | None:
    # Account.Name: changes when the *account* is renamed, without touching the contact's stamps
    parent = ctx.lookup(row.get("AccountId"))
    return parent.get("Name") if parent else None


def _days_since_created(row: Row, ctx: FormulaContext) -> int | None:
    created = row.get("CreatedDate")
    return (ctx.today - created.date()).days if isinstance(created, datetime) else None


def _expected_revenue(row: Row, _ctx: FormulaContext) -> float | None:
    amount, prob = row.get("Amount"), row.get("Probability")
    if amount is None or prob is None:
        return None
    return round(float(amount) * float(prob) / 100.0, 2)


def _fields(*fs: SField) -> dict[str, SField]:
    return {f.name: f for f in (*_sys_fields(), *fs)}


def _master_record(obj: str) -> SField:
    """MasterRecordId: null, except on a record a merge deleted, where it names the record that remains."""
    return SField("MasterRecordId", "reference", "Master Record ID", 18, createable=False, updateable=False,
                  reference_to=(obj,))


_CALC: dict[str, Any] = {"createable": False, "updateable": False, "calculated": True, "custom": True}

CONTACT = SObject("Contact", "Contact", "Contacts", "003", _fields(
    _master_record("Contact"),
    SField("AccountId", "reference", "Account ID", 18, reference_to=("Account",)),
    _s("LastName", "Last Name", nillable=False),
    _s("FirstName", "First Name", 40),
    _pick("Salutation", "Salutation", SALUTATIONS),
    SField("Name", "string", "Full Name", 121, createable=False, updateable=False, nillable=False,
           formula=_name),
    SField("Email", "email", "Email", 80),
    SField("Phone", "phone", "Business Phone", 40),
    SField("MobilePhone", "phone", "Mobile Phone", 40),
    _s("Title", "Title", 128),
    _s("Department", "Department"),
    _pick("LeadSource", "Lead Source", LEAD_SOURCES),
    SField("MailingStreet", "textarea", "Mailing Street", 255),
    _s("MailingCity", "Mailing City", 40),
    _s("MailingState", "Mailing State/Province"),
    _s("MailingPostalCode", "Mailing Zip/Postal Code", 20),
    _s("MailingCountry", "Mailing Country"),
    SField("Birthdate", "date", "Birthdate"),
    SField("Description", "textarea", "Contact Description", 32000),
    SField("HasOptedOutOfEmail", "boolean", "Email Opt Out", nillable=False, defaulted=True, default=False),
    SField("DoNotCall", "boolean", "Do Not Call", nillable=False, defaulted=True, default=False),
    _pick("Status__c", "Status", ("Open", "Contacted", "Qualified", "Unqualified"), restricted=True,
          custom=True),
    _ext_id(),
    SField("Name_Formula__c", "string", "Name (formula)", 1300, formula=_formula_name,
           formula_text='FirstName & " " & UPPER(LastName)', **_CALC),
    SField("Account_Name__c", "string", "Account Name (formula)", 1300, formula=_account_name,
           formula_text="Account.Name", **_CALC),
    SField("Days_Since_Created__c", "double", "Days Since Created", formula=_days_since_created,
           formula_text="TODAY() - DATEVALUE(CreatedDate)", **_CALC),
), duplicate_field="Email")

LEAD = SObject("Lead", "Lead", "Leads", "00Q", _fields(
    _master_record("Lead"),
    _s("LastName", "Last Name", nillable=False),
    _s("FirstName", "First Name", 40),
    _pick("Salutation", "Salutation", SALUTATIONS),
    SField("Name", "string", "Full Name", 121, createable=False, updateable=False, nillable=False,
           formula=_name),
    _s("Title", "Title", 128),
    _s("Company", "Company", 255, nillable=False),
    SField("Email", "email", "Email", 80),
    SField("Phone", "phone", "Phone", 40),
    SField("MobilePhone", "phone", "Mobile Phone", 40),
    SField("Website", "url", "Website", 255),
    _pick("LeadSource", "Lead Source", LEAD_SOURCES),
    _pick("Status", "Lead Status", ("Open - Not Contacted", "Working - Contacted", "Closed - Converted",
                                     "Closed - Not Converted"),
          nillable=False, defaulted=True, default="Open - Not Contacted"),
    _pick("Industry", "Industry", INDUSTRIES),
    _pick("Rating", "Rating", ("Hot", "Warm", "Cold")),
    SField("AnnualRevenue", "currency", "Annual Revenue"),
    SField("NumberOfEmployees", "int", "Employees"),
    SField("Street", "textarea", "Street", 255),
    _s("City", "City", 40),
    _s("State", "State/Province"),
    _s("PostalCode", "Zip/Postal Code", 20),
    _s("Country", "Country"),
    SField("Description", "textarea", "Description", 32000),
    # lead conversion, as the REST API shows it: IsConverted is settable on insert only (data loads of
    # converted leads), the Converted* fields are set by the conversion alone
    SField("IsConverted", "boolean", "Converted", updateable=False, nillable=False, defaulted=True,
           default=False),
    SField("ConvertedDate", "date", "Converted Date", createable=False, updateable=False),
    SField("ConvertedAccountId", "reference", "Converted Account ID", 18, createable=False, updateable=False,
           reference_to=("Account",)),
    SField("ConvertedContactId", "reference", "Converted Contact ID", 18, createable=False, updateable=False,
           reference_to=("Contact",)),
    SField("ConvertedOpportunityId", "reference", "Converted Opportunity ID", 18, createable=False,
           updateable=False, reference_to=("Opportunity",)),
    SField("HasOptedOutOfEmail", "boolean", "Email Opt Out", nillable=False, defaulted=True, default=False),
    _ext_id(),
), duplicate_field="Email")

ACCOUNT = SObject("Account", "Account", "Accounts", "001", _fields(
    _master_record("Account"),
    _s("Name", "Account Name", 255, nillable=False),
    _pick("Type", "Account Type", ("Prospect", "Customer - Direct", "Customer - Channel", "Partner", "Other")),
    _pick("Industry", "Industry", INDUSTRIES),
    SField("Website", "url", "Website", 255),
    SField("Phone", "phone", "Account Phone", 40),
    SField("AnnualRevenue", "currency", "Annual Revenue"),
    SField("NumberOfEmployees", "int", "Employees"),
    SField("BillingStreet", "textarea", "Billing Street", 255),
    _s("BillingCity", "Billing City", 40),
    _s("BillingState", "Billing State/Province"),
    _s("BillingPostalCode", "Billing Zip/Postal Code", 20),
    _s("BillingCountry", "Billing Country"),
    SField("Description", "textarea", "Account Description", 32000),
    _ext_id(),
))

OPPORTUNITY = SObject("Opportunity", "Opportunity", "Opportunities", "006", _fields(
    SField("AccountId", "reference", "Account ID", 18, reference_to=("Account",)),
    # the price book its products come from: set by the first opportunity product when empty
    SField("Pricebook2Id", "reference", "Price Book ID", 18, reference_to=("Pricebook2",)),
    _s("Name", "Name", 120, nillable=False),
    _pick("StageName", "Stage", tuple(s.label for s in STAGES), nillable=False, restricted=True),
    SField("Amount", "currency", "Amount"),
    SField("Probability", "percent", "Probability (%)", defaulted=True),
    SField("ExpectedRevenue", "currency", "Expected Amount", formula=_expected_revenue,
           formula_text="Amount * Probability", **{**_CALC, "custom": False}),
    SField("CloseDate", "date", "Close Date", nillable=False),
    _pick("Type", "Opportunity Type", ("New Business", "Existing Business")),
    _pick("LeadSource", "Lead Source", LEAD_SOURCES),
    _s("NextStep", "Next Step", 255),
    SField("Description", "textarea", "Description", 32000),
    SField("IsClosed", "boolean", "Closed", createable=False, updateable=False, nillable=False, defaulted=True),
    SField("IsWon", "boolean", "Won", createable=False, updateable=False, nillable=False, defaulted=True),
    _pick("ForecastCategoryName", "Forecast Category", ("Omitted", "Pipeline", "Best Case", "Commit", "Closed"),
          defaulted=True),
    _ext_id(),
))

_ro: dict[str, Any] = {"createable": False, "updateable": False}
OPPORTUNITY_STAGE = SObject("OpportunityStage", "Opportunity Stage", "Opportunity Stages", "01J", {
    f.name: f for f in (
        *_sys_fields(),
        SField("MasterLabel", "string", "Master Label", 255, nillable=False, **_ro),
        SField("ApiName", "string", "Api Name", 255, nillable=False, **_ro),
        SField("IsActive", "boolean", "Is Active", nillable=False, **_ro),
        SField("SortOrder", "int", "Sort Order", **_ro),
        SField("IsClosed", "boolean", "Closed", nillable=False, **_ro),
        SField("IsWon", "boolean", "Won", nillable=False, **_ro),
        SField("DefaultProbability", "percent", "Probability (%)", **_ro),
        SField("ForecastCategoryName", "picklist", "Forecast Category", 255, **_ro),
        SField("Description", "string", "Description", 255, **_ro),
    )
}, writable=False)

# -- service, products and activities (standard objects a HubSpot sync pairs with tickets,
# products, line items and engagements) -------------------------------------------------------
_STD_CALC: dict[str, Any] = {**_CALC, "custom": False}


def _case_closed(row: Row, _ctx: FormulaContext) -> bool:
    return row.get("Status") == "Closed"


def _line_total(row: Row, _ctx: FormulaContext) -> float | None:
    qty, price = row.get("Quantity"), row.get("UnitPrice")
    return None if qty is None or price is None else round(float(qty) * float(price), 2)


def _task_closed(row: Row, _ctx: FormulaContext) -> bool:
    return row.get("Status") in ("Completed", "Deferred")


CASE = SObject("Case", "Case", "Cases", "500", _fields(
    SField("CaseNumber", "string", "Case Number", 30, createable=False, updateable=False, nillable=False,
           defaulted=True),
    SField("AccountId", "reference", "Account ID", 18, reference_to=("Account",)),
    SField("ContactId", "reference", "Contact ID", 18, reference_to=("Contact",)),
    _s("Subject", "Subject", 255),
    SField("Description", "textarea", "Description", 32000),
    _pick("Status", "Status", ("New", "Working", "Escalated", "Closed"), nillable=False, defaulted=True,
          default="New"),
    _pick("Priority", "Priority", ("High", "Medium", "Low"), defaulted=True, default="Medium"),
    _pick("Origin", "Case Origin", ("Phone", "Email", "Web")),
    _pick("Type", "Case Type", ("Mechanical", "Electrical", "Electronic", "Structural", "Other")),
    _pick("Reason", "Case Reason", ("Installation", "Equipment Complexity", "Performance", "Breakdown",
                                    "Equipment Design", "Feedback", "Other")),
    SField("SuppliedEmail", "email", "Web Email", 80),
    SField("IsClosed", "boolean", "Closed", formula=_case_closed, formula_text='ISPICKVAL(Status, "Closed")',
           nillable=False, **_STD_CALC),
    SField("ClosedDate", "datetime", "Closed Date", createable=False, updateable=False),
    _ext_id(),
))

PRODUCT2 = SObject("Product2", "Product", "Products", "01t", _fields(
    _s("Name", "Product Name", 255, nillable=False),
    _s("ProductCode", "Product Code", 255),
    SField("Description", "textarea", "Product Description", 4000),
    SField("IsActive", "boolean", "Active", nillable=False, defaulted=True, default=False),
    _pick("Family", "Product Family", ("None", "Hardware", "Software", "Services")),
    _s("QuantityUnitOfMeasure", "Quantity Unit Of Measure", 255),
    _ext_id(),
))

PRICEBOOK2 = SObject("Pricebook2", "Price Book", "Price Books", "01s", _fields(
    _s("Name", "Price Book Name", 255, nillable=False),
    SField("IsActive", "boolean", "Active", nillable=False, defaulted=True, default=False),
    SField("IsStandard", "boolean", "Is Standard Price Book", createable=False, updateable=False, nillable=False,
           defaulted=True, default=False),
    SField("Description", "string", "Description", 255),
))

PRICEBOOK_ENTRY = SObject("PricebookEntry", "Price Book Entry", "Price Book Entries", "01u", _fields(
    SField("Pricebook2Id", "reference", "Price Book ID", 18, nillable=False, updateable=False,
           reference_to=("Pricebook2",)),
    SField("Product2Id", "reference", "Product ID", 18, nillable=False, updateable=False,
           reference_to=("Product2",)),
    SField("UnitPrice", "currency", "List Price", nillable=False),
    SField("IsActive", "boolean", "Active", nillable=False, defaulted=True, default=False),
    SField("UseStandardPrice", "boolean", "Use Standard Price", nillable=False, defaulted=True, default=False),
    _s("ProductCode", "Product Code", 255, createable=False, updateable=False),
))
STANDARD_PRICEBOOK_ID = make_id("01s", 1)  # every org has its standard price book from the start

OPPORTUNITY_LINE_ITEM = SObject("OpportunityLineItem", "Opportunity Product", "Opportunity Product", "00k", _fields(
    SField("OpportunityId", "reference", "Opportunity ID", 18, nillable=False, updateable=False,
           reference_to=("Opportunity",)),
    SField("PricebookEntryId", "reference", "Price Book Entry ID", 18, updateable=False,
           reference_to=("PricebookEntry",)),
    SField("Product2Id", "reference", "Product ID", 18, updateable=False, reference_to=("Product2",)),
    _s("Name", "Opportunity Product Name", 376, createable=False, updateable=False),
    _s("ProductCode", "Product Code", 255, createable=False, updateable=False),
    SField("Quantity", "double", "Quantity", nillable=False),
    SField("UnitPrice", "currency", "Sales Price"),
    SField("ListPrice", "currency", "List Price", createable=False, updateable=False),
    SField("TotalPrice", "currency", "Total Price", formula=_line_total, formula_text="Quantity * UnitPrice",
           **_STD_CALC),
    SField("Discount", "percent", "Discount"),
    SField("ServiceDate", "date", "Date"),
    SField("Description", "string", "Line Description", 255),
    _ext_id(),
))

_WHO, _WHAT = ("Contact", "Lead"), ("Account", "Opportunity", "Case")

TASK = SObject("Task", "Task", "Tasks", "00T", _fields(
    SField("WhoId", "reference", "Name ID", 18, reference_to=_WHO),
    SField("WhatId", "reference", "Related To ID", 18, reference_to=_WHAT),
    _s("Subject", "Subject", 255),
    SField("ActivityDate", "date", "Due Date Only"),
    _pick("Status", "Status", ("Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred"),
          nillable=False, defaulted=True, default="Not Started"),
    _pick("Priority", "Priority", ("High", "Normal", "Low"), nillable=False, defaulted=True, default="Normal"),
    SField("Description", "textarea", "Comments", 32000),
    _pick("TaskSubtype", "Task Subtype", ("Task", "Email", "Call", "ListEmail", "Cadence"), updateable=False),
    _pick("CallType", "Call Type", ("Internal", "Inbound", "Outbound")),
    SField("CallDurationInSeconds", "int", "Call Duration"),
    _s("CallDisposition", "Call Result", 255),
    SField("IsClosed", "boolean", "Closed", formula=_task_closed,
           formula_text='OR(ISPICKVAL(Status, "Completed"), ISPICKVAL(Status, "Deferred"))', nillable=False,
           **_STD_CALC),
    _ext_id(),
))

EVENT = SObject("Event", "Event", "Events", "00U", _fields(
    SField("WhoId", "reference", "Name ID", 18, reference_to=_WHO),
    SField("WhatId", "reference", "Related To ID", 18, reference_to=_WHAT),
    _s("Subject", "Subject", 255),
    _s("Location", "Location", 255),
    SField("StartDateTime", "datetime", "Start Date Time"),
    SField("EndDateTime", "datetime", "End Date Time"),
    SField("ActivityDateTime", "datetime", "Due Date Time"),
    SField("DurationInMinutes", "int", "Duration"),
    SField("IsAllDayEvent", "boolean", "All-Day Event", nillable=False, defaulted=True, default=False),
    SField("Description", "textarea", "Description", 32000),
    _pick("ShowAs", "Show Time As", ("Busy", "OutOfOffice", "Free"), defaulted=True, default="Busy"),
    _ext_id(),
))

OBJECTS: dict[str, SObject] = {o.name: o for o in (ACCOUNT, CONTACT, LEAD, OPPORTUNITY, OPPORTUNITY_STAGE, CASE,
                                                    PRODUCT2, PRICEBOOK2, PRICEBOOK_ENTRY, OPPORTUNITY_LINE_ITEM,
                                                    TASK, EVENT)}
OBJECTS_LOWER = {k.lower(): v for k, v in OBJECTS.items()}
PREFIXES = {o.key_prefix: o.name for o in OBJECTS.values()}


def sobject(name: str) -> SObject | None:
    return OBJECTS_LOWER.get(name.lower())
