//! The Billing read models: each workspace's account (balance, reserved) and its invoices.

use events::billing::BillingEvent;
use events::{DomainEvent, RecordedEvent};
use sqlx::PgConnection;
use uuid::Uuid;

/// Moves the account by `balance` and `reserved` if the row is older than this event.
async fn shift(
    connection: &mut PgConnection,
    workspace_id: Uuid,
    event: &RecordedEvent,
    balance: i64,
    reserved: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "update rm_billing_accounts set balance = balance + $2, reserved = reserved + $3, version = $4, \
           updated_at = $5 where workspace_id = $1 and version < $4",
    )
    .bind(workspace_id)
    .bind(balance)
    .bind(reserved)
    .bind(event.stream_version)
    .bind(event.recorded_at)
    .execute(connection)
    .await?;
    Ok(())
}

/// Writes one billing event; returns the workspace whose balance changed.
pub async fn apply(connection: &mut PgConnection, event: &RecordedEvent) -> anyhow::Result<Option<Uuid>> {
    let Some(workspace_id) = event.aggregate_id(events::Category::Billing) else {
        return Ok(None);
    };
    match BillingEvent::from_recorded(event)? {
        BillingEvent::BillingAccountOpened(e) => {
            sqlx::query(
                "insert into rm_billing_accounts (workspace_id, plan, overdraft_limit, version, updated_at) \
                 values ($1, $2, $3, $4, $5) on conflict (workspace_id) do nothing",
            )
            .bind(workspace_id)
            .bind(&e.plan)
            .bind(e.overdraft_limit)
            .bind(event.stream_version)
            .bind(event.recorded_at)
            .execute(&mut *connection)
            .await?;
        }
        BillingEvent::CreditsGranted(e) => shift(connection, workspace_id, event, e.amount, 0).await?,
        BillingEvent::CreditsPurchased(e) => shift(connection, workspace_id, event, e.amount, 0).await?,
        BillingEvent::CreditsReserved(e) => shift(connection, workspace_id, event, 0, e.amount).await?,
        BillingEvent::CreditsCaptured(e) => shift(connection, workspace_id, event, -e.amount, -e.amount).await?,
        BillingEvent::ReservationReleased(e) => shift(connection, workspace_id, event, 0, -e.amount).await?,
        BillingEvent::BalanceLow(_) => shift(connection, workspace_id, event, 0, 0).await?,
        BillingEvent::BillingPeriodClosed(e) => {
            sqlx::query(
                "insert into rm_invoices (invoice_id, workspace_id, amount, captured_in_period, issued_at, due_at) \
                 values ($1, $2, $3, $4, $5, $6) on conflict (invoice_id) do nothing",
            )
            .bind(e.invoice_id)
            .bind(workspace_id)
            .bind(e.amount)
            .bind(e.captured_in_period)
            .bind(event.recorded_at)
            .bind(e.due_at)
            .execute(&mut *connection)
            .await?;
            shift(connection, workspace_id, event, 0, 0).await?;
        }
        BillingEvent::PaymentRecorded(e) => {
            // Only when the account has not seen this event yet: its version is older.
            let (older,): (bool,) = sqlx::query_as(
                "select coalesce((select version < $2 from rm_billing_accounts where workspace_id = $1), false)",
            )
            .bind(workspace_id)
            .bind(event.stream_version)
            .fetch_one(&mut *connection)
            .await?;
            if older {
                sqlx::query("update rm_invoices set paid = paid + $2 where invoice_id = $1")
                    .bind(e.invoice_id)
                    .bind(e.amount)
                    .execute(&mut *connection)
                    .await?;
            }
            shift(connection, workspace_id, event, e.amount, 0).await?;
        }
    }
    Ok(Some(workspace_id))
}
