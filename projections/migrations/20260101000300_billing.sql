-- The Billing read models, part of the catalog projection. `version` is the billing stream's
-- version the row shows: a write applies only to an older row, so replays change nothing.

create table rm_billing_accounts (
    workspace_id    uuid primary key,
    plan            text        not null,
    overdraft_limit bigint      not null,
    balance         bigint      not null default 0,
    reserved        bigint      not null default 0,
    version         bigint      not null,
    updated_at      timestamptz not null
);

create table rm_invoices (
    invoice_id         uuid primary key,
    workspace_id       uuid        not null,
    amount             bigint      not null,
    paid               bigint      not null default 0,
    captured_in_period bigint      not null,
    issued_at          timestamptz not null,
    due_at             timestamptz not null
);
create index rm_invoices_workspace on rm_invoices (workspace_id);
