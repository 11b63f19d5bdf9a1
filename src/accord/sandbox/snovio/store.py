"""State of one emulated Snov.io account: prospect lists, prospects, custom fields, tokens.

Plain Python under one lock; the FastAPI routes (``app.py``) translate HTTP to these calls
and back to Snov.io's JSON shapes (see :func:`prospect_json`).
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# Fields of add-prospect-to-list (and of the designed update-prospect) kept on the prospect.
TEXT_FIELDS = ("firstName", "lastName", "country", "locality", "industry", "position", "companyName",
               "companySite")
CUSTOM_TYPES = ("string", "number", "date")


class ApiError(Exception):
    """An error answer: HTTP status and Snov.io's ``{"success": false, "errors": …}`` body."""

    def __init__(self, status: int, errors: Any, headers: Mapping[str, str] | None = None,
                 body: dict[str, Any] | None = None) -> None:
        super().__init__(str(errors))
        self.status = status
        self.body = body if body is not None else {"success": False, "errors": errors}
        self.headers = dict(headers or {})


def now_utc() -> datetime:
    # Snov.io's dates carry whole seconds (".000000" in its JSON)
    return datetime.now(UTC).replace(microsecond=0)


def php_date(d: datetime | None) -> dict[str, Any] | None:
    """A date as Snov.io (PHP DateTime) serialises it."""
    if d is None:
        return None
    return {"date": d.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.000000"), "timezone_type": 3, "timezone": "UTC"}


@dataclass
class CustomField:
    id: int
    name: str
    type: str = "string"
    required: bool = False


@dataclass
class ProspectList:
    id: int
    name: str
    created: datetime
    members: dict[str, None] = field(default_factory=dict)  # prospect ids in the order they were added
    deleted: datetime | None = None


@dataclass
class Prospect:
    id: str
    emails: list[str]
    values: dict[str, str] = field(default_factory=dict)  # TEXT_FIELDS that are set
    phones: list[str] = field(default_factory=list)
    custom: dict[int, str] = field(default_factory=dict)  # custom field id -> value
    source: str = "api"
    created: datetime = field(default_factory=now_utc)
    updated: datetime = field(default_factory=now_utc)


@dataclass
class ProspectInput:
    """The prospect fields of one request; ``None`` = not sent (unchanged on update)."""

    email: str | None = None
    values: dict[str, str] = field(default_factory=dict)  # "" clears
    phones: list[str] | None = None
    custom: dict[str, str] = field(default_factory=dict)  # by custom field name; "" clears

    @staticmethod
    def parse(params: Mapping[str, Any]) -> ProspectInput:
        """From request parameters (form or JSON): ``phones[]``/``phones``, ``customFields[name]``/``customFields``."""
        inp = ProspectInput()
        email = params.get("email")
        if email is not None:
            inp.email = str(email).strip()
        for k in TEXT_FIELDS:
            if params.get(k) is not None:
                inp.values[k] = str(params[k]).strip()
        phones = params.get("phones[]", params.get("phones"))
        if phones is not None:
            items = phones if isinstance(phones, list) else [phones]
            inp.phones = [str(p).strip() for p in items if str(p).strip()]
        nested = params.get("customFields")
        if isinstance(nested, Mapping):
            inp.custom.update({str(k): "" if v is None else str(v).strip() for k, v in nested.items()})
        for k, v in params.items():
            m = re.fullmatch(r"customFields\[(.+)\]", k)
            if m:
                inp.custom[m.group(1)] = "" if v is None else str(v[-1] if isinstance(v, list) else v).strip()
        return inp


class Store:
    def __init__(self, clock: Callable[[], datetime] = now_utc) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.fields: dict[int, CustomField] = {}
            self.lists: dict[int, ProspectList] = {}
            self.prospects: dict[str, Prospect] = {}
            self.tokens: dict[str, tuple[str, float]] = {}  # token -> (client id, expiry as time.time())
            self._next_list = 1_818_590
            self._next_field = 1

    # -- tokens ------------------------------------------------------------------------------
    def issue_token(self, client_id: str, ttl: float) -> str:
        token = secrets.token_urlsafe(30)[:40]
        with self.lock:
            self.tokens[token] = (client_id, time.time() + ttl)
        return token

    def token_state(self, token: str) -> str:
        """``ok``, ``expired`` or ``unknown``."""
        with self.lock:
            entry = self.tokens.get(token)
        if entry is None:
            return "unknown"
        return "ok" if time.time() < entry[1] else "expired"

    def expire_tokens(self) -> int:
        with self.lock:
            for t, (cid, _) in list(self.tokens.items()):
                self.tokens[t] = (cid, 0.0)
            return len(self.tokens)

    # -- custom fields ---------------------------------------------------------------------
    def add_field(self, name: str, type_: str = "string", required: bool = False) -> CustomField:
        name = name.strip()
        if not name:
            raise ApiError(400, "The custom field name is required")
        if type_ not in CUSTOM_TYPES:
            raise ApiError(400, f"Unknown custom field type {type_!r}; one of {', '.join(CUSTOM_TYPES)}")
        with self.lock:
            if self.field_by_name(name) is not None:
                raise ApiError(400, f"Custom field {name!r} already exists")
            f = CustomField(self._next_field, name, type_, required)
            self._next_field += 1
            self.fields[f.id] = f
            return f

    def delete_field(self, name: str) -> bool:
        """Delete a custom field: its values go with it (a field made later with the same name starts empty)."""
        with self.lock:
            f = self.field_by_name(name)
            if f is None:
                return False
            del self.fields[f.id]
            for p in self.prospects.values():
                p.custom.pop(f.id, None)
            return True

    def field_by_name(self, name: str) -> CustomField | None:
        return next((f for f in self.fields.values() if f.name == name), None)

    # -- lists -------------------------------------------------------------------------------
    def create_list(self, name: str) -> ProspectList:
        name = name.strip()
        if not name:
            raise ApiError(400, "The list name is required")
        with self.lock:
            lst = ProspectList(self._next_list, name, self.clock())
            self._next_list += 1
            self.lists[lst.id] = lst
            return lst

    def rename_list(self, list_id: int, name: str) -> None:
        with self.lock:
            lst = self.live_list(list_id)
            lst.name = name.strip() or lst.name

    def delete_list(self, list_id: int) -> bool:
        with self.lock:
            lst = self.lists.get(list_id)
            if lst is None or lst.deleted is not None:
                return False
            for pid in list(lst.members):
                self.remove_from_list(pid, list_id)
            lst.deleted = self.clock()
            return True

    def live_list(self, list_id: Any) -> ProspectList:
        try:
            lst = self.lists.get(int(str(list_id)))
        except ValueError:
            lst = None
        if lst is None or lst.deleted is not None:
            raise ApiError(404, f"List with id '{list_id}' not found")
        return lst

    def list_by_name(self, name: str) -> ProspectList | None:
        return next((x for x in self.lists.values() if x.name == name and x.deleted is None), None)

    def lists_of(self, pid: str) -> list[ProspectList]:
        return [x for x in self.lists.values() if x.deleted is None and pid in x.members]

    # -- prospects -----------------------------------------------------------------------------
    def find_by_email(self, email: str) -> list[Prospect]:
        e = email.strip().lower()
        with self.lock:
            return [p for p in self.prospects.values() if e in (x.lower() for x in p.emails)]

    def _validate(self, inp: ProspectInput, *, creating: bool) -> None:
        if (creating or inp.email is not None) and not inp.email:
            raise ApiError(400, {"email": "The email is required"})
        if inp.email is not None and not _EMAIL.match(inp.email):
            raise ApiError(400, {"email": f"'{inp.email}' is not a valid email address"})
        for name, value in inp.custom.items():
            f = self.field_by_name(name)
            if f is None or value == "":
                continue  # unknown custom fields are ignored, as Snov.io's API ignores unknown parameters
            if f.type == "number":
                try:
                    float(value)
                except ValueError:
                    raise ApiError(400, {f"customFields[{name}]": f"'{value}' is not a number"}) from None
            if f.type == "date" and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                raise ApiError(400, {f"customFields[{name}]": f"'{value}' is not a date (YYYY-MM-DD)"})

    def _apply(self, p: Prospect, inp: ProspectInput) -> bool:
        """Write the sent fields into ``p``; True if anything changed."""
        before = (list(p.emails), dict(p.values), list(p.phones), dict(p.custom))
        for k, v in inp.values.items():
            if v:
                p.values[k] = v
            else:
                p.values.pop(k, None)
        if inp.phones is not None:
            p.phones = list(dict.fromkeys(inp.phones))
        for name, v in inp.custom.items():
            f = self.field_by_name(name)
            if f is None:
                continue
            if v:
                p.custom[f.id] = v
            else:
                p.custom.pop(f.id, None)
        return before != (p.emails, p.values, p.phones, p.custom)

    def add_prospect(self, list_id: Any, inp: ProspectInput, *, update_contact: bool,
                     source: str = "api") -> tuple[Prospect, bool, bool]:
        """``add-prospect-to-list``: create, or find by any of its emails; returns (prospect, added, updated)."""
        with self.lock:
            lst = self.live_list(list_id)
            self._validate(inp, creating=True)
            assert inp.email is not None
            existing = self.find_by_email(inp.email)
            if existing:
                p = existing[0]
                updated = update_contact and self._apply(p, inp)
                added = p.id not in lst.members
                if added:
                    lst.members[p.id] = None
                if updated or added:
                    p.updated = self.clock()
                return p, added, updated
            p = Prospect(_new_id(), [inp.email], source=source, created=self.clock(), updated=self.clock())
            self._apply(p, inp)
            self.prospects[p.id] = p
            lst.members[p.id] = None
            return p, True, False

    def update_prospect(self, pid: str, inp: ProspectInput) -> tuple[Prospect, bool]:
        """The designed ``update-prospect``: by id; ``email`` replaces the primary email."""
        with self.lock:
            p = self.get(pid)
            self._validate(inp, creating=False)
            if inp.email is not None and any(other.id != p.id for other in self.find_by_email(inp.email)):
                raise ApiError(400, {"email": f"Prospect with email '{inp.email}' already exists"})
            changed = self._apply(p, inp)
            if inp.email is not None:
                emails = [inp.email, *(e for e in p.emails[1:] if e.lower() != inp.email.lower())]
                if emails != p.emails:
                    p.emails, changed = emails, True
            if changed:
                p.updated = self.clock()
            return p, changed

    def get(self, pid: str) -> Prospect:
        p = self.prospects.get(str(pid))
        if p is None:
            raise ApiError(200, f"Prospect with id '{pid}' not found")
        return p

    def remove_from_list(self, pid: str, list_id: Any) -> bool:
        """Take a prospect out of a list; a prospect left in no list is deleted."""
        with self.lock:
            lst = self.live_list(list_id)
            if pid not in lst.members:
                return False
            del lst.members[pid]
            p = self.prospects.get(pid)
            if p is not None:
                if not self.lists_of(pid):
                    del self.prospects[pid]
                else:
                    p.updated = self.clock()
            return True

    def delete_prospect(self, pid: str) -> bool:
        with self.lock:
            if self.prospects.pop(pid, None) is None:
                return False
            for lst in self.lists.values():
                lst.members.pop(pid, None)
            return True

    def page(self, list_id: Any, page: int, per_page: int) -> tuple[ProspectList, list[Prospect]]:
        with self.lock:
            lst = self.live_list(list_id)
            ids = list(lst.members)[(page - 1) * per_page:page * per_page]
            return lst, [self.prospects[i] for i in ids]

    # -- JSON ---------------------------------------------------------------------------------
    def prospect_json(self, p: Prospect) -> dict[str, Any]:
        """One prospect as the sandbox answers it (prospect-list, get-prospect-by-id, get-prospects-by-email)."""
        v = p.values
        first, last = v.get("firstName"), v.get("lastName")
        job = {k: v.get(k) for k in ("companyName", "position")}
        job["site"] = v.get("companySite")
        return {
            "id": p.id,
            "name": " ".join(x for x in (first, last) if x) or None,
            "firstName": first,
            "lastName": last,
            "emails": [{"email": e, "probability": 100, "isVerified": None, "jobStatus": "any",
                        "domainType": "personal", "isValidFormat": True, "isDisposable": False, "isWebmail": False,
                        "isGibberish": False, "smtpStatus": None} for e in p.emails],
            "phones": list(p.phones),
            "industry": v.get("industry"),
            "country": v.get("country"),
            "locality": v.get("locality"),
            "social": [],
            "currentJob": [job] if any(job.values()) else [],
            "previousJob": [],
            "customFields": {f.name: p.custom.get(f.id) for f in self.fields.values()},
            "lists": [{"id": x.id, "name": x.name} for x in self.lists_of(p.id)],
            "campaigns": [],
            "source": p.source,
            "lastUpdateDate": php_date(p.updated),
        }

    def list_json(self, lst: ProspectList) -> dict[str, Any]:
        return {"id": lst.id, "name": lst.name, "contacts": len(lst.members), "isDeleted": lst.deleted is not None,
                "creationDate": php_date(lst.created), "deletionDate": php_date(lst.deleted)}

    def field_json(self, f: CustomField) -> dict[str, Any]:
        return {"key": f"customFields['{f.name}']", "label": f.name, "required": f.required, "type": f.type}


def _new_id() -> str:
    # Snov.io's prospect ids look like base64 of 16 bytes ("xusD3-T_K5IktGoaa8Jc8A==")
    import base64

    return base64.urlsafe_b64encode(secrets.token_bytes(16)).decode()
