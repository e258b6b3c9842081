-- The Agents and Workflows read models, part of the catalog projection.

create table rm_agents (
    id            uuid primary key,
    workspace_id  uuid        not null,
    name          text        not null,
    kind          text        not null,
    executor      jsonb       not null,
    per_call      bigint      not null,
    per_1k_tokens bigint      not null,
    version       integer     not null,
    retired       boolean     not null default false,
    updated_at    timestamptz not null
);
create index rm_agents_workspace on rm_agents (workspace_id);

create table rm_workflows (
    id           uuid primary key,
    workspace_id uuid        not null,
    name         text        not null,
    version      integer     not null,
    steps        jsonb       not null,
    archived     boolean     not null default false,
    updated_at   timestamptz not null
);
create index rm_workflows_workspace on rm_workflows (workspace_id);

-- Every version of every workflow: runs name the version they follow.
create table rm_workflow_versions (
    workflow_id uuid    not null,
    version     integer not null,
    name        text    not null,
    steps       jsonb   not null,
    primary key (workflow_id, version)
);

-- The projection that holds workspaces, agents and workflows is the catalog.
update projection_checkpoints set name = 'catalog' where name = 'workspaces';
update projection_streams set projection = 'catalog' where projection = 'workspaces';
