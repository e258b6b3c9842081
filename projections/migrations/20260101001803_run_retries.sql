-- The run a run retries, and for each step the run whose result a retry took over.
alter table rm_runs add column retry_of uuid;
create index rm_runs_retry_of on rm_runs (retry_of, id) where retry_of is not null;
alter table rm_run_steps add column reused_from uuid;
