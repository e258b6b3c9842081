-- The workspace each piece of work is for, so that no workspace holds more than its share of
-- the leases (slow steps of one tenant queue behind each other, not in front of everyone's).
-- Work planned before this has none and is leased without a share.
alter table saga_work add column workspace_id uuid;
create index saga_work_leased on saga_work (workspace_id) where leased_until is not null;
