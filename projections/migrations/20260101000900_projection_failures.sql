-- How often in a row a projection failed on the same chunk: past a few tries it looks for the
-- failing event and parks it (see parked_events).
alter table projection_checkpoints add column failures int not null default 0;
