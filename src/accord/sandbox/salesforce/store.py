"""The emulated org's state and its save rules, independent of HTTP.

A save runs Salesforce's order of checks that matter to an integration: field access
(``INVALID_FIELD_FOR_INSERT_UPDATE``), required fields, field formats (email, length,
restricted picklists, lookups), unique fields, custom validation rules
(``FIELD_CUSTOM_VALIDATION_EXCEPTION``) and finally the duplicate rule
(``DUPLICATES_DETECTED``). Timestamps have one-second precision, as in a real org, so many
records share a ``SystemModstamp`` and clients must break ties by ``Id``.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from accord.sandbox.salesforce import soql
from accord.sandbox.salesforce.schema import (
    OBJECTS,
    PREFIXES,
    STAGE_BY_LABEL,
    STAGES,
    STANDARD_PRICEBOOK_ID,
    FormulaContext,
    Row,
    SField,
    SObject,
    make_id,
    normalize_id,
)

_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
WRITABLE = ("Account", "Contact", "Lead", "Opportunity")


@dataclass
class SfError:
    code: str
    message: str
    fields: list[str] = field(default_factory=list)
    duplicate_result: dict[str, Any] | None = None

    def rest(self) -> dict[str, Any]:
        """Shape of the single-record REST endpoints: ``errorCode``."""
        out: dict[str, Any] = {"message": self.message, "errorCode": self.code, "fields": self.fields}
        if self.duplicate_result:
            out["duplicateResult"] = self.duplicate_result
        return out

    def collection(self) -> dict[str, Any]:
        """Shape inside sObject Collections results: ``statusCode``, not ``errorCode``."""
        out: dict[str, Any] = {"statusCode": self.code, "message": self.message, "fields": self.fields}
        if self.duplicate_result:
            out["duplicateResult"] = self.duplicate_result
        return out


class RequestError(Exception):
    """The whole request fails (4xx), as opposed to one record of a batch."""

    def __init__(self, status: int, code: str, message: str, fields: list[str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = SfError(code, message, fields or [])


class RecordError(Exception):
    def __init__(self, *errors: SfError) -> None:
        super().__init__(errors[0].message)
        self.errors = list(errors)


@dataclass
class ValidationRule:
    """A custom validation rule: the save is rejected when ``condition`` (a SOQL WHERE
    expression over the record as it would be saved) is true, as a formula rule would."""

    name: str
    object: str
    condition: str
    message: str
    field: str | None = None
    active: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "object": self.object, "condition": self.condition,
                "message": self.message, "field": self.field, "active": self.active}


def fmt_datetime(d: datetime) -> str:
    """Salesforce's wire form of a datetime: UTC, milliseconds, ``+0000``."""
    if d.tzinfo is not UTC:
        d = d.astimezone(UTC)
    # isoformat (C) rather than strftime: a query job formats three of these per row
    return d.isoformat(timespec="milliseconds")[:23] + "+0000"


def to_wire(f: SField, v: Any) -> Any:
    if v is None:
        return None
    if f.type == "datetime":
        return fmt_datetime(v)
    if f.type == "date":
        return v.isoformat()
    if f.type in ("double", "currency", "percent"):
        return float(v)
    return v


def _parse_error(f: SField, v: Any) -> RequestError:
    kind = {"double": "double", "currency": "double", "percent": "double", "int": "int", "date": "Date",
            "datetime": "Datetime", "boolean": "boolean"}.get(f.type, "String")
    return RequestError(
        400, "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {kind} from VALUE_STRING value {v} or request may be missing a "
        f"required field",
    )


def from_wire(f: SField, v: Any) -> Any:
    """JSON value -> stored value; a value of the wrong JSON type fails the request, as
    Salesforce's deserializer does."""
    if v is None:
        return None
    t = f.type
    try:
        if t in ("double", "currency", "percent"):
            if isinstance(v, bool):
                raise ValueError
            return float(v)
        if t == "int":
            if isinstance(v, bool):
                raise ValueError
            fv = float(v)
            if not fv.is_integer():
                raise ValueError
            return int(fv)
        if t == "boolean":
            if isinstance(v, bool):
                return v
            if isinstance(v, str) and v.lower() in ("true", "false"):
                return v.lower() == "true"
            raise ValueError
        if t == "date":
            return date.fromisoformat(str(v)[:10]) if isinstance(v, str) else _fail()
        if t == "datetime":
            return soql.parse_datetime(v) if isinstance(v, str) else _fail()
        if isinstance(v, dict | list):
            raise ValueError
        if isinstance(v, bool):
            return "true" if v else "false"
        s = str(v) if not isinstance(v, float) or not v.is_integer() else str(int(v))
        return s if s != "" else None  # Salesforce stores an empty string as null
    except (ValueError, TypeError) as e:
        raise _parse_error(f, v) from e


