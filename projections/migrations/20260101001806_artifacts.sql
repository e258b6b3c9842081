-- The files steps produced, as metadata (the bytes stay in the user's object storage). Each is
-- a version of its name within its workspace: 1 + the highest before it, in log order. Newest
-- first is by the position of the event that recorded it and its place in that event's list.
create table rm_artifacts (
    workspace_id uuid not null,
    name text not null,
    version integer not null,
    run_id uuid not null,
    step_id text not null,
    attempt integer not null,
    media_type text not null,
    size bigint not null,
    sha256 text not null,
    uri text not null,
    position bigint not null,
    ordinal integer not null,
    created_at timestamptz not null,
    primary key (workspace_id, name, version)
);
create index rm_artifacts_step on rm_artifacts (run_id, step_id);
create index rm_artifacts_newest on rm_artifacts (workspace_id, position desc, ordinal desc);
