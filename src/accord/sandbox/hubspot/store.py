"""In-memory state of one emulated HubSpot portal: records, properties, associations, lists.

Values are kept as HubSpot keeps them on the wire: strings, already normalised (emails
lower-cased, datetimes ISO with ms). Each record also keeps the snapshots the *search index*
has seen, so search lags writes by ``search_lag`` seconds like the real index does.
All public methods hold one re-entrant lock: the HTTP app runs in a server thread while
tests seed and edit from theirs.
"""

from __future__ import annotations

import bisect
import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from accord.sandbox.hubspot.schema import (
    ALIASES,
    ASSOC_TYPES,
    KINDS,
    Kind,
    PropDef,
    default_properties,
    inverse_type,
    pipeline_json,
    ticket_pipeline_json,
)

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
SYSTEM_PROPS = {"hs_object_id", "createdate", "hs_createdate", "lastmodifieddate", "hs_lastmodifieddate"}


def iso_ms(ms: int) -> str:
    dt = datetime.fromtimestamp(ms / 1000, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_ms(value: str) -> int:
    """Epoch ms from an epoch-ms string, an ISO datetime or an ISO date (HubSpot accepts all)."""
    value = value.strip()
    if re.fullmatch(r"-?\d+", value):
        return int(value)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return int(datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC).timestamp() * 1000)
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return round(dt.timestamp() * 1000)


class ApiError(Exception):
    """An error answered with HubSpot's error body ``{status, message, correlationId, category, ...}``."""

    def __init__(self, status: int, category: str, message: str, *, errors: list[dict[str, Any]] | None = None,
                 context: dict[str, list[str]] | None = None, sub_category: str | None = None,
                 headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.category, self.message = status, category, message
        self.errors, self.context, self.sub_category = errors or [], context, sub_category
        self.headers, self.extra = headers or {}, extra or {}

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": "error", "message": self.message,
                               "correlationId": str(uuid.uuid4()), "category": self.category}
        if self.sub_category:
            out["subCategory"] = self.sub_category
        if self.context:
            out["context"] = self.context
        if self.errors:
            out["errors"] = self.errors
        out.update(self.extra)
        return out

    def batch_error(self, context: dict[str, list[str]]) -> dict[str, Any]:
        """This error as one entry of a 207 ``errors[]`` (the spec's ``StandardError`` shape)."""
        out: dict[str, Any] = {"status": "error", "category": self.category, "message": self.message,
                               "context": {**(self.context or {}), **context}, "errors": self.errors, "links": {}}
        if self.sub_category:
            out["subCategory"] = self.sub_category
        return out


def validation_error(problems: list[tuple[str, str, str]]) -> ApiError:
    """HubSpot's "Property values were not valid" 400, from (property, code, message) triples."""
    detail = [{"isValid": False, "message": m, "error": c, "name": n, "localizedErrorMessage": m}
              for n, c, m in problems]
    return ApiError(400, "VALIDATION_ERROR", f"Property values were not valid: {json.dumps(detail)}",
                    errors=[{"message": m, "code": c, "context": {"propertyName": [n]}} for n, c, m in problems])


def not_found(obj_id: str) -> ApiError:
    return ApiError(404, "OBJECT_NOT_FOUND", "Object not found.  objectId are usually numeric.",
                    context={"id": [obj_id]})


@dataclass(frozen=True)
class Source:
    """Who made a write: ``changeSource``/``sourceId`` as webhook events report them."""

    change_source: str  # INTEGRATION | CRM_UI | IMPORT ...
    source_id: str | None = None
    webhooks: bool = True


SEED = Source("IMPORT", "seed", webhooks=False)


@dataclass
class Snapshot:
    props: dict[str, str]
    created: int
    updated: int
    archived: bool


@dataclass
class Obj:
    id: int
    type: str
    props: dict[str, str]
    created: int
    updated: int
    archived_at: int | None = None
    # (monotonic time the search index shows it, snapshot); pruned to the newest visible one
    index: list[tuple[float, Snapshot]] = field(default_factory=list)

    def wire(self, props: Iterable[str]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": str(self.id),
            "properties": {p: self.props.get(p) for p in props},
            "createdAt": iso_ms(self.created),
            "updatedAt": iso_ms(self.updated),
            "archived": self.archived_at is not None,
        }
        if self.archived_at is not None:
            out["archivedAt"] = iso_ms(self.archived_at)
        return out

    def indexed(self, now: float) -> Snapshot | None:
        while len(self.index) > 1 and self.index[1][0] <= now:
            self.index.pop(0)
        if self.index and self.index[0][0] <= now:
            return self.index[0][1]
        return None


