"""Oxbow's Python client.

Commands are typed from the checked-in OpenAPI document: ``oxbow_api`` is generated from it by
openapi-python-client (``scripts/generate-clients``), one model per command. What generators
leave out is written here: an idempotency key per command, kept across its retries, so a retry
after a lost answer appends nothing twice; retries of what the server throttled or could not do
(429, 503, honouring ``Retry-After``); refusals as :class:`OxbowError` with the problem details;
and GraphQL queries that read their own writes::

    from oxbow_client import Oxbow

    oxbow = Oxbow("http://localhost:8080", token)
    accepted = oxbow.command({"type": "CreateWorkspace", "id": str(uuid.uuid4()), "payload": {"name": "Lab"}})
    data = oxbow.query("query($id: ID!) { workspace(id: $id) { name } }", {"id": ...},
                       min_position=accepted.position)
"""

import time
import uuid

import httpx

import oxbow_api.models
from oxbow_api import AuthenticatedClient
from oxbow_api.api.commands import send_command
from oxbow_api.models import Accepted, Problem

__all__ = ["Oxbow", "OxbowError", "OxbowGraphQLError"]

RETRIED = (429, 502, 503, 504)


class OxbowError(Exception):
    """A command the server refused: its HTTP status and problem details (``code``, ``detail``,
    and ``field``, ``current_version`` or ``rule`` where they apply)."""

    def __init__(self, status, problem):
        self.status = status
        self.problem = problem
        self.code = problem.get("code")
        super().__init__(f"{status} {self.code}: {problem.get('detail')}")


class OxbowGraphQLError(Exception):
    """A GraphQL answer with errors; ``codes`` are their ``extensions.code``."""

    def __init__(self, errors):
        self.errors = errors
        self.codes = [(error.get("extensions") or {}).get("code", "ERROR") for error in errors]
        super().__init__("; ".join(f"{code}: {error.get('message')}" for code, error in zip(self.codes, errors)))


class Oxbow:
    def __init__(self, base_url, token, retries=3, timeout=30.0):
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self.api = AuthenticatedClient(base_url=self.base_url, token=token, timeout=httpx.Timeout(timeout))

    def command(self, command, idempotency_key=None) -> Accepted:
        """Sends a command: a generated model (``oxbow_api.models.CreateWorkspaceCommand``) or its
        dictionary (``{"type", "id", "payload"}``). Its :class:`Accepted`, or :class:`OxbowError`."""
        if isinstance(command, dict):
            model = getattr(oxbow_api.models, f"{command.get('type')}Command", None)
            if model is None:
                raise ValueError(f"no command is called {command.get('type')!r}")
            command = model.from_dict(command)
        key = idempotency_key or str(uuid.uuid4())
        for attempt in range(self.retries + 1):
            response = send_command.sync_detailed(client=self.api, body=command, idempotency_key=key)
            if isinstance(response.parsed, Accepted):
                return response.parsed
            status = int(response.status_code)
            if status in RETRIED and attempt < self.retries:
                time.sleep(_retry_after(response.headers.get("retry-after"), attempt))
                continue
            problem = response.parsed.to_dict() if isinstance(response.parsed, Problem) else {"detail": response.content.decode(errors="replace")}
            raise OxbowError(status, problem)
        raise AssertionError("unreachable")

    def query(self, query, variables=None, min_position=None):
        """Runs a GraphQL query; its ``data``, or :class:`OxbowGraphQLError`. With ``min_position``
        (an :class:`Accepted`'s ``position``) it reads the read models once they have it."""
        headers = {"accept": "application/graphql-response+json"}
        if min_position is not None:
            headers["x-oxbow-min-position"] = str(min_position)
        http = self.api.get_httpx_client()
        for attempt in range(self.retries + 1):
            response = http.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
            if response.status_code in RETRIED and attempt < self.retries:
                time.sleep(_retry_after(response.headers.get("retry-after"), attempt))
                continue
            answer = response.json()
            if answer.get("errors"):
                raise OxbowGraphQLError(answer["errors"])
            return answer.get("data")
        raise AssertionError("unreachable")


def _retry_after(header, attempt):
    try:
        return max(float(header), 0.0)
    except (TypeError, ValueError):
        return min(0.2 * 2**attempt, 10.0)
