//! Given/when/then tests of the Workspace decider, and a property test over command sequences.

use proptest::prelude::*;

use super::*;
use crate::testing::{context_of, given};

fn workspace_id() -> Uuid {
    context_of("alice").aggregate_id
}

fn created() -> WorkspaceEvent {
    WorkspaceCreated { workspace_id: workspace_id(), name: "Research".into(), owner_id: "alice".into() }.into()
}

fn invited(id: u128, email: &str, role: Role) -> WorkspaceEvent {
    MemberInvited { invitation_id: Uuid::from_u128(id), email: email.into(), role, invited_by: "alice".into() }.into()
}

fn joined(id: u128, user: &str, role: Role) -> WorkspaceEvent {
    InvitationAccepted { invitation_id: Uuid::from_u128(id), user_id: user.into(), role }.into()
}

fn member(user: &str, role: Role) -> Vec<WorkspaceEvent> {
    let id = user.bytes().map(u128::from).sum::<u128>() + 1000;
    vec![invited(id, &format!("{user}@example.com"), role), joined(id, user, role)]
}

fn with(members: &[(&str, Role)]) -> Vec<WorkspaceEvent> {
    let mut events = vec![created()];
    for (user, role) in members {
        events.extend(member(user, *role));
    }
    events
}

fn change(user: &str, role: Role) -> WorkspaceCommand {
    WorkspaceCommand::ChangeMemberRole(ChangeMemberRole { user_id: user.into(), role })
}

fn remove(user: &str) -> WorkspaceCommand {
    WorkspaceCommand::RemoveMember(RemoveMember { user_id: user.into() })
}

#[test]
fn it_creates_a_workspace_owned_by_its_creator() {
    given::<Workspace>([])
        .when(WorkspaceCommand::CreateWorkspace(CreateWorkspace { name: "  Research ".into() }))
        .then([created()]);
}

#[test]
fn it_refuses_to_create_a_workspace_twice() {
    given::<Workspace>([created()])
        .when(WorkspaceCommand::CreateWorkspace(CreateWorkspace { name: "Other".into() }))
        .then_err(WorkspaceError::AlreadyExists);
}

#[test]
fn it_refuses_commands_to_a_workspace_that_does_not_exist() {
    given::<Workspace>([])
        .when(WorkspaceCommand::RenameWorkspace(RenameWorkspace { name: "X".into() }))
        .then_err(WorkspaceError::NotFound);
}

#[test]
fn owners_rename_and_renaming_to_the_same_name_changes_nothing() {
    given::<Workspace>([created()])
        .when(WorkspaceCommand::RenameWorkspace(RenameWorkspace { name: "Lab".into() }))
        .then([WorkspaceRenamed { name: "Lab".into(), previous_name: Some("Research".into()) }.into()]);
    given::<Workspace>([created()])
        .when(WorkspaceCommand::RenameWorkspace(RenameWorkspace { name: "Research".into() }))
        .then([]);
}

#[test]
fn admins_may_not_rename() {
    given::<Workspace>(with(&[("bo", Role::Admin)]))
        .when_by(WorkspaceCommand::RenameWorkspace(RenameWorkspace { name: "Lab".into() }), context_of("bo"))
        .then_err(WorkspaceError::RoleTooLow { required: Role::Owner });
}

#[test]
fn non_members_are_refused() {
    given::<Workspace>([created()])
        .when_by(WorkspaceCommand::RenameWorkspace(RenameWorkspace { name: "Lab".into() }), context_of("eve"))
        .then_err(WorkspaceError::NotAMember);
}

#[test]
fn admins_invite_with_a_server_made_id_and_a_lowercased_email() {
    let context = context_of("bo");
    given::<Workspace>(with(&[("bo", Role::Admin)]))
        .when_by(
            WorkspaceCommand::InviteMember(InviteMember {
                email: "Cy@Example.com".into(),
                role: Role::Member,
                invitation_id: None,
            }),
            context.clone(),
        )
        .then([MemberInvited {
            invitation_id: context.new_id,
            email: "cy@example.com".into(),
            role: Role::Member,
            invited_by: "bo".into(),
        }
        .into()]);
}

