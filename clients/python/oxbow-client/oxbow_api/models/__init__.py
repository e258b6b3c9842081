""" Contains all the data models used in inputs/outputs """

from .accept_invitation_command import AcceptInvitationCommand
from .accept_invitation_payload import AcceptInvitationPayload
from .accepted import Accepted
from .accepted_events_item import AcceptedEventsItem
from .accepted_events_item_payload import AcceptedEventsItemPayload
from .agent_kind import AgentKind
from .approve_step_command import ApproveStepCommand
from .approve_step_payload import ApproveStepPayload
from .archive_workflow_command import ArchiveWorkflowCommand
from .archive_workflow_payload import ArchiveWorkflowPayload
from .artifact import Artifact
from .begin_run_command import BeginRunCommand
from .begin_run_payload import BeginRunPayload
from .cancel_run_command import CancelRunCommand
from .cancel_run_payload import CancelRunPayload
from .capture_credits_command import CaptureCreditsCommand
from .capture_credits_payload import CaptureCreditsPayload
from .change_member_role_command import ChangeMemberRoleCommand
from .change_member_role_payload import ChangeMemberRolePayload
from .close_billing_period_command import CloseBillingPeriodCommand
from .close_billing_period_payload import CloseBillingPeriodPayload
from .complete_step_command import CompleteStepCommand
from .complete_step_payload import CompleteStepPayload
from .confirm_payment_body import ConfirmPaymentBody
from .create_workspace_command import CreateWorkspaceCommand
from .create_workspace_payload import CreateWorkspacePayload
from .dead_letters_response_200 import DeadLettersResponse200
from .dead_letters_response_200_parked_item import DeadLettersResponse200ParkedItem
from .dead_letters_response_200_set_aside_item import DeadLettersResponse200SetAsideItem
from .define_workflow_command import DefineWorkflowCommand
from .define_workflow_payload import DefineWorkflowPayload
from .executor_builtin import ExecutorBuiltin
from .executor_builtin_config import ExecutorBuiltinConfig
from .executor_external import ExecutorExternal
from .executor_webhook import ExecutorWebhook
from .extend_task_lease_body import ExtendTaskLeaseBody
from .extend_task_lease_response_200 import ExtendTaskLeaseResponse200
from .fail_step_command import FailStepCommand
from .fail_step_payload import FailStepPayload
from .grant_credits_command import GrantCreditsCommand
from .grant_credits_payload import GrantCreditsPayload
from .invite_member_command import InviteMemberCommand
from .invite_member_payload import InviteMemberPayload
from .issue_worker_credential_command import IssueWorkerCredentialCommand
from .issue_worker_credential_payload import IssueWorkerCredentialPayload
from .lease_tasks_body import LeaseTasksBody
from .lease_tasks_response_200 import LeaseTasksResponse200
from .lease_tasks_response_200_tasks_item import LeaseTasksResponse200TasksItem
from .open_billing_account_command import OpenBillingAccountCommand
from .open_billing_account_payload import OpenBillingAccountPayload
from .parked_request import ParkedRequest
from .parked_request_consumer import ParkedRequestConsumer
from .price_offer import PriceOffer
from .problem import Problem
from .purchase_credits_command import PurchaseCreditsCommand
from .purchase_credits_payload import PurchaseCreditsPayload
from .reactivate_workspace_command import ReactivateWorkspaceCommand
from .reactivate_workspace_payload import ReactivateWorkspacePayload
from .record_payment_command import RecordPaymentCommand
from .record_payment_payload import RecordPaymentPayload
from .register_agent_command import RegisterAgentCommand
from .register_agent_payload import RegisterAgentPayload
from .reject_run_command import RejectRunCommand
from .reject_run_payload import RejectRunPayload
from .reject_step_command import RejectStepCommand
from .reject_step_payload import RejectStepPayload
from .release_reservation_command import ReleaseReservationCommand
from .release_reservation_payload import ReleaseReservationPayload
from .remove_member_command import RemoveMemberCommand
from .remove_member_payload import RemoveMemberPayload
from .rename_workspace_command import RenameWorkspaceCommand
from .rename_workspace_payload import RenameWorkspacePayload
from .report_step_started_command import ReportStepStartedCommand
from .report_step_started_payload import ReportStepStartedPayload
from .reserve_credits_command import ReserveCreditsCommand
from .reserve_credits_payload import ReserveCreditsPayload
from .retire_agent_command import RetireAgentCommand
from .retire_agent_payload import RetireAgentPayload
from .retry_policy import RetryPolicy
from .retry_saga_work_body import RetrySagaWorkBody
from .retry_step_command import RetryStepCommand
from .retry_step_payload import RetryStepPayload
from .revise_workflow_command import ReviseWorkflowCommand
from .revise_workflow_payload import ReviseWorkflowPayload
from .revoke_worker_credential_command import RevokeWorkerCredentialCommand
from .revoke_worker_credential_payload import RevokeWorkerCredentialPayload
from .role import Role
from .rotate_webhook_secret_command import RotateWebhookSecretCommand
from .rotate_webhook_secret_payload import RotateWebhookSecretPayload
from .set_overdraft_limit_command import SetOverdraftLimitCommand
from .set_overdraft_limit_payload import SetOverdraftLimitPayload
from .settled import Settled
from .settled_settled import SettledSettled
from .signal_step_command import SignalStepCommand
from .signal_step_payload import SignalStepPayload
from .start_run_command import StartRunCommand
from .start_run_payload import StartRunPayload
from .step import Step
from .step_kind_type_0 import StepKindType0
from .suspend_workspace_command import SuspendWorkspaceCommand
from .suspend_workspace_payload import SuspendWorkspacePayload
from .time_out_step_command import TimeOutStepCommand
from .time_out_step_payload import TimeOutStepPayload
from .update_agent_command import UpdateAgentCommand
from .update_agent_payload import UpdateAgentPayload
from .usage import Usage

