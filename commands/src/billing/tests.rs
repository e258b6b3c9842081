//! Given/when/then tests of the Billing decider, and the credit invariants under any sequence
//! of commands.

use proptest::prelude::*;

use super::*;
use crate::testing::{context_of, given};

fn owner() -> Access {
    Access::of(Role::Owner)
}

fn by(principal: Principal) -> CommandContext {
    CommandContext { principal, ..context_of("alice") }
}

fn saga() -> CommandContext {
    CommandContext { principal: Principal::Saga, ..context_of("system:run-saga") }
}

/// The one principal each command is for.
fn sender_of(command: &BillingCommand) -> CommandContext {
    match command {
        BillingCommand::GrantCredits(_) | BillingCommand::SetOverdraftLimit(_) => by(Principal::Operator),
        BillingCommand::PurchaseCredits(_) | BillingCommand::RecordPayment(_) => by(Principal::Payments),
        BillingCommand::ReserveCredits(_)
        | BillingCommand::CaptureCredits(_)
        | BillingCommand::ReleaseReservation(_) => saga(),
        BillingCommand::OpenBillingAccount(_) | BillingCommand::CloseBillingPeriod(_) => context_of("alice"),
    }
}

fn opened(overdraft_limit: i64) -> BillingEvent {
    BillingAccountOpened {
        workspace_id: context_of("alice").aggregate_id,
        plan: "team".into(),
        overdraft_limit,
        low_balance_threshold: 0,
    }
    .into()
}

fn granted(amount: i64) -> BillingEvent {
    CreditsGranted { amount, reason: "welcome".into() }.into()
}

fn reserve(id: u128, amount: i64) -> BillingCommand {
    BillingCommand::ReserveCredits(ReserveCredits {
        reservation_id: Uuid::from_u128(id),
        amount,
        purpose: String::new(),
    })
}

fn reserved(id: u128, amount: i64) -> BillingEvent {
    CreditsReserved { reservation_id: Uuid::from_u128(id), amount, purpose: String::new() }.into()
}

#[test]
fn only_owners_manage_billing() {
    let open = BillingCommand::OpenBillingAccount(OpenBillingAccount {
        plan: "team".into(),
        overdraft_limit: 0,
        low_balance_threshold: 0,
    });
    given::<Billing>([]).when_with(open.clone(), &owner(), context_of("alice")).then([opened(0)]);
    given::<Billing>([])
        .when_with(open, &Access::of(Role::Admin), context_of("alice"))
        .then_err(BillingError::RoleTooLow { required: Role::Owner });
}

