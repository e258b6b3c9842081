from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.accepted import Accepted
from ...models.confirm_payment_body import ConfirmPaymentBody
from ...models.problem import Problem
from typing import cast



def _get_kwargs(
    *,
    body: ConfirmPaymentBody,
    oxbow_signature: str,

) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    headers["Oxbow-Signature"] = oxbow_signature



    

    

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/payments/webhook",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Accepted | Problem | None:
    if response.status_code == 200:
        response_200 = Accepted.from_dict(response.json())



        return response_200

    if response.status_code == 400:
        response_400 = Problem.from_dict(response.json())



        return response_400

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())



        return response_401

    if response.status_code == 404:
        response_404 = Problem.from_dict(response.json())



        return response_404

    if response.status_code == 422:
        response_422 = Problem.from_dict(response.json())



        return response_422

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Accepted | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: ConfirmPaymentBody,
    oxbow_signature: str,

) -> Response[Accepted | Problem]:
    """ The payment provider confirms a payment: credits are purchased, or the named invoice paid, once per
    payment id

    Args:
        oxbow_signature (str):
        body (ConfirmPaymentBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Accepted | Problem]
     """


    kwargs = _get_kwargs(
        body=body,
oxbow_signature=oxbow_signature,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    *,
    client: AuthenticatedClient | Client,
    body: ConfirmPaymentBody,
    oxbow_signature: str,

) -> Accepted | Problem | None:
    """ The payment provider confirms a payment: credits are purchased, or the named invoice paid, once per
    payment id

    Args:
        oxbow_signature (str):
        body (ConfirmPaymentBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Accepted | Problem
     """


    return sync_detailed(
        client=client,
body=body,
oxbow_signature=oxbow_signature,

    ).parsed

async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: ConfirmPaymentBody,
    oxbow_signature: str,

) -> Response[Accepted | Problem]:
    """ The payment provider confirms a payment: credits are purchased, or the named invoice paid, once per
    payment id

    Args:
        oxbow_signature (str):
        body (ConfirmPaymentBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Accepted | Problem]
     """


    kwargs = _get_kwargs(
        body=body,
oxbow_signature=oxbow_signature,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    body: ConfirmPaymentBody,
    oxbow_signature: str,

) -> Accepted | Problem | None:
    """ The payment provider confirms a payment: credits are purchased, or the named invoice paid, once per
    payment id

    Args:
        oxbow_signature (str):
        body (ConfirmPaymentBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Accepted | Problem
     """


    return (await asyncio_detailed(
        client=client,
body=body,
oxbow_signature=oxbow_signature,

    )).parsed
