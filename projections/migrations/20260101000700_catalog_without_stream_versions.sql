-- The catalog projection follows the log in order and keeps only its watermark; the stream
-- versions it used to keep while it consumed Kafka say nothing any more.
delete from projection_streams where projection = 'catalog';
