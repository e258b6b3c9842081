-- Keys compare byte by byte whatever the database's collation, so the work a run's end makes
-- moot (its timers, retries and dispatches) is one stretch of the unique index to delete.
alter table saga_work alter column key type text collate "C";
-- The earliest end of a lease, for the workers to know when to look again without a scan.
create index saga_work_lease_end on saga_work (leased_until) where leased_until is not null;
-- A queue: every row is inserted, leased and deleted within moments, so dead rows pile up
-- faster than the default thresholds (a fifth of a small table) let autovacuum see, and every
-- lease then walks past them in the indexes. Vacuum it after a few hundred.
alter table saga_work set (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 200,
                           autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 1000,
                           autovacuum_vacuum_cost_delay = 0);
