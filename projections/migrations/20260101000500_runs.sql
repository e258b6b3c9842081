-- The Runs read models, part of the catalog projection: each run with its steps, and usage by
-- workspace, agent and day. Statuses are the GraphQL enums' names.

create table rm_runs (
    id               uuid primary key,
    workspace_id     uuid        not null,
    workflow_id      uuid        not null,
    workflow_version integer     not null,
    status           text        not null,
    budget           bigint      not null,
    credits_used     bigint      not null default 0,
    reason           text,
    input            jsonb       not null,
    started_by       text        not null,
    requested_at     timestamptz not null,
    finished_at      timestamptz,
    updated_at       timestamptz not null,
    -- The run stream's version last applied: a write applies only to an older row.
    version          bigint      not null
);
create index rm_runs_workspace on rm_runs (workspace_id, id);
create index rm_runs_workspace_status on rm_runs (workspace_id, status, id);

create table rm_run_steps (
    run_id      uuid    not null,
    step_id     text    not null,
    -- The step's place in the workflow, for listing in plan order.
    ordinal     integer not null,
    agent_id    uuid    not null,
    depends_on  text[]  not null,
    status      text    not null,
    attempts    integer not null default 0,
    output      jsonb,
    error       text,
    tokens      bigint  not null default 0,
    duration_ms bigint  not null default 0,
    cost        bigint  not null default 0,
    primary key (run_id, step_id)
);

create table rm_usage (
    workspace_id uuid   not null,
    agent_id     uuid   not null,
    day          date   not null,
    attempts     bigint not null default 0,
    tokens       bigint not null default 0,
    credits      bigint not null default 0,
    primary key (workspace_id, day, agent_id)
);