@dataclass
class HsList:
    id: int
    name: str
    object_type_id: str
    processing_type: str
    created: int
    members: dict[int, int] = field(default_factory=dict)  # record id -> joined at (ms)
    deleted: int | None = None  # deleted at (ms): hidden, restorable (HubSpot keeps deleted lists 90 days)

    def wire(self) -> dict[str, Any]:
        ts = iso_ms(self.created)
        return {"listId": str(self.id), "name": self.name, "objectTypeId": self.object_type_id,
                "processingType": self.processing_type, "processingStatus": "COMPLETE", "listVersion": 1,
                "size": len(self.members), "createdAt": ts, "updatedAt": ts, "filtersUpdatedAt": ts}


def _merged(obj: Obj) -> list[str]:
    """The ids merged into ``obj`` before (its ``hs_merged_object_ids``)."""
    return [i for i in obj.props.get("hs_merged_object_ids", "").split(";") if i]


def _sort_spec(s: Any) -> tuple[str, bool]:
    """(property, descending) of a search sort, given as ``"-name"`` or ``{propertyName, direction}``."""
    if isinstance(s, str):
        return s.lstrip("-"), s.startswith("-")
    return s.get("propertyName", ""), str(s.get("direction", "ASCENDING")).upper() == "DESCENDING"


def _search_answer(page: list[tuple[int, Snapshot]], total: int, after: int, limit: int,
                   props: list[str]) -> dict[str, Any]:
    """A search response: one page of hits as HubSpot shapes them, the total and the next ``after``."""
    out: dict[str, Any] = {"total": total, "results": [
        {"id": str(i), "properties": {p: s.props.get(p) for p in props}, "createdAt": iso_ms(s.created),
         "updatedAt": iso_ms(s.updated), "archived": False} for i, s in page]}
    if after + limit < total:
        out["paging"] = {"next": {"after": str(after + limit)}}
    return out


def _scramble(obj_id: int) -> int:
    # Ties in a search sort come back in an unspecified order on HubSpot; a fixed scramble
    # (not id order) keeps paging stable while proving clients don't rely on id order.
    return (obj_id * 2654435761) % 4294967296


