-- What a run console shows beside a step: its kind (every step is an agent's today, so a step
-- with no agent is possible only in a later kind) and, for steps a person answers, the least
-- role that may. And a workflow's output template, in each version.
alter table rm_run_steps add column kind text not null default 'agent';
alter table rm_run_steps add column approvers text;
alter table rm_run_steps alter column agent_id drop not null;
alter table rm_workflows add column output jsonb;
alter table rm_workflow_versions add column output jsonb;
