-- The trace an append was part of, for the relay and the projector to continue it: telemetry,
-- not history. It stays out of `events` because the events' metadata is hash-chained and
-- exported to auditors for ever, while a trace id means something for days at most, and only
-- when traces are switched on. Unlogged: no WAL, not in backups or replicas; lost in a crash,
-- which costs a few traces their last links and nothing else. Rows are deleted once old.
create unlogged table event_trace_context (
    position bigint primary key,
    traceparent text not null,
    recorded_at timestamptz not null default now()
);
