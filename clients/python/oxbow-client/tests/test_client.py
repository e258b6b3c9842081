"""The Python client against a running Oxbow: OXBOW_URL, and OXBOW_TOKEN and OXBOW_OTHER_TOKEN,
two users' tokens; OXBOW_OWNER_TOKEN, the token of the owner of OXBOW_WORKSPACE, which has credits
and OXBOW_WORKFLOW, a workflow of one step. Run by the test suite (tests/integration/clients.rs)."""

import asyncio
import datetime
import os
import unittest
import uuid

from oxbow_api.models import CreateWorkspaceCommand, CreateWorkspacePayload
from oxbow_client import Oxbow, OxbowError, OxbowGraphQLError, min_position
from oxbow_graphql.enums import RunStatus, StepStatus
from oxbow_graphql.exceptions import GraphQLClientGraphQLMultiError

BASE = os.environ["OXBOW_URL"]


class ClientTest(unittest.TestCase):
    def setUp(self):
        self.oxbow = Oxbow(BASE, os.environ["OXBOW_TOKEN"])
        self.stranger = Oxbow(BASE, os.environ["OXBOW_OTHER_TOKEN"])

    def test_a_typed_command_is_answered_and_a_query_reads_its_write(self):
        workspace = uuid.uuid4()
        command = CreateWorkspaceCommand(type_="CreateWorkspace", id=workspace, payload=CreateWorkspacePayload(name="Typed"))
        accepted = self.oxbow.command(command)
        self.assertEqual(accepted.version, 1)
        self.assertEqual(accepted.events[0].type_, "WorkspaceCreated")
        query = "query Mine($id: ID!) { workspace(id: $id) { id name } }"
        data = self.oxbow.query(query, {"id": str(workspace)}, min_position=accepted.position)
        self.assertEqual(data["workspace"], {"id": str(workspace), "name": "Typed"})
        theirs = self.stranger.query(query, {"id": str(workspace)}, min_position=accepted.position)
        self.assertIsNone(theirs["workspace"])

    def test_a_retry_under_one_idempotency_key_appends_once(self):
        command = {"type": "CreateWorkspace", "id": str(uuid.uuid4()), "payload": {"name": "Once"}}
        key = "py-" + str(uuid.uuid4())
        first, again = (self.oxbow.command(command, idempotency_key=key) for _ in range(2))
        self.assertEqual(again.to_dict(), first.to_dict())
        # Another body under the same key is refused.
        with self.assertRaises(OxbowError) as reused:
            self.oxbow.command({**command, "payload": {"name": "Twice"}}, idempotency_key=key)
        self.assertEqual(reused.exception.code, "idempotency_key_reused")

    def test_refusals_are_exceptions_with_the_problem_details(self):
        workspace = str(uuid.uuid4())
        with self.assertRaises(OxbowError) as refused:
            self.oxbow.command({"type": "CreateWorkspace", "id": workspace, "payload": {"name": ""}})
        self.assertEqual((refused.exception.status, refused.exception.code), (400, "invalid_payload"))
        self.assertEqual(refused.exception.problem["field"], "/payload/name")
        self.oxbow.command({"type": "CreateWorkspace", "id": workspace, "payload": {"name": "Mine"}})
        with self.assertRaises(OxbowError) as forbidden:
            self.stranger.command({"type": "RenameWorkspace", "id": workspace, "payload": {"name": "Theirs"}})
        self.assertEqual(forbidden.exception.status, 403)
        with self.assertRaises(OxbowGraphQLError) as bad:
            self.oxbow.query('{ workspace(id: "not-a-uuid") { id } }')
        self.assertTrue(bad.exception.codes)


class TypedGraphQLTest(unittest.IsolatedAsyncioTestCase):
    async def test_a_run_is_followed_live_and_read_back_as_typed_models(self):
        owner = Oxbow(BASE, os.environ["OXBOW_OWNER_TOKEN"])
        stranger = Oxbow(BASE, os.environ["OXBOW_OTHER_TOKEN"])
        workspace, workflow = os.environ["OXBOW_WORKSPACE"], os.environ["OXBOW_WORKFLOW"]
        run = str(uuid.uuid4())
        payload = {"workspace_id": workspace, "workflow_id": workflow, "input": {"text": "otters"}, "budget": 10}
        owner.command({"type": "StartRun", "id": run, "payload": payload})
        async with owner.graphql() as graphql:
            # The subscription tells what happened so far, then what happens, to the run's end.
            heard = []
            async with asyncio.timeout(30):
                async for update in graphql.run_updated(run):
                    heard.append(update.run_updated)
                    if update.run_updated.event_type in ("RunSucceeded", "RunFailed", "RunCancelled", "RunRejected"):
                        break
            self.assertEqual(heard[0].event_type, "RunRequested")
            self.assertEqual(heard[-1].event_type, "RunSucceeded")
            self.assertEqual(heard[-1].run.steps[0].status, StepStatus.SUCCEEDED)

            # A query reads at least as far as the last update.
            page = await graphql.get_run(run, **min_position(heard[-1].position))
            self.assertEqual(page.run.status, RunStatus.SUCCEEDED)
            self.assertIsInstance(page.run.requested_at, datetime.datetime)
            self.assertEqual(page.run.steps[0].attempts, 1)
            self.assertEqual(page.run.credits_used, page.run.steps[0].cost)
            listed = await graphql.runs(workspace, status=RunStatus.SUCCEEDED, first=10)
            self.assertIn(run, [row.id for row in listed.runs.nodes])

        # A stranger reads no such run, and may not follow it.
        async with stranger.graphql() as theirs:
            self.assertIsNone((await theirs.get_run(run)).run)
            with self.assertRaises(GraphQLClientGraphQLMultiError) as refused:
                async with asyncio.timeout(30):
                    async for _ in theirs.run_updated(run):
                        self.fail("a stranger heard of the run")
            self.assertEqual(refused.exception.errors[0].extensions["code"], "NOT_FOUND")


if __name__ == "__main__":
    unittest.main()
