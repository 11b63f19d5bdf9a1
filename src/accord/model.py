"""Plain data shared by every layer: records, schemas, write results, errors.

Values inside ``Record.properties`` are *canonical*: JSON-compatible Python values
(``str``, ``int``, ``float``, ``bool``, ``None``, or a list of ``str`` for multi-select);
dates are ISO ``YYYY-MM-DD`` strings and datetimes ISO-8601 UTC strings. Connectors
convert vendor wire formats to and from this form, so the pure engine can compare and
store values without knowing any vendor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

Value = Any  # canonical JSON-compatible value, see module docstring


class Side(StrEnum):
    LEFT = "left"
    RIGHT = "right"

    @property
    def other(self) -> Side:
        # module globals: an enum class's member lookup (Side.LEFT) costs several times more
        return _RIGHT if self is _LEFT else _LEFT


_LEFT, _RIGHT = Side.LEFT, Side.RIGHT


class FieldType(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    DATETIME = "datetime"
    BOOL = "bool"
    ENUM = "enumeration"


class Status(StrEnum):
    SYNCING = "syncing"
    FAILING = "failing"
    EXCLUDED = "excluded"
    QUEUED = "queued"


class ExcludedReason(StrEnum):
    FILTERED = "filtered"
    NO_MATCH_KEY = "no_match_key"
    DUPLICATE = "duplicate"
    UNMAPPED_STAGE = "unmapped_stage"
    NOT_IN_LIST = "not_in_list"
    DELETED = "deleted"
    WAITING_FOR_ASSOCIATION = "waiting_for_association"


class ErrorCategory(StrEnum):
    """Failing-record categories, grouped as HubSpot's sync-error screens group them."""

    VALIDATION = "validation"
    DUPLICATES = "duplicates"
    PERMISSIONS = "permissions"
    CUSTOM_CODE = "custom_code"
    ASSOCIATIONS = "associations"
    RATE_LIMIT = "rate_limit"
    DELETED = "deleted"
    NOT_FOUND = "not_found"
    TRANSIENT = "transient"
    # a create whose answer was lost, of a record with no match key to look it up by: it may
    # exist in the app; never sent again without a person's say-so (resync the record)
    OUTCOME_UNKNOWN = "outcome_unknown"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Record:
    id: str
    properties: Mapping[str, Value]
    updated_at: str | None = None  # ISO-8601 UTC
    created_at: str | None = None
    archived: bool = False
    # the record lives on under this id of the same sync's object (a Salesforce Lead converted into a
    # Contact): its pair follows it there; ``properties`` are then empty and mean nothing
    moved_to: str | None = None


@dataclass(frozen=True, slots=True)
class Option:
    value: str
    label: str


@dataclass(frozen=True, slots=True)
class FieldSchema:
    name: str
    type: FieldType
    label: str = ""
    read_only: bool = False
    calculated: bool = False
    required: bool = False
    options: tuple[Option, ...] = ()

    @property
    def writable(self) -> bool:
        return not (self.read_only or self.calculated)


@dataclass(frozen=True, slots=True)
class ObjectSchema:
    object: str
    fields: Mapping[str, FieldSchema]

    def get(self, name: str) -> FieldSchema | None:
        return self.fields.get(name)


@dataclass(frozen=True, slots=True)
class Stage:
    id: str
    label: str


@dataclass(frozen=True, slots=True)
class Pipeline:
    id: str
    label: str
    stages: tuple[Stage, ...]


@dataclass(frozen=True, slots=True)
class WriteError:
    category: ErrorCategory
    message: str
    hint: str = ""
    code: str = ""  # the vendor's own error code, e.g. VALIDATION_ERROR


@dataclass(frozen=True, slots=True)
class WriteResult:
    """Outcome of one record in a batch write: one bad record never fails the batch."""

    ok: bool
    id: str | None = None
    error: WriteError | None = None
    # The record as the app stored it, when the API returns it: lets the engine keep the
    # app's own normalisation (e.g. lower-cased email) as the base and avoid echoes.
    record: Record | None = None

    @staticmethod
    def success(id: str, record: Record | None = None) -> WriteResult:
        return WriteResult(ok=True, id=id, record=record)

    @staticmethod
    def failure(error: WriteError, id: str | None = None) -> WriteResult:
        return WriteResult(ok=False, id=id, error=error)


@dataclass(frozen=True, slots=True)
class Page:
    """One page of records from a scan or change feed.

    ``cursor`` is the resume point *after* this page: persisting it lets an interrupted
    pass continue without re-reading earlier pages.
    """

    records: list[Record]
    cursor: str | None = None


class ConnectorError(Exception):
    """The app could not be used at all (as opposed to a single record being rejected)."""

    kind = "error"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AuthError(ConnectorError):
    """The app refused the credentials. ``hint`` says which credential to replace (and where),
    when the connector knows: a refresh token revoked, a private key no longer on the connected
    app, a personal access token rotated."""

    kind = "auth"

    def __init__(self, message: str, *, hint: str = "", app: str = "", retry_after: float | None = None) -> None:
        super().__init__(message, retry_after=retry_after)
        self.hint, self.app = hint, app  # app: the refusing app's name in accord.yaml (when known)


class UnreachableError(ConnectorError):
    kind = "unreachable"
    hint = ""  # what to check (the URL's scheme, the port, a certificate): see error_text


