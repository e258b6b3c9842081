#!/bin/sh
# Run once by the postgres image on a new data directory: the migrator owns the database and
# its schema; the serving role logs in and gets its privileges from `oxbow migrate`.
set -e
psql -v ON_ERROR_STOP=1 -U postgres -d oxbow <<SQL
create role oxbow_migrator login password '$OXBOW_MIGRATOR_PASSWORD';
create role oxbow_app login password '$OXBOW_APP_PASSWORD';
alter database oxbow owner to oxbow_migrator;
alter schema public owner to oxbow_migrator;
SQL
