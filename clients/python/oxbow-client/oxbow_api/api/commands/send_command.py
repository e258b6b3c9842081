from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.accept_invitation_command import AcceptInvitationCommand
from ...models.accepted import Accepted
from ...models.approve_step_command import ApproveStepCommand
from ...models.archive_workflow_command import ArchiveWorkflowCommand
from ...models.begin_run_command import BeginRunCommand
from ...models.cancel_run_command import CancelRunCommand
from ...models.capture_credits_command import CaptureCreditsCommand
from ...models.change_member_role_command import ChangeMemberRoleCommand
from ...models.close_billing_period_command import CloseBillingPeriodCommand
from ...models.complete_step_command import CompleteStepCommand
from ...models.create_workspace_command import CreateWorkspaceCommand
from ...models.define_workflow_command import DefineWorkflowCommand
from ...models.fail_step_command import FailStepCommand
from ...models.grant_credits_command import GrantCreditsCommand
from ...models.invite_member_command import InviteMemberCommand
from ...models.issue_worker_credential_command import IssueWorkerCredentialCommand
from ...models.open_billing_account_command import OpenBillingAccountCommand
from ...models.problem import Problem
from ...models.purchase_credits_command import PurchaseCreditsCommand
from ...models.reactivate_workspace_command import ReactivateWorkspaceCommand
from ...models.record_payment_command import RecordPaymentCommand
from ...models.register_agent_command import RegisterAgentCommand
from ...models.reject_run_command import RejectRunCommand
from ...models.reject_step_command import RejectStepCommand
from ...models.release_reservation_command import ReleaseReservationCommand
from ...models.remove_member_command import RemoveMemberCommand
from ...models.rename_workspace_command import RenameWorkspaceCommand
from ...models.report_step_started_command import ReportStepStartedCommand
from ...models.reserve_credits_command import ReserveCreditsCommand
from ...models.retire_agent_command import RetireAgentCommand
from ...models.retry_step_command import RetryStepCommand
from ...models.revise_workflow_command import ReviseWorkflowCommand
from ...models.revoke_worker_credential_command import RevokeWorkerCredentialCommand
from ...models.rotate_webhook_secret_command import RotateWebhookSecretCommand
from ...models.set_overdraft_limit_command import SetOverdraftLimitCommand
from ...models.signal_step_command import SignalStepCommand
from ...models.start_run_command import StartRunCommand
from ...models.suspend_workspace_command import SuspendWorkspaceCommand
from ...models.time_out_step_command import TimeOutStepCommand
from ...models.update_agent_command import UpdateAgentCommand
from ...types import UNSET, Unset
from typing import cast
from uuid import UUID



