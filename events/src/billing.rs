//! Events of the Billing context: one credit account per workspace. Money is whole credits.
//! available = balance − reserved, and never below −overdraft_limit.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The stream that holds a workspace's billing account.
pub fn stream_id(workspace_id: Uuid) -> String {
    crate::StreamId::new(crate::Category::Billing, workspace_id).to_string()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BillingAccountOpened {
    pub workspace_id: Uuid,
    pub plan: String,
    pub overdraft_limit: i64,
    /// A capture that takes the balance below this raises `BalanceLow`.
    #[serde(default)]
    pub low_balance_threshold: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditsGranted {
    pub amount: i64,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditsPurchased {
    pub amount: i64,
    pub payment_ref: String,
}

/// Credits set aside (for a run's budget); they count against what is available.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditsReserved {
    pub reservation_id: Uuid,
    pub amount: i64,
    pub purpose: String,
}

/// Credits used from a reservation: they leave the balance and the reservation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditsCaptured {
    pub reservation_id: Uuid,
    pub amount: i64,
}

/// What remained of a reservation goes back to what is available; the reservation is closed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReservationReleased {
    pub reservation_id: Uuid,
    pub amount: i64,
}

/// A capture took the balance below the account's low-balance threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BalanceLow {
    pub balance: i64,
    pub threshold: i64,
}

/// A period closed with an invoice for the overdraft used (the negative balance), due at `due_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BillingPeriodClosed {
    pub invoice_id: Uuid,
    pub amount: i64,
    pub captured_in_period: i64,
    pub due_at: DateTime<Utc>,
}

/// A payment of an invoice; its amount comes back to the balance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentRecorded {
    pub invoice_id: Uuid,
    pub amount: i64,
    /// The payment provider's id of the payment, when its webhook recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_ref: Option<String>,
}

/// An operator set how far below zero the account's available credits may go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OverdraftLimitChanged {
    pub overdraft_limit: i64,
}

crate::event_enum! {
    /// Every event of a billing account's stream.
    pub enum BillingEvent {
        BillingAccountOpened,
        CreditsGranted,
        CreditsPurchased,
        CreditsReserved,
        CreditsCaptured,
        BalanceLow,
        ReservationReleased,
        BillingPeriodClosed,
        PaymentRecorded,
        OverdraftLimitChanged,
    }
}
