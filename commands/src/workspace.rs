//! The Workspace aggregate: a tenant, its members and their roles, its invitations.
//!
//! Rules: the creator is the first owner and a workspace always keeps an owner; admins manage
//! members but only owners grant, change or take away the owner role; owners rename, suspend
//! and reactivate the workspace.

use std::collections::BTreeMap;

use events::workspace::{
    InvitationAccepted, MemberInvited, MemberRemoved, MemberRoleChanged, Role, WorkspaceCreated, WorkspaceEvent,
    WorkspaceReactivated, WorkspaceRenamed, WorkspaceSuspended,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    Aggregate, CommandContext, Decider, FieldError, Principal, Rejection, RejectionKind, Validate, command_enum,
    validate,
};

/// The suspension reason the billing saga gives for an overdue invoice, and the only one it
/// lifts; no one else may give or lift it.
pub const OVERDUE: &str = "invoice_overdue";
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWorkspace {
    /// 1 to 100 characters, not blank.
    #[schemars(length(min = 1, max = 100))]
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameWorkspace {
    #[schemars(length(min = 1, max = 100))]
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteMember {
    #[schemars(email, length(max = 254))]
    pub email: String,
    pub role: Role,
    /// Made by the server when absent, and returned in the response's events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invitation_id: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitation {
    pub invitation_id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeMemberRole {
    #[schemars(length(min = 1, max = 200))]
    pub user_id: String,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveMember {
    #[schemars(length(min = 1, max = 200))]
    pub user_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SuspendWorkspace {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 500))]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReactivateWorkspace {}

command_enum! {
    /// Every command the Workspace aggregate takes.
    pub enum WorkspaceCommand {
        CreateWorkspace,
        RenameWorkspace,
        InviteMember,
        AcceptInvitation,
        ChangeMemberRole,
        RemoveMember,
        SuspendWorkspace,
        ReactivateWorkspace,
    }
}

impl Validate for CreateWorkspace {
    fn validate(&self) -> Result<(), FieldError> {
        validate::name("/name", &self.name)
    }
}
impl Validate for RenameWorkspace {
    fn validate(&self) -> Result<(), FieldError> {
        validate::name("/name", &self.name)
    }
}
impl Validate for InviteMember {
    fn validate(&self) -> Result<(), FieldError> {
        validate::email("/email", &self.email)
    }
}
impl Validate for AcceptInvitation {}
impl Validate for ChangeMemberRole {
    fn validate(&self) -> Result<(), FieldError> {
        validate::user_id("/user_id", &self.user_id)
    }
}
impl Validate for RemoveMember {
    fn validate(&self) -> Result<(), FieldError> {
        validate::user_id("/user_id", &self.user_id)
    }
}
impl Validate for SuspendWorkspace {
    fn validate(&self) -> Result<(), FieldError> {
        match &self.reason {
            Some(reason) if reason.chars().count() > 500 => {
                Err(FieldError::new("/reason", "must be at most 500 characters"))
            }
            _ => Ok(()),
        }
    }
}
impl Validate for ReactivateWorkspace {}

/// A pending or accepted invitation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    pub email: String,
    pub role: Role,
    pub accepted: bool,
}

/// The revealed emails of a workspace's open invitations, by invitation id, when a decision
/// needs them (inviting, accepting). The state holds them sealed, as the log does, so that no
/// snapshot or cached state keeps a person's email; one missing here is read from the state.
pub type Invitees = BTreeMap<Uuid, String>;

/// What decisions about a workspace need to know.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceState {
    pub created: bool,
    pub name: String,
    pub suspended: bool,
    /// Why the workspace is suspended, when it is and a reason was given.
    pub suspension_reason: Option<String>,
    pub members: BTreeMap<String, Role>,
    pub invitations: BTreeMap<Uuid, Invitation>,
}

impl WorkspaceState {
    pub fn role_of(&self, user_id: &str) -> Option<Role> {
        self.members.get(user_id).copied()
    }

    pub fn owner_count(&self) -> usize {
        self.members.values().filter(|role| **role == Role::Owner).count()
    }
}

/// Why a workspace command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkspaceError {
    /// No workspace has this id.
    #[error("no workspace has this id")]
    NotFound,
    /// A workspace with this id exists already.
    #[error("a workspace with this id exists already")]
    AlreadyExists,
    /// The caller is not a member of the workspace.
    #[error("the caller is not a member of this workspace")]
    NotAMember,
    /// The caller's role is below what the command needs.
    #[error("this command needs the {} role or higher", required.as_str())]
    RoleTooLow { required: Role },
    /// Only owners grant, change or take away the owner role.
    #[error("only an owner may grant, change or take away the owner role")]
    OwnerRoleNeedsOwner,
    /// The command would leave the workspace without an owner.
    #[error("a workspace always keeps at least one owner")]
    LastOwner,
    /// The user is a member already.
    #[error("{user_id} is a member already")]
    AlreadyMember { user_id: String },
    /// A pending invitation for this email exists already.
    #[error("{email} has a pending invitation already")]
    AlreadyInvited { email: String },
    /// An invitation with this id exists already.
    #[error("an invitation with this id exists already")]
    InvitationIdTaken,
    /// No invitation has this id.
    #[error("no invitation of this workspace has this id")]
    InvitationNotFound,
    /// The invitation was accepted already.
    #[error("this invitation was accepted already")]
    InvitationAlreadyAccepted,
    /// The caller's token names another email than the invitation.
    #[error("this invitation is for another email address")]
    InvitationForAnotherEmail,
    /// Only the platform's operators suspend and reactivate workspaces.
    #[error("suspending and reactivating a workspace is for the platform's operators")]
    OperatorRequired,
    /// A suspension for an overdue invoice is the billing saga's to impose and to lift.
    #[error("a suspension for an overdue invoice is lifted by paying the invoice, not by a command")]
    OverdueIsBillings,
    /// The caller's token has no verified email, so it cannot say whom an invitation is for.
    #[error("accepting an invitation needs a token with a verified email claim (email and email_verified: true)")]
    VerifiedEmailRequired,
    /// The user is not a member.
    #[error("{user_id} is not a member of this workspace")]
    MemberNotFound { user_id: String },
    #[error("the workspace is suspended already")]
    AlreadySuspended,
    #[error("the workspace is not suspended")]
    NotSuspended,
}