__all__ = (
    "Accepted",
    "AcceptedEventsItem",
    "AcceptedEventsItemPayload",
    "AcceptInvitationCommand",
    "AcceptInvitationPayload",
    "AgentKind",
    "ApproveStepCommand",
    "ApproveStepPayload",
    "ArchiveWorkflowCommand",
    "ArchiveWorkflowPayload",
    "Artifact",
    "BeginRunCommand",
    "BeginRunPayload",
    "CancelRunCommand",
    "CancelRunPayload",
    "CaptureCreditsCommand",
    "CaptureCreditsPayload",
    "ChangeMemberRoleCommand",
    "ChangeMemberRolePayload",
    "CloseBillingPeriodCommand",
    "CloseBillingPeriodPayload",
    "CompleteStepCommand",
    "CompleteStepPayload",
    "ConfirmPaymentBody",
    "CreateWorkspaceCommand",
    "CreateWorkspacePayload",
    "DeadLettersResponse200",
    "DeadLettersResponse200ParkedItem",
    "DeadLettersResponse200SetAsideItem",
    "DefineWorkflowCommand",
    "DefineWorkflowPayload",
    "ExecutorBuiltin",
    "ExecutorBuiltinConfig",
    "ExecutorExternal",
    "ExecutorWebhook",
    "ExtendTaskLeaseBody",
    "ExtendTaskLeaseResponse200",
    "FailStepCommand",
    "FailStepPayload",
    "GrantCreditsCommand",
    "GrantCreditsPayload",
    "InviteMemberCommand",
    "InviteMemberPayload",
    "IssueWorkerCredentialCommand",
    "IssueWorkerCredentialPayload",
    "LeaseTasksBody",
    "LeaseTasksResponse200",
    "LeaseTasksResponse200TasksItem",
    "OpenBillingAccountCommand",
    "OpenBillingAccountPayload",
    "ParkedRequest",
    "ParkedRequestConsumer",
    "PriceOffer",
    "Problem",
    "PurchaseCreditsCommand",
    "PurchaseCreditsPayload",
    "ReactivateWorkspaceCommand",
    "ReactivateWorkspacePayload",
    "RecordPaymentCommand",
    "RecordPaymentPayload",
    "RegisterAgentCommand",
    "RegisterAgentPayload",
    "RejectRunCommand",
    "RejectRunPayload",
    "RejectStepCommand",
    "RejectStepPayload",
    "ReleaseReservationCommand",
    "ReleaseReservationPayload",
    "RemoveMemberCommand",
    "RemoveMemberPayload",
    "RenameWorkspaceCommand",
    "RenameWorkspacePayload",
    "ReportStepStartedCommand",
    "ReportStepStartedPayload",
    "ReserveCreditsCommand",
    "ReserveCreditsPayload",
    "RetireAgentCommand",
    "RetireAgentPayload",
    "RetryPolicy",
    "RetrySagaWorkBody",
    "RetryStepCommand",
    "RetryStepPayload",
    "ReviseWorkflowCommand",
    "ReviseWorkflowPayload",
    "RevokeWorkerCredentialCommand",
    "RevokeWorkerCredentialPayload",
    "Role",
    "RotateWebhookSecretCommand",
    "RotateWebhookSecretPayload",
    "SetOverdraftLimitCommand",
    "SetOverdraftLimitPayload",
    "Settled",
    "SettledSettled",
    "SignalStepCommand",
    "SignalStepPayload",
    "StartRunCommand",
    "StartRunPayload",
    "Step",
    "StepKindType0",
    "SuspendWorkspaceCommand",
    "SuspendWorkspacePayload",
    "TimeOutStepCommand",
    "TimeOutStepPayload",
    "UpdateAgentCommand",
    "UpdateAgentPayload",
    "Usage",
)