def _get_kwargs(
    *,
    body: AcceptInvitationCommand | ApproveStepCommand | ArchiveWorkflowCommand | BeginRunCommand | CancelRunCommand | CaptureCreditsCommand | ChangeMemberRoleCommand | CloseBillingPeriodCommand | CompleteStepCommand | CreateWorkspaceCommand | DefineWorkflowCommand | FailStepCommand | GrantCreditsCommand | InviteMemberCommand | IssueWorkerCredentialCommand | OpenBillingAccountCommand | PurchaseCreditsCommand | ReactivateWorkspaceCommand | RecordPaymentCommand | RegisterAgentCommand | RejectRunCommand | RejectStepCommand | ReleaseReservationCommand | RemoveMemberCommand | RenameWorkspaceCommand | ReportStepStartedCommand | ReserveCreditsCommand | RetireAgentCommand | RetryStepCommand | ReviseWorkflowCommand | RevokeWorkerCredentialCommand | RotateWebhookSecretCommand | SetOverdraftLimitCommand | SignalStepCommand | StartRunCommand | SuspendWorkspaceCommand | TimeOutStepCommand | UpdateAgentCommand,
    idempotency_key: str | Unset = UNSET,
    x_correlation_id: UUID | Unset = UNSET,

) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    if not isinstance(x_correlation_id, Unset):
        headers["X-Correlation-Id"] = x_correlation_id



    

    

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/commands",
    }

    
    if isinstance(body, CreateWorkspaceCommand):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, RenameWorkspaceCommand):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, InviteMemberCommand):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, AcceptInvitationCommand):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, ChangeMemberRoleCommand):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, RemoveMemberCommand):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, SuspendWorkspaceCommand):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, ReactivateWorkspaceCommand):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, RegisterAgentCommand):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, UpdateAgentCommand):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, RetireAgentCommand):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, IssueWorkerCredentialCommand):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, RevokeWorkerCredentialCommand):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, RotateWebhookSecretCommand):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, DefineWorkflowCommand):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, ReviseWorkflowCommand):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, ArchiveWorkflowCommand):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, OpenBillingAccountCommand):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, GrantCreditsCommand):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, PurchaseCreditsCommand):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, ReserveCreditsCommand):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, CaptureCreditsCommand):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, ReleaseReservationCommand):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, CloseBillingPeriodCommand):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, RecordPaymentCommand):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, SetOverdraftLimitCommand):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, StartRunCommand):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, CancelRunCommand):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, ReportStepStartedCommand):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, CompleteStepCommand):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, FailStepCommand):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, ApproveStepCommand):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, RejectStepCommand):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, SignalStepCommand):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, BeginRunCommand):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, RejectRunCommand):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, TimeOutStepCommand):
        _kwargs["json"] = body.to_dict()
    else:
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

    if response.status_code == 403:
        response_403 = Problem.from_dict(response.json())



        return response_403

    if response.status_code == 404:
        response_404 = Problem.from_dict(response.json())



        return response_404

    if response.status_code == 409:
        response_409 = Problem.from_dict(response.json())



        return response_409

    if response.status_code == 413:
        response_413 = Problem.from_dict(response.json())



        return response_413

    if response.status_code == 422:
        response_422 = Problem.from_dict(response.json())



        return response_422

    if response.status_code == 429:
        response_429 = Problem.from_dict(response.json())



        return response_429

    if response.status_code == 503:
        response_503 = Problem.from_dict(response.json())



        return response_503

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
    client: AuthenticatedClient,
    body: AcceptInvitationCommand | ApproveStepCommand | ArchiveWorkflowCommand | BeginRunCommand | CancelRunCommand | CaptureCreditsCommand | ChangeMemberRoleCommand | CloseBillingPeriodCommand | CompleteStepCommand | CreateWorkspaceCommand | DefineWorkflowCommand | FailStepCommand | GrantCreditsCommand | InviteMemberCommand | IssueWorkerCredentialCommand | OpenBillingAccountCommand | PurchaseCreditsCommand | ReactivateWorkspaceCommand | RecordPaymentCommand | RegisterAgentCommand | RejectRunCommand | RejectStepCommand | ReleaseReservationCommand | RemoveMemberCommand | RenameWorkspaceCommand | ReportStepStartedCommand | ReserveCreditsCommand | RetireAgentCommand | RetryStepCommand | ReviseWorkflowCommand | RevokeWorkerCredentialCommand | RotateWebhookSecretCommand | SetOverdraftLimitCommand | SignalStepCommand | StartRunCommand | SuspendWorkspaceCommand | TimeOutStepCommand | UpdateAgentCommand,
    idempotency_key: str | Unset = UNSET,
    x_correlation_id: UUID | Unset = UNSET,

) -> Response[Accepted | Problem]:
    """ Send a command

    Args:
        idempotency_key (str | Unset):
        x_correlation_id (UUID | Unset):
        body (AcceptInvitationCommand | ApproveStepCommand | ArchiveWorkflowCommand |
            BeginRunCommand | CancelRunCommand | CaptureCreditsCommand | ChangeMemberRoleCommand |
            CloseBillingPeriodCommand | CompleteStepCommand | CreateWorkspaceCommand |
            DefineWorkflowCommand | FailStepCommand | GrantCreditsCommand | InviteMemberCommand |
            IssueWorkerCredentialCommand | OpenBillingAccountCommand | PurchaseCreditsCommand |
            ReactivateWorkspaceCommand | RecordPaymentCommand | RegisterAgentCommand |
            RejectRunCommand | RejectStepCommand | ReleaseReservationCommand | RemoveMemberCommand |
            RenameWorkspaceCommand | ReportStepStartedCommand | ReserveCreditsCommand |
            RetireAgentCommand | RetryStepCommand | ReviseWorkflowCommand |
            RevokeWorkerCredentialCommand | RotateWebhookSecretCommand | SetOverdraftLimitCommand |
            SignalStepCommand | StartRunCommand | SuspendWorkspaceCommand | TimeOutStepCommand |
            UpdateAgentCommand):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Accepted | Problem]
     """


    kwargs = _get_kwargs(
        body=body,
idempotency_key=idempotency_key,
x_correlation_id=x_correlation_id,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    *,
    client: AuthenticatedClient,
    body: AcceptInvitationCommand | ApproveStepCommand | ArchiveWorkflowCommand | BeginRunCommand | CancelRunCommand | CaptureCreditsCommand | ChangeMemberRoleCommand | CloseBillingPeriodCommand | CompleteStepCommand | CreateWorkspaceCommand | DefineWorkflowCommand | FailStepCommand | GrantCreditsCommand | InviteMemberCommand | IssueWorkerCredentialCommand | OpenBillingAccountCommand | PurchaseCreditsCommand | ReactivateWorkspaceCommand | RecordPaymentCommand | RegisterAgentCommand | RejectRunCommand | RejectStepCommand | ReleaseReservationCommand | RemoveMemberCommand | RenameWorkspaceCommand | ReportStepStartedCommand | ReserveCreditsCommand | RetireAgentCommand | RetryStepCommand | ReviseWorkflowCommand | RevokeWorkerCredentialCommand | RotateWebhookSecretCommand | SetOverdraftLimitCommand | SignalStepCommand | StartRunCommand | SuspendWorkspaceCommand | TimeOutStepCommand | UpdateAgentCommand,
    idempotency_key: str | Unset = UNSET,
    x_correlation_id: UUID | Unset = UNSET,

) -> Accepted | Problem | None:
    """ Send a command

    Args:
        idempotency_key (str | Unset):
        x_correlation_id (UUID | Unset):
        body (AcceptInvitationCommand | ApproveStepCommand | ArchiveWorkflowCommand |
            BeginRunCommand | CancelRunCommand | CaptureCreditsCommand | ChangeMemberRoleCommand |
            CloseBillingPeriodCommand | CompleteStepCommand | CreateWorkspaceCommand |
            DefineWorkflowCommand | FailStepCommand | GrantCreditsCommand | InviteMemberCommand |
            IssueWorkerCredentialCommand | OpenBillingAccountCommand | PurchaseCreditsCommand |
            ReactivateWorkspaceCommand | RecordPaymentCommand | RegisterAgentCommand |
            RejectRunCommand | RejectStepCommand | ReleaseReservationCommand | RemoveMemberCommand |
            RenameWorkspaceCommand | ReportStepStartedCommand | ReserveCreditsCommand |
            RetireAgentCommand | RetryStepCommand | ReviseWorkflowCommand |
            RevokeWorkerCredentialCommand | RotateWebhookSecretCommand | SetOverdraftLimitCommand |
            SignalStepCommand | StartRunCommand | SuspendWorkspaceCommand | TimeOutStepCommand |
            UpdateAgentCommand):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Accepted | Problem
     """


    return sync_detailed(
        client=client,
body=body,
idempotency_key=idempotency_key,
x_correlation_id=x_correlation_id,

    ).parsed

