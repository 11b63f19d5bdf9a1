"""An in-process app: the reference implementation of the connector interface.

Used by the engine's tests, the engine benchmark and the offline demo. It behaves like a
careful vendor API: paged scans, a monotonic change feed with tombstones, unique fields,
validation rules that reject single records, inclusion lists, pipelines, associations,
and fault injection (fail after N writes) for interrupted-pass tests.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from accord import catalog
from accord.connectors.base import ApiCounters, Associated, AssociationKind, Connector
from accord.connectors.registry import ASSOCIATIONS, LISTS, PIPELINES, Vendor
from accord.connectors.settings import AppSettings
from accord.engine.values import canon, iso
from accord.model import (
    ConnectorError,
    ErrorCategory,
    FieldSchema,
    FieldType,
    ObjectSchema,
    Option,
    Page,
    Pipeline,
    Record,
    Stage,
    TransientError,
    Value,
    WriteError,
    WriteResult,
)

_LAST_TICK = datetime(2020, 1, 1, tzinfo=UTC)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

T = FieldType
STANDARD_FIELDS: dict[str, dict[str, FieldType]] = {
    "contacts": {
        "first_name": T.TEXT, "last_name": T.TEXT, "email": T.TEXT, "phone": T.TEXT, "company_name": T.TEXT,
        "job_title": T.TEXT, "country": T.TEXT, "city": T.TEXT, "industry": T.TEXT, "lead_status": T.ENUM,
        "score": T.NUMBER, "birthday": T.DATE, "vip": T.BOOL, "source": T.TEXT, "notes": T.TEXT,
    },
    "companies": {
        "name": T.TEXT, "domain": T.TEXT, "industry": T.TEXT, "phone": T.TEXT, "city": T.TEXT, "country": T.TEXT,
        "employees": T.NUMBER, "source": T.TEXT,
    },
    "deals": {"name": T.TEXT, "amount": T.NUMBER, "stage": T.ENUM, "close_date": T.DATE, "source": T.TEXT},
}
LEAD_STATUSES = ("new", "open", "in_progress", "qualified", "unqualified")


@dataclass
class MemoryObject:
    schema: dict[str, FieldSchema]
    records: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> stored row
    unique: tuple[str, ...] = ()
    formulas: dict[str, Callable[[Mapping[str, Value]], Value]] = field(default_factory=dict)
    by_unique: dict[str, dict[str, str]] = field(default_factory=dict)  # field -> lowered value -> id

    def reindex(self, row: dict[str, Any], old: Mapping[str, Value] | None = None) -> None:
        for u in self.unique:
            idx = self.by_unique.setdefault(u, {})
            if old is not None and old.get(u) is not None and idx.get(str(old[u]).lower()) == row["id"]:
                del idx[str(old[u]).lower()]
            v = row["p"].get(u)
            if v is not None and not row["archived"]:
                idx.setdefault(str(v).lower(), row["id"])


Validator = Callable[[str, Mapping[str, Value]], WriteError | None]


class MemoryApp(Connector):
    vendor = "memory"

    def __init__(self, name: str = "memory", *, page_size: int = 100, batch_size: int = 100,
                 path: str | None = None, id_prefix: str | None = None) -> None:
        super().__init__(name)
        self.page_size = page_size
        self.batch_size = batch_size
        self.path = path
        self.objects: dict[str, MemoryObject] = {}
        self.seq = 0  # change sequence: the change feed's cursor
        self._ids = itertools.count(1)
        self.id_prefix = id_prefix or name[:2]
        self.lists: dict[str, set[str]] = {}
        self.pipeline_defs: dict[str, list[Pipeline]] = {}
        self.links: dict[tuple[str, str], dict[str, set[str]]] = {}
        # (from, to) -> record -> its primary association; and how each association is held
        self.primaries: dict[tuple[str, str], dict[str, str]] = {}
        self.association_kinds: dict[tuple[str, str], AssociationKind] = {}
        self.validators: list[Validator] = []
        self.calls: dict[str, int] = {}
        self.writes = 0  # records written through the API
        self.fail_after_writes: int | None = None
        self.account_name: str | None = None  # the account its credentials sign in to (tests set it)
        self._clock = datetime(2024, 1, 1, tzinfo=UTC)
        for obj, fields_ in STANDARD_FIELDS.items():
            self.add_object(obj, fields_, unique=("email",) if obj == "contacts" else ())
        self.pipeline_defs["deals"] = [Pipeline("default", "Sales", tuple(
            Stage(s.lower().replace(" ", "_"), s) for s in
            ("Appointment scheduled", "Qualified to buy", "Presentation scheduled", "Contract sent", "Closed won", "Closed lost")))]
        self._refresh_stage_options()
        if path and Path(path).exists():
            self.load(path)

    # -- set-up helpers (not part of the connector interface) -------------------------
    def add_object(self, name: str, fields_: Mapping[str, FieldType], *, unique: tuple[str, ...] = ()) -> None:
        schema = {n: FieldSchema(n, t, label=n.replace("_", " ").title()) for n, t in fields_.items()}
        if "lead_status" in schema:
            schema["lead_status"] = FieldSchema("lead_status", T.ENUM, "Lead status",
                                                options=tuple(Option(s, s.replace("_", " ").title()) for s in LEAD_STATUSES))
        self.objects[name] = MemoryObject(schema, unique=unique)

    def add_field(self, obj: str, f: FieldSchema, formula: Callable[[Mapping[str, Value]], Value] | None = None) -> None:
        self.objects[obj].schema[f.name] = f
        if formula is not None:
            self.objects[obj].formulas[f.name] = formula

    def remove_field(self, obj: str, name: str) -> None:
        self.objects[obj].schema.pop(name, None)

    def set_pipelines(self, obj: str, pipelines: list[Pipeline]) -> None:
        self.pipeline_defs[obj] = pipelines
        self._refresh_stage_options()

    def _refresh_stage_options(self) -> None:
        for obj, pipes in self.pipeline_defs.items():
            info = catalog.object_info("memory", obj)
            if info and "stage" in info.concepts and obj in self.objects:
                stage = info.concepts["stage"]
                self.objects[obj].schema[stage] = FieldSchema(
                    stage, T.ENUM, "Stage", options=tuple(Option(s.id, s.label) for p in pipes for s in p.stages))

    def _tick(self) -> tuple[int, str]:
        # One clock for every app in the process (real time, strictly increasing), so that
        # "most recent change wins" compares like with like across apps.
        global _LAST_TICK
        self.seq += 1
        _LAST_TICK = max(datetime.now(UTC), _LAST_TICK + timedelta(milliseconds=1))
        self._clock = _LAST_TICK
        return self.seq, iso(self._clock)

    def _new_id(self) -> str:
        return f"{self.id_prefix}{next(self._ids)}"

    def _record(self, obj: str, row: dict[str, Any], fields_: Sequence[str] | None = None) -> Record:
        o = self.objects[obj]
        props = dict(row["p"])
        for name, fn in o.formulas.items():
            props[name] = fn(props)
        if fields_ is not None:
            props = {f: props.get(f) for f in fields_}
        return Record(row["id"], props, row["u"], row["c"], row["archived"])

    # Users' own edits, as a person in the app would make them.
    def user_create(self, obj: str, props: Mapping[str, Value], *, created_at: str | None = None) -> str:
        seq, now = self._tick()
        rid = self._new_id()
        row = {"id": rid, "p": {k: canon(v) for k, v in props.items()},
               "u": now, "c": created_at or now, "s": seq, "archived": False}
        self.objects[obj].records[rid] = row
        self.objects[obj].reindex(row)
        return rid

    def user_update(self, obj: str, rid: str, props: Mapping[str, Value]) -> None:
        row = self.objects[obj].records[rid]
        seq, now = self._tick()
        old = dict(row["p"])
        row["p"].update({k: canon(v) for k, v in props.items()})
        row["u"], row["s"] = now, seq
        self.objects[obj].reindex(row, old)

    def user_delete(self, obj: str, rid: str) -> None:
        row = self.objects[obj].records[rid]
        seq, now = self._tick()
        row["archived"], row["u"], row["s"] = True, now, seq
        self.objects[obj].reindex(row, row["p"])

    def purge(self, obj: str, rid: str) -> None:
        """Remove a record without a trace in the change feed (a purged delete log, a lost webhook)."""
        row = self.objects[obj].records.pop(rid)
        row["archived"] = True
        self.objects[obj].reindex(row, row["p"])

    def get(self, obj: str, rid: str) -> Record:
        return self._record(obj, self.objects[obj].records[rid])

    def live(self, obj: str) -> list[Record]:
        return [self._record(obj, r) for r in self.objects[obj].records.values() if not r["archived"]]

    # -- persistence for CLI use ------------------------------------------------------
    def save(self, path: str | None = None) -> None:
        target = path or self.path
        if not target:
            return
        next_id = next(self._ids)
        self._ids = itertools.count(next_id)
        data = {"seq": self.seq, "next_id": next_id, "clock": iso(self._clock), "lists": {k: sorted(v) for k, v in self.lists.items()},
                "objects": {k: list(o.records.values()) for k, o in self.objects.items()}}
        tmp = Path(target).with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(target)

    def load(self, path: str) -> None:
        data = json.loads(Path(path).read_text())
        self.seq = data["seq"]
        self._ids = itertools.count(data["next_id"])
        self._clock = datetime.fromisoformat(data["clock"].replace("Z", "+00:00"))
        self.lists = {k: set(v) for k, v in data.get("lists", {}).items()}
        for obj, rows in data["objects"].items():
            if obj in self.objects:
                self.objects[obj].records = {r["id"]: r for r in rows}
                for r in rows:
                    self.objects[obj].reindex(r)

    # -- connector interface ------------------------------------------------------------
    def _call(self, kind: str) -> None:
        self.calls[kind] = self.calls.get(kind, 0) + 1

    async def account(self) -> str | None:
        return self.account_name

    async def describe(self, object: str) -> ObjectSchema:
        self._call("describe")
        if object not in self.objects:
            raise ConnectorError(f"memory app {self.name!r} has no object {object!r}")
        return ObjectSchema(object, dict(self.objects[object].schema))

    async def scan(self, object: str, fields: Sequence[str]) -> AsyncIterator[Page]:  # type: ignore[override]
        rows = [r for r in self.objects[object].records.values() if not r["archived"]]
        for i in range(0, len(rows), self.page_size):
            self._call("scan")
            yield Page([self._record(object, r, fields) for r in rows[i:i + self.page_size]])
        if not rows:
            self._call("scan")

    async def change_cursor(self, object: str) -> str:
        return str(self.seq)

    async def changes(self, object: str, cursor: str, fields: Sequence[str]) -> AsyncIterator[Page]:  # type: ignore[override]
        since = int(cursor)
        rows = sorted((r for r in self.objects[object].records.values() if r["s"] > since), key=lambda r: r["s"])
        for i in range(0, len(rows), self.page_size):
            self._call("changes")
            chunk = rows[i:i + self.page_size]
            yield Page([self._record(object, r, fields) for r in chunk], str(chunk[-1]["s"]))
        if not rows:
            self._call("changes")

    async def read(self, object: str, ids: Sequence[str], fields: Sequence[str]) -> list[Record]:
        self._call("read")
        recs = self.objects[object].records
        return [self._record(object, recs[i], fields) for i in ids if i in recs]

    async def find(self, object: str, field: str, values: Sequence[Value], fields: Sequence[str]) -> list[Record]:
        self._call("find")
        wanted = {str(v).strip().lower() for v in values if v is not None}
        return [self._record(object, r, fields) for r in self.objects[object].records.values()
                if not r["archived"] and str(r["p"].get(field) or "").strip().lower() in wanted]

    def _check_write(self) -> None:
        if self.fail_after_writes is not None and self.writes >= self.fail_after_writes:
            raise TransientError(f"{self.name}: injected failure after {self.writes} writes")

    def _validate(self, object: str, props: Mapping[str, Value], rid: str | None) -> WriteError | None:
        o = self.objects[object]
        for k, v in props.items():
            f = o.schema.get(k)
            if f is None:
                return WriteError(ErrorCategory.VALIDATION, f"Property {k!r} does not exist", code="PROPERTY_DOESNT_EXIST",
                                  hint="Remove the mapping or create the field in the app.")
            if not f.writable:
                return WriteError(ErrorCategory.PERMISSIONS, f"Property {k!r} is read-only", code="READ_ONLY",
                                  hint="Map this field one way only, from this app.")
            if f.type == T.ENUM and v is not None and f.options and str(v) not in {op.value for op in f.options}:
                return WriteError(ErrorCategory.VALIDATION, f"{v!r} is not a valid option for {k!r}", code="INVALID_OPTION",
                                  hint="Map the value to one of the field's options.")
            if k == "email" and v is not None and not _EMAIL.match(str(v)):
                return WriteError(ErrorCategory.VALIDATION, f"Invalid email address {v!r}", code="INVALID_EMAIL",
                                  hint="Correct the email address in the source app.")
        for u in o.unique:
            v = props.get(u)
            other = o.by_unique.get(u, {}).get(str(v).lower()) if v is not None else None
            if other is not None and other != rid:
                return WriteError(ErrorCategory.DUPLICATES, f"A record with {u} {v!r} already exists. Existing ID: {other}",
                                  code="CONFLICT", hint="Merge the duplicate records in the target app, then resync.")
        for check in self.validators:
            err = check(object, props)
            if err is not None:
                return err
        return None

    async def create(self, object: str, items: Sequence[Mapping[str, Value]]) -> list[WriteResult]:
        self._call("create")
        out = []
        for props in items:
            self._check_write()
            err = self._validate(object, props, None)
            if err:
                out.append(WriteResult.failure(err))
                continue
            rid = self.user_create(object, props)
            self.writes += 1
            out.append(WriteResult.success(rid, self.get(object, rid)))
        return out

    async def update(self, object: str, items: Sequence[tuple[str, Mapping[str, Value]]]) -> list[WriteResult]:
        self._call("update")
        out = []
        for rid, props in items:
            self._check_write()
            row = self.objects[object].records.get(rid)
            if row is None or row["archived"]:
                out.append(WriteResult.failure(WriteError(ErrorCategory.NOT_FOUND, f"Record {rid} not found",
                                                          hint="The record was deleted; resync deleted records to recreate it."), rid))
                continue
            merged = {**row["p"], **props}
            err = self._validate(object, {k: merged.get(k) for k in props} | {u: merged.get(u) for u in self.objects[object].unique}, rid)
            if err:
                out.append(WriteResult.failure(err, rid))
                continue
            self.user_update(object, rid, props)
            self.writes += 1
            out.append(WriteResult.success(rid, self.get(object, rid)))
        return out

    async def archive(self, object: str, ids: Sequence[str]) -> list[WriteResult]:
        self._call("archive")
        out = []
        for rid in ids:
            self._check_write()
            row = self.objects[object].records.get(rid)
            if row is not None and not row["archived"]:
                self.user_delete(object, rid)
                self.writes += 1
            out.append(WriteResult.success(rid))
        return out

    async def list_objects(self) -> list[Option]:
        return [Option(name, name.replace("_", " ").title()) for name in self.objects]

    async def inclusion_lists(self, object: str) -> list[Option]:
        self._call("lists")
        return [Option(name, f"{name} ({len(members)})") for name, members in sorted(self.lists.items())]

    async def list_members(self, object: str, list_name: str) -> frozenset[str]:
        self._call("lists")
        return frozenset(self.lists.get(list_name, set()))

    async def pipelines(self, object: str) -> list[Pipeline]:
        self._call("pipelines")
        return list(self.pipeline_defs.get(object, []))

    async def associations(self, from_object: str, ids: Sequence[str], to_object: str) -> dict[str, list[str]]:
        links = self.links.get((from_object, to_object), {})
        return {i: sorted(links.get(i, set())) for i in ids}

    async def associate(self, from_object: str, to_object: str, pairs: Sequence[tuple[str, str]]) -> list[WriteResult]:
        for a, b in pairs:
            self.user_associate(from_object, a, to_object, b)
        return [WriteResult.success(a) for a, _ in pairs]

    def association_kind(self, from_object: str, to_object: str) -> AssociationKind:
        return self.association_kinds.get((from_object, to_object), "many")

    async def associated(self, from_object: str, ids: Sequence[str], to_object: str) -> dict[str, Associated]:
        links = self.links.get((from_object, to_object), {})
        primaries = self.primaries.get((from_object, to_object), {})
        return {i: Associated(sorted(links.get(i, set())), primaries.get(i)) for i in ids}

    async def make_primary(self, from_object: str, to_object: str, pairs: Sequence[tuple[str, str]]) -> list[WriteResult]:
        for a, b in pairs:
            self.user_associate(from_object, a, to_object, b, primary=True)
        return [WriteResult.success(a) for a, _ in pairs]

    async def dissociate(self, from_object: str, to_object: str, pairs: Sequence[tuple[str, str]]) -> list[WriteResult]:
        for a, b in pairs:
            self.user_dissociate(from_object, a, to_object, b)
        return [WriteResult.success(a) for a, _ in pairs]

    # as a user (or the API) changes them: a ``single`` association holds one value, the
    # primary of a ``primary`` one is replaced by a new primary (as HubSpot's)
    def user_associate(self, from_object: str, a: str, to_object: str, b: str, *, primary: bool = False) -> None:
        key = (from_object, to_object)
        kind = self.association_kind(from_object, to_object)
        links = self.links.setdefault(key, {})
        if kind == "single":
            links[a] = {b}
            self.primaries.setdefault(key, {})[a] = b
            return
        links.setdefault(a, set()).add(b)
        if primary and kind == "primary":
            self.primaries.setdefault(key, {})[a] = b

    def user_dissociate(self, from_object: str, a: str, to_object: str, b: str) -> None:
        key = (from_object, to_object)
        self.links.get(key, {}).get(a, set()).discard(b)
        if self.primaries.get(key, {}).get(a) == b:
            del self.primaries[key][a]

    def counters(self) -> ApiCounters:
        return ApiCounters(api_calls=sum(self.calls.values()))

    async def aclose(self) -> None:
        self.save()


class MemorySettings(AppSettings):
    """An in-process app for tests and the offline demo; ``path`` persists it as JSON."""

    type: Literal["memory"]
    path: str | None = None
    page_size: int = Field(default=100, gt=0)


def from_config(name: str, app: MemorySettings) -> MemoryApp:
    return MemoryApp(name, page_size=app.page_size, path=app.path)


VENDOR = Vendor("memory", "Memory", MemorySettings, from_config, capabilities=frozenset({ASSOCIATIONS, LISTS, PIPELINES}))
