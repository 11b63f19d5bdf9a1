"""The runner: carries out initial, full and incremental passes of one sync.

It streams records page by page from the connectors, keeps the sync index in step, asks
the pure planner what to do with each pair and performs the writes in batches. Memory
stays bounded by the page size whatever the number of records: state lives in the index.

The modules follow a pass (README, "How it works"):

  facade       SyncRunner, the entry points (run, incremental, sync_records, the scan steps ...)
  context      RunContext: the sync's connectors, index, counters and locks the phases share
  scan         initial and full passes: (1) index left, (2) scan right and pair, (3) the left
               records phase 2 did not reach; then the sweep of vanished records
  pairing      pairing records with index rows (by id, pending create, match key) and planning
  incremental  change feeds, records that rejoined the inclusion list, retries, on-demand syncs
  manual       what a person's "sync this id now" names: a record, or one of the sync's HubSpot activities
  apply        carrying out plans: create intents, batched writes, in-flight bases, associations
  deletes      the delete guard: deletes found in a pass are carried out at its end or held
               for a confirmation; vanished containers (lists, groups, tables) stop the pass

Phase modules import ``context`` and each other (apply ← pairing ← incremental ← scan, deletes), never
``facade``; ``context`` imports none of them.
"""

from accord.runner.context import PageLocks, Progress, RunContext
from accord.runner.facade import STOPPED, PassResult, SyncRunner
from accord.runner.incremental import ManualSyncRefused
from accord.runner.scan import ScanState

__all__ = ["STOPPED", "ManualSyncRefused", "PageLocks", "PassResult", "Progress", "RunContext", "ScanState", "SyncRunner"]
