-- The trace a task was offered in (W3C traceparent), for the worker that leases it to continue;
-- null where traces are off.
alter table agent_tasks add column trace_context text;
