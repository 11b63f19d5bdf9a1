"""Create-time parent references (issue #20): a record created with its parent already named.

Associations are normally written by the association pass once both records of a pair exist
(:mod:`accord.associations`). Some objects cannot wait for that: a Salesforce
``OpportunityLineItem`` must name its ``OpportunityId`` and its product (``Product2Id``) when it
is created, and neither field is updateable. When a sync lists the parents' syncs in
``associations:`` (a line_items sync with ``associations: [deals, products]``), a create on such a
side carries the references in its payload: the source record's association (a HubSpot line
item's deal, its ``hs_product_id``) is translated through the parent sync's links into the paired
record's id there (the deal's Opportunity, the product's Product2). If that parent is not
paired yet, the create waits: the pair is ``queued`` with reason ``waiting_for_association`` and is
planned again by later passes until the parent is paired.

A source record with no such parent at all waits too when the parent is an association (a HubSpot
line item's deal: the association is often made just after the line item), but fails, as a
``validation`` error naming the missing parent, when the record holds its parent in a field of
its own (``single``: a HubSpot line item's ``hs_product_id``): a line item without a product is a
finished record Salesforce cannot take, not one on its way; setting its product is an edit of the
record, which plans the create again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from accord.associations import AssociationTarget, twins_of_associated
from accord.connectors.base import Associated, Connector
from accord.index.store import Store
from accord.model import Side


@dataclass(frozen=True)
class Missing:
    """A create that cannot be made: the source record names no parent the target requires."""

    message: str
    hint: str


@dataclass(frozen=True)
class ParentRef:
    target: AssociationTarget  # the sync that links the parents
    field: str  # the reference field a create on the side carries


def create_references(conn: Connector, object: str, side: Side, targets: Sequence[AssociationTarget]) -> list[ParentRef]:
    """The parents a create of ``object`` on ``side`` must carry that the sync's associations can supply."""
    refs = conn.create_references(object)
    return [ParentRef(t, refs[t.objects[side]]) for t in targets if t.objects[side] in refs]


async def resolve(store: Store, conn: Mapping[Side, Connector], objects: Mapping[Side, str], side: Side,
                  refs: Sequence[ParentRef], src_ids: Sequence[str]) -> dict[str, dict[str, str] | str | Missing]:
    """Per source record (on the other side): the references its create on ``side`` carries, or,
    as a string, why it waits, or why it cannot be created (:class:`Missing`)."""
    src = side.other
    out: dict[str, dict[str, str] | str | Missing] = {i: {} for i in src_ids}
    if not src_ids:
        return out
    for ref in refs:
        parent_src, parent = ref.target.objects[src], ref.target.objects[side]
        found, twins = await twins_of_associated(store, conn[src], objects[src], src_ids, ref.target, src)
        held = conn[src].association_kind(objects[src], parent_src) == "single"
        for i in src_ids:
            refs_of = out[i]
            if not isinstance(refs_of, dict):
                continue  # already waiting for another parent, or failing
            a = found.get(i) or Associated([])
            pick = a.primary if a.primary is not None and a.primary in a.ids else min(a.ids, default=None)
            if pick is None and held:
                out[i] = Missing(f"it names no record of {parent_src}: {objects[side]} needs its {parent} "
                                 f"({ref.field}) when created",
                                 f"Give the {objects[src]} record one of {parent_src} in {conn[src].name} (a "
                                 f"{objects[side]} cannot be created without it); the next pass creates it then.")
                continue
            if pick is None:
                out[i] = f"it has no {parent_src} association: {objects[side]} needs its {parent} when created"
                continue
            there = twins.get(pick)
            if there is None:
                out[i] = (f"its {parent_src} {pick} is not synced to {parent} yet (sync {ref.target.sync}): "
                          f"{objects[side]} needs its {parent} when created")
                continue
            refs_of[ref.field] = there
    return out
