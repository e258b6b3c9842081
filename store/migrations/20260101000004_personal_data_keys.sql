-- One key per data subject (a person's email), for the personal data sealed into events.
-- Forgetting a subject destroys its key and the hash that named it: the ciphertext stays in
-- the log, covered by the hash chain, and can never be read again.
create table personal_data_keys (
    key_id       uuid primary key,
    -- SHA-256 of the subject's normalised email; null once forgotten.
    subject_hash bytea unique,
    key          bytea,
    created_at   timestamptz not null default now(),
    forgotten_at timestamptz,
    check ((key is null) = (subject_hash is null)),
    check ((key is null) = (forgotten_at is not null))
);
