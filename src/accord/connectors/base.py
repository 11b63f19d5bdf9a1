"""The connector interface: a thin async adapter between one app's API and the engine.

Every vendor module implements :class:`Connector`. Methods work on *pages* and *batches*
so that the runner can stream any number of records in bounded memory, and write
methods return one :class:`~accord.model.WriteResult` per input so that a record the app
rejects never fails the rest of its batch.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, Protocol

from accord.connectors.limits import LimiterFactory, RateLimit
from accord.model import (
    ConnectorError,
    ObjectSchema,
    Option,
    Page,
    Pipeline,
    Record,
    Stage,
    Value,
    WriteResult,
)

log = logging.getLogger("accord.connectors")


@dataclass(frozen=True)
class ApiCounters:
    """What a connector has sent to its app so far (the service's ``/metrics`` reads it)."""

    api_calls: int = 0  # requests sent, retries included


@dataclass
class WebhookChanges:
    """What one webhook batch means for the syncs."""

    changed: dict[str, set[str]] = field(default_factory=dict)  # object -> ids created/changed by others
    deleted: dict[str, set[str]] = field(default_factory=dict)  # object -> ids deleted by others
    echoes: dict[str, set[str]] = field(default_factory=dict)  # object -> ids only Accord itself touched
    duplicates: int = 0  # events dropped as already seen
    ignored: int = 0  # event types Accord does not use


class WebhookReceiver(Protocol):
    """The receiving end of an app that pushes its changes to ``POST /webhooks/APP``."""

    def verify(self, method: str, url: str, body: bytes, headers: Mapping[str, str]) -> bool:
        """True if the request is signed by the app and fresh."""
        ...

    def parse(self, body: bytes) -> list[Mapping[str, Any]]:
        """The events of a verified body; ValueError when it is not a batch of events."""
        ...

    def changes(self, events: Sequence[Mapping[str, Any]],
                claim: Callable[[list[str]], Collection[str]]) -> WebhookChanges:
        """The ids to sync per object. ``claim(event_ids)`` remembers the ids and returns those
        never seen before; events it leaves out are replays, counted as duplicates."""
        ...


AssociationKind = Literal["many", "primary", "single"]


class Associated(NamedTuple):
    """One record's associations to one object: the associated ids, and the primary one."""

    ids: list[str]
    primary: str | None = None


class Connector(abc.ABC):
    #: the vendor type in ``accord.yaml`` (``hubspot``, ``salesforce``, ``memory`` …)
    vendor: str = ""
    #: largest batch the app's write endpoints accept (HubSpot 100, Salesforce 200)
    batch_size: int = 100
    #: pages a full scan may read ahead of the sync on a thread of its own (0: the scan reads
    #: on the caller's loop; only connectors/background.py readers use it, HubSpot's so far)
    read_ahead: int = 0

    def __init__(self, name: str) -> None:
        self.name = name  # the app's key in accord.yaml

    # -- metadata -------------------------------------------------------------------
    @abc.abstractmethod
    async def describe(self, object: str) -> ObjectSchema:
        """Fields of ``object`` with type, read-only/calculated flags and options."""

    async def check(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Raise AuthError/UnreachableError when the app can't be used."""

    async def account(self) -> str | None:
        """The account the credentials sign in to, in words ("HubSpot account 123"), or None
        where the app cannot tell. A sync's pairs are refused to another account than the one
        they were made with (accord.runner.index_guard): credentials replaced with another
        portal's or org's would have every record read as deleted and every other as new."""
        return None

    # -- reading --------------------------------------------------------------------
    @abc.abstractmethod
    def scan(self, object: str, fields: Sequence[str]) -> AsyncIterator[Page]:
        """Every live record of ``object``, page by page, in the API's own order."""

    def scan_from(self, object: str, fields: Sequence[str], after: str) -> AsyncIterator[Page]:
        """The pages of :meth:`scan` that come after the page whose ``cursor`` is ``after``.

        A resumed scan (a distributed pass taken over by another worker) starts here. This
        default scans from the start again, which is always correct (the runner's phases
        are idempotent) but re-reads; connectors whose API can start mid-way override it.
        """
        return self.scan(object, fields)

    @abc.abstractmethod
    async def change_cursor(self, object: str) -> str:
        """A cursor meaning "now": changes after this moment will be returned by :meth:`changes`.

        The runner takes it *before* a pass starts reading, so records edited while the
        pass runs are picked up by the next pass instead of being missed.
        """

    @abc.abstractmethod
    def changes(self, object: str, cursor: str, fields: Sequence[str]) -> AsyncIterator[Page]:
        """Records changed since ``cursor`` (deleted ones with ``archived=True`` where the
        vendor reports deletes), each page carrying the cursor to resume after it."""

    @abc.abstractmethod
    async def read(self, object: str, ids: Sequence[str], fields: Sequence[str]) -> list[Record]:
        """Records by id; ids that no longer exist are returned archived or left out."""

    @abc.abstractmethod
    async def find(
        self, object: str, field: str, values: Sequence[Value], fields: Sequence[str]
    ) -> list[Record]:
        """Live records whose ``field`` equals one of ``values`` (match-key look-up)."""

    # -- writing (per-record results) -------------------------------------------------
    @abc.abstractmethod
    async def create(self, object: str, items: Sequence[Mapping[str, Value]]) -> list[WriteResult]: ...

    @abc.abstractmethod
    async def update(
        self, object: str, items: Sequence[tuple[str, Mapping[str, Value]]]
    ) -> list[WriteResult]: ...

    @abc.abstractmethod
    async def archive(self, object: str, ids: Sequence[str]) -> list[WriteResult]: ...

    #: the app setting that names its container (``list`` for Snov.io): what :meth:`setting_issues`
    #: reports on, and what ``accord check`` names when the container was renamed in the app
    container_setting: str | None = None

    def container_key(self, object: str) -> tuple[str, str] | None:
        """(the name the config gives, the lasting id) of the container :meth:`check_container`
        last found, which the index remembers so a container renamed in the app is still found;
        None where it has no id apart from its name (or none was found)."""
        return None

    async def follow_container(self, object: str, name: str, key: str) -> str | None:
        """Use the container of id ``key``, remembered under the configured ``name`` (renamed in
        the app since): its name now; None if it is gone, or if the config names another one."""
        return None

    async def check_container(self, object: str, *, create: bool) -> None:  # noqa: B027 - no container by default
        """Make sure the container ``object``'s records live in is there (a Snov.io list, a
        xentral group, an SQL table), else raise :class:`~accord.model.ContainerMissing`.

        With ``create`` (a sync that never ran, or a confirmed hold) a missing container is
        created where the app's config allows it; a connector never creates one on its own,
        since a container gone makes every record of a sync look deleted. The runner calls
        this at the start of every pass; apps without containers have nothing to check.
        """

    # -- optional capabilities ------------------------------------------------------
    async def list_objects(self) -> list[Option]:
        """The objects a sync may name: ``value`` as accord.yaml names it, ``label`` as the app
        shows it (the setup flow's object pickers, ``accord check``'s "did you mean").
        By default the vendor's objects in the catalog; connectors that can ask the app override it."""
        from accord import catalog

        return [Option(obj, obj) for (vendor, obj) in catalog.OBJECTS if vendor == self.vendor]

    async def setting_issues(self) -> tuple[list[tuple[str, str]], list[str]]:
        """``accord check`` on the app's own settings that name something in the app (read only):
        (settings key, message) errors for a name that is misspelled, notes for one that does not
        exist yet and that a sync's first pass creates (the container, :attr:`container_setting`).
        Default: nothing to check."""
        return [], []

    async def inclusion_lists(self, object: str) -> list[Option]:
        """The inclusion lists (lists, segments, groups) of ``object``'s records, ``value`` as a
        sync's ``inclusion.list`` names it; read only (the setup flow's list picker, ``accord check``)."""
        raise NotImplementedError(f"{self.vendor} has no inclusion lists")

    async def list_members(self, object: str, list_name: str) -> frozenset[str]:
        """Ids of the records in an inclusion list (list, segment or group)."""
        raise NotImplementedError(f"{self.vendor} has no inclusion lists")

    def list_key(self, object: str, list_name: str) -> str | None:
        """A lasting id of the list :meth:`list_members` last read under ``list_name`` (HubSpot's
        listId), which the index remembers so a list renamed in the app is still found; None
        where a list has no id apart from its name."""
        return None

    async def list_name_of(self, object: str, key: str) -> str | None:
        """The name the list of id ``key`` (:meth:`list_key`) has now; None once it is gone."""
        return None

    async def pipelines(self, object: str) -> list[Pipeline]:
        raise NotImplementedError(f"{self.vendor} has no pipelines for {object}")

    def creates_stages(self, object: str) -> bool:
        """Whether :meth:`ensure_stages` can add stages to ``object``'s pipelines (xentral's boards)."""
        return False

    async def ensure_stages(self, object: str, pipeline: str, labels: Sequence[str]) -> list[Stage]:
        """A stage of ``pipeline`` for each label, in order: the existing one of that label, else a
        new one added after the pipeline's last stage. Never deletes or renames a stage."""
        raise NotImplementedError(f"{self.vendor} cannot create stages of {object}")

    async def associations(
        self, from_object: str, ids: Sequence[str], to_object: str
    ) -> dict[str, list[str]]:
        raise NotImplementedError(f"{self.vendor} has no associations")

    async def associate(
        self, from_object: str, to_object: str, pairs: Sequence[tuple[str, str]]
    ) -> list[WriteResult]:
        raise NotImplementedError(f"{self.vendor} has no associations")

    def holds_associations(self, object: str, id: str) -> bool:
        """Whether record ``id`` of ``object`` can hold associations at all (a Salesforce Lead of a
        Contact/Lead sync cannot: its pair's associations wait until it is converted to a Contact)."""
        return True

    def create_references(self, object: str) -> dict[str, str]:
        """The parents a new ``object`` record must name when it is created, as {parent object:
        reference field}: a required reference that cannot change afterwards (Salesforce's
        ``OpportunityLineItem.OpportunityId``), so it cannot wait for the association pass."""
        return {}

    def association_kind(self, from_object: str, to_object: str) -> AssociationKind:
        """How ``from_object`` holds its associations to ``to_object``: ``many`` (a set),
        ``primary`` (a set, one of them flagged primary: HubSpot's primary company) or
        ``single`` (one value, a lookup such as Salesforce's ``Contact.AccountId``)."""
        return "many"

    async def associated(
        self, from_object: str, ids: Sequence[str], to_object: str
    ) -> dict[str, Associated]:
        """Each record's associations and its primary one (``single``: the lookup's value)."""
        found = await self.associations(from_object, ids, to_object)
        single = self.association_kind(from_object, to_object) == "single"
        return {k: Associated(v, v[0] if single and v else None) for k, v in found.items()}

    async def make_primary(
        self, from_object: str, to_object: str, pairs: Sequence[tuple[str, str]]
    ) -> list[WriteResult]:
        """Associate each pair (if not yet) as the record's primary; a ``single`` lookup is
        set to it. An app with no primary just associates."""
        return await self.associate(from_object, to_object, pairs)

    async def dissociate(
        self, from_object: str, to_object: str, pairs: Sequence[tuple[str, str]]
    ) -> list[WriteResult]:
        """Remove these associations (a lookup holding the value is cleared)."""
        raise NotImplementedError(f"{self.vendor} cannot remove associations")

    @property
    def webhooks(self) -> WebhookReceiver | None:
        """The app's webhook receiver if it pushes changes (HubSpot); ``None``: polling only."""
        return None

    def use_limiters(self, make: LimiterFactory,  # noqa: B027 - optional hook, a no-op by default
                     limits: Sequence[RateLimit] | None = None) -> None:
        """Take the app's rate limiters (``limits``; default: the connector's own) from ``make``
        (the distributed mode's shared buckets); connectors/http.py implements it, connectors
        without rate limits ignore it."""

    def counters(self) -> ApiCounters:
        """Requests sent to the app so far; every vendor module says how it counts them."""
        return ApiCounters()

    async def aclose(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release HTTP clients and persist state."""


async def account_or_none(conn: Connector) -> str | None:
    """:meth:`Connector.account`, or None where the app cannot tell or cannot ask just now: a
    token without the right to read its account's details is no reason to stop a pass or a
    check (their own calls say why an app cannot be used; the guard waits for a known account)."""
    try:
        return await conn.account()
    except ConnectorError as e:  # AuthError included
        log.info("%s: could not tell which account it signs in to: %s", conn.name, e)
        return None