#[test]
fn money_comes_from_outside_the_tenant_and_reservations_from_the_run_saga() {
    let grant = BillingCommand::GrantCredits(GrantCredits { amount: 5, reason: "welcome".into() });
    let purchase = BillingCommand::PurchaseCredits(PurchaseCredits { amount: 5, payment_ref: "pay_1".into() });
    let overdraft = BillingCommand::SetOverdraftLimit(SetOverdraftLimit { overdraft_limit: 1_000 });
    let pay =
        BillingCommand::RecordPayment(RecordPayment { invoice_id: Uuid::from_u128(9), amount: 5, payment_ref: None });
    let release = BillingCommand::ReleaseReservation(ReleaseReservation { reservation_id: Uuid::from_u128(1) });
    let open_with_overdraft = BillingCommand::OpenBillingAccount(OpenBillingAccount {
        plan: "team".into(),
        overdraft_limit: 10,
        low_balance_threshold: 0,
    });
    let history = [opened(0), granted(100), reserved(1, 30)];
    // The owner, whatever the workspace says of them, moves no money in and no reservation.
    for (command, refusal) in [
        (grant.clone(), BillingError::OperatorRequired),
        (overdraft.clone(), BillingError::OperatorRequired),
        (pay.clone(), BillingError::OperatorRequired),
        (purchase.clone(), BillingError::PaymentRequired),
        (release.clone(), BillingError::RunSagaOnly),
        (reserve(2, 1), BillingError::RunSagaOnly),
    ] {
        given::<Billing>(history.clone()).when_with(command, &owner(), context_of("alice")).then_err(refusal);
    }
    given::<Billing>([])
        .when_with(open_with_overdraft, &owner(), context_of("alice"))
        .then_err(BillingError::OperatorRequired);
    // Operators are no tenant's members, and need not be.
    given::<Billing>(history.clone()).when_with(grant, &Access::default(), by(Principal::Operator)).then([granted(5)]);
    given::<Billing>(history.clone())
        .when_with(overdraft, &Access::default(), by(Principal::Operator))
        .then([OverdraftLimitChanged { overdraft_limit: 1_000 }.into()]);
    given::<Billing>(history.clone())
        .when_with(purchase.clone(), &Access::default(), by(Principal::Operator))
        .then_err(BillingError::PaymentRequired);
    given::<Billing>(history.clone()).when_with(release, &owner(), saga()).then([ReservationReleased {
        reservation_id: Uuid::from_u128(1),
        amount: 30,
    }
    .into()]);
    // A confirmed payment counts once, however often the provider repeats it.
    let purchased: BillingEvent = CreditsPurchased { amount: 5, payment_ref: "pay_1".into() }.into();
    given::<Billing>(history.clone())
        .when_with(purchase.clone(), &Access::default(), by(Principal::Payments))
        .then([purchased.clone()]);
    let mut paid = history.to_vec();
    paid.push(purchased);
    given::<Billing>(paid).when_with(purchase, &Access::default(), by(Principal::Payments)).then([]);
}

#[test]
fn a_reservation_may_use_the_overdraft_but_not_more() {
    given::<Billing>([opened(50), granted(100)]).when_with(reserve(1, 150), &owner(), saga()).then([reserved(1, 150)]);
    given::<Billing>([opened(50), granted(100)])
        .when_with(reserve(1, 151), &owner(), saga())
        .then_err(BillingError::InsufficientCredits { requested: 151, available: 100, overdraft_limit: 50 });
}

#[test]
fn a_suspended_workspace_reserves_nothing() {
    let suspended = Access { role: Some(Role::Owner), suspended: true };
    given::<Billing>([opened(0), granted(100)])
        .when_with(reserve(1, 10), &suspended, saga())
        .then_err(BillingError::WorkspaceSuspended);
}

#[test]
fn a_capture_below_the_threshold_raises_a_low_balance_once() {
    let opened = BillingAccountOpened {
        workspace_id: context_of("alice").aggregate_id,
        plan: "team".into(),
        overdraft_limit: 0,
        low_balance_threshold: 50,
    };
    let capture =
        |amount| BillingCommand::CaptureCredits(CaptureCredits { reservation_id: Uuid::from_u128(1), amount });
    let captured = |amount| BillingEvent::from(CreditsCaptured { reservation_id: Uuid::from_u128(1), amount });
    let history = [opened.into(), granted(100), reserved(1, 80)];
    given::<Billing>(history.clone()).when_with(capture(50), &owner(), saga()).then([captured(50)]);
    given::<Billing>(history.clone())
        .when_with(capture(51), &owner(), saga())
        .then([captured(51), BalanceLow { balance: 49, threshold: 50 }.into()]);
    // Already below: no second alarm.
    let mut below = history.to_vec();
    below.push(captured(60));
    given::<Billing>(below).when_with(capture(1), &owner(), saga()).then([captured(1)]);
}

