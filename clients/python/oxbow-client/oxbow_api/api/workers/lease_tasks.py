from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.lease_tasks_body import LeaseTasksBody
from ...models.lease_tasks_response_200 import LeaseTasksResponse200
from ...models.problem import Problem
from ...types import UNSET, Unset
from typing import cast



def _get_kwargs(
    *,
    body: LeaseTasksBody | Unset = UNSET,
    authorization: str,

) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    headers["Authorization"] = authorization



    

    

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/tasks/lease",
    }

    
    if not isinstance(body, Unset):
        _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> LeaseTasksResponse200 | Problem | None:
    if response.status_code == 200:
        response_200 = LeaseTasksResponse200.from_dict(response.json())



        return response_200

    if response.status_code == 400:
        response_400 = Problem.from_dict(response.json())



        return response_400

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())



        return response_401

    if response.status_code == 403:
        response_403 = Problem.from_dict(response.json())



        return response_403

    if response.status_code == 429:
        response_429 = Problem.from_dict(response.json())



        return response_429

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[LeaseTasksResponse200 | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: LeaseTasksBody | Unset = UNSET,
    authorization: str,

) -> Response[LeaseTasksResponse200 | Problem]:
    """ An external agent's worker takes up to `max` of its agent's tasks, waiting up to `wait_ms` for one;
    a lease lasts 30 s unless reported (through /v1/commands) or extended

    Args:
        authorization (str):
        body (LeaseTasksBody | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[LeaseTasksResponse200 | Problem]
     """


    kwargs = _get_kwargs(
        body=body,
authorization=authorization,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    *,
    client: AuthenticatedClient | Client,
    body: LeaseTasksBody | Unset = UNSET,
    authorization: str,

) -> LeaseTasksResponse200 | Problem | None:
    """ An external agent's worker takes up to `max` of its agent's tasks, waiting up to `wait_ms` for one;
    a lease lasts 30 s unless reported (through /v1/commands) or extended

    Args:
        authorization (str):
        body (LeaseTasksBody | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        LeaseTasksResponse200 | Problem
     """


    return sync_detailed(
        client=client,
body=body,
authorization=authorization,

    ).parsed

async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: LeaseTasksBody | Unset = UNSET,
    authorization: str,

) -> Response[LeaseTasksResponse200 | Problem]:
    """ An external agent's worker takes up to `max` of its agent's tasks, waiting up to `wait_ms` for one;
    a lease lasts 30 s unless reported (through /v1/commands) or extended

    Args:
        authorization (str):
        body (LeaseTasksBody | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[LeaseTasksResponse200 | Problem]
     """


    kwargs = _get_kwargs(
        body=body,
authorization=authorization,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    body: LeaseTasksBody | Unset = UNSET,
    authorization: str,

) -> LeaseTasksResponse200 | Problem | None:
    """ An external agent's worker takes up to `max` of its agent's tasks, waiting up to `wait_ms` for one;
    a lease lasts 30 s unless reported (through /v1/commands) or extended

    Args:
        authorization (str):
        body (LeaseTasksBody | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        LeaseTasksResponse200 | Problem
     """


    return (await asyncio_detailed(
        client=client,
body=body,
authorization=authorization,

    )).parsed