impl Rejection for WorkspaceError {
    fn kind(&self) -> RejectionKind {
        use WorkspaceError::*;
        match self {
            NotFound => RejectionKind::NotFound,
            AlreadyExists => RejectionKind::AlreadyExists,
            NotAMember
            | RoleTooLow { .. }
            | OwnerRoleNeedsOwner
            | InvitationForAnotherEmail
            | VerifiedEmailRequired
            | OverdueIsBillings
            | OperatorRequired => RejectionKind::Forbidden,
            LastOwner
            | AlreadyMember { .. }
            | AlreadyInvited { .. }
            | InvitationIdTaken
            | InvitationNotFound
            | InvitationAlreadyAccepted
            | MemberNotFound { .. }
            | AlreadySuspended
            | NotSuspended => RejectionKind::RuleViolated,
        }
    }

    fn code(&self) -> &'static str {
        use WorkspaceError::*;
        match self {
            NotFound => "workspace_not_found",
            AlreadyExists => "workspace_exists",
            NotAMember => "not_a_member",
            RoleTooLow { .. } => "role_too_low",
            OwnerRoleNeedsOwner => "owner_role_needs_owner",
            LastOwner => "last_owner",
            AlreadyMember { .. } => "already_member",
            AlreadyInvited { .. } => "already_invited",
            InvitationIdTaken => "invitation_id_taken",
            InvitationNotFound => "invitation_not_found",
            InvitationAlreadyAccepted => "invitation_already_accepted",
            InvitationForAnotherEmail => "invitation_for_another_email",
            VerifiedEmailRequired => "verified_email_required",
            OverdueIsBillings => "overdue_suspension_is_billings",
            OperatorRequired => "operator_required",
            MemberNotFound { .. } => "member_not_found",
            AlreadySuspended => "workspace_suspended",
            NotSuspended => "workspace_not_suspended",
        }
    }
}

/// The Workspace decider.
pub struct Workspace;

