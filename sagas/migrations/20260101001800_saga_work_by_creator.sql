-- Leases are shared out by the person who created the work's workspace: workspaces are free,
-- so a share per workspace is as many shares as anyone cares to create workspaces. The creator
-- is the actor of the workspace's first event, which never changes. Work planned before this,
-- and work of no workspace, is shared by its workspace as before.
alter table saga_work add column creator text;
alter table saga_work
    add column share_key text generated always as (coalesce(creator, workspace_id::text)) stored;
drop index saga_work_leased;
create index saga_work_leased on saga_work (share_key) where leased_until is not null;
