-- External agents' tasks, one row per attempt, for the agent's own workers to lease over HTTP
-- (POST /v1/tasks/lease): a worker sees only its agent's rows. The input is not copied here:
-- the row names the StepScheduled event that holds it.
create table agent_tasks (
    run_id uuid not null,
    step_id text not null,
    attempt int not null,
    agent_id uuid not null,
    workspace_id uuid not null,
    -- The position of the attempt's StepScheduled event.
    scheduled_position bigint not null,
    deadline timestamptz not null,
    offered_at timestamptz not null default now(),
    leased_until timestamptz,
    primary key (run_id, step_id, attempt)
);
-- An agent's tasks in the order they were offered.
create index agent_tasks_by_agent on agent_tasks (agent_id, offered_at);
-- Rows come and go within moments, as in saga_work.
alter table agent_tasks set (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 200,
                             autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 1000);
