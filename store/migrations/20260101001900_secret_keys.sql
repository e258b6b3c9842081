-- One key per sealed secret (the secret with which an agent's webhook calls are signed). The
-- log holds the secret sealed under it; only the executor that signs opens it. Unlike
-- personal data keys these name no person, so no erasure finds them.
create table secret_keys (
    key_id     uuid primary key,
    key        bytea not null,
    created_at timestamptz not null default now()
);