/// Suspending and reactivating: an operator's, except a suspension for an overdue invoice,
/// which the billing saga imposes and lifts when the invoice is paid.
fn suspension(
    command: &WorkspaceCommand,
    state: &WorkspaceState,
    context: &CommandContext,
) -> Result<Vec<WorkspaceEvent>, WorkspaceError> {
    let overdue = match command {
        WorkspaceCommand::SuspendWorkspace(command) => command.reason.as_deref() == Some(OVERDUE),
        _ => state.suspension_reason.as_deref() == Some(OVERDUE),
    };
    match context.principal {
        Principal::Saga => {}
        Principal::Operator if !overdue => {}
        Principal::Operator => return Err(WorkspaceError::OverdueIsBillings),
        _ if overdue && state.role_of(&context.actor).is_some() => return Err(WorkspaceError::OverdueIsBillings),
        _ => return Err(WorkspaceError::OperatorRequired),
    }
    if let WorkspaceCommand::SuspendWorkspace(command) = command {
        if state.suspended {
            return Err(WorkspaceError::AlreadySuspended);
        }
        return Ok(vec![WorkspaceSuspended { reason: command.reason.clone() }.into()]);
    }
    if !state.suspended {
        return Err(WorkspaceError::NotSuspended);
    }
    Ok(vec![WorkspaceReactivated {}.into()])
}

impl Decider for Workspace {
    type Command = WorkspaceCommand;
    type Event = WorkspaceEvent;
    type State = WorkspaceState;
    /// The emails of the open invitations, revealed: the state keeps them sealed.
    type Facts = Invitees;
    type Error = WorkspaceError;

    fn decide(
        command: &WorkspaceCommand,
        state: &WorkspaceState,
        invitees: &Invitees,
        context: &CommandContext,
    ) -> Result<Vec<WorkspaceEvent>, WorkspaceError> {
        use WorkspaceCommand as C;
        if let C::CreateWorkspace(command) = command {
            if state.created {
                return Err(WorkspaceError::AlreadyExists);
            }
            return Ok(vec![
                WorkspaceCreated {
                    workspace_id: context.aggregate_id,
                    name: command.name.trim().to_owned(),
                    owner_id: context.actor.clone(),
                }
                .into(),
            ]);
        }
        if !state.created {
            return Err(WorkspaceError::NotFound);
        }
        // Accepting is the one command a non-member may send.
        if let C::AcceptInvitation(command) = command {
            return accept(command, state, invitees, context);
        }
        // Suspension is the platform's (its operators', and the billing saga's for money owed),
        // never a tenant's: a workspace must not lift what the platform imposed.
        if let C::SuspendWorkspace(_) | C::ReactivateWorkspace(_) = command {
            return suspension(command, state, context);
        }
        let caller = if context.by_saga() {
            Role::Owner
        } else {
            state.role_of(&context.actor).ok_or(WorkspaceError::NotAMember)?
        };
        let require = |required: Role| {
            if caller.at_least(required) { Ok(()) } else { Err(WorkspaceError::RoleTooLow { required }) }
        };
        let events: Vec<WorkspaceEvent> = match command {
            C::CreateWorkspace(_) | C::AcceptInvitation(_) => unreachable!("handled above"),
            C::RenameWorkspace(command) => {
                require(Role::Owner)?;
                let name = command.name.trim();
                if name == state.name {
                    return Ok(Vec::new());
                }
                vec![WorkspaceRenamed { name: name.to_owned(), previous_name: Some(state.name.clone()) }.into()]
            }
            C::InviteMember(command) => {
                require(Role::Admin)?;
                if command.role == Role::Owner {
                    require(Role::Owner).map_err(|_| WorkspaceError::OwnerRoleNeedsOwner)?;
                }
                let email = command.email.to_lowercase();
                let invitation_id = command.invitation_id.unwrap_or(context.new_id);
                if state.invitations.contains_key(&invitation_id) {
                    return Err(WorkspaceError::InvitationIdTaken);
                }
                let invited = |(id, invitation): (&Uuid, &Invitation)| {
                    !invitation.accepted && invitees.get(id).unwrap_or(&invitation.email) == &email
                };
                if state.invitations.iter().any(invited) {
                    return Err(WorkspaceError::AlreadyInvited { email });
                }
                vec![
                    MemberInvited { invitation_id, email, role: command.role, invited_by: context.actor.clone() }
                        .into(),
                ]
            }
            C::ChangeMemberRole(command) => {
                require(Role::Admin)?;
                let current = state
                    .role_of(&command.user_id)
                    .ok_or_else(|| WorkspaceError::MemberNotFound { user_id: command.user_id.clone() })?;
                if current == command.role {
                    return Ok(Vec::new());
                }
                if current == Role::Owner || command.role == Role::Owner {
                    require(Role::Owner).map_err(|_| WorkspaceError::OwnerRoleNeedsOwner)?;
                }
                if current == Role::Owner && state.owner_count() == 1 {
                    return Err(WorkspaceError::LastOwner);
                }
                vec![MemberRoleChanged { user_id: command.user_id.clone(), role: command.role }.into()]
            }
            C::RemoveMember(command) => {
                let leaving_self = command.user_id == context.actor;
                let current = state
                    .role_of(&command.user_id)
                    .ok_or_else(|| WorkspaceError::MemberNotFound { user_id: command.user_id.clone() })?;
                if !leaving_self {
                    require(Role::Admin)?;
                    if current == Role::Owner {
                        require(Role::Owner).map_err(|_| WorkspaceError::OwnerRoleNeedsOwner)?;
                    }
                }
                if current == Role::Owner && state.owner_count() == 1 {
                    return Err(WorkspaceError::LastOwner);
                }
                vec![MemberRemoved { user_id: command.user_id.clone() }.into()]
            }
            C::SuspendWorkspace(_) | C::ReactivateWorkspace(_) => unreachable!("handled above"),
        };
        Ok(events)
    }

