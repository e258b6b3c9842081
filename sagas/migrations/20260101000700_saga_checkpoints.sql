-- How far the sagas have planned the log: every event at or below `position` has had its work
-- written to saga_work, in the same transaction that moved the position.
create table saga_checkpoints (
    name     text primary key,
    position bigint not null default 0
);
insert into saga_checkpoints (name) values ('sagas');