class Store:
    def __init__(self, *, clock: Callable[[], int] | None = None) -> None:
        self.lock = threading.RLock()
        self.clock = clock or (lambda: int(time.time() * 1000))
        self.search_lag = 0.0
        self.on_events: Callable[[list[dict[str, Any]]], None] = lambda events: None
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.started = self.clock()
            self.props: dict[str, dict[str, PropDef]] = default_properties()
            # the portal's object types (the standard ones, then custom objects as schemas are
            # created), the names object paths accept for each, and the association types between them
            self.kinds: dict[str, Kind] = dict(KINDS)
            self.aliases: dict[str, str] = dict(ALIASES)
            self.assoc_types: dict[tuple[str, str], list[tuple[int, str | None]]] = {
                k: list(v) for k, v in ASSOC_TYPES.items()}
            self.objs: dict[str, dict[int, Obj]] = {t: {} for t in self.kinds}
            # every id ever created, ascending (ids only grow; archived records keep theirs):
            # list pages and id-range searches bisect it instead of sorting all records per call
            self.ids: dict[str, list[int]] = {t: [] for t in self.kinds}
            self.next_id = 101
            # a merged-away record's id → the record it was merged into: reads by the old id answer with it
            self.merged_into: dict[tuple[str, int], int] = {}
            self.assocs: dict[tuple[str, int, str], dict[int, set[int]]] = {}
            self.lists: dict[int, HsList] = {}
            self.uniq: dict[tuple[str, str], dict[str, int]] = {}
            self.next_list_id = 1
            self.pipelines = pipeline_json(iso_ms(self.started))
            self.pipeline_sets = {"deals": self.pipelines, "tickets": ticket_pipeline_json(iso_ms(self.started))}
            self.schemas: dict[str, dict[str, Any]] = {}  # custom object schemas by fullyQualifiedName
            self.next_schema_id = 123456
            self.next_assoc_type = 1001
            self.templates: dict[str, dict[str, Any]] = {}  # timeline event templates by id
            self.next_template_id = 1001001
            self.events: dict[tuple[str, str], dict[str, Any]] = {}  # timeline events by (template, event id)

    # -- helpers -----------------------------------------------------------------
    @staticmethod
    def object_type(name: str) -> str:
        """The standard object type ``name`` names (``type_of`` knows the portal's custom objects too)."""
        t = ALIASES.get(name, name)
        if t not in KINDS:
            raise ApiError(400, "VALIDATION_ERROR", f"Unable to infer object type from: {name}")
        return t

    def type_of(self, name: str) -> str:
        """The object type a path names: its name, singular, type id (0-1) or, for a custom
        object, its fullyQualifiedName, ``p_<name>`` or objectTypeId (2-…)."""
        t = self.aliases.get(name, name)
        if t not in self.kinds:
            raise ApiError(400, "VALIDATION_ERROR", f"Unable to infer object type from: {name}")
        return t

    def _emit(self, source: Source, type_: str, kind: str, obj_id: int, changes: dict[str, str] | None = None,
              at: int | None = None) -> None:
        if not source.webhooks:
            return
        base = {"objectId": obj_id, "changeSource": source.change_source, "occurredAt": at or self.clock()}
        if source.source_id is not None:
            base["sourceId"] = source.source_id
        k = self.kinds[type_]
        prefix = k.singular
        if k.custom:  # custom objects have only the generic subscriptions (object.* with objectTypeId)
            base["objectTypeId"] = k.type_id
            prefix = "object"
        if kind == "propertyChange":
            events = [{**base, "subscriptionType": f"{prefix}.propertyChange", "propertyName": k, "propertyValue": v}
                      for k, v in (changes or {}).items()]
        else:
            events = [{**base, "subscriptionType": f"{prefix}.{kind}"}]
        if events:
            self.on_events(events)

    def _reindex(self, obj: Obj) -> None:
        snap = Snapshot(dict(obj.props), obj.created, obj.updated, obj.archived_at is not None)
        obj.index.append((time.monotonic() + self.search_lag, snap))

    def _normalise(self, type_: str, props: dict[str, Any]) -> dict[str, str]:
        """Validate and normalise input values; raises one 400 naming every bad property."""
        defs = self.props[type_]
        out: dict[str, str] = {}
        problems: list[tuple[str, str, str]] = []
        for name, raw in props.items():
            pd = defs.get(name)
            if pd is None:
                problems.append((name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist'))
                continue
            if pd.read_only or pd.calculated:
                problems.append((name, "READ_ONLY_VALUE", f'"{name}" is a read only property; its value cannot be set.'))
                continue
            value = "" if raw is None else ("true" if raw is True else "false" if raw is False else str(raw))
            try:
                out[name] = self._coerce(type_, pd, value.strip() if pd.type != "string" else value)
            except ValueError as e:
                code, _, msg = str(e).partition(":")
                problems.append((name, code, msg))
        if problems:
            raise validation_error(problems)
        return out

    def _coerce(self, type_: str, pd: PropDef, v: str) -> str:
        if v == "":
            return ""
        if type_ == "contacts" and pd.name == "email":
            v = v.strip().lower()
            if not EMAIL_RE.match(v):
                raise ValueError(f"INVALID_EMAIL:Email address {v} is invalid")
            return v
        if pd.type == "number":
            try:
                float(v)
            except ValueError:
                raise ValueError(f"INVALID_DECIMAL:{v} was not a valid number.") from None
            return v
        if pd.type == "bool":
            if v.lower() not in ("true", "false"):
                raise ValueError(f"INVALID_BOOLEAN:{v} was not a valid boolean (true or false).")
            return v.lower()
        if pd.type == "date":
            try:
                ms = parse_ms(v)
            except ValueError:
                raise ValueError(f"INVALID_DATE:{v} is not a valid date.") from None
            if ms % 86_400_000:
                raise ValueError(f"INVALID_DATE:{v} is not a valid date; it must be midnight UTC.")
            return iso_ms(ms)[:10]
        if pd.type == "datetime":
            try:
                return iso_ms(parse_ms(v))
            except ValueError:
                raise ValueError(f"INVALID_DATETIME:{v} is not a valid datetime.") from None
        if pd.type == "enumeration":
            allowed = {o[0] for o in pd.options}
            values = v.split(";") if pd.field_type == "checkbox" else [v]
            bad = [x for x in values if x not in allowed]
            if bad:
                raise ValueError(f"INVALID_OPTION:{bad[0]} was not one of the allowed options: {sorted(allowed)}")
        return v

    def _is_unique(self, type_: str, name: str) -> bool:
        pd = self.props[type_].get(name)
        return pd is not None and (pd.unique or (type_ == "contacts" and name == "email"))

    def _unique_owner(self, type_: str, name: str, value: str) -> Obj | None:
        if type_ == "contacts" and name == "email":
            value = value.strip().lower()
        obj_id = self.uniq.get((type_, name), {}).get(value)
        return self.objs[type_][obj_id] if obj_id is not None else None

    def _index_unique(self, obj: Obj, old: dict[str, str], new: dict[str, str] | None) -> None:
        """Keep the unique-value indexes (email, hasUniqueValue properties) in step with a write."""
        for name in self.props[obj.type]:
            if not self._is_unique(obj.type, name):
                continue
            idx = self.uniq.setdefault((obj.type, name), {})
            if old.get(name) and idx.get(old[name]) == obj.id:
                del idx[old[name]]
            if new is not None and new.get(name):
                idx[new[name]] = obj.id

    def _check_unique(self, type_: str, values: dict[str, str], self_id: int | None) -> None:
        for name, v in values.items():
            if v and self._is_unique(type_, name):
                other = self._unique_owner(type_, name, v)
                if other is not None and other.id != self_id:
                    if type_ == "contacts":
                        msg = f"Contact already exists. Existing ID: {other.id}"
                    else:
                        msg = f"A {self.kinds[type_].singular} with the unique value {v!r} for {name} already exists. Existing ID: {other.id}"
                    raise ApiError(409, "CONFLICT", msg, context={"existingId": [str(other.id)]})

    def _derive(self, obj: Obj) -> None:
        """Keep read-only derived properties in step (what HubSpot's own workflows do)."""
        if obj.type == "contacts":
            email = obj.props.get("email", "")
            if email:
                obj.props["hs_email_domain"] = email.split("@", 1)[1]
            else:
                obj.props.pop("hs_email_domain", None)
        if obj.type == "deals":
            obj.props["hs_is_closed_won"] = "true" if obj.props.get("dealstage") == "closedwon" else "false"

    def _required(self, kind: Kind, values: dict[str, str]) -> dict[str, str]:
        """A create's values with the type's defaults; a 400 naming the required ones it lacks."""
        out = {**{k: v for k, v in kind.defaults if not values.get(k)}, **{k: v for k, v in values.items() if v != ""}}
        missing = [n for n in kind.required if not out.get(n)]
        if missing:
            raise validation_error([(n, "REQUIRED_PROPERTY", f'Property "{n}" is required') for n in missing])
        return out

    # -- record writes ---------------------------------------------------------------
    def validate(self, type_: str, props: dict[str, Any], self_id: int | None = None) -> None:
        """Raise the error a write of ``props`` would get, without writing (atomic batches)."""
        with self.lock:
            self._check_unique(type_, self._normalise(type_, props), self_id)

    def create(self, type_: str, props: dict[str, Any], source: Source, *, at: int | None = None,
               modified_at: int | None = None) -> Obj:
        with self.lock:
            kind = self.kinds[type_]
            values = self._normalise(type_, props)
            if kind.required or kind.defaults:
                values = self._required(kind, values)
            self._check_unique(type_, values, None)
            now = at if at is not None else self.clock()
            obj = Obj(self.next_id, type_, {}, now, modified_at or now)
            self.next_id += 1
            obj.props = {k: v for k, v in values.items() if v != ""}
            obj.props.update({"hs_object_id": str(obj.id), kind.created: iso_ms(now),
                              kind.modified: iso_ms(obj.updated)})
            self._derive(obj)
            self.objs[type_][obj.id] = obj
            self.ids[type_].append(obj.id)
            self._index_unique(obj, {}, obj.props)
            self._reindex(obj)
            self._emit(source, type_, "creation", obj.id, at=now)
            return obj

    def update(self, type_: str, obj_id: int, props: dict[str, Any], source: Source, *, at: int | None = None) -> Obj:
        with self.lock:
            obj = self.get(type_, obj_id)
            values = self._normalise(type_, props)
            self._check_unique(type_, values, obj.id)
            changed = {k: v for k, v in values.items() if obj.props.get(k, "") != v}
            if not changed:
                return obj  # a no-op write leaves lastmodifieddate alone
            old = dict(obj.props)
            for k, v in changed.items():
                if v == "":
                    obj.props.pop(k, None)
                else:
                    obj.props[k] = v
            self._derive(obj)
            self._index_unique(obj, old, obj.props)
            obj.updated = at if at is not None else self.clock()
            obj.props[self.kinds[type_].modified] = iso_ms(obj.updated)
            self._reindex(obj)
            self._emit(source, type_, "propertyChange", obj.id, changed, at=obj.updated)
            return obj

    def archive(self, type_: str, obj_id: int, source: Source) -> bool:
        with self.lock:
            obj = self.objs[type_].get(obj_id)
            if obj is None or obj.archived_at is not None:
                return False
            obj.archived_at = self.clock()
            self._index_unique(obj, obj.props, None)
            self._reindex(obj)
            for key in [k for k in self.assocs if (k[0] == type_ and k[1] == obj_id)]:
                for to_id in list(self.assocs[key]):
                    self.assocs.get((key[2], to_id, type_), {}).pop(obj_id, None)
                del self.assocs[key]
            for lst in self.lists.values():
                if lst.object_type_id == self.kinds[type_].type_id:
                    lst.members.pop(obj_id, None)
            self._emit(source, type_, "deletion", obj.id)
            return True

    def merge(self, type_: str, primary_id: int | str, merge_id: int | str, source: Source) -> Obj:
        """Merge two records as HubSpot does since 2023 (contacts and companies, as other objects
        before): both are archived and one *new* record takes their place, with the primary's
        values over the other's, both records' associations and list memberships, and
        ``hs_merged_object_ids`` naming every id merged into it. Reads by either old id answer
        with the new record. Webhooks: one ``{type}.merge`` event."""
        with self.lock:
            if str(primary_id) == str(merge_id):
                raise ApiError(400, "VALIDATION_ERROR", "Cannot merge an object into itself")
            primary, other = self.get(type_, primary_id), self.get(type_, merge_id)
            kind, own = self.kinds[type_], {"hs_object_id", "hs_merged_object_ids"}
            own |= {kind.created, kind.modified}
            values = {k: v for k, v in {**other.props, **primary.props}.items() if k not in own and v != ""}
            merged = [*_merged(primary), *_merged(other), str(primary.id), str(other.id)]
            # the other's associations first: where both have a primary one, the primary's wins
            held = [(to_t, to_id, tid) for old in (other, primary) for (t, i, to_t), found in self.assocs.items()
                    if t == type_ and i == old.id for to_id, tids in sorted(found.items()) for tid in sorted(tids)]
            lists = [lst for lst in self.lists.values() if primary.id in lst.members or other.id in lst.members]
            quiet = Source(source.change_source, source.source_id, webhooks=False)
            for old in (primary, other):
                self.archive(type_, old.id, quiet)  # (frees their unique values for the new record)
            now = self.clock()
            new = Obj(self.next_id, type_, {}, now, now)
            self.next_id += 1
            new.props = {**values, "hs_object_id": str(new.id), kind.created: iso_ms(min(primary.created, other.created)),
                         kind.modified: iso_ms(now), "hs_merged_object_ids": ";".join(dict.fromkeys(merged))}
            new.created = min(primary.created, other.created)
            self._derive(new)
            self.objs[type_][new.id] = new
            self.ids[type_].append(new.id)
            self._index_unique(new, {}, new.props)
            self._reindex(new)
            for (t, i), to in list(self.merged_into.items()):  # ids merged earlier follow along
                if t == type_ and to in (primary.id, other.id):
                    self.merged_into[(t, i)] = new.id
            self.merged_into[(type_, primary.id)] = self.merged_into[(type_, other.id)] = new.id
            for to_t, to_id, tid in held:
                if self.objs[to_t].get(to_id) is not None and self.objs[to_t][to_id].archived_at is None:
                    self.associate(type_, new.id, to_t, to_id, tid)
            for lst in lists:
                lst.members[new.id] = now
            if source.webhooks:
                k = self.kinds[type_]
                event = {"objectId": new.id, "changeSource": source.change_source, "occurredAt": now,
                         "subscriptionType": f"{'object' if k.custom else k.singular}.merge",
                         "primaryObjectId": primary.id, "mergedObjectIds": [other.id], "newObjectId": new.id,
                         "numberOfPropertiesMoved": len(values)}
                if k.custom:
                    event["objectTypeId"] = k.type_id
                if source.source_id is not None:
                    event["sourceId"] = source.source_id
                self.on_events([event])
            return new

    def gdpr_delete(self, type_: str, obj_id: int | str, source: Source, *, id_property: str | None = None) -> None:
        """Delete a record permanently, as a GDPR delete does: gone from every read, the
        archived listing included (nothing to restore), its associations and list memberships
        with it; one ``{type}.privacyDeletion`` webhook. Unknown ids answer 404."""
        with self.lock:
            obj = self.get(type_, obj_id, id_property=id_property) if id_property else self.objs[type_].get(int(obj_id))
            if obj is None:
                raise not_found(str(obj_id))
            quiet = Source(source.change_source, source.source_id, webhooks=False)
            self.archive(type_, obj.id, quiet)  # (its unique values, associations and lists go)
            del self.objs[type_][obj.id]
            self.ids[type_].remove(obj.id)
            self.merged_into = {k: v for k, v in self.merged_into.items() if obj.id not in (k[1], v) or k[0] != type_}
            self._emit(source, type_, "privacyDeletion", obj.id)

    def restore(self, type_: str, obj_id: int, source: Source) -> Obj:
        """Bring an archived record back from the recycle bin (HubSpot keeps them 90 days), with
        its id and values; a 409 if another record has taken its unique value (email) since."""
        with self.lock:
            obj = self.objs[type_].get(obj_id)
            if obj is None or obj.archived_at is None or (type_, obj_id) in self.merged_into:
                raise not_found(str(obj_id))
            self._check_unique(type_, obj.props, obj.id)
            obj.archived_at = None
            obj.updated = self.clock()
            obj.props[self.kinds[type_].modified] = iso_ms(obj.updated)
            self._index_unique(obj, {}, obj.props)
            self._reindex(obj)
            self._emit(source, type_, "restore", obj.id, at=obj.updated)
            return obj

    def touch(self, type_: str, ids: Iterable[int], at: int) -> None:
        """Set the modified timestamp of many records to one instant (a month-end batch job)."""
        with self.lock:
            for i in ids:
                obj = self.objs[type_][i]
                obj.updated = at
                obj.props[self.kinds[type_].modified] = iso_ms(at)
                self._reindex(obj)

    # -- record reads ---------------------------------------------------------------
    def get(self, type_: str, obj_id: int | str, *, archived: bool = False, id_property: str | None = None) -> Obj:
        with self.lock:
            if id_property and id_property != "hs_object_id":
                if not self._is_unique(type_, id_property):
                    raise ApiError(400, "VALIDATION_ERROR", f"{id_property} is not a unique property; "
                                   "idProperty must name a property with unique values")
                found = self._unique_owner(type_, id_property, str(obj_id))
                if found is None:
                    raise not_found(str(obj_id))
                return found
            try:
                obj = self.objs[type_].get(int(obj_id))
            except (TypeError, ValueError):
                obj = None
            if obj is not None and not archived and (merged := self.merged_into.get((type_, obj.id))) is not None:
                obj = self.objs[type_][merged]  # a merged-away id reads as the record it became
            if obj is None or (obj.archived_at is not None) != archived:
                raise not_found(str(obj_id))
            return obj

    def page(self, type_: str, after: int, limit: int, archived: bool) -> tuple[list[Obj], int | None]:
        with self.lock:
            objs, ids = self.objs[type_], self.ids[type_]
            chunk: list[Obj] = []
            for i in itertools.islice(ids, bisect.bisect_left(ids, after), None):
                o = objs[i]
                if (o.archived_at is not None) == archived:
                    if len(chunk) == limit:
                        return chunk, chunk[-1].id + 1
                    chunk.append(o)
            return chunk, None

    def live(self, type_: str) -> list[Obj]:
        with self.lock:
            return [o for o in self.objs[type_].values() if o.archived_at is None]

    # -- search (on the lagging index view) -------------------------------------------------
    def _key(self, type_: str, name: str, value: str) -> Any:
        pd = self.props[type_].get(name)
        if pd is None:
            raise ApiError(400, "VALIDATION_ERROR", f"There was a problem with the request: property {name} "
                           "does not exist", errors=[{"message": f"Property {name} does not exist",
                                                      "code": "PROPERTY_DOESNT_EXIST"}])
        try:
            if pd.type == "number":
                return float(value)
            if pd.type in ("datetime", "date"):
                return parse_ms(value)
        except ValueError:
            raise ApiError(400, "VALIDATION_ERROR", f"Invalid value {value!r} for {name}") from None
        return value.lower()

    def _match(self, type_: str, snap: Snapshot, f: dict[str, Any]) -> bool:
        name, op = f.get("propertyName", ""), str(f.get("operator", "EQ")).upper()
        have = snap.props.get(name)
        if op == "HAS_PROPERTY":
            return have is not None
        if op == "NOT_HAS_PROPERTY":
            return have is None
        if op in ("IN", "NOT_IN"):
            keys = {self._key(type_, name, str(v)) for v in f.get("values") or []}
            inside = have is not None and self._key(type_, name, have) in keys
            return inside if op == "IN" else not inside
        want = self._key(type_, name, str(f.get("value", "")))
        if op == "NEQ":
            return have is None or self._key(type_, name, have) != want
        if have is None:
            return False
        got = self._key(type_, name, have)
        if op == "EQ":
            return bool(got == want)
        if op == "CONTAINS_TOKEN":
            return str(want).strip("*") in str(got)
        if op == "BETWEEN":
            return bool(want <= got <= self._key(type_, name, str(f.get("highValue", ""))))
        ops: dict[str, Callable[[Any, Any], bool]] = {
            "GT": lambda a, b: a > b, "GTE": lambda a, b: a >= b, "LT": lambda a, b: a < b, "LTE": lambda a, b: a <= b}
        if op not in ops:
            raise ApiError(400, "VALIDATION_ERROR", f"Unsupported operator {op}")
        return ops[op](got, want)

    def search(self, type_: str, body: dict[str, Any], cap: int) -> dict[str, Any]:
        limit = int(body.get("limit") or 10)
        after = int(body.get("after") or 0)
        if limit > 200 or limit < 1:
            raise ApiError(400, "VALIDATION_ERROR", "limit must be between 1 and 200")
        if after + limit > cap:
            # HubSpot refuses to page past the first 10,000 results of one query.
            raise ApiError(400, "VALIDATION_ERROR", f"The search API is limited to {cap} results per query; "
                           "narrow the query with filters instead of paging further.")
        groups = body.get("filterGroups") or []
        if len(groups) > 5 or sum(len(g.get("filters") or []) for g in groups) > 18 or any(
                len(g.get("filters") or []) > 6 for g in groups):
            raise ApiError(400, "VALIDATION_ERROR", "Too many filters: at most 5 filterGroups of 6 filters, 18 in all")
        sorts = body.get("sorts") or []
        if len(sorts) > 1:
            raise ApiError(400, "VALIDATION_ERROR", "Search results can only be sorted by one property")
        kind = self.kinds[type_]
        props = list(body.get("properties") or kind.default_props)
        for sys in ("hs_object_id", kind.created, kind.modified):
            if sys not in props:
                props.append(sys)
        query = str(body.get("query") or "").lower()
        now = time.monotonic()
        by_id = self._id_range_query(type_, groups, sorts, query)
        with self.lock:
            if by_id is not None:
                return self._search_ids(type_, *by_id, after, limit, props, now)
            hits: list[tuple[int, Snapshot]] = []
            for obj in self.objs[type_].values():
                snap = obj.indexed(now)
                if snap is None or snap.archived:
                    continue
                if groups and not any(all(self._match(type_, snap, f) for f in g.get("filters") or [])
                                      for g in groups):
                    continue
                if query and not any(query in snap.props.get(p, "").lower() for p in kind.default_props):
                    continue
                hits.append((obj.id, snap))
            if sorts:
                name, desc = _sort_spec(sorts[0])
                if name not in self.props[type_]:
                    raise ApiError(400, "VALIDATION_ERROR", f"Cannot sort by unknown property {name}")
                present = [h for h in hits if name in h[1].props]
                missing = [h for h in hits if name not in h[1].props]
                present.sort(key=lambda h: (self._key(type_, name, h[1].props[name]), _scramble(h[0])), reverse=desc)
                hits = present + sorted(missing, key=lambda h: h[0])
            else:
                hits.sort(key=lambda h: h[0])
            return _search_answer(hits[after:after + limit], len(hits), after, limit, props)

    _BOUNDS = frozenset({"GT", "GTE", "LT", "LTE", "EQ"})

    def _id_range_query(self, type_: str, groups: list[Any], sorts: list[Any],
                        query: str) -> tuple[float, float, bool] | None:
        """(low, high, descending) when the query only bounds and sorts by ``hs_object_id``
        (a full scan's search lane), else None. Answered from the sorted ids, as HubSpot
        answers it from its index, instead of filtering and sorting every record."""
        if query or len(groups) > 1 or len(sorts) > 1:
            return None
        desc = False
        if sorts:
            name, desc = _sort_spec(sorts[0])
            if name != "hs_object_id":
                return None
        low, high = float("-inf"), float("inf")
        for f in (groups[0].get("filters") or []) if groups else []:
            op = str(f.get("operator", "EQ")).upper()
            if f.get("propertyName") != "hs_object_id" or op not in self._BOUNDS:
                return None
            v = self._key(type_, "hs_object_id", str(f.get("value", "")))
            if op in ("GT", "GTE", "EQ"):
                low = max(low, v if op != "GT" else v + 0.5)
            if op in ("LT", "LTE", "EQ"):
                high = min(high, v if op != "LT" else v - 0.5)
        return low, high, desc

    def _search_ids(self, type_: str, low: float, high: float, desc: bool, after: int, limit: int,
                    props: list[str], now: float) -> dict[str, Any]:
        ids, objs = self.ids[type_], self.objs[type_]
        span = ids[bisect.bisect_left(ids, low):bisect.bisect_right(ids, high)]
        hits: list[tuple[int, Snapshot]] = []
        total = 0
        for i in reversed(span) if desc else span:
            snap = objs[i].indexed(now)
            if snap is None or snap.archived:
                continue
            if after <= total < after + limit:
                hits.append((i, snap))
            total += 1
        return _search_answer(hits, total, after, limit, props)

    # -- properties ----------------------------------------------------------------------
    def add_property(self, type_: str, body: dict[str, Any]) -> PropDef:
        with self.lock:
            name = str(body.get("name") or "")
            missing = [k for k in ("name", "label", "type", "fieldType", "groupName") if not body.get(k)]
            if missing:
                raise ApiError(400, "VALIDATION_ERROR", f"Missing required fields: {missing}")
            if name in self.props[type_]:
                raise ApiError(409, "OBJECT_ALREADY_EXISTS", f"A property named '{name}' already exists.")
            pd = PropDef(name, str(body["label"]), str(body["type"]), str(body["fieldType"]),
                         [(str(o["value"]), str(o.get("label", o["value"]))) for o in body.get("options") or []],
                         calculated=bool(body.get("calculationFormula")), unique=bool(body.get("hasUniqueValue")),
                         hubspot_defined=False, group=str(body["groupName"]), description=str(body.get("description", "")))
            self.props[type_][name] = pd
            return pd

    # -- associations ----------------------------------------------------------------------
    def associate(self, from_t: str, from_id: int, to_t: str, to_id: int, type_id: int | None = None) -> None:
        with self.lock:
            for t, i in ((from_t, from_id), (to_t, to_id)):
                self.get(t, i)
            known = self.assoc_types.get((from_t, to_t))
            if not known:
                raise ApiError(400, "VALIDATION_ERROR", f"No association type is defined from {from_t} to {to_t}")
            types = {type_id} if type_id is not None else {known[0][0]}
            primary = types & {x for x, label in known if label == "Primary"}
            if primary:
                # one primary company per record: the previous one stays associated, unlabelled
                unlabelled = known[0][0]
                for other, held in self.assocs.get((from_t, from_id, to_t), {}).items():
                    if other != to_id and held & primary:
                        held -= primary
                        held.add(unlabelled)
                        back = self.assocs.get((to_t, other, from_t), {}).get(from_id)
                        if back is not None:
                            back -= {inverse_type(from_t, to_t, x, self.assoc_types) for x in primary}
                            back.add(inverse_type(from_t, to_t, unlabelled, self.assoc_types))
                types = types | {unlabelled}  # a primary association is an association too
            self.assocs.setdefault((from_t, from_id, to_t), {}).setdefault(to_id, set()).update(types)
            self.assocs.setdefault((to_t, to_id, from_t), {}).setdefault(from_id, set()).update(
                inverse_type(from_t, to_t, t, self.assoc_types) for t in types)

    def dissociate(self, from_t: str, from_id: int, to_t: str, to_id: int) -> bool:
        """Remove every association type between two records (v4 batch/archive); False: there was none."""
        with self.lock:
            found = self.assocs.get((from_t, from_id, to_t), {}).pop(to_id, None)
            self.assocs.get((to_t, to_id, from_t), {}).pop(from_id, None)
            return found is not None

    def associated(self, from_t: str, from_id: int, to_t: str) -> dict[int, set[int]]:
        with self.lock:
            return {k: set(v) for k, v in self.assocs.get((from_t, from_id, to_t), {}).items()}

    # -- lists -------------------------------------------------------------------------------
    def create_list(self, name: str, object_type_id: str, processing_type: str = "MANUAL") -> HsList:
        with self.lock:
            if any(lst.name.lower() == name.lower() and lst.deleted is None for lst in self.lists.values()):
                raise ApiError(400, "VALIDATION_ERROR", f"A list named '{name}' already exists.")
            lst = HsList(self.next_list_id, name, object_type_id, processing_type, self.clock())
            self.lists[lst.id] = lst
            self.next_list_id += 1
            return lst

    def list_by_name(self, object_type_id: str, name: str) -> HsList:
        with self.lock:
            for lst in self.lists.values():
                if lst.name.lower() == name.lower() and lst.object_type_id == object_type_id and lst.deleted is None:
                    return lst
        raise ApiError(404, "OBJECT_NOT_FOUND", f"List with name {name} does not exist.")

    def list_by_id(self, list_id: str, *, deleted: bool = False) -> HsList:
        with self.lock:
            lst = self.lists.get(int(list_id)) if list_id.isdigit() else None
        if lst is None or (lst.deleted is not None) != deleted:
            raise ApiError(404, "OBJECT_NOT_FOUND", f"List {list_id} does not exist.")
        return lst

    def delete_list(self, list_id: str) -> None:
        with self.lock:
            self.list_by_id(list_id).deleted = self.clock()

    def restore_list(self, list_id: str) -> None:
        with self.lock:
            lst = self.list_by_id(list_id, deleted=True)
            if any(x.name.lower() == lst.name.lower() and x.deleted is None for x in self.lists.values()):
                raise ApiError(400, "VALIDATION_ERROR", f"A list named '{lst.name}' already exists.")
            lst.deleted = None

    def rename_list(self, list_id: str, name: str) -> HsList:
        """``PUT /crm/v3/lists/{listId}/update-list-name``: names are unique among live lists."""
        with self.lock:
            lst = self.list_by_id(list_id)
            if not name.strip():
                raise ApiError(400, "VALIDATION_ERROR", "listName is required")
            if any(x is not lst and x.name.lower() == name.lower() and x.deleted is None for x in self.lists.values()):
                raise ApiError(400, "VALIDATION_ERROR", f"A list named '{name}' already exists.")
            lst.name = name
            return lst

    def change_members(self, list_id: str, add: Iterable[str] = (), remove: Iterable[str] = ()) -> dict[str, list[str]]:
        with self.lock:
            lst = self.list_by_id(list_id)
            type_ = self.aliases[lst.object_type_id]
            out: dict[str, list[str]] = {"recordsIdsAdded": [], "recordIdsRemoved": [], "recordIdsMissing": []}
            for rid in add:
                obj = self.objs[type_].get(int(rid)) if str(rid).isdigit() else None
                if obj is None or obj.archived_at is not None:
                    out["recordIdsMissing"].append(str(rid))
                elif obj.id not in lst.members:
                    lst.members[obj.id] = self.clock()
                    out["recordsIdsAdded"].append(str(rid))
            for rid in remove:
                if str(rid).isdigit() and lst.members.pop(int(rid), None) is not None:
                    out["recordIdsRemoved"].append(str(rid))
                else:
                    out["recordIdsMissing"].append(str(rid))
            return out