    fn evolve(mut state: WorkspaceState, event: &WorkspaceEvent) -> WorkspaceState {
        match event {
            WorkspaceEvent::WorkspaceCreated(e) => {
                state.created = true;
                state.name = e.name.clone();
                state.members.insert(e.owner_id.clone(), Role::Owner);
            }
            WorkspaceEvent::WorkspaceRenamed(e) => state.name = e.name.clone(),
            WorkspaceEvent::MemberInvited(e) => {
                state
                    .invitations
                    .insert(e.invitation_id, Invitation { email: e.email.clone(), role: e.role, accepted: false });
            }
            WorkspaceEvent::InvitationAccepted(e) => {
                if let Some(invitation) = state.invitations.get_mut(&e.invitation_id) {
                    invitation.accepted = true;
                }
                state.members.insert(e.user_id.clone(), e.role);
            }
            WorkspaceEvent::MemberRoleChanged(e) => {
                state.members.insert(e.user_id.clone(), e.role);
            }
            WorkspaceEvent::MemberRemoved(e) => {
                state.members.remove(&e.user_id);
            }
            WorkspaceEvent::WorkspaceSuspended(e) => {
                state.suspended = true;
                state.suspension_reason = e.reason.clone();
            }
            WorkspaceEvent::WorkspaceReactivated(_) => {
                state.suspended = false;
                state.suspension_reason = None;
            }
        }
        state
    }
}

impl Aggregate for Workspace {
    const CATEGORY: events::Category = events::Category::Workspace;
    /// 2: invitation emails are kept sealed (snapshots of 1 held them revealed).
    const STATE_VERSION: i32 = 2;

    fn workspace_id(id: Uuid, _state: &WorkspaceState) -> Option<Uuid> {
        Some(id)
    }

    fn creates(command: &WorkspaceCommand) -> bool {
        matches!(command, WorkspaceCommand::CreateWorkspace(_))
    }
}

fn accept(
    command: &AcceptInvitation,
    state: &WorkspaceState,
    invitees: &Invitees,
    context: &CommandContext,
) -> Result<Vec<WorkspaceEvent>, WorkspaceError> {
    let invitation = state.invitations.get(&command.invitation_id).ok_or(WorkspaceError::InvitationNotFound)?;
    if invitation.accepted {
        return Err(WorkspaceError::InvitationAlreadyAccepted);
    }
    // The invitation names a person by email: only a verified email claim can say who that is.
    let Some(email) = &context.actor_email else {
        return Err(WorkspaceError::VerifiedEmailRequired);
    };
    let invited = invitees.get(&command.invitation_id).unwrap_or(&invitation.email);
    if !email.eq_ignore_ascii_case(invited) {
        return Err(WorkspaceError::InvitationForAnotherEmail);
    }
    if state.members.contains_key(&context.actor) {
        return Err(WorkspaceError::AlreadyMember { user_id: context.actor.clone() });
    }
    Ok(vec![
        InvitationAccepted {
            invitation_id: command.invitation_id,
            user_id: context.actor.clone(),
            role: invitation.role,
        }
        .into(),
    ])
}

#[cfg(test)]
mod tests;
