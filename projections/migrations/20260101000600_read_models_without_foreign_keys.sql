-- Read models are derived from the log and written only by their projection, which applies a
-- workspace's creation before any event that names it (they share a stream). A foreign key
-- added nothing to that but a lookup and a row lock for every member and invitation written.
alter table rm_workspace_members drop constraint rm_workspace_members_workspace_id_fkey;
alter table rm_workspace_invitations drop constraint rm_workspace_invitations_workspace_id_fkey;
