-- The latest snapshot of each long stream: its aggregate's state after `version`, as the code
-- whose state version is `state_version` folded it. A snapshot from another state version is
-- ignored (and replaced), so changing how an aggregate evolves never reads a stale shape.
create table snapshots (
    stream_id     text primary key,
    version       bigint      not null,
    last_position bigint      not null,
    state_version integer     not null,
    state         jsonb       not null,
    taken_at      timestamptz not null default now()
);