#[test]
fn members_may_not_invite_and_admins_may_not_invite_owners() {
    let invite = |role| {
        WorkspaceCommand::InviteMember(InviteMember { email: "cy@example.com".into(), role, invitation_id: None })
    };
    given::<Workspace>(with(&[("mo", Role::Member)]))
        .when_by(invite(Role::Viewer), context_of("mo"))
        .then_err(WorkspaceError::RoleTooLow { required: Role::Admin });
    given::<Workspace>(with(&[("bo", Role::Admin)]))
        .when_by(invite(Role::Owner), context_of("bo"))
        .then_err(WorkspaceError::OwnerRoleNeedsOwner);
}

#[test]
fn a_pending_invitation_is_not_sent_twice() {
    given::<Workspace>([created(), invited(1, "cy@example.com", Role::Member)])
        .when(WorkspaceCommand::InviteMember(InviteMember {
            email: "cy@example.com".into(),
            role: Role::Viewer,
            invitation_id: None,
        }))
        .then_err(WorkspaceError::AlreadyInvited { email: "cy@example.com".into() });
}

#[test]
fn the_invited_person_accepts_and_joins_with_the_invited_role() {
    let mut context = context_of("cy");
    context.actor_email = Some("CY@example.com".into());
    given::<Workspace>([created(), invited(1, "cy@example.com", Role::Member)])
        .when_by(WorkspaceCommand::AcceptInvitation(AcceptInvitation { invitation_id: Uuid::from_u128(1) }), context)
        .then([joined(1, "cy", Role::Member)]);
}

#[test]
fn an_invitation_for_another_email_or_accepted_already_is_refused() {
    let accept = WorkspaceCommand::AcceptInvitation(AcceptInvitation { invitation_id: Uuid::from_u128(1) });
    let mut context = context_of("eve");
    context.actor_email = Some("eve@example.com".into());
    given::<Workspace>([created(), invited(1, "cy@example.com", Role::Member)])
        .when_by(accept.clone(), context)
        .then_err(WorkspaceError::InvitationForAnotherEmail);
    given::<Workspace>([created(), invited(1, "cy@example.com", Role::Member), joined(1, "cy", Role::Member)])
        .when_by(accept.clone(), context_of("cy"))
        .then_err(WorkspaceError::InvitationAlreadyAccepted);
    given::<Workspace>([created()])
        .when_by(accept.clone(), context_of("cy"))
        .then_err(WorkspaceError::InvitationNotFound);
    // A token without a verified email cannot say whom it names, whatever its `sub`.
    given::<Workspace>([created(), invited(1, "cy@example.com", Role::Member)])
        .when_by(accept, context_of("cy"))
        .then_err(WorkspaceError::VerifiedEmailRequired);
}

#[test]
fn the_last_owner_can_be_neither_demoted_nor_removed() {
    given::<Workspace>([created()]).when(change("alice", Role::Admin)).then_err(WorkspaceError::LastOwner);
    given::<Workspace>([created()]).when(remove("alice")).then_err(WorkspaceError::LastOwner);
}

#[test]
fn an_owner_may_step_down_when_another_owner_remains() {
    given::<Workspace>(with(&[("bo", Role::Owner)])).when(change("alice", Role::Admin)).then([MemberRoleChanged {
        user_id: "alice".into(),
        role: Role::Admin,
    }
    .into()]);
}

#[test]
fn only_owners_touch_the_owner_role() {
    given::<Workspace>(with(&[("bo", Role::Admin), ("cy", Role::Member)]))
        .when_by(change("cy", Role::Owner), context_of("bo"))
        .then_err(WorkspaceError::OwnerRoleNeedsOwner);
    given::<Workspace>(with(&[("bo", Role::Admin)]))
        .when_by(remove("alice"), context_of("bo"))
        .then_err(WorkspaceError::OwnerRoleNeedsOwner);
}