def _fail() -> Any:
    raise ValueError


@dataclass
class Stats:
    calls: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    faults: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"calls": self.calls, "by_kind": dict(self.by_kind), "faults": dict(self.faults)}


class Org:
    """All records of the org plus its delete log, clock and rules. Thread-safe: the HTTP
    server runs in its own thread while tests edit state directly."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.offset = timedelta(0)
        self.validation_rules: list[ValidationRule] = []
        self.duplicate_objects: set[str] = set()
        self.reset()

    # -- state ------------------------------------------------------------------------
    def reset(self) -> None:
        with self.lock:
            self.rows: dict[str, dict[str, Row]] = {name: {} for name in OBJECTS}
            self.delete_log: dict[str, list[tuple[str, datetime]]] = {name: [] for name in OBJECTS}
            self.purged_before: dict[str, datetime] = {}
            self.counter = 1000
            self._journal: list[tuple[str, str, Row | None]] | None = None
            self._seed_stages()
            self._seed_standard_pricebook()

    def now(self) -> datetime:
        return datetime.now(UTC).replace(microsecond=0) + self.offset

    def advance(self, seconds: float) -> datetime:
        with self.lock:
            self.offset += timedelta(seconds=seconds)
            return self.now()

    def _new_id(self, obj: SObject) -> str:
        self.counter += 1
        return make_id(obj.key_prefix, self.counter)

    def _seed_stages(self) -> None:
        t = self.now() - timedelta(days=365)
        for i, s in enumerate(STAGES, start=1):
            sid = make_id("01J", i)
            self.rows["OpportunityStage"][sid] = {
                "Id": sid, "IsDeleted": False, "CreatedDate": t, "LastModifiedDate": t, "SystemModstamp": t,
                "MasterLabel": s.label, "ApiName": s.label, "IsActive": True, "SortOrder": i,
                "IsClosed": s.closed, "IsWon": s.won, "DefaultProbability": float(s.probability),
                "ForecastCategoryName": s.forecast, "Description": None,
            }

    def _seed_standard_pricebook(self) -> None:
        # a fresh org has its standard price book, active: products are priced there first
        t = self.now() - timedelta(days=365)
        self.rows["Pricebook2"][STANDARD_PRICEBOOK_ID] = {
            "Id": STANDARD_PRICEBOOK_ID, "IsDeleted": False, "CreatedDate": t, "LastModifiedDate": t,
            "SystemModstamp": t, "Name": "Standard Price Book", "IsActive": True, "IsStandard": True,
            "Description": None,
        }

    # -- reading ----------------------------------------------------------------------
    def obj(self, name: str) -> SObject:
        o = OBJECTS.get(name) or next((v for k, v in OBJECTS.items() if k.lower() == name.lower()), None)
        if o is None:
            raise RequestError(404, "NOT_FOUND", f"The requested resource does not exist: sObject type "
                               f"'{name}' is not supported.")
        return o

    def lookup(self, id: str | None) -> Row | None:
        if not id:
            return None
        name = PREFIXES.get(id[:3])
        return self.rows[name].get(id) if name else None

    def view(self, obj: SObject, row: Row, ctx: FormulaContext | None = None) -> Row:
        """The row with its formula fields evaluated now (formulas never touch timestamps);
        ``ctx``: a context made once for many rows (``formula_context``)."""
        ctx = ctx or self.formula_context()
        out = dict(row)
        for f in obj.fields.values():
            if f.formula is not None:
                out[f.name] = f.formula(row, ctx)
        return out

    def formula_context(self) -> FormulaContext:
        return FormulaContext(self.now().date(), self.lookup)

    def render(self, obj: SObject, row: Row, fields: Iterable[str], version: str) -> dict[str, Any]:
        attrs = {"type": obj.name, "url": f"/services/data/{version}/sobjects/{obj.name}/{row['Id']}"}
        out: dict[str, Any] = {"attributes": attrs}
        for name in fields:
            out[name] = to_wire(obj.fields[name], row.get(name))
        return out

    def get(self, obj: SObject, id: str) -> Row:
        nid = normalize_id(id)
        row = self.rows[obj.name].get(nid) if nid else None
        if row is None:
            raise RequestError(404, "NOT_FOUND", "The requested resource does not exist")
        if row["IsDeleted"]:
            raise RequestError(404, "ENTITY_IS_DELETED", "entity is deleted")
        return row

    def query(self, q: soql.Query, include_deleted: bool) -> list[Row]:
        with self.lock:
            ctx = self.formula_context()
            rows = [self.view(q.sobject, r, ctx) for r in self.rows[q.sobject.name].values()
                    if include_deleted or not r["IsDeleted"]]
            return soql.run(q, rows)

    # -- writing ----------------------------------------------------------------------
    @contextmanager
    def all_or_none(self) -> Iterator[list[tuple[str, str, Row | None]]]:
        """Journal every change so that a failed allOrNone batch can be rolled back."""
        with self.lock:
            journal: list[tuple[str, str, Row | None]] = []
            self._journal = journal
            try:
                yield journal
            finally:
                self._journal = None

    def rollback(self, journal: list[tuple[str, str, Row | None]]) -> None:
        with self.lock:
            for name, id, before in reversed(journal):
                if before is None:
                    self.rows[name].pop(id, None)
                else:
                    self.rows[name][id] = before
                self.delete_log[name] = [(i, d) for i, d in self.delete_log[name] if not (i == id and before)]

    def _store(self, obj: SObject, row: Row) -> None:
        if self._journal is not None:
            old = self.rows[obj.name].get(row["Id"])
            self._journal.append((obj.name, row["Id"], dict(old) if old else None))
        self.rows[obj.name][row["Id"]] = row

    def _coerce(self, obj: SObject, values: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, v in values.items():
            if name == "attributes":
                continue
            f = obj.field(name)
            if f is None:
                raise RequestError(400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {obj.name}")
            out[f.name] = from_wire(f, v)
        return out

    def create(self, type_: str, values: Mapping[str, Any], *, allow_save: bool = False,
               rules: bool = True) -> str:
        """Insert one record; raises RecordError (per-record) or RequestError (whole request)."""
        obj = self.obj(type_)
        vals = self._coerce(obj, values)
        with self.lock:
            if not obj.writable:
                raise RecordError(SfError("INVALID_TYPE_FOR_OPERATION", f"entity type {obj.name} does not "
                                          "support insert"))
            if "Id" in vals:
                raise RecordError(SfError("INVALID_FIELD", "cannot specify Id in an insert call", ["Id"]))
            bad = [n for n in vals if not obj.fields[n].createable]
            if bad:
                raise RecordError(_access_error(bad))
            row: Row = {f.name: f.default for f in obj.fields.values() if f.formula is None}
            row.update(vals)
            self._derive(obj, row, vals)
            self._check(obj, row, list(vals), None, allow_save, rules)
            if obj.name == "PricebookEntry":
                self._check_price_entry(row)
            elif obj.name == "OpportunityLineItem":
                self._price_line_item(row)
            now = self.now()
            row.update(Id=self._new_id(obj), IsDeleted=False, CreatedDate=now, LastModifiedDate=now,
                       SystemModstamp=now)
            self._store(obj, row)
            return str(row["Id"])

    def update(self, type_: str, id: str, values: Mapping[str, Any], *, allow_save: bool = False,
               rules: bool = True) -> str:
        obj = self.obj(type_)
        vals = self._coerce(obj, values)
        vals.pop("Id", None)
        with self.lock:
            current = self._existing(obj, id)
            if obj.name == "Lead" and current.get("IsConverted"):
                # a converted lead is read-only for every client, whatever the fields (real orgs' error)
                raise RecordError(SfError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead"))
            bad = [n for n in vals if not obj.fields[n].updateable]
            if bad:
                raise RecordError(_access_error(bad))
            row = dict(current)
            row.update(vals)
            self._derive(obj, row, vals)
            self._check(obj, row, list(vals), current["Id"], allow_save, rules)
            # every save moves both stamps, even when no value changed (as in a real org)
            now = self.now()
            row.update(LastModifiedDate=now, SystemModstamp=now)
            self._store(obj, row)
            return str(row["Id"])

    def delete(self, type_: str | None, id: str) -> str:
        with self.lock:
            nid = normalize_id(id)
            if nid is None:
                raise RecordError(SfError("MALFORMED_ID", f"malformed id {id}"))
            name = type_ or PREFIXES.get(nid[:3])
            if name is None:
                raise RecordError(SfError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id"))
            obj = self.obj(name)
            row = self._existing(obj, nid)
            if not obj.writable:
                raise RecordError(SfError("INVALID_TYPE_FOR_OPERATION", "entity type cannot be deleted"))
            now = self.now()
            self._store(obj, {**row, "IsDeleted": True, "LastModifiedDate": now, "SystemModstamp": now})
            self.delete_log[obj.name].append((nid, now))
            if obj.name == "Account":  # deleting an account deletes its contacts and opportunities
                for child in ("Contact", "Opportunity"):
                    for cid, crow in list(self.rows[child].items()):
                        if crow.get("AccountId") == nid and not crow["IsDeleted"]:
                            self.delete(child, cid)
            return nid

    def undelete(self, type_: str, id: str) -> str:
        """Restore a deleted record from the Recycle Bin, as a user does: the same Id and values,
        both stamps move (the change feed sees it), and getDeleted no longer lists it. A record
        merged away, or purged, cannot be restored (as in Salesforce)."""
        with self.lock:
            obj, nid = self.obj(type_), normalize_id(id)
            row = self.rows[obj.name].get(nid or "")
            if row is None or not row["IsDeleted"] or row.get("MasterRecordId"):
                raise RecordError(SfError("UNDELETE_FAILED", "Entity is not in the recycle bin"))
            now = self.now()
            self._store(obj, {**row, "IsDeleted": False, "LastModifiedDate": now, "SystemModstamp": now})
            self.delete_log[obj.name] = [(i, d) for i, d in self.delete_log[obj.name] if i != nid]
            return str(nid)

    def convert_lead(self, lead_id: str, *, contact_id: str | None = None, account_id: str | None = None,
                     opportunity: bool = False, status: str = "Closed - Converted") -> dict[str, str | None]:
        """Convert a lead as Salesforce's convertLead does: the account (``account_id``, else a new
        one named after the lead's company), the contact (``contact_id``: an existing one, whose
        blank fields the lead's values fill; else a new one from the lead), optionally an
        opportunity; the lead is then converted and read-only. Returns the LeadConvertResult ids."""
        with self.lock:
            lead_obj, now = OBJECTS["Lead"], self.now()
            lead = self._existing(lead_obj, lead_id)
            if lead.get("IsConverted"):
                raise RecordError(SfError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead"))
            if contact_id is not None and account_id is None:
                contact = self._existing(OBJECTS["Contact"], contact_id)
                account_id = contact.get("AccountId")
                if account_id is None:
                    raise RecordError(SfError("REQUIRED_FIELD_MISSING", "accountId must be specified if contactId "
                                              "is not null", ["accountId"]))
            if account_id is None:
                account_id = self.create("Account", {"Name": lead.get("Company") or lead.get("LastName")},
                                         allow_save=True, rules=False)
            else:
                account_id = str(self._existing(OBJECTS["Account"], account_id)["Id"])
            values = {dst: lead.get(src) for src, dst in _LEAD_TO_CONTACT if lead.get(src) not in (None, "")}
            if contact_id is None:
                contact_id = self.create("Contact", {**{k: to_wire(OBJECTS["Contact"].fields[k], v)
                                                        for k, v in values.items()}, "AccountId": account_id},
                                         allow_save=True, rules=False)
            else:
                contact = self._existing(OBJECTS["Contact"], contact_id)
                blank = {k: v for k, v in values.items() if contact.get(k) in (None, "")}
                self._store(OBJECTS["Contact"], {**contact, **blank, "LastModifiedDate": now, "SystemModstamp": now})
                contact_id = str(contact["Id"])
            opp_id = None
            if opportunity:
                opp_id = self.create("Opportunity", {"Name": f"{lead.get('Company') or lead.get('LastName')}-",
                                                     "StageName": STAGES[0].label, "AccountId": account_id,
                                                     "CloseDate": (now.date() + timedelta(days=30)).isoformat()},
                                     allow_save=True, rules=False)
            self._store(lead_obj, {**lead, "IsConverted": True, "Status": status, "ConvertedDate": now.date(),
                                   "ConvertedAccountId": account_id, "ConvertedContactId": contact_id,
                                   "ConvertedOpportunityId": opp_id, "LastModifiedDate": now, "SystemModstamp": now})
            return {"leadId": str(lead["Id"]), "accountId": account_id, "contactId": contact_id,
                    "opportunityId": opp_id}

    def merge(self, type_: str, master_id: str, merged_ids: Sequence[str]) -> dict[str, Any]:
        """Merge duplicates as a user does in Salesforce (Accounts, Contacts, Leads: the objects with
        MasterRecordId): the master keeps its Id and takes the merged records' values where its own
        are blank; their child records' lookups move to the master; each merged record is deleted
        (getDeleted lists it) with MasterRecordId naming the master. Returns a MergeResult's ids."""
        with self.lock:
            obj, now = self.obj(type_), self.now()
            if obj.field("MasterRecordId") is None:
                raise RecordError(SfError("INVALID_TYPE_FOR_OPERATION", f"entity type {obj.name} does not support merge"))
            if not 1 <= len(merged_ids) <= 2:
                # unconfirmed wording; a merge takes the master and one or two more records
                raise RecordError(SfError("INVALID_OPERATION", "A single merge request must contain one or two "
                                          f"records to merge with the master, got {len(merged_ids)}"))
            master = self._existing(obj, master_id)
            losers = [self._existing(obj, i) for i in merged_ids]
            ids = [master["Id"], *(r["Id"] for r in losers)]
            if len(set(ids)) != len(ids):
                raise RecordError(SfError("INVALID_OPERATION", "merge request with duplicated ids"))
            if obj.name == "Lead" and any(r.get("IsConverted") for r in (master, *losers)):
                raise RecordError(SfError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead"))
            # the values a user can set (not booleans: false is a value, never "blank")
            fields = [f.name for f in obj.fields.values()
                      if (f.createable or f.updateable) and f.formula is None and f.type != "boolean"]
            row = dict(master)
            for loser in losers:
                row.update({k: loser[k] for k in fields if row.get(k) in (None, "") and loser.get(k) not in (None, "")})
            self._store(obj, {**row, "LastModifiedDate": now, "SystemModstamp": now})
            gone = {str(r["Id"]) for r in losers}
            related = self._reparent(gone, str(master["Id"]), now)
            for loser in losers:
                self._store(obj, {**loser, "IsDeleted": True, "MasterRecordId": master["Id"],
                                  "LastModifiedDate": now, "SystemModstamp": now})
                self.delete_log[obj.name].append((str(loser["Id"]), now))
            return {"id": str(master["Id"]), "mergedRecordIds": sorted(gone), "updatedRelatedIds": related}

    def _reparent(self, old: set[str], new: str, now: datetime) -> list[str]:
        """Point the lookups users set (AccountId, ContactId, WhoId …) of live records at ``new``
        instead of any of ``old``: a save of each record changed. Returns their ids."""
        changed: list[str] = []
        for child in OBJECTS.values():
            refs = [f.name for f in child.fields.values() if f.type == "reference" and (f.createable or f.updateable)]
            for row in list(self.rows[child.name].values()) if refs else ():
                moved = {k: new for k in refs if row.get(k) in old}
                if moved and not row["IsDeleted"]:
                    self._store(child, {**row, **moved, "LastModifiedDate": now, "SystemModstamp": now})
                    changed.append(str(row["Id"]))
        return changed

    def touch(self, type_: str, id: str) -> None:
        """A system-only change (e.g. a recalculation): SystemModstamp moves, LastModifiedDate doesn't."""
        with self.lock:
            obj = self.obj(type_)
            row = self._existing(obj, id)
            self._store(obj, {**row, "SystemModstamp": self.now()})

    def find_by(self, obj: SObject, field_name: str, value: Any) -> list[Row]:
        f = obj.fields[field_name]
        v = from_wire(f, value)
        return [r for r in self.rows[obj.name].values() if not r["IsDeleted"] and r.get(f.name) == v]

    def _existing(self, obj: SObject, id: str) -> Row:
        nid = normalize_id(id)
        if nid is None:
            raise RecordError(SfError("MALFORMED_ID", f"{obj.label} ID: id value of incorrect type: {id}", ["Id"]))
        row = self.rows[obj.name].get(nid)
        if row is None:
            raise RecordError(SfError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id"))
        if row["IsDeleted"]:
            raise RecordError(SfError("ENTITY_IS_DELETED", "entity is deleted"))
        return row

    def _derive(self, obj: SObject, row: Row, vals: Mapping[str, Any]) -> None:
        """Fields Salesforce sets itself: stage-driven probability, closed/won flags."""
        if obj.name == "Opportunity":
            stage = STAGE_BY_LABEL.get(row.get("StageName") or "")
            if stage:
                if "StageName" in vals and "Probability" not in vals:
                    row["Probability"] = float(stage.probability)
                row.update(IsClosed=stage.closed, IsWon=stage.won, ForecastCategoryName=stage.forecast)

    def _check(self, obj: SObject, row: Row, changed: list[str], self_id: str | None, allow_save: bool,
               rules: bool) -> None:
        missing = [f.name for f in obj.fields.values()
                   if not f.nillable and f.createable and not f.defaulted and row.get(f.name) in (None, "")]
        if missing:
            raise RecordError(SfError("REQUIRED_FIELD_MISSING",
                                      f"Required fields are missing: [{', '.join(missing)}]", missing))
        errors: list[SfError] = []
        for name in changed:
            f, v = obj.fields[name], row.get(name)
            if v is None:
                continue
            if f.type == "email" and not _EMAIL.match(str(v)):
                errors.append(SfError("INVALID_EMAIL_ADDRESS", f"{f.label}: invalid email address: {v}", [name]))
            elif isinstance(v, str) and f.length and len(v) > f.length:
                errors.append(SfError("STRING_TOO_LONG", f"{f.label}: data value too large: {v[:40]} "
                                      f"(max length={f.length})", [name]))
            elif f.type == "picklist" and f.restricted and v not in f.picklist:
                errors.append(SfError("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                                      f"{f.label}: bad value for restricted picklist field: {v}", [name]))
            elif f.type == "reference":
                errors.extend(self._check_reference(f, str(v), row))
            elif f.unique:
                other = next((r for r in self.rows[obj.name].values() if r.get(name) == v and r["Id"] != self_id
                              and not r["IsDeleted"]), None)
                if other:
                    errors.append(SfError("DUPLICATE_VALUE", f"duplicate value found: {name} duplicates value on "
                                          f"record with id: {other['Id']}", [name]))
        if errors:
            raise RecordError(*errors)
        if not rules:
            return
        view = self.view(obj, row)
        for rule in self.validation_rules:
            if rule.active and rule.object.lower() == obj.name.lower():
                q = soql.parse(f"SELECT Id FROM {obj.name} WHERE {rule.condition}")
                if soql.matches(q, q.where, view):
                    raise RecordError(SfError("FIELD_CUSTOM_VALIDATION_EXCEPTION", rule.message,
                                              [rule.field] if rule.field else []))
        if not allow_save and obj.name in self.duplicate_objects and obj.duplicate_field:
            self._check_duplicates(obj, row, self_id)

    def _entries(self, product: str, book: str) -> list[Row]:
        return [r for r in self.rows["PricebookEntry"].values()
                if not r["IsDeleted"] and r["Product2Id"] == product and r["Pricebook2Id"] == book]

    def _check_price_entry(self, row: Row) -> None:
        """A product is priced in the standard price book once, before any other price book."""
        product, book = str(row["Product2Id"]), str(row["Pricebook2Id"])
        if self._entries(product, book):
            raise RecordError(SfError("DUPLICATE_VALUE", "This price definition already exists in this price book"))
        if book != STANDARD_PRICEBOOK_ID and not self._entries(product, STANDARD_PRICEBOOK_ID):
            raise RecordError(SfError("STANDARD_PRICE_NOT_DEFINED", "No standard price defined for this product"))
        row["ProductCode"] = (self.lookup(product) or {}).get("ProductCode")

    def _price_line_item(self, row: Row) -> None:
        """An opportunity product names its price book entry, or its product (whose active entry in the
        opportunity's price book, else the standard one, is taken); the entry must be in the
        opportunity's price book, which the first line item sets when it is empty."""
        def integrity(detail: str) -> RecordError:
            return RecordError(SfError("FIELD_INTEGRITY_EXCEPTION", f"field integrity exception: {detail}",
                                       ["PricebookEntryId"]))

        entry_id, product = row.get("PricebookEntryId"), row.get("Product2Id")
        if not entry_id and not product:
            raise integrity("PricebookEntryId, unknown (versions 3.0 and higher must specify pricebook entry id; "
                            "others must specify product id)")
        opp = self.rows["Opportunity"][row["OpportunityId"]]  # an existing one: _check saw to it
        book = opp.get("Pricebook2Id")
        if entry_id:
            entry = self.rows["PricebookEntry"][entry_id]
            if product and entry["Product2Id"] != product:
                raise integrity("PricebookEntryId, Product2Id (the pricebook entry is for another product)")
        else:
            active = [e for e in self._entries(str(product), str(book or STANDARD_PRICEBOOK_ID)) if e["IsActive"]]
            if not active:
                raise integrity("PricebookEntryId (no active pricebook entry for the product in the "
                                "opportunity's price book)")
            entry = active[0]
        if book and entry["Pricebook2Id"] != book:
            raise integrity("PricebookEntryId (pricebook entry is in a different pricebook than the one assigned "
                            "to the opportunity)")
        if not entry["IsActive"]:
            raise integrity("PricebookEntryId (pricebook entry is inactive)")
        item = self.rows["Product2"].get(entry["Product2Id"]) or {}
        row.update(PricebookEntryId=entry["Id"], Product2Id=entry["Product2Id"], ListPrice=entry["UnitPrice"],
                   ProductCode=item.get("ProductCode"), Name=f"{opp.get('Name')} {item.get('Name')}")
        if not book:  # the opportunity takes the price book of its first product (a save of its own)
            now = self.now()
            self._store(OBJECTS["Opportunity"], {**opp, "Pricebook2Id": entry["Pricebook2Id"],
                                                 "LastModifiedDate": now, "SystemModstamp": now})

    def _check_reference(self, f: SField, v: str, row: Row) -> list[SfError]:
        nid = normalize_id(v)
        if nid is None:
            return [SfError("MALFORMED_ID", f"{f.label}: id value of incorrect type: {v}", [f.name])]
        row[f.name] = nid
        target = self.lookup(nid)
        if target is None or PREFIXES.get(nid[:3]) not in f.reference_to:
            return [SfError("INVALID_CROSS_REFERENCE_KEY", f"{f.label}: invalid cross reference id", [f.name])]
        if target["IsDeleted"]:
            return [SfError("ENTITY_IS_DELETED", "entity is deleted", [f.name])]
        return []

    def _check_duplicates(self, obj: SObject, row: Row, self_id: str | None) -> None:
        key = obj.duplicate_field or ""
        value = (row.get(key) or "").strip().lower()
        if not value:
            return
        hits = [r for r in self.rows[obj.name].values()
                if not r["IsDeleted"] and r["Id"] != self_id and (r.get(key) or "").strip().lower() == value]
        if not hits:
            return
        message = "Use one of these records?"
        result = {
            "allowSave": False,
            "duplicateRule": f"Standard_{obj.name}_Duplicate_Rule",
            "duplicateRuleEntityType": obj.name,
            "errorMessage": message,
            "matchResults": [{
                "entityType": obj.name, "errors": [], "matchEngine": "ExactMatchEngine",
                "matchRecords": [{
                    "additionalInformation": [], "fieldDiffs": [], "matchConfidence": 100.0,
                    "record": {"attributes": {"type": obj.name,
                                              "url": f"/services/data/v62.0/sobjects/{obj.name}/{r['Id']}"},
                               "Id": r["Id"]},
                } for r in hits[:10]],
                "rule": f"{obj.name}_Email_Match_Rule", "size": len(hits), "success": True,
            }],
        }
        raise RecordError(SfError("DUPLICATES_DETECTED", message, [], result))

    # -- replication ------------------------------------------------------------------
    def updated_ids(self, obj: SObject, start: datetime, end: datetime) -> list[str]:
        with self.lock:
            return [r["Id"] for r in self.rows[obj.name].values()
                    if not r["IsDeleted"] and start <= r["SystemModstamp"] <= end]

    def deleted(self, obj: SObject, start: datetime, end: datetime) -> list[tuple[str, datetime]]:
        with self.lock:
            return [(i, d) for i, d in self.delete_log[obj.name] if start <= d <= end]

    def purge_deleted(self, type_: str, before: datetime | None = None) -> None:
        """Empty the delete log (as the recycle bin purge does): older getDeleted windows fail."""
        with self.lock:
            obj = self.obj(type_)
            cut = before or self.now()
            self.delete_log[obj.name] = [(i, d) for i, d in self.delete_log[obj.name] if d >= cut]
            self.purged_before[obj.name] = cut
            for id, row in list(self.rows[obj.name].items()):
                if row["IsDeleted"] and row["SystemModstamp"] < cut:
                    del self.rows[obj.name][id]

    # -- seeding ----------------------------------------------------------------------
    def seed(self, n: int, seed: int = 42, objects: Iterable[str] = WRITABLE) -> dict[str, int]:
        """``n`` realistic records per object, deterministic by ``seed``, created and last
        modified at random moments of the past 20 days."""
        wanted = set(objects)
        draw = _Seeder(self, seed)
        counts: dict[str, int] = {}
        with self.lock:
            for name in ("Account", "Contact", "Lead", "Opportunity"):
                if name not in wanted:
                    continue
                obj = OBJECTS[name]
                for _ in range(n):
                    row = draw.row(name)
                    row["Id"] = self._new_id(obj)
                    self.rows[name][row["Id"]] = row
                    if name == "Account":
                        draw.account_ids.append(row["Id"])
                counts[name] = n
        return counts


class _Seeder:
    """Draws the rows :meth:`Org.seed` creates from one random stream, so a seed always gives the
    same records (the order of draws is part of that: keep it when changing anything here)."""

    def __init__(self, org: Org, seed: int) -> None:
        self.rnd = random.Random(seed)
        self.pool = _pools(seed)
        self.now = org.now()
        self.account_ids: list[str] = [r["Id"] for r in org.rows["Account"].values() if not r["IsDeleted"]]
        self.emails: set[str] = {str(r.get("Email")).lower() for n in ("Contact", "Lead") for r in org.rows[n].values()}
        self.companies: set[str] = {str(r["Name"]) for r in org.rows["Account"].values()}
        self.industries = OBJECTS["Account"].fields["Industry"].picklist

    def pick(self, kind: str) -> str:
        return str(self.rnd.choice(self.pool[kind]))

    def stamps(self) -> dict[str, Any]:
        created = self.now - timedelta(seconds=self.rnd.randint(3600, 20 * 86400))
        modified = created + timedelta(seconds=self.rnd.randint(0, int((self.now - created).total_seconds())))
        return {"IsDeleted": False, "CreatedDate": created, "LastModifiedDate": modified,
                "SystemModstamp": modified}

    def email(self, first: str, last: str, domain: str) -> str:
        base = re.sub(r"[^a-z.]", "", f"{first}.{last}".lower())
        e, i = f"{base}@{domain}", 1
        while e in self.emails:
            i += 1
            e = f"{base}{i}@{domain}"
        self.emails.add(e)
        return e

    def company(self) -> str:
        name, i = self.pick("company"), 1
        base = name
        while name in self.companies:
            i += 1
            name = f"{base} {['Group', 'Holdings', 'International', 'Labs', 'Partners'][i % 5]} {i}"
        self.companies.add(name)
        return name

    def row(self, name: str) -> Row:
        """One new row of ``name`` (no ``Id`` yet): defaults, time stamps, then the object's own fields."""
        row: Row = {f.name: f.default for f in OBJECTS[name].fields.values() if f.formula is None}
        row.update(self.stamps())
        first, last = self.pick("first_name"), self.pick("last_name")
        if name == "Account":
            self._account(row)
        elif name in ("Contact", "Lead"):
            self._person(name, row, first, last)
        else:
            self._opportunity(row)
        return row

    def _account(self, row: Row) -> None:
        rnd, pick = self.rnd, self.pick
        cname = self.company()
        domain = re.sub(r"[^a-z]", "", cname.lower())[:20] + ".com"
        row.update(Name=cname, Website=f"https://www.{domain}", Phone=pick("phone_number"),
                   Industry=rnd.choice(self.industries), Type=rnd.choice(("Prospect", "Customer - Direct")),
                   BillingCity=pick("city"), BillingState=pick("state_abbr"),
                   BillingCountry="United States", NumberOfEmployees=rnd.randint(5, 5000),
                   AnnualRevenue=float(rnd.randint(1, 500) * 100_000))

    def _person(self, name: str, row: Row, first: str, last: str) -> None:
        rnd, pick = self.rnd, self.pick
        domain = pick("domain_name")
        row.update(FirstName=first, LastName=last, Title=pick("job")[:128], Phone=pick("phone_number"),
                   Email=self.email(first, last, domain) if rnd.random() > 0.05 else None,
                   LeadSource=rnd.choice(OBJECTS[name].fields["LeadSource"].picklist))
        if name == "Contact":
            row.update(MailingCity=pick("city"), MailingCountry="United States",
                       AccountId=rnd.choice(self.account_ids) if self.account_ids and rnd.random() < 0.8 else None,
                       Status__c=rnd.choice(("Open", "Contacted", "Qualified")))
        else:
            row.update(Company=pick("company"), City=pick("city"), Country="United States",
                       Industry=rnd.choice(self.industries))

    def _opportunity(self, row: Row) -> None:
        rnd = self.rnd
        stage = rnd.choice(STAGES)
        account = rnd.choice(self.account_ids) if self.account_ids else None
        row.update(Name=self.pick("bs").title()[:100], AccountId=account, StageName=stage.label,
                   Amount=float(rnd.randint(1, 200) * 500), Probability=float(stage.probability),
                   IsClosed=stage.closed, IsWon=stage.won, ForecastCategoryName=stage.forecast,
                   CloseDate=(self.now + timedelta(days=rnd.randint(-60, 120))).date(),
                   Type=rnd.choice(("New Business", "Existing Business")))


@lru_cache(maxsize=4)
def _pools(seed: int) -> dict[str, list[str]]:
    """Values drawn once from faker and then combined: realistic records at a fraction of
    faker's per-call cost, so seeding thousands of records stays well under a second."""
    from faker import Faker  # imported lazily: faker's start-up is slow

    fake = Faker("en_US")
    fake.seed_instance(seed)
    kinds = ("first_name", "last_name", "city", "company", "domain_name", "job", "phone_number", "state_abbr", "bs")
    return {k: [str(getattr(fake, k)()) for _ in range(300)] for k in kinds}


# the standard lead field mapping of a conversion: lead field -> contact field
_LEAD_TO_CONTACT = (("FirstName", "FirstName"), ("LastName", "LastName"), ("Salutation", "Salutation"),
                    ("Email", "Email"), ("Phone", "Phone"), ("MobilePhone", "MobilePhone"), ("Title", "Title"),
                    ("LeadSource", "LeadSource"), ("Description", "Description"),
                    ("HasOptedOutOfEmail", "HasOptedOutOfEmail"), ("Street", "MailingStreet"),
                    ("City", "MailingCity"), ("State", "MailingState"), ("PostalCode", "MailingPostalCode"),
                    ("Country", "MailingCountry"))


def _access_error(fields: list[str]) -> SfError:
    return SfError(
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        f"Unable to create/update fields: {', '.join(fields)}. Please check the security settings of this field "
        "and verify that it is read/write for your profile or permission set.",
        fields,
    )
