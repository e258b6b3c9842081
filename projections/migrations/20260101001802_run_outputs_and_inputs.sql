-- What a run produced (its workflow's output, resolved), and for each step what its current
-- attempt got (its input template, resolved), when that attempt times out, and when its next
-- attempt is due.
alter table rm_runs add column output jsonb;
alter table rm_run_steps add column input jsonb;
alter table rm_run_steps add column deadline timestamptz;
alter table rm_run_steps add column retry_at timestamptz;
