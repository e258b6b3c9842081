-- The event log: append-only, gap-free, commit-ordered, hash-chained.

-- One row that holds the log's head. Every append takes its row lock, so positions are handed out
-- in commit order and a rolled-back append leaves no gap.
create table log_head (
    singleton boolean primary key default true check (singleton),
    position  bigint not null,
    hash      bytea  not null
);
insert into log_head (position, hash) values (0, '\x0000000000000000000000000000000000000000000000000000000000000000');

create table events (
    position       bigint      primary key,
    stream_id      text        not null,
    stream_version bigint      not null,
    event_id       uuid        not null unique,
    event_type     text        not null,
    schema_version integer     not null,
    payload        jsonb       not null,
    metadata       jsonb       not null,
    recorded_at    timestamptz not null,
    -- SHA-256 over this event's content and the previous event's hash (see events::hash).
    hash           bytea       not null,
    constraint events_stream_version_key unique (stream_id, stream_version),
    constraint events_position_positive check (position > 0),
    constraint events_stream_version_positive check (stream_version > 0)
);

comment on table events is
    'The Oxbow event log. Append-only: UPDATE, DELETE and TRUNCATE are refused. '
    'position is gap-free and in commit order; hash chains each event to the one before it.';

create function oxbow_refuse_log_change() returns trigger language plpgsql as $$
begin
    raise exception 'the events table is append-only: % is refused', tg_op
        using errcode = 'insufficient_privilege';
end
$$;

create trigger events_append_only before update or delete on events
    for each row execute function oxbow_refuse_log_change();
create trigger events_no_truncate before truncate on events
    for each statement execute function oxbow_refuse_log_change();

-- Requests answered under an Idempotency-Key: a retry with the same key and body gets the
-- first answer back. Written in the same statement as the events it answered with.
create table idempotency_keys (
    scope          text   not null,
    key            text   not null,
    request_hash   bytea  not null,
    stream_id      text   not null,
    first_position bigint,
    last_position  bigint,
    stream_version bigint not null,
    created_at     timestamptz not null default now(),
    primary key (scope, key)
);

-- How far each relay has published the log.
create table relay_checkpoints (
    name     text primary key,
    position bigint not null
);
