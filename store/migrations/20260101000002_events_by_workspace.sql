-- A workspace's audit trail (`oxbow log export --workspace`) without scanning the whole log.
create index events_workspace on events ((metadata->>'workspace_id'), position);