#[test]
fn a_capture_never_exceeds_its_reservation_and_a_release_returns_the_rest() {
    let capture =
        |amount| BillingCommand::CaptureCredits(CaptureCredits { reservation_id: Uuid::from_u128(1), amount });
    given::<Billing>([opened(0), granted(100), reserved(1, 30)])
        .when_with(capture(31), &owner(), saga())
        .then_err(BillingError::CaptureExceedsReservation { requested: 31, remaining: 30 });
    given::<Billing>([
        opened(0),
        granted(100),
        reserved(1, 30),
        CreditsCaptured { reservation_id: Uuid::from_u128(1), amount: 10 }.into(),
    ])
    .when_with(
        BillingCommand::ReleaseReservation(ReleaseReservation { reservation_id: Uuid::from_u128(1) }),
        &owner(),
        saga(),
    )
    .then([ReservationReleased { reservation_id: Uuid::from_u128(1), amount: 20 }.into()]);
}

#[test]
fn closing_a_period_invoices_the_overdraft_and_a_payment_settles_it() {
    let context = context_of("alice");
    let history = [
        opened(100),
        granted(10),
        reserved(1, 60),
        CreditsCaptured { reservation_id: Uuid::from_u128(1), amount: 60 }.into(),
    ];
    given::<Billing>(history.clone())
        .when_with(
            BillingCommand::CloseBillingPeriod(CloseBillingPeriod { invoice_id: None, due_in_days: Some(7) }),
            &owner(),
            context.clone(),
        )
        .then([BillingPeriodClosed {
            invoice_id: context.new_id,
            amount: 50,
            captured_in_period: 60,
            due_at: context.now + Duration::days(7),
        }
        .into()]);
    let mut with_invoice = history.to_vec();
    with_invoice.push(
        BillingPeriodClosed { invoice_id: Uuid::from_u128(9), amount: 50, captured_in_period: 60, due_at: context.now }
            .into(),
    );
    given::<Billing>(with_invoice)
        .when_with(
            BillingCommand::RecordPayment(RecordPayment {
                invoice_id: Uuid::from_u128(9),
                amount: 51,
                payment_ref: None,
            }),
            &owner(),
            CommandContext { principal: Principal::Operator, ..context },
        )
        .then_err(BillingError::PaymentExceedsInvoice { requested: 51, outstanding: 50 });
}

fn arb_command() -> impl Strategy<Value = BillingCommand> {
    let id = 0u128..4;
    prop_oneof![
        (1i64..200).prop_map(|amount| BillingCommand::GrantCredits(GrantCredits { amount, reason: "r".into() })),
        (id.clone(), 1i64..300).prop_map(|(id, amount)| reserve(id, amount)),
        (id.clone(), 1i64..300).prop_map(|(id, amount)| BillingCommand::CaptureCredits(CaptureCredits {
            reservation_id: Uuid::from_u128(id),
            amount
        })),
        id.clone().prop_map(|id| BillingCommand::ReleaseReservation(ReleaseReservation {
            reservation_id: Uuid::from_u128(id)
        })),
        Just(BillingCommand::CloseBillingPeriod(CloseBillingPeriod { invoice_id: None, due_in_days: None })),
    ]
}

proptest! {
    /// For any interleaving of billing commands: available never falls below −overdraft through
    /// a reservation, no reservation goes negative, and reserved is the sum of what remains.
    #[test]
    fn credit_invariants_hold_under_any_sequence(
        overdraft in 0i64..100,
        commands in prop::collection::vec(arb_command(), 1..80),
    ) {
        let mut account = Billing::evolve(Account::default(), &opened(overdraft));
        for (index, command) in commands.iter().enumerate() {
            let mut context = sender_of(command);
            context.new_id = Uuid::from_u128(1000 + index as u128);
            let before = account.available();
            if let Ok(events) = Billing::decide(command, &account, &owner(), &context) {
                for event in &events {
                    account = Billing::evolve(account, event);
                }
                if matches!(command, BillingCommand::ReserveCredits(_)) {
                    prop_assert!(account.available() >= -account.overdraft_limit);
                } else {
                    prop_assert!(account.available() >= before, "only reservations lower what is available");
                }
            }
            prop_assert!(account.reservations.values().all(|r| r.remaining >= 0));
            prop_assert_eq!(account.reserved, account.reservations.values().map(|r| r.remaining).sum::<i64>());
        }
    }
}
