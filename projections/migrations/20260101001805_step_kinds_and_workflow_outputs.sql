-- What a run console shows beside a step: its kind (`agent`, or `approval` or `signal`, which
-- have no agent) and, for steps a person answers, the least role that may. And a workflow's
-- output template, in each version.
alter table rm_run_steps add column kind text not null default 'agent';
alter table rm_run_steps add column approvers text;
alter table rm_run_steps alter column agent_id drop not null;
alter table rm_workflows add column output jsonb;
alter table rm_workflow_versions add column output jsonb;
