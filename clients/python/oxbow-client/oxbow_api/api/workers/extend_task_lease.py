from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.extend_task_lease_body import ExtendTaskLeaseBody
from ...models.extend_task_lease_response_200 import ExtendTaskLeaseResponse200
from ...models.problem import Problem
from typing import cast



def _get_kwargs(
    *,
    body: ExtendTaskLeaseBody,

) -> dict[str, Any]:
    headers: dict[str, Any] = {}


    

    

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/tasks/extend",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> ExtendTaskLeaseResponse200 | Problem | None:
    if response.status_code == 200:
        response_200 = ExtendTaskLeaseResponse200.from_dict(response.json())



        return response_200

    if response.status_code == 403:
        response_403 = Problem.from_dict(response.json())



        return response_403

    if response.status_code == 422:
        response_422 = Problem.from_dict(response.json())



        return response_422

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[ExtendTaskLeaseResponse200 | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: ExtendTaskLeaseBody,

) -> Response[ExtendTaskLeaseResponse200 | Problem]:
    """ Extends a lease of one attempt by 30 s from now

    Args:
        body (ExtendTaskLeaseBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ExtendTaskLeaseResponse200 | Problem]
     """


    kwargs = _get_kwargs(
        body=body,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    *,
    client: AuthenticatedClient | Client,
    body: ExtendTaskLeaseBody,

) -> ExtendTaskLeaseResponse200 | Problem | None:
    """ Extends a lease of one attempt by 30 s from now

    Args:
        body (ExtendTaskLeaseBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ExtendTaskLeaseResponse200 | Problem
     """


    return sync_detailed(
        client=client,
body=body,

    ).parsed

async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: ExtendTaskLeaseBody,

) -> Response[ExtendTaskLeaseResponse200 | Problem]:
    """ Extends a lease of one attempt by 30 s from now

    Args:
        body (ExtendTaskLeaseBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ExtendTaskLeaseResponse200 | Problem]
     """


    kwargs = _get_kwargs(
        body=body,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    body: ExtendTaskLeaseBody,

) -> ExtendTaskLeaseResponse200 | Problem | None:
    """ Extends a lease of one attempt by 30 s from now

    Args:
        body (ExtendTaskLeaseBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ExtendTaskLeaseResponse200 | Problem
     """


    return (await asyncio_detailed(
        client=client,
body=body,

    )).parsed
