-- Every handled event updates its stream's row: vacuumed sooner than the default fifth of the
-- table, so the consumers' lookups and locks do not walk dead versions.
alter table projection_streams set (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 500,
                                    autovacuum_vacuum_cost_delay = 0);