async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: AcceptInvitationCommand | ApproveStepCommand | ArchiveWorkflowCommand | BeginRunCommand | CancelRunCommand | CaptureCreditsCommand | ChangeMemberRoleCommand | CloseBillingPeriodCommand | CompleteStepCommand | CreateWorkspaceCommand | DefineWorkflowCommand | FailStepCommand | GrantCreditsCommand | InviteMemberCommand | IssueWorkerCredentialCommand | OpenBillingAccountCommand | PurchaseCreditsCommand | ReactivateWorkspaceCommand | RecordPaymentCommand | RegisterAgentCommand | RejectRunCommand | RejectStepCommand | ReleaseReservationCommand | RemoveMemberCommand | RenameWorkspaceCommand | ReportStepStartedCommand | ReserveCreditsCommand | RetireAgentCommand | RetryStepCommand | ReviseWorkflowCommand | RevokeWorkerCredentialCommand | RotateWebhookSecretCommand | SetOverdraftLimitCommand | SignalStepCommand | StartRunCommand | SuspendWorkspaceCommand | TimeOutStepCommand | UpdateAgentCommand,
    idempotency_key: str | Unset = UNSET,
    x_correlation_id: UUID | Unset = UNSET,

) -> Response[Accepted | Problem]:
    """ Send a command

    Args:
        idempotency_key (str | Unset):
        x_correlation_id (UUID | Unset):
        body (AcceptInvitationCommand | ApproveStepCommand | ArchiveWorkflowCommand |
            BeginRunCommand | CancelRunCommand | CaptureCreditsCommand | ChangeMemberRoleCommand |
            CloseBillingPeriodCommand | CompleteStepCommand | CreateWorkspaceCommand |
            DefineWorkflowCommand | FailStepCommand | GrantCreditsCommand | InviteMemberCommand |
            IssueWorkerCredentialCommand | OpenBillingAccountCommand | PurchaseCreditsCommand |
            ReactivateWorkspaceCommand | RecordPaymentCommand | RegisterAgentCommand |
            RejectRunCommand | RejectStepCommand | ReleaseReservationCommand | RemoveMemberCommand |
            RenameWorkspaceCommand | ReportStepStartedCommand | ReserveCreditsCommand |
            RetireAgentCommand | RetryStepCommand | ReviseWorkflowCommand |
            RevokeWorkerCredentialCommand | RotateWebhookSecretCommand | SetOverdraftLimitCommand |
            SignalStepCommand | StartRunCommand | SuspendWorkspaceCommand | TimeOutStepCommand |
            UpdateAgentCommand):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Accepted | Problem]
     """


    kwargs = _get_kwargs(
        body=body,
idempotency_key=idempotency_key,
x_correlation_id=x_correlation_id,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    *,
    client: AuthenticatedClient,
    body: AcceptInvitationCommand | ApproveStepCommand | ArchiveWorkflowCommand | BeginRunCommand | CancelRunCommand | CaptureCreditsCommand | ChangeMemberRoleCommand | CloseBillingPeriodCommand | CompleteStepCommand | CreateWorkspaceCommand | DefineWorkflowCommand | FailStepCommand | GrantCreditsCommand | InviteMemberCommand | IssueWorkerCredentialCommand | OpenBillingAccountCommand | PurchaseCreditsCommand | ReactivateWorkspaceCommand | RecordPaymentCommand | RegisterAgentCommand | RejectRunCommand | RejectStepCommand | ReleaseReservationCommand | RemoveMemberCommand | RenameWorkspaceCommand | ReportStepStartedCommand | ReserveCreditsCommand | RetireAgentCommand | RetryStepCommand | ReviseWorkflowCommand | RevokeWorkerCredentialCommand | RotateWebhookSecretCommand | SetOverdraftLimitCommand | SignalStepCommand | StartRunCommand | SuspendWorkspaceCommand | TimeOutStepCommand | UpdateAgentCommand,
    idempotency_key: str | Unset = UNSET,
    x_correlation_id: UUID | Unset = UNSET,

) -> Accepted | Problem | None:
    """ Send a command

    Args:
        idempotency_key (str | Unset):
        x_correlation_id (UUID | Unset):
        body (AcceptInvitationCommand | ApproveStepCommand | ArchiveWorkflowCommand |
            BeginRunCommand | CancelRunCommand | CaptureCreditsCommand | ChangeMemberRoleCommand |
            CloseBillingPeriodCommand | CompleteStepCommand | CreateWorkspaceCommand |
            DefineWorkflowCommand | FailStepCommand | GrantCreditsCommand | InviteMemberCommand |
            IssueWorkerCredentialCommand | OpenBillingAccountCommand | PurchaseCreditsCommand |
            ReactivateWorkspaceCommand | RecordPaymentCommand | RegisterAgentCommand |
            RejectRunCommand | RejectStepCommand | ReleaseReservationCommand | RemoveMemberCommand |
            RenameWorkspaceCommand | ReportStepStartedCommand | ReserveCreditsCommand |
            RetireAgentCommand | RetryStepCommand | ReviseWorkflowCommand |
            RevokeWorkerCredentialCommand | RotateWebhookSecretCommand | SetOverdraftLimitCommand |
            SignalStepCommand | StartRunCommand | SuspendWorkspaceCommand | TimeOutStepCommand |
            UpdateAgentCommand):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Accepted | Problem
     """


    return (await asyncio_detailed(
        client=client,
body=body,
idempotency_key=idempotency_key,
x_correlation_id=x_correlation_id,

    )).parsed
