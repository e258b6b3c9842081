-- The dead letter of the log's consumers (the catalog projection, the relay, the sagas). An
-- event a consumer keeps failing on is parked here with its error; the later events of its
-- stream are parked behind it (error null), since applying them to a state that missed one
-- would be wrong. Every other stream flows on. An operator asks for a retry (after a fix) or
-- skips the event, which is recorded in the log.
create table parked_events (
    consumer        text not null,
    position        bigint not null,
    stream_id       text not null,
    event_type      text not null,
    -- Why it failed; null for an event waiting behind a failed one of its stream.
    error           text,
    tries           int not null default 1,
    retry_requested boolean not null default false,
    parked_at       timestamptz not null default now(),
    primary key (consumer, position)
);
create index parked_events_stream on parked_events (consumer, stream_id, position);