def error_text(e: BaseException) -> str:
    """A failed pass's error as the run history keeps it: its type and message, and for an app
    that could not be reached, what to check."""
    hint = e.hint if isinstance(e, UnreachableError) else ""
    text = str(e)
    if isinstance(e, AuthError) and e.app and f"app {e.app!r}" not in text:
        text = f"app {e.app!r}: {text}"  # which app refused: the Apps page of a distributed service reads it
    return f"{type(e).__name__}: {text}" + (f" (hint: {hint})" if hint else "")


class RateLimited(ConnectorError):
    kind = "rate_limited"


class TransientError(ConnectorError):
    """5xx, time-outs, resets: safe to retry with backoff."""

    kind = "transient"


class WriteOutcomeUnknown(TransientError):
    """A write that is not safe to repeat (a create) was sent and its answer lost (a 5xx, a
    time-out or a dropped connection after sending): it may or may not have been carried
    out, so it must not simply be sent again. The runner looks the records up by match key
    and sends only the ones that are not there.

    ``results``, when the connector knows some outcomes (a batch whose answer matched some of
    its inputs, or the records sent before the one whose answer was lost): one entry per input
    of the failed ``create`` call, the known :class:`WriteResult` or ``None`` where unknown."""

    kind = "outcome_unknown"

    def __init__(self, message: str, *, retry_after: float | None = None,
                 results: Sequence[WriteResult | None] | None = None) -> None:
        super().__init__(message, retry_after=retry_after)
        self.results: list[WriteResult | None] | None = list(results) if results is not None else None


class ResyncRequired(ConnectorError):
    """The change feed cannot cover the time since the cursor (e.g. a purged delete log):
    only a full re-scan against the index can find what changed."""

    kind = "resync_required"


class ContainerMissing(ConnectorError):
    """The container an object's records live in is gone: a Snov.io list, a xentral group, a
    HubSpot inclusion list, an SQL table. Every record of the sync would look deleted, so the
    pass stops before writing anything (README, "Deletes").

    ``key`` is the config key path that names the container (``apps.snovio.list``; ``None``
    when only the runner knows it, e.g. a sync's inclusion list); ``creatable``: the app may
    create it again (``create_list``), which Accord does only for a sync that never ran or
    once an admin confirms (``accord sync --confirm-deletes``). ``hint`` is for a container a
    pass used before (it vanished: restore it); ``fresh_hint`` for a sync that never ran, to
    which the container never existed (a name to check, a table to create).
    """

    kind = "container_missing"

    def __init__(self, message: str, *, app: str, container: str, key: str | None = None,
                 creatable: bool = False, hint: str = "", fresh_hint: str = "") -> None:
        super().__init__(message)
        self.app, self.container, self.key, self.creatable, self.hint = app, container, key, creatable, hint
        self.fresh_hint = fresh_hint


class DeletesHeld(Exception):
    """A pass found more deletes than the sync's delete guard allows (or a vanished container):
    nothing was deleted, and the deletes wait in the index for a confirmation. ``hold`` is the
    sync's hold as the index keeps it (accord.index.holds)."""

    def __init__(self, message: str, hint: str, hold: Mapping[str, Any]) -> None:
        super().__init__(message)
        self.hint, self.hold = hint, dict(hold)


class BudgetExhausted(ConnectorError):
    """The share of the vendor's daily API budget that Accord may use is spent."""

    kind = "budget"


@dataclass(slots=True)
class Counters:
    """Per-pass counts reported by ``accord sync --json`` and the run log."""

    created: dict[str, int] = field(default_factory=lambda: {"left": 0, "right": 0})
    updated: dict[str, int] = field(default_factory=lambda: {"left": 0, "right": 0})
    archived: dict[str, int] = field(default_factory=lambda: {"left": 0, "right": 0})
    failed: dict[str, int] = field(default_factory=lambda: {"left": 0, "right": 0})
    conflicts: int = 0
    linked: int = 0
    unchanged: int = 0
    excluded: dict[str, int] = field(default_factory=dict)
    read: dict[str, int] = field(default_factory=lambda: {"left": 0, "right": 0})
    associated: dict[str, int] = field(default_factory=lambda: {"left": 0, "right": 0})
    # event sync (accord.runner.events): read, written, already (on the timeline before),
    # not_a_contact, no_contact_in_hubspot, failed; empty when the sync syncs no events
    events: dict[str, int] = field(default_factory=dict)
    # HubSpot activities to Salesforce (accord.runner.activities), per type: read, created,
    # updated, unchanged, failed, waiting, excluded; empty when the sync copies none
    activities: dict[str, dict[str, int]] = field(default_factory=dict)

    def exclude(self, reason: str) -> None:
        key = str(reason)
        self.excluded[key] = self.excluded.get(key, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "read": dict(self.read),
            "created": dict(self.created),
            "updated": dict(self.updated),
            "archived": dict(self.archived),
            "failed": dict(self.failed),
            "conflicts": self.conflicts,
            "linked": self.linked,
            "unchanged": self.unchanged,
            "excluded": dict(sorted(self.excluded.items())),
            "associated": dict(self.associated),
            **({"events": dict(self.events)} if self.events else {}),
            **({"activities": {k: dict(v) for k, v in self.activities.items()}} if self.activities else {}),
        }
