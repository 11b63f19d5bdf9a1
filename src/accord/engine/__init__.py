"""The pure engine: matching, mapping, three-way merge and the sync planner. No I/O here."""
