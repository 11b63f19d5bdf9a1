"""The data of one emulated xentral instance: addresses, groups, free-field labels,
resubmissions (Wiedervorlagen) with their boards and stages.

Rows are kept as the legacy REST API returns them: every column a *string*, as PHP's
PDO hands MySQL values over (``"id": "17"``, ``"betrag": "1500.00"``, ``"lead": "0"``),
empty dates as ``"0000-00-00"``. Timestamps (``logdatei``) are the server's local time
without a zone, one-second resolution, as MySQL ``TIMESTAMP`` columns show them.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

# -- error codes of the legacy API (classes/Modules/Api/Error/ApiError.php in OpenXE) --------------
CODE_UNAUTHORIZED = 7411
CODE_API_ACCOUNT_INVALID = 7414
CODE_ROUTE_NOT_FOUND = 7431
CODE_METHOD_NOT_ALLOWED = 7432
CODE_BAD_REQUEST = 7451
CODE_RESOURCE_NOT_FOUND = 7452
CODE_VALIDATION_ERROR = 7453
CODE_INVALID_ARGUMENT = 7454
CODE_MALFORMED_REQUEST_BODY = 7455
CODE_UNEXPECTED_ERROR = 7499

NO_DATE = "0000-00-00"
FREE_FIELDS = tuple(f"freifeld{i}" for i in range(1, 11))


class ApiError(Exception):
    """An error answered as ``{"error": {code, http_code, message, href[, details]}}``."""

    def __init__(self, status: int, code: int, message: str, details: Mapping[str, list[str]] | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details = dict(details) if details else None
        self.headers = dict(headers or {})

    def body(self, api_url: str = "") -> dict[str, Any]:
        err: dict[str, Any] = {"code": self.code, "http_code": self.status, "message": self.message,
                               "href": f"{api_url}/docs.html#error-{self.code}"}
        if self.details:
            err["details"] = self.details
        return {"error": err}


def not_found(message: str = "Resource not found") -> ApiError:
    return ApiError(404, CODE_RESOURCE_NOT_FOUND, message)


def validation(details: Mapping[str, list[str]]) -> ApiError:
    return ApiError(400, CODE_VALIDATION_ERROR, "Validation error", details)


# -- column kinds ---------------------------------------------------------------------------------------
TEXT, FLAG, INT, DECIMAL, DATE, TIME = "text", "flag", "int", "decimal", "date", "time"

ADDRESS_COLUMNS: dict[str, str] = {
    "typ": TEXT, "name": TEXT, "vorname": TEXT, "nachname": TEXT, "titel": TEXT, "anschreiben": TEXT,
    "ansprechpartner": TEXT, "abteilung": TEXT, "unterabteilung": TEXT, "adresszusatz": TEXT, "strasse": TEXT,
    "plz": TEXT, "ort": TEXT, "land": TEXT, "bundesland": TEXT, "telefon": TEXT, "telefax": TEXT, "mobil": TEXT,
    "email": TEXT, "internetseite": TEXT, "ustid": TEXT, "sprache": TEXT, "waehrung": TEXT, "sonstiges": TEXT,
    "lead": FLAG, "marketingsperre": FLAG, "geloescht": FLAG, "projekt": INT, "geburtstag": DATE,
    **dict.fromkeys(FREE_FIELDS, TEXT),
}
ADDRESS_READ_ONLY = ("id", "kundennummer", "rolle", "logdatei")
ADDRESS_TYPES = ("", "firma", "herr", "frau")

RESUBMISSION_COLUMNS: dict[str, str] = {
    "adresse": INT, "projekt": INT, "bezeichnung": TEXT, "beschreibung": TEXT, "betrag": DECIMAL,
    "erinnerung_per_mail": FLAG, "bearbeiter": INT, "adresse_mitarbeiter": INT, "datum_angelegt": DATE,
    "zeit_angelegt": TIME, "datum_erinnerung": DATE, "zeit_erinnerung": TIME, "datum_abschluss": DATE,
    "oeffentlich": FLAG, "abgeschlossen": FLAG, "chance": INT, "prio": FLAG, "stages": INT, "color": TEXT,
}
RESUBMISSION_READ_ONLY = ("id", "id_ext")

GROUP_COLUMNS: dict[str, str] = {"name": TEXT, "art": TEXT, "kennziffer": TEXT, "internebemerkung": TEXT,
                                 "projekt": INT, "kategorie": INT, "aktiv": FLAG}
GROUP_KINDS = ("gruppe", "preisgruppe", "verband", "regionalgruppe", "kategorie", "vertreter")

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ALPHA_DASH = re.compile(r"^[A-Za-z0-9_-]+$")


def _wire(kind: str, value: Any, column: str, problems: dict[str, list[str]]) -> str:
    """A JSON request value → the string the API stores and returns; problems are collected."""
    if value is None:
        value = ""
    if isinstance(value, bool):
        value = int(value)
    s = str(value).strip() if not isinstance(value, str) else value
    if kind == TEXT:
        return s
    if kind == FLAG:
        if s in ("", "0", "1"):
            return s or "0"
        problems.setdefault(column, []).append("Der Wert muss 0 oder 1 sein.")
        return "0"
    if kind == INT:
        if s == "":
            return "0"
        if re.fullmatch(r"-?\d+", s):
            return str(int(s))
        problems.setdefault(column, []).append("Der Wert muss numerisch sein.")
        return "0"
    if kind == DECIMAL:
        if s == "":
            return "0.00"
        try:
            return f"{Decimal(s.replace(',', '.')):.2f}"
        except InvalidOperation:
            problems.setdefault(column, []).append("Der Wert muss eine Dezimalzahl sein.")
            return "0.00"
    if kind == DATE:
        if s in ("", NO_DATE):
            return NO_DATE
        try:
            return date.fromisoformat(s[:10]).isoformat()
        except ValueError:
            problems.setdefault(column, []).append("Das Datum muss im Format Y-m-d sein.")
            return NO_DATE
    if kind == TIME:
        if s == "":
            return "00:00:00"
        try:
            return time.fromisoformat(s).strftime("%H:%M:%S")
        except ValueError:
            problems.setdefault(column, []).append("Die Zeit muss im Format H:i:s sein.")
            return "00:00:00"
    raise AssertionError(kind)


@dataclass
class Group:
    id: int
    cols: dict[str, str]

    def wire(self) -> dict[str, Any]:
        return {"id": str(self.id), **self.cols}


@dataclass
class Address:
    id: int
    cols: dict[str, str]
    kundennummer: str
    logdatei: str
    groups: set[int] = field(default_factory=set)

    @property
    def deleted(self) -> bool:
        return self.cols.get("geloescht") == "1"


@dataclass
class Board:
    id: int
    name: str
    shortname: str
    active: str = "1"
    project: str = "0"

    def wire(self) -> dict[str, Any]:
        return {"id": str(self.id), "name": self.name, "shortname": self.shortname, "active": self.active,
                "project": self.project}


@dataclass
class StageRow:
    id: int
    kurzbezeichnung: str
    name: str
    view: int
    sort: int
    chance: int = 0
    hexcolor: str = "#a2d624"
    ausblenden: str = "0"

    def wire(self) -> dict[str, Any]:
        return {"id": str(self.id), "kurzbezeichnung": self.kurzbezeichnung, "name": self.name,
                "view": str(self.view), "sort": str(self.sort), "chance": str(self.chance),
                "hexcolor": self.hexcolor, "ausblenden": self.ausblenden}


@dataclass
class Resubmission:
    id: int
    cols: dict[str, str]
    id_ext: str = ""

    def wire(self) -> dict[str, Any]:
        return {"id": str(self.id), **self.cols, "id_ext": self.id_ext}


class Store:
    """All tables of one instance, guarded by one lock (the API and test threads share it)."""

    def __init__(self, *, timezone: str = "Europe/Berlin", clock: Callable[[], datetime] | None = None) -> None:
        self.tz = ZoneInfo(timezone)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.addresses: dict[int, Address] = {}
            self.groups: dict[int, Group] = {}
            self.free_field_labels: dict[str, str] = dict.fromkeys(FREE_FIELDS, "")
            self.boards: dict[int, Board] = {}
            self.stages: dict[int, StageRow] = {}
            self.resubmissions: dict[int, Resubmission] = {}
            self._next = {"adresse": 1, "gruppen": 1, "wiedervorlage": 1, "board": 1, "stage": 1}
            self._customer_no = 10000

    def _id(self, table: str) -> int:
        n = self._next[table]
        self._next[table] = n + 1
        return n

    def local_now(self) -> datetime:
        """The server's wall clock (naive local time), as MySQL's ``NOW()`` gives it."""
        return self.clock().astimezone(self.tz).replace(tzinfo=None, microsecond=0)

    def stamp(self) -> str:
        return self.local_now().strftime("%Y-%m-%d %H:%M:%S")

    # -- groups -------------------------------------------------------------------------------------
    def create_group(self, body: Mapping[str, Any]) -> Group:
        with self.lock:
            problems: dict[str, list[str]] = {}
            self._no_read_only(body, ("id",), problems)
            cols = self._columns(body, GROUP_COLUMNS, problems, create=True)
            if not cols.get("name"):
                problems.setdefault("name", []).append("Das Feld ist erforderlich.")
            kz = cols.get("kennziffer", "")
            if not kz:
                problems.setdefault("kennziffer", []).append("Das Feld ist erforderlich.")
            elif not _ALPHA_DASH.match(kz):
                problems.setdefault("kennziffer", []).append("Nur Buchstaben, Zahlen, - und _ sind erlaubt.")
            elif any(g.cols.get("kennziffer", "").lower() == kz.lower() for g in self.groups.values()):
                problems.setdefault("kennziffer", []).append("Der Wert ist bereits vergeben.")
            cols.setdefault("art", "gruppe")
            if cols["art"] not in GROUP_KINDS:
                problems.setdefault("art", []).append(f"Erlaubte Werte: {', '.join(GROUP_KINDS)}")
            cols.setdefault("aktiv", "1")
            if problems:
                raise validation(problems)
            for c, kind in GROUP_COLUMNS.items():
                cols.setdefault(c, _wire(kind, "", c, {}))
            g = Group(self._id("gruppen"), cols)
            self.groups[g.id] = g
            return g

    def delete_group(self, group_id: int) -> None:
        """Delete a group with its memberships (the addresses stay)."""
        with self.lock:
            self.groups.pop(group_id)
            for a in self.addresses.values():
                a.groups.discard(group_id)

    def group_by_name(self, name: str) -> Group | None:
        with self.lock:
            return next((g for g in self.groups.values() if g.cols["name"].lower() == name.lower()), None)

    def _group_ref(self, ref: Any, problems: dict[str, list[str]]) -> int | None:
        """``{"id": 3}`` or ``{"kennziffer": "hubspot"}`` (or a bare id) → a group id."""
        if isinstance(ref, Mapping):
            if ref.get("id") not in (None, ""):
                gid = str(ref["id"])
                if gid.isdigit() and int(gid) in self.groups:
                    return int(gid)
            elif ref.get("kennziffer"):
                kz = str(ref["kennziffer"]).lower()
                found = next((g.id for g in self.groups.values() if g.cols["kennziffer"].lower() == kz), None)
                if found is not None:
                    return found
        elif str(ref).isdigit() and int(str(ref)) in self.groups:
            return int(str(ref))
        problems.setdefault("gruppen", []).append(f"Gruppe {ref!r} existiert nicht.")
        return None

    # -- addresses --------------------------------------------------------------------------------
    def address_wire(self, a: Address) -> dict[str, Any]:
        return {"id": str(a.id), **a.cols, "kundennummer": a.kundennummer, "rolle": "kunde" if a.kundennummer else "",
                "logdatei": a.logdatei,
                "gruppen": [{"id": str(g), "name": self.groups[g].cols["name"],
                             "kennziffer": self.groups[g].cols["kennziffer"]}
                            for g in sorted(a.groups) if g in self.groups]}

    def _no_read_only(self, body: Mapping[str, Any], read_only: Iterable[str], problems: dict[str, list[str]]) -> None:
        for c in read_only:
            if c in body:
                problems.setdefault(c, []).append("Das Feld darf nicht übergeben werden.")

    @staticmethod
    def _columns(body: Mapping[str, Any], columns: Mapping[str, str], problems: dict[str, list[str]], *,
                 create: bool, skip: Iterable[str] = ()) -> dict[str, str]:
        out: dict[str, str] = {}
        for k, v in body.items():
            if k in skip:
                continue
            kind = columns.get(k)
            if kind is None:
                problems.setdefault(k, []).append("Unbekanntes Feld.")
                continue
            out[k] = _wire(kind, v, k, problems)
        return out

    def _check_address(self, cols: Mapping[str, str], problems: dict[str, list[str]]) -> None:
        if cols.get("typ", "") not in ADDRESS_TYPES:
            problems.setdefault("typ", []).append(f"Erlaubte Werte: {', '.join(t or '(leer)' for t in ADDRESS_TYPES)}")
        email = cols.get("email", "")
        if email and not _EMAIL.match(email):
            problems.setdefault("email", []).append("Die E-Mail-Adresse ist ungültig.")
        land = cols.get("land", "")
        if land and not re.fullmatch(r"[A-Z]{2}", land):
            problems.setdefault("land", []).append("Das Land muss als ISO-3166-Code (z.B. DE) angegeben werden.")

    def create_address(self, body: Mapping[str, Any]) -> Address:
        with self.lock:
            problems: dict[str, list[str]] = {}
            self._no_read_only(body, ADDRESS_READ_ONLY, problems)
            cols = self._columns(body, ADDRESS_COLUMNS, problems, create=True, skip=("gruppen", *ADDRESS_READ_ONLY))
            if not cols.get("name"):
                problems.setdefault("name", []).append("Das Feld ist erforderlich.")
            self._check_address(cols, problems)
            groups = {g for ref in body.get("gruppen") or [] if (g := self._group_ref(ref, problems)) is not None}
            if problems:
                raise validation(problems)
            for c, kind in ADDRESS_COLUMNS.items():
                cols.setdefault(c, _wire(kind, "", c, {}))
            self._customer_no += 1
            a = Address(self._id("adresse"), cols, str(self._customer_no), self.stamp(), groups)
            self.addresses[a.id] = a
            return a

    def live_address(self, aid: int) -> Address:
        a = self.addresses.get(aid)
        if a is None or a.deleted:
            raise not_found(f"Adresse mit ID '{aid}' nicht gefunden")
        return a

    def update_address(self, aid: int, body: Mapping[str, Any]) -> Address:
        with self.lock:
            a = self.live_address(aid)
            problems: dict[str, list[str]] = {}
            # the id and customer number in a PUT body are ignored (the path names the address)
            cols = self._columns(body, ADDRESS_COLUMNS, problems, create=False,
                                 skip=("gruppen", "id", "kundennummer", "rolle", "logdatei"))
            self._check_address({**a.cols, **cols}, problems)
            groups = None
            if "gruppen" in body:
                groups = {g for ref in body.get("gruppen") or [] if (g := self._group_ref(ref, problems)) is not None}
            if problems:
                raise validation(problems)
            changed = any(a.cols.get(k) != v for k, v in cols.items())
            a.cols.update(cols)
            if groups is not None:
                a.groups = groups  # group rows live in adresse_rolle: logdatei is not touched
            if changed:
                a.logdatei = self.stamp()  # ON UPDATE CURRENT_TIMESTAMP: only when a value changed
            return a

    def delete_address(self, aid: int) -> None:
        """A delete in xentral's UI: the row stays, flagged ``geloescht``."""
        self.update_address(aid, {"geloescht": 1})

    def set_membership(self, aid: int, group_id: int, member: bool) -> None:
        with self.lock:
            a = self.addresses[aid]
            if member:
                a.groups.add(group_id)
            else:
                a.groups.discard(group_id)

    # -- boards and stages -------------------------------------------------------------------------
    def create_board(self, name: str, shortname: str = "") -> Board:
        with self.lock:
            b = Board(self._id("board"), name, shortname or name[:10].upper())
            self.boards[b.id] = b
            return b

    def create_stage(self, body: Mapping[str, Any]) -> StageRow:
        with self.lock:
            problems: dict[str, list[str]] = {}
            name = str(body.get("name") or "").strip()
            if not name:
                problems.setdefault("name", []).append("Das Feld ist erforderlich.")
            view = str(body.get("view", "0"))
            if not view.isdigit() or (int(view) != 0 and int(view) not in self.boards):
                problems.setdefault("view", []).append("Board existiert nicht.")
            sort, chance = (_wire(INT, body.get(c), c, problems) for c in ("sort", "chance"))
            if problems:
                raise validation(problems)
            # as the HubSpot module inserts HubSpot's stages: short name = name, sort = MAX(sort) + 1
            last = max((s.sort for s in self.stages.values() if s.view == int(view)), default=0)
            s = StageRow(self._id("stage"), str(body.get("kurzbezeichnung") or name), name, int(view),
                         int(sort) or last + 1, int(chance))
            self.stages[s.id] = s
            return s

    # -- resubmissions -------------------------------------------------------------------------------
    def _check_resubmission(self, cols: Mapping[str, str], problems: dict[str, list[str]], *, create: bool) -> None:
        if create:
            for c in ("bezeichnung", "datum_erinnerung", "zeit_erinnerung"):
                if c not in cols or cols[c] in ("", NO_DATE):
                    problems.setdefault(c, []).append("Das Feld ist erforderlich.")
        if "bezeichnung" in cols and len(cols["bezeichnung"]) < 3:
            problems.setdefault("bezeichnung", []).append("Das Feld muss mindestens 3 Zeichen lang sein.")
        if cols.get("beschreibung") and len(cols["beschreibung"]) < 3:
            problems.setdefault("beschreibung", []).append("Das Feld muss mindestens 3 Zeichen lang sein.")
        if "chance" in cols and not 0 <= int(cols["chance"] or 0) <= 100:
            problems.setdefault("chance", []).append("Der Wert muss zwischen 0 und 100 liegen.")
        if cols.get("stages", "0") != "0" and int(cols["stages"]) not in self.stages:
            problems.setdefault("stages", []).append("Der Wert existiert nicht in wiedervorlage_stages.id.")
        if cols.get("adresse", "0") != "0" and int(cols["adresse"]) not in self.addresses:
            problems.setdefault("adresse", []).append("Der Wert existiert nicht in adresse.id.")

    def create_resubmission(self, body: Mapping[str, Any]) -> Resubmission:
        with self.lock:
            problems: dict[str, list[str]] = {}
            self._no_read_only(body, RESUBMISSION_READ_ONLY, problems)
            cols = self._columns(body, RESUBMISSION_COLUMNS, problems, create=True, skip=RESUBMISSION_READ_ONLY)
            self._check_resubmission(cols, problems, create=True)
            if problems:
                raise validation(problems)
            now = self.local_now()
            cols.setdefault("datum_angelegt", now.date().isoformat())
            cols.setdefault("zeit_angelegt", now.strftime("%H:%M:%S"))
            for c, kind in RESUBMISSION_COLUMNS.items():
                cols.setdefault(c, _wire(kind, "", c, {}))
            r = Resubmission(self._id("wiedervorlage"), cols)
            self.resubmissions[r.id] = r
            return r

    def update_resubmission(self, rid: int, body: Mapping[str, Any]) -> Resubmission:
        with self.lock:
            r = self.resubmissions.get(rid)
            if r is None:
                raise not_found()
            problems: dict[str, list[str]] = {}
            self._no_read_only(body, RESUBMISSION_READ_ONLY, problems)
            cols = self._columns(body, RESUBMISSION_COLUMNS, problems, create=False, skip=RESUBMISSION_READ_ONLY)
            self._check_resubmission(cols, problems, create=False)
            if problems:
                raise validation(problems)
            r.cols.update(cols)
            return r

    def delete_resubmission(self, rid: int) -> None:
        """A delete in xentral's UI (the REST API has none): the row is gone."""
        with self.lock:
            self.resubmissions.pop(rid, None)
