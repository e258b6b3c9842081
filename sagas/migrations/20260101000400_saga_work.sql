-- Work the sagas have decided on and not done yet: budgets to reserve, attempts to dispatch,
-- timers, captures and settlements. A row is written in the same transaction that records its
-- event as handled, and deleted once the work is done. A worker holds a lease while it works;
-- when the lease runs out (the worker died), another worker takes the row over.
create table saga_work (
    id bigint generated always as identity primary key,
    saga text not null,
    key text not null,
    work jsonb not null,
    correlation_id uuid not null,
    due_at timestamptz not null,
    leased_until timestamptz,
    attempts integer not null default 0,
    last_error text,
    created_at timestamptz not null default now(),
    unique (saga, key)
);

create index saga_work_due on saga_work (due_at);
