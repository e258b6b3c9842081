//! The Billing aggregate: a workspace's credit account. Money comes from outside the tenant:
//! owners open the account and close its periods; the platform's operators grant credits, set
//! the overdraft and record payments; the payment provider's confirmed payments (the signed
//! payment webhook) purchase credits and pay invoices, once per payment; the run saga alone
//! reserves, captures and releases.
//!
//! Invariants, under any sequence of commands: a reservation never takes available credits
//! (balance − reserved) below −overdraft_limit, and a capture never exceeds what remains of its
//! reservation. Concurrency cannot break them: every decision is made on the account's whole
//! stream and appended at its version.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Duration;
use events::billing::{
    BalanceLow, BillingAccountOpened, BillingEvent, BillingPeriodClosed, CreditsCaptured, CreditsGranted,
    CreditsPurchased, CreditsReserved, OverdraftLimitChanged, PaymentRecorded, ReservationReleased,
};
use events::workspace::Role;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::Access;
use crate::{
    Aggregate, CommandContext, Decider, FieldError, Principal, Rejection, RejectionKind, Validate, command_enum,
};

/// The most credits one command may move.
pub const AMOUNT_MAX: i64 = 1_000_000_000_000;
/// The largest balance an account may hold: a thousand of the largest grants, and far from
/// the `bigint` the read model keeps it in, whatever is reserved or captured meanwhile.
pub const BALANCE_MAX: i64 = 1_000_000_000_000_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenBillingAccount {
    #[schemars(length(min = 1, max = 50))]
    pub plan: String,
    /// An operator's to set: an owner opens with 0.
    #[serde(default)]
    #[schemars(range(min = 0, max = AMOUNT_MAX))]
    pub overdraft_limit: i64,
    /// A capture that takes the balance below this raises a low-balance event (default 0:
    /// when the overdraft comes into use).
    #[serde(default)]
    #[schemars(range(min = 0, max = AMOUNT_MAX))]
    pub low_balance_threshold: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantCredits {
    #[schemars(range(min = 1, max = AMOUNT_MAX))]
    pub amount: i64,
    #[schemars(length(min = 1, max = 500))]
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PurchaseCredits {
    #[schemars(range(min = 1, max = AMOUNT_MAX))]
    pub amount: i64,
    #[schemars(length(min = 1, max = 200))]
    pub payment_ref: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReserveCredits {
    pub reservation_id: Uuid,
    #[schemars(range(min = 1, max = AMOUNT_MAX))]
    pub amount: i64,
    #[serde(default)]
    pub purpose: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaptureCredits {
    pub reservation_id: Uuid,
    #[schemars(range(min = 1, max = AMOUNT_MAX))]
    pub amount: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseReservation {
    pub reservation_id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseBillingPeriod {
    /// Made by the server when absent.
    #[serde(default)]
    pub invoice_id: Option<Uuid>,
    /// Days until the invoice is due (default 14).
    #[serde(default)]
    #[schemars(range(min = 0, max = 365))]
    pub due_in_days: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordPayment {
    pub invoice_id: Uuid,
    #[schemars(range(min = 1, max = AMOUNT_MAX))]
    pub amount: i64,
    /// The payment provider's id of the payment: a payment is recorded once.
    #[serde(default)]
    #[schemars(length(min = 1, max = 200))]
    pub payment_ref: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetOverdraftLimit {
    #[schemars(range(min = 0, max = AMOUNT_MAX))]
    pub overdraft_limit: i64,
}

command_enum! {
    /// Every command the Billing aggregate takes.
    pub enum BillingCommand {
        OpenBillingAccount,
        GrantCredits,
        PurchaseCredits,
        ReserveCredits,
        CaptureCredits,
        ReleaseReservation,
        CloseBillingPeriod,
        RecordPayment,
        SetOverdraftLimit,
    }
}

fn amount(path: &str, amount: i64) -> Result<(), FieldError> {
    if (1..=AMOUNT_MAX).contains(&amount) {
        Ok(())
    } else {
        Err(FieldError::new(path, format!("must be 1 to {AMOUNT_MAX} credits")))
    }
}

fn text(path: &str, value: &str, max: usize) -> Result<(), FieldError> {
    if value.trim().is_empty() || value.chars().count() > max {
        return Err(FieldError::new(path, format!("must be 1 to {max} characters, not blank")));
    }
    Ok(())
}

impl Validate for OpenBillingAccount {
    fn validate(&self) -> Result<(), FieldError> {
        text("/plan", &self.plan, 50)?;
        if !(0..=AMOUNT_MAX).contains(&self.overdraft_limit) {
            return Err(FieldError::new("/overdraft_limit", format!("must be 0 to {AMOUNT_MAX} credits")));
        }
        if !(0..=AMOUNT_MAX).contains(&self.low_balance_threshold) {
            return Err(FieldError::new("/low_balance_threshold", format!("must be 0 to {AMOUNT_MAX} credits")));
        }
        Ok(())
    }
}
impl Validate for GrantCredits {
    fn validate(&self) -> Result<(), FieldError> {
        amount("/amount", self.amount)?;
        text("/reason", &self.reason, 500)
    }
}
impl Validate for PurchaseCredits {
    fn validate(&self) -> Result<(), FieldError> {
        amount("/amount", self.amount)?;
        text("/payment_ref", &self.payment_ref, 200)
    }
}
impl Validate for ReserveCredits {
    fn validate(&self) -> Result<(), FieldError> {
        amount("/amount", self.amount)
    }
}
impl Validate for CaptureCredits {
    fn validate(&self) -> Result<(), FieldError> {
        amount("/amount", self.amount)
    }
}
impl Validate for ReleaseReservation {}
impl Validate for CloseBillingPeriod {
    fn validate(&self) -> Result<(), FieldError> {
        match self.due_in_days {
            Some(days) if !(0..=365).contains(&days) => Err(FieldError::new("/due_in_days", "must be 0 to 365")),
            _ => Ok(()),
        }
    }
}
impl Validate for RecordPayment {
    fn validate(&self) -> Result<(), FieldError> {
        amount("/amount", self.amount)?;
        match &self.payment_ref {
            Some(payment_ref) => text("/payment_ref", payment_ref, 200),
            None => Ok(()),
        }
    }
}
impl Validate for SetOverdraftLimit {
    fn validate(&self) -> Result<(), FieldError> {
        if !(0..=AMOUNT_MAX).contains(&self.overdraft_limit) {
            return Err(FieldError::new("/overdraft_limit", format!("must be 0 to {AMOUNT_MAX} credits")));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    /// What remains to capture or release.
    pub remaining: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    pub amount: i64,
    pub paid: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub opened: bool,
    pub overdraft_limit: i64,
    pub low_balance_threshold: i64,
    pub balance: i64,
    pub reserved: i64,
    pub captured_in_period: i64,
    pub reservations: BTreeMap<Uuid, Reservation>,
    pub invoices: BTreeMap<Uuid, Invoice>,
    /// The payment provider's ids of the payments already counted: each counts once.
    #[serde(default)]
    pub payments: BTreeSet<String>,
}

impl Account {
    pub fn available(&self) -> i64 {
        self.balance - self.reserved
    }

    /// Whether `amount` more credits keep the balance within [`BALANCE_MAX`].
    fn can_take(&self, amount: i64) -> Result<(), BillingError> {
        if self.balance.saturating_add(amount) > BALANCE_MAX {
            return Err(BillingError::BalanceLimit { requested: amount, balance: self.balance });
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BillingError {
    #[error("this workspace has no billing account")]
    NotFound,
    #[error("this workspace has a billing account already")]
    AlreadyExists,
    #[error("the caller is not a member of this workspace")]
    NotAMember,
    #[error("billing needs the {} role", required.as_str())]
    RoleTooLow { required: Role },
    #[error(
        "{requested} credits would take available credits ({available}) below the overdraft limit of {overdraft_limit}"
    )]
    InsufficientCredits { requested: i64, available: i64, overdraft_limit: i64 },
    #[error("the workspace is suspended and starts no new runs")]
    WorkspaceSuspended,
    #[error("a reservation with this id exists already")]
    ReservationIdTaken,
    #[error("no open reservation has this id")]
    ReservationNotFound,
    #[error("{requested} credits exceed the {remaining} that remain of the reservation")]
    CaptureExceedsReservation { requested: i64, remaining: i64 },
    #[error("an invoice with this id exists already")]
    InvoiceIdTaken,
    #[error("no invoice has this id")]
    InvoiceNotFound,
    #[error("{requested} credits exceed the {outstanding} outstanding on the invoice")]
    PaymentExceedsInvoice { requested: i64, outstanding: i64 },
    #[error("{requested} more credits would take the balance of {balance} past the limit of {BALANCE_MAX}")]
    BalanceLimit { requested: i64, balance: i64 },
    #[error("granting credits, setting the overdraft and recording payments are for the platform's operators")]
    OperatorRequired,
    #[error("credits are purchased through the payment provider: its confirmed payment credits the account")]
    PaymentRequired,
    #[error("reservations are the run saga's: it reserves a run's budget, captures and releases it")]
    RunSagaOnly,
}

crate::access::access_denied_into!(BillingError);

impl Rejection for BillingError {
    fn kind(&self) -> RejectionKind {
        use BillingError::*;
        match self {
            NotFound => RejectionKind::NotFound,
            AlreadyExists => RejectionKind::AlreadyExists,
            NotAMember | RoleTooLow { .. } | OperatorRequired | PaymentRequired | RunSagaOnly => {
                RejectionKind::Forbidden
            }
            _ => RejectionKind::RuleViolated,
        }
    }

    fn code(&self) -> &'static str {
        use BillingError::*;
        match self {
            NotFound => "billing_account_not_found",
            AlreadyExists => "billing_account_exists",
            NotAMember => "not_a_member",
            RoleTooLow { .. } => "role_too_low",
            InsufficientCredits { .. } => "insufficient_credits",
            WorkspaceSuspended => "workspace_suspended",
            ReservationIdTaken => "reservation_id_taken",
            ReservationNotFound => "reservation_not_found",
            CaptureExceedsReservation { .. } => "capture_exceeds_reservation",
            InvoiceIdTaken => "invoice_id_taken",
            InvoiceNotFound => "invoice_not_found",
            PaymentExceedsInvoice { .. } => "payment_exceeds_invoice",
            BalanceLimit { .. } => "balance_limit",
            OperatorRequired => "operator_required",
            PaymentRequired => "payment_required",
            RunSagaOnly => "internal_command",
        }
    }
}

/// Who may send each command: the money that enters an account comes from outside the tenant.
fn authorize(command: &BillingCommand, access: &Access, context: &CommandContext) -> Result<(), BillingError> {
    use BillingCommand as C;
    let principal = context.principal;
    match command {
        C::ReserveCredits(_) | C::CaptureCredits(_) | C::ReleaseReservation(_) => match principal {
            Principal::Saga => Ok(()),
            _ => Err(BillingError::RunSagaOnly),
        },
        C::PurchaseCredits(_) => match principal {
            Principal::Payments => Ok(()),
            _ => Err(BillingError::PaymentRequired),
        },
        C::GrantCredits(_) | C::SetOverdraftLimit(_) => match principal {
            Principal::Operator => Ok(()),
            _ => Err(BillingError::OperatorRequired),
        },
        C::RecordPayment(_) => match principal {
            Principal::Operator | Principal::Payments => Ok(()),
            _ => Err(BillingError::OperatorRequired),
        },
        C::CloseBillingPeriod(_) if principal == Principal::Operator => Ok(()),
        C::OpenBillingAccount(open) => {
            access.require(Role::Owner)?;
            match open.overdraft_limit {
                0 => Ok(()),
                _ if principal == Principal::Saga => Ok(()),
                _ => Err(BillingError::OperatorRequired),
            }
        }
        C::CloseBillingPeriod(_) => Ok(access.require(Role::Owner)?),
    }
}

pub struct Billing;

impl Decider for Billing {
    type Command = BillingCommand;
    type Event = BillingEvent;
    type State = Account;
    /// The caller's standing in the workspace; the sagas act as owners.
    type Facts = Access;
    type Error = BillingError;

    fn decide(
        command: &BillingCommand,
        account: &Account,
        access: &Access,
        context: &CommandContext,
    ) -> Result<Vec<BillingEvent>, BillingError> {
        authorize(command, access, context)?;
        if let BillingCommand::OpenBillingAccount(open) = command {
            if account.opened {
                return Err(BillingError::AlreadyExists);
            }
            return Ok(vec![
                BillingAccountOpened {
                    workspace_id: context.aggregate_id,
                    plan: open.plan.trim().to_owned(),
                    overdraft_limit: open.overdraft_limit,
                    low_balance_threshold: open.low_balance_threshold,
                }
                .into(),
            ]);
        }
        if !account.opened {
            return Err(BillingError::NotFound);
        }
        let event: BillingEvent = match command {
            BillingCommand::OpenBillingAccount(_) => unreachable!("handled above"),
            BillingCommand::GrantCredits(c) => {
                account.can_take(c.amount)?;
                CreditsGranted { amount: c.amount, reason: c.reason.clone() }.into()
            }
            BillingCommand::PurchaseCredits(c) => {
                // The provider sends a confirmation again until it hears back: counted once.
                if account.payments.contains(&c.payment_ref) {
                    return Ok(Vec::new());
                }
                account.can_take(c.amount)?;
                CreditsPurchased { amount: c.amount, payment_ref: c.payment_ref.clone() }.into()
            }
            BillingCommand::ReserveCredits(c) => {
                if access.suspended {
                    return Err(BillingError::WorkspaceSuspended);
                }
                if account.reservations.contains_key(&c.reservation_id) {
                    return Err(BillingError::ReservationIdTaken);
                }
                if account.available() - c.amount < -account.overdraft_limit {
                    return Err(BillingError::InsufficientCredits {
                        requested: c.amount,
                        available: account.available(),
                        overdraft_limit: account.overdraft_limit,
                    });
                }
                CreditsReserved { reservation_id: c.reservation_id, amount: c.amount, purpose: c.purpose.clone() }
                    .into()
            }
            BillingCommand::CaptureCredits(c) => {
                let reservation =
                    account.reservations.get(&c.reservation_id).ok_or(BillingError::ReservationNotFound)?;
                if c.amount > reservation.remaining {
                    return Err(BillingError::CaptureExceedsReservation {
                        requested: c.amount,
                        remaining: reservation.remaining,
                    });
                }
                let captured = CreditsCaptured { reservation_id: c.reservation_id, amount: c.amount }.into();
                let (before, after, threshold) =
                    (account.balance, account.balance - c.amount, account.low_balance_threshold);
                if before >= threshold && after < threshold {
                    return Ok(vec![captured, BalanceLow { balance: after, threshold }.into()]);
                }
                captured
            }
            BillingCommand::ReleaseReservation(c) => {
                let reservation =
                    account.reservations.get(&c.reservation_id).ok_or(BillingError::ReservationNotFound)?;
                ReservationReleased { reservation_id: c.reservation_id, amount: reservation.remaining }.into()
            }
            BillingCommand::CloseBillingPeriod(c) => {
                let invoice_id = c.invoice_id.unwrap_or(context.new_id);
                if account.invoices.contains_key(&invoice_id) {
                    return Err(BillingError::InvoiceIdTaken);
                }
                BillingPeriodClosed {
                    invoice_id,
                    amount: (-account.balance).max(0),
                    captured_in_period: account.captured_in_period,
                    due_at: context.now + Duration::days(c.due_in_days.unwrap_or(14)),
                }
                .into()
            }
            BillingCommand::RecordPayment(c) => {
                if c.payment_ref.as_ref().is_some_and(|payment| account.payments.contains(payment)) {
                    return Ok(Vec::new());
                }
                let invoice = account.invoices.get(&c.invoice_id).ok_or(BillingError::InvoiceNotFound)?;
                let outstanding = invoice.amount - invoice.paid;
                if c.amount > outstanding {
                    return Err(BillingError::PaymentExceedsInvoice { requested: c.amount, outstanding });
                }
                PaymentRecorded { invoice_id: c.invoice_id, amount: c.amount, payment_ref: c.payment_ref.clone() }
                    .into()
            }
            BillingCommand::SetOverdraftLimit(c) => {
                if c.overdraft_limit == account.overdraft_limit {
                    return Ok(Vec::new());
                }
                OverdraftLimitChanged { overdraft_limit: c.overdraft_limit }.into()
            }
        };
        Ok(vec![event])
    }

    fn evolve(mut account: Account, event: &BillingEvent) -> Account {
        match event {
            BillingEvent::BillingAccountOpened(e) => {
                account.opened = true;
                account.overdraft_limit = e.overdraft_limit;
                account.low_balance_threshold = e.low_balance_threshold;
            }
            BillingEvent::BalanceLow(_) => {}
            BillingEvent::OverdraftLimitChanged(e) => account.overdraft_limit = e.overdraft_limit,
            BillingEvent::CreditsGranted(CreditsGranted { amount, .. })
            | BillingEvent::CreditsPurchased(CreditsPurchased { amount, .. })
            | BillingEvent::PaymentRecorded(PaymentRecorded { amount, .. }) => {
                account.balance += amount;
                if let BillingEvent::PaymentRecorded(e) = event
                    && let Some(invoice) = account.invoices.get_mut(&e.invoice_id)
                {
                    invoice.paid += e.amount;
                }
                let payment = match event {
                    BillingEvent::CreditsPurchased(e) => Some(&e.payment_ref),
                    BillingEvent::PaymentRecorded(e) => e.payment_ref.as_ref(),
                    _ => None,
                };
                if let Some(payment) = payment {
                    account.payments.insert(payment.clone());
                }
            }
            BillingEvent::CreditsReserved(e) => {
                account.reserved += e.amount;
                account.reservations.insert(e.reservation_id, Reservation { remaining: e.amount });
            }
            BillingEvent::CreditsCaptured(e) => {
                account.balance -= e.amount;
                account.reserved -= e.amount;
                account.captured_in_period += e.amount;
                if let Some(reservation) = account.reservations.get_mut(&e.reservation_id) {
                    reservation.remaining -= e.amount;
                }
            }
            BillingEvent::ReservationReleased(e) => {
                account.reserved -= e.amount;
                account.reservations.remove(&e.reservation_id);
            }
            BillingEvent::BillingPeriodClosed(e) => {
                account.captured_in_period = 0;
                account.invoices.insert(e.invoice_id, Invoice { amount: e.amount, paid: 0 });
            }
        }
        account
    }
}

impl Aggregate for Billing {
    const CATEGORY: events::Category = events::Category::Billing;

    fn workspace_id(id: Uuid, _account: &Account) -> Option<Uuid> {
        Some(id)
    }

    fn creates(command: &BillingCommand) -> bool {
        matches!(command, BillingCommand::OpenBillingAccount(_))
    }
}

#[cfg(test)]
mod tests;