#[test]
fn admins_change_roles_and_remove_members() {
    given::<Workspace>(with(&[("bo", Role::Admin), ("cy", Role::Member)]))
        .when_by(change("cy", Role::Viewer), context_of("bo"))
        .then([MemberRoleChanged { user_id: "cy".into(), role: Role::Viewer }.into()]);
    given::<Workspace>(with(&[("bo", Role::Admin), ("cy", Role::Member)]))
        .when_by(remove("cy"), context_of("bo"))
        .then([MemberRemoved { user_id: "cy".into() }.into()]);
}

#[test]
fn anyone_may_leave_but_members_remove_no_one_else() {
    given::<Workspace>(with(&[("cy", Role::Viewer)]))
        .when_by(remove("cy"), context_of("cy"))
        .then([MemberRemoved { user_id: "cy".into() }.into()]);
    given::<Workspace>(with(&[("cy", Role::Member), ("di", Role::Viewer)]))
        .when_by(remove("di"), context_of("cy"))
        .then_err(WorkspaceError::RoleTooLow { required: Role::Admin });
}

#[test]
fn changing_an_unknown_member_is_refused() {
    given::<Workspace>([created()])
        .when(change("zed", Role::Admin))
        .then_err(WorkspaceError::MemberNotFound { user_id: "zed".into() });
}

fn as_principal(actor: &str, principal: Principal) -> CommandContext {
    CommandContext { principal, ..context_of(actor) }
}

#[test]
fn operators_suspend_and_reactivate_once_each_and_owners_do_not() {
    let suspend = WorkspaceCommand::SuspendWorkspace(SuspendWorkspace { reason: Some("abuse".into()) });
    let reactivate = WorkspaceCommand::ReactivateWorkspace(ReactivateWorkspace {});
    let suspended: WorkspaceEvent = WorkspaceSuspended { reason: Some("abuse".into()) }.into();
    let operator = || as_principal("staff", Principal::Operator);
    given::<Workspace>([created()]).when_by(suspend.clone(), operator()).then([suspended.clone()]);
    given::<Workspace>([created(), suspended.clone()])
        .when_by(suspend.clone(), operator())
        .then_err(WorkspaceError::AlreadySuspended);
    given::<Workspace>([created(), suspended.clone()])
        .when_by(reactivate.clone(), operator())
        .then([WorkspaceReactivated {}.into()]);
    given::<Workspace>([created()]).when_by(reactivate.clone(), operator()).then_err(WorkspaceError::NotSuspended);
    // The owner (alice) can neither impose nor lift one.
    given::<Workspace>([created()]).when(suspend).then_err(WorkspaceError::OperatorRequired);
    given::<Workspace>([created(), suspended]).when(reactivate).then_err(WorkspaceError::OperatorRequired);
}

#[test]
fn the_billing_saga_suspends_for_an_overdue_invoice_and_no_one_else_does() {
    let suspend = WorkspaceCommand::SuspendWorkspace(SuspendWorkspace { reason: Some("invoice_overdue".into()) });
    given::<Workspace>([created()])
        .when_by(suspend.clone(), as_principal("system:billing-saga", Principal::Saga))
        .then([WorkspaceSuspended { reason: Some("invoice_overdue".into()) }.into()]);
    given::<Workspace>([created()])
        .when_by(suspend.clone(), context_of("system:billing-saga"))
        .then_err(WorkspaceError::OperatorRequired);
    given::<Workspace>([created()])
        .when_by(suspend, as_principal("staff", Principal::Operator))
        .then_err(WorkspaceError::OverdueIsBillings);
}

