"""What went where, without pupil values; may import policy, contracts and connectors.

The lineage store, the audit log, pupils' rights, supplier state, run locks and
OpenLineage events. Inside, each module stands only on modules before it in this list
(tests/lineage/test_rooms.py checks there is no circle and no private name shared):

- values (the checks at the boundary), engine (engine and transaction), tables (Base and
  the store's tables), audit_chain (the audit MAC and its walk);
- snapshots (what the store's reads return), audit_tables, schema_version, locks;
- migrate; queries (the store's reads), then store (its writes); audit, then rights,
  audit_anchors, state, intents, key_records;
- openlineage_specs and openlineage_transport, then openlineage; inzage and
  quarantine_report (pages for people).
"""
