//! The Billing read models: each workspace's account (balance, reserved) and its invoices.

use chrono::{DateTime, Utc};
use events::billing::BillingEvent;
use events::{Category, DomainEvent, RecordedEvent, WorkspaceId};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// One change to the Billing read models.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Open {
        plan: String,
        overdraft_limit: i64,
    },
    /// The account's balance and reserved credits move by these amounts.
    Shift {
        balance: i64,
        reserved: i64,
    },
    Invoice {
        invoice_id: Uuid,
        amount: i64,
        captured_in_period: i64,
        due_at: DateTime<Utc>,
    },
    Pay {
        invoice_id: Uuid,
        amount: i64,
    },
}

/// The account (its workspace's id) an event is about, and what it changes. Every event of the
/// account moves its version, so each has a `Shift`, of nothing if need be. Events of other
/// contexts change nothing.
pub fn changes(event: &RecordedEvent) -> Result<Option<(Uuid, Vec<Change>)>, events::Error> {
    let Some(workspace_id) = event.aggregate_id(Category::Billing) else {
        return Ok(None);
    };
    let shift = |balance, reserved| Change::Shift { balance, reserved };
    let changes = match BillingEvent::from_recorded(event)? {
        BillingEvent::BillingAccountOpened(e) => {
            vec![Change::Open { plan: e.plan, overdraft_limit: e.overdraft_limit }]
        }
        BillingEvent::CreditsGranted(e) => vec![shift(e.amount, 0)],
        BillingEvent::CreditsPurchased(e) => vec![shift(e.amount, 0)],
        BillingEvent::CreditsReserved(e) => vec![shift(0, e.amount)],
        BillingEvent::CreditsCaptured(e) => vec![shift(-e.amount, -e.amount)],
        BillingEvent::ReservationReleased(e) => vec![shift(0, -e.amount)],
        BillingEvent::BalanceLow(_) => vec![shift(0, 0)],
        BillingEvent::BillingPeriodClosed(e) => vec![
            Change::Invoice {
                invoice_id: e.invoice_id,
                amount: e.amount,
                captured_in_period: e.captured_in_period,
                due_at: e.due_at,
            },
            shift(0, 0),
        ],
        BillingEvent::PaymentRecorded(e) => {
            vec![Change::Pay { invoice_id: e.invoice_id, amount: e.amount }, shift(e.amount, 0)]
        }
    };
    Ok(Some((workspace_id, changes)))
}

/// Writes one billing event; returns the workspace whose balance changed. Additions apply only
/// while the account is older than the event, so a replay changes nothing.
pub async fn apply(connection: &mut PgConnection, event: &RecordedEvent) -> anyhow::Result<Option<Uuid>> {
    let Some((workspace_id, changes)) = changes(event)? else {
        return Ok(None);
    };
    for change in changes {
        match change {
            Change::Open { plan, overdraft_limit } => {
                sqlx::query(
                    "insert into rm_billing_accounts (workspace_id, plan, overdraft_limit, version, updated_at) \
                     values ($1, $2, $3, $4, $5) on conflict (workspace_id) do nothing",
                )
                .bind(workspace_id)
                .bind(plan)
                .bind(overdraft_limit)
                .bind(event.stream_version)
                .bind(event.recorded_at)
                .execute(&mut *connection)
                .await?;
            }
            Change::Shift { balance, reserved } => {
                sqlx::query(
                    "update rm_billing_accounts set balance = balance + $2, reserved = reserved + $3, version = $4, \
                       updated_at = $5 where workspace_id = $1 and version < $4",
                )
                .bind(workspace_id)
                .bind(balance)
                .bind(reserved)
                .bind(event.stream_version)
                .bind(event.recorded_at)
                .execute(&mut *connection)
                .await?;
            }
            Change::Invoice { invoice_id, amount, captured_in_period, due_at } => {
                sqlx::query(
                    "insert into rm_invoices (invoice_id, workspace_id, amount, captured_in_period, issued_at, due_at) \
                     values ($1, $2, $3, $4, $5, $6) on conflict (invoice_id) do nothing",
                )
                .bind(invoice_id)
                .bind(workspace_id)
                .bind(amount)
                .bind(captured_in_period)
                .bind(event.recorded_at)
                .bind(due_at)
                .execute(&mut *connection)
                .await?;
            }
            // Before the account's shift, which moves its version past this event.
            Change::Pay { invoice_id, amount } => {
                sqlx::query(
                    "update rm_invoices set paid = paid + $2 where invoice_id = $1 \
                        and exists (select from rm_billing_accounts \
                                     where workspace_id = $3 and version < $4)",
                )
                .bind(invoice_id)
                .bind(amount)
                .bind(workspace_id)
                .bind(event.stream_version)
                .execute(&mut *connection)
                .await?;
            }
        }
    }
    Ok(Some(workspace_id))
}

/// A workspace's credit account.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct AccountRow {
    pub plan: String,
    pub balance: i64,
    pub reserved: i64,
    pub overdraft_limit: i64,
    pub updated_at: DateTime<Utc>,
}

/// One of a workspace's invoices.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct InvoiceRow {
    pub invoice_id: Uuid,
    pub amount: i64,
    pub paid: i64,
    pub captured_in_period: i64,
    pub issued_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
}

/// The workspace's account; `None` when none is open.
pub async fn account(executor: impl PgExecutor<'_>, workspace_id: WorkspaceId) -> sqlx::Result<Option<AccountRow>> {
    sqlx::query_as(
        "select plan, balance, reserved, overdraft_limit, updated_at from rm_billing_accounts where workspace_id = $1",
    )
    .bind(workspace_id.uuid())
    .fetch_optional(executor)
    .await
}

/// The workspace's invoices, newest first.
pub async fn invoices(executor: impl PgExecutor<'_>, workspace_id: WorkspaceId) -> sqlx::Result<Vec<InvoiceRow>> {
    sqlx::query_as(
        "select invoice_id, amount, paid, captured_in_period, issued_at, due_at from rm_invoices \
          where workspace_id = $1 order by issued_at desc",
    )
    .bind(workspace_id.uuid())
    .fetch_all(executor)
    .await
}

#[cfg(test)]
mod tests {
    use events::billing::{CreditsCaptured, PaymentRecorded};
    use serde_json::json;

    use super::*;

    fn recorded(event: BillingEvent, workspace_id: Uuid) -> RecordedEvent {
        RecordedEvent {
            position: 1,
            stream_id: events::billing::stream_id(workspace_id),
            stream_version: 2,
            event_id: Uuid::nil(),
            event_type: event.event_type().into(),
            schema_version: 1,
            payload: event.to_payload(),
            metadata: json!({}),
            recorded_at: Utc::now(),
            hash: events::GENESIS_HASH,
        }
    }

    #[test]
    fn a_capture_takes_from_both_the_balance_and_the_reservation() {
        let id = Uuid::now_v7();
        let event = recorded(CreditsCaptured { reservation_id: Uuid::nil(), amount: 7 }.into(), id);
        assert_eq!(changes(&event).unwrap(), Some((id, vec![Change::Shift { balance: -7, reserved: -7 }])));
    }

    #[test]
    fn a_payment_pays_its_invoice_before_the_account_moves() {
        let (id, invoice_id) = (Uuid::now_v7(), Uuid::now_v7());
        let event = recorded(PaymentRecorded { invoice_id, amount: 5 }.into(), id);
        assert_eq!(
            changes(&event).unwrap().unwrap().1,
            vec![Change::Pay { invoice_id, amount: 5 }, Change::Shift { balance: 5, reserved: 0 }]
        );
    }
}