#[test]
fn payloads_are_parsed_with_the_failing_field_named() {
    let parsed = WorkspaceCommand::parse("InviteMember", &serde_json::json!({"email": "x@y.z", "role": "boss"}));
    let error = parsed.unwrap().unwrap_err();
    assert_eq!(error.path, "/role");
    let parsed = WorkspaceCommand::parse("CreateWorkspace", &serde_json::json!({"name": " "}));
    assert_eq!(parsed.unwrap().unwrap_err().path, "/name");
    let parsed = WorkspaceCommand::parse("CreateWorkspace", &serde_json::json!({"name": "A", "extra": 1}));
    assert!(parsed.unwrap().is_err());
    assert!(WorkspaceCommand::parse("LaunchRocket", &serde_json::json!({})).is_none());
}

fn arb_user() -> impl Strategy<Value = String> {
    prop_oneof![Just("alice"), Just("bo"), Just("cy"), Just("di")].prop_map(String::from)
}

fn arb_role() -> impl Strategy<Value = Role> {
    prop::sample::select(Role::ALL.to_vec())
}

fn arb_command() -> impl Strategy<Value = (String, WorkspaceCommand)> {
    let command = prop_oneof![
        Just(WorkspaceCommand::CreateWorkspace(CreateWorkspace { name: "W".into() })),
        Just(WorkspaceCommand::RenameWorkspace(RenameWorkspace { name: "V".into() })),
        (arb_user(), arb_role()).prop_map(|(user, role)| WorkspaceCommand::InviteMember(InviteMember {
            email: format!("{user}@example.com"),
            role,
            invitation_id: None,
        })),
        (0u128..6)
            .prop_map(|id| WorkspaceCommand::AcceptInvitation(AcceptInvitation { invitation_id: Uuid::from_u128(id) })),
        (arb_user(), arb_role()).prop_map(|(user, role)| change(&user, role)),
        arb_user().prop_map(|user| remove(&user)),
        Just(WorkspaceCommand::SuspendWorkspace(SuspendWorkspace { reason: None })),
        Just(WorkspaceCommand::ReactivateWorkspace(ReactivateWorkspace {})),
    ];
    (arb_user(), command)
}

proptest! {
    /// Whatever anyone sends, in whatever order, deciding never panics and a created workspace
    /// always keeps an owner.
    #[test]
    fn a_workspace_always_keeps_an_owner(commands in prop::collection::vec(arb_command(), 1..60)) {
        let mut state = WorkspaceState::default();
        for (index, (actor, command)) in commands.into_iter().enumerate() {
            let mut context = context_of(&actor);
            context.actor_email = Some(format!("{actor}@example.com"));
            context.new_id = Uuid::from_u128(index as u128 % 6);
            if let Ok(events) = Workspace::decide(&command, &state, &Invitees::new(), &context) {
                for event in &events {
                    state = Workspace::evolve(state, event);
                }
            }
            if state.created {
                prop_assert!(state.owner_count() >= 1, "no owner left: {state:?}");
            }
        }
    }
}

#[test]
fn only_the_billing_saga_imposes_or_lifts_a_suspension_for_an_overdue_invoice() {
    use crate::workspace::{OVERDUE, ReactivateWorkspace, SuspendWorkspace};
    let overdue = events::workspace::WorkspaceSuspended { reason: Some(OVERDUE.into()) };
    given::<Workspace>([created(), overdue.into()])
        .when(WorkspaceCommand::ReactivateWorkspace(ReactivateWorkspace {}))
        .then_err(WorkspaceError::OverdueIsBillings);
    given::<Workspace>([created()])
        .when(WorkspaceCommand::SuspendWorkspace(SuspendWorkspace { reason: Some(OVERDUE.into()) }))
        .then_err(WorkspaceError::OverdueIsBillings);
    let saga = as_principal("system:billing-saga", Principal::Saga);
    let overdue = events::workspace::WorkspaceSuspended { reason: Some(OVERDUE.into()) };
    given::<Workspace>([created(), overdue.into()])
        .when_by(WorkspaceCommand::ReactivateWorkspace(ReactivateWorkspace {}), saga)
        .then([events::workspace::WorkspaceReactivated {}.into()]);
}
