-- The trace of the event that asked for the work (W3C traceparent), so that the commands the
-- work sends continue it. Null when the event was not traced.
alter table saga_work add column trace_context text;
