-- Projection bookkeeping and the Workspaces read models.

-- How far each projection has applied the log: every event at or below `position` is applied.
create table projection_checkpoints (
    name       text primary key,
    position   bigint not null default 0,
    last_error text,
    updated_at timestamptz not null default now()
);

-- The last version of each stream a projection has applied; makes redelivery harmless.
create table projection_streams (
    projection text   not null,
    stream_id  text   not null,
    version    bigint not null,
    primary key (projection, stream_id)
);

create table rm_workspaces (
    id         uuid primary key,
    name       text        not null,
    suspended  boolean     not null default false,
    created_by text        not null,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    version    bigint      not null,
    position   bigint      not null
);

create table rm_workspace_members (
    workspace_id uuid        not null references rm_workspaces (id),
    user_id      text        not null,
    role         text        not null,
    joined_at    timestamptz not null,
    primary key (workspace_id, user_id)
);
create index rm_workspace_members_user on rm_workspace_members (user_id);

create table rm_workspace_invitations (
    invitation_id uuid primary key,
    workspace_id  uuid        not null references rm_workspaces (id),
    email         text        not null,
    role          text        not null,
    invited_by    text        not null,
    invited_at    timestamptz not null,
    accepted_by   text,
    accepted_at   timestamptz
);
create index rm_workspace_invitations_workspace on rm_workspace_invitations (workspace_id);
