-- A workspace's runs by when they were requested, newest first: run ids are chosen by clients,
-- so their order is not time's.
create index rm_runs_workspace_requested on rm_runs (workspace_id, requested_at desc, id desc);
