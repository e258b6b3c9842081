-- Who created a workspace: the actor of its stream's first event, which never changes. Read by
-- the sagas, which share their workers out by creator and do not name the log's table.
create function workspace_creator(workspace uuid) returns text
language sql stable parallel safe
as $$
    select metadata->>'actor' from events
     where stream_id = 'workspace-' || workspace::text and stream_version = 1
$$;
