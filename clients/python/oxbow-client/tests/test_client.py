"""The Python client against a running Oxbow: OXBOW_URL, and OXBOW_TOKEN and OXBOW_OTHER_TOKEN,
two users' tokens. Run by the test suite (tests/integration/clients.rs)."""

import os
import unittest
import uuid

from oxbow_api.models import CreateWorkspaceCommand, CreateWorkspacePayload
from oxbow_client import Oxbow, OxbowError, OxbowGraphQLError

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


if __name__ == "__main__":
    unittest.main()
