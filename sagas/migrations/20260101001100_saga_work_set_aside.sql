-- Work that failed too many times in a row is set aside: not leased again until an operator
-- retries it (`oxbow projections retry --consumer sagas ID`); its last error says why.
alter table saga_work add column set_aside boolean not null default false;
