//! The Billing read models: each workspace's account (balance, reserved) and its invoices.

use std::collections::HashMap;

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
    Overdraft {
        limit: i64,
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
        BillingEvent::OverdraftLimitChanged(e) => vec![Change::Overdraft { limit: e.overdraft_limit }, shift(0, 0)],
    };
    Ok(Some((workspace_id, changes)))
}

/// A batch of billing events folded per account and written a statement per kind of change:
/// an account's shifts add up, so a run's reservation, captures and release are one update.
#[derive(Debug, Default)]
pub struct Batch {
    opened: Vec<(Uuid, String, i64, i64, DateTime<Utc>)>,
    invoiced: Vec<Invoiced>,
    /// Invoice, account, amount, the payment's version.
    paid: Vec<(Uuid, Uuid, i64, i64)>,
    /// Account, overdraft limit, the change's version.
    overdrafts: Vec<(Uuid, i64, i64)>,
    shifted: HashMap<Uuid, Shifted>,
}

/// An invoice issued: its id, account, amount, captured credits, issue and due times.
type Invoiced = (Uuid, Uuid, i64, i64, DateTime<Utc>, DateTime<Utc>);

/// What an account's events in one batch add up to.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Shifted {
    balance: i64,
    reserved: i64,
    /// The first and last versions of the account the shifts come from.
    first: i64,
    last: i64,
    at: DateTime<Utc>,
}

impl Batch {
    /// Folds one event in.
    pub fn add(&mut self, event: &RecordedEvent) -> Result<(), events::Error> {
        let Some((workspace_id, changes)) = changes(event)? else {
            return Ok(());
        };
        let (version, at) = (event.stream_version, event.recorded_at);
        for change in changes {
            match change {
                Change::Open { plan, overdraft_limit } => {
                    self.opened.push((workspace_id, plan, overdraft_limit, version, at))
                }
                Change::Invoice { invoice_id, amount, captured_in_period, due_at } => {
                    self.invoiced.push((invoice_id, workspace_id, amount, captured_in_period, at, due_at))
                }
                Change::Pay { invoice_id, amount } => self.paid.push((invoice_id, workspace_id, amount, version)),
                Change::Overdraft { limit } => self.overdrafts.push((workspace_id, limit, version)),
                Change::Shift { balance, reserved } => {
                    let shifted = self.shifted.entry(workspace_id).or_insert(Shifted {
                        balance: 0,
                        reserved: 0,
                        first: version,
                        last: version,
                        at,
                    });
                    shifted.balance = shifted.balance.saturating_add(balance);
                    shifted.reserved = shifted.reserved.saturating_add(reserved);
                    shifted.first = shifted.first.min(version);
                    shifted.last = shifted.last.max(version);
                    shifted.at = shifted.at.max(at);
                }
            }
        }
        Ok(())
    }

    /// Writes what was folded in and forgets it. Accounts are opened first; payments are
    /// guarded by the account's version before the shifts move it; shifts apply only to an
    /// account older than their first event, so a replay changes nothing.
    pub async fn write(&mut self, connection: &mut PgConnection) -> sqlx::Result<()> {
        let Batch { opened, invoiced, paid, overdrafts, shifted } = std::mem::take(self);
        if !opened.is_empty() {
            sqlx::query(
                "insert into rm_billing_accounts (workspace_id, plan, overdraft_limit, version, updated_at) \
                 select * from unnest($1::uuid[], $2::text[], $3::bigint[], $4::bigint[], $5::timestamptz[]) \
                 on conflict (workspace_id) do nothing",
            )
            .bind(opened.iter().map(|o| o.0).collect::<Vec<_>>())
            .bind(opened.iter().map(|o| o.1.as_str()).collect::<Vec<_>>())
            .bind(opened.iter().map(|o| o.2).collect::<Vec<_>>())
            .bind(opened.iter().map(|o| o.3).collect::<Vec<_>>())
            .bind(opened.iter().map(|o| o.4).collect::<Vec<_>>())
            .execute(&mut *connection)
            .await?;
        }
        if !invoiced.is_empty() {
            sqlx::query(
                "insert into rm_invoices (invoice_id, workspace_id, amount, captured_in_period, issued_at, due_at) \
                 select * from unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::bigint[], $5::timestamptz[], \
                                      $6::timestamptz[]) \
                 on conflict (invoice_id) do nothing",
            )
            .bind(invoiced.iter().map(|i| i.0).collect::<Vec<_>>())
            .bind(invoiced.iter().map(|i| i.1).collect::<Vec<_>>())
            .bind(invoiced.iter().map(|i| i.2).collect::<Vec<_>>())
            .bind(invoiced.iter().map(|i| i.3).collect::<Vec<_>>())
            .bind(invoiced.iter().map(|i| i.4).collect::<Vec<_>>())
            .bind(invoiced.iter().map(|i| i.5).collect::<Vec<_>>())
            .execute(&mut *connection)
            .await?;
        }
        // Rare (one per invoice paid), and two may pay one invoice: one at a time.
        for (invoice_id, workspace_id, amount, version) in paid {
            sqlx::query(
                "update rm_invoices set paid = paid + $2 where invoice_id = $1 \
                    and exists (select from rm_billing_accounts where workspace_id = $3 and version < $4)",
            )
            .bind(invoice_id)
            .bind(amount)
            .bind(workspace_id)
            .bind(version)
            .execute(&mut *connection)
            .await?;
        }
        // Rarer still (an operator's decision), and in the order made.
        for (workspace_id, limit, version) in overdrafts {
            sqlx::query("update rm_billing_accounts set overdraft_limit = $2 where workspace_id = $1 and version < $3")
                .bind(workspace_id)
                .bind(limit)
                .bind(version)
                .execute(&mut *connection)
                .await?;
        }
        if !shifted.is_empty() {
            let shifted: Vec<(Uuid, Shifted)> = shifted.into_iter().collect();
            sqlx::query(
                "update rm_billing_accounts a set balance = a.balance + s.balance, \
                        reserved = a.reserved + s.reserved, version = s.last, updated_at = s.at \
                   from unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], \
                               $6::timestamptz[]) as s(workspace_id, balance, reserved, first, last, at) \
                  where a.workspace_id = s.workspace_id and a.version < s.first",
            )
            .bind(shifted.iter().map(|(id, _)| *id).collect::<Vec<_>>())
            .bind(shifted.iter().map(|(_, s)| s.balance).collect::<Vec<_>>())
            .bind(shifted.iter().map(|(_, s)| s.reserved).collect::<Vec<_>>())
            .bind(shifted.iter().map(|(_, s)| s.first).collect::<Vec<_>>())
            .bind(shifted.iter().map(|(_, s)| s.last).collect::<Vec<_>>())
            .bind(shifted.iter().map(|(_, s)| s.at).collect::<Vec<_>>())
            .execute(&mut *connection)
            .await?;
        }
        Ok(())
    }
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
/// Up to `limit` of a workspace's invoices, newest first, after (older than) the invoice
/// `after` (the newest when `None`).
pub async fn invoices(
    executor: impl PgExecutor<'_>,
    workspace_id: WorkspaceId,
    after: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<InvoiceRow>> {
    sqlx::query_as(
        "select invoice_id, amount, paid, captured_in_period, issued_at, due_at from rm_invoices \
          where workspace_id = $1 \
            and ($2::uuid is null or (issued_at, invoice_id) < \
                 (select issued_at, invoice_id from rm_invoices where workspace_id = $1 and invoice_id = $2)) \
          order by issued_at desc, invoice_id desc limit $3",
    )
    .bind(workspace_id.uuid())
    .bind(after)
    .bind(limit)
    .fetch_all(executor)
    .await
}

#[cfg(test)]
mod tests {
    use events::billing::{CreditsCaptured, CreditsReserved, PaymentRecorded, ReservationReleased};
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
    fn a_batch_adds_an_accounts_shifts_up_and_spans_their_versions() {
        let id = Uuid::now_v7();
        let mut batch = Batch::default();
        for (version, event) in [
            (3, BillingEvent::from(CreditsReserved { reservation_id: Uuid::nil(), amount: 10, purpose: "run".into() })),
            (4, CreditsCaptured { reservation_id: Uuid::nil(), amount: 2 }.into()),
            (5, ReservationReleased { reservation_id: Uuid::nil(), amount: 8 }.into()),
        ] {
            batch.add(&RecordedEvent { stream_version: version, ..recorded(event, id) }).unwrap();
        }
        let shifted = batch.shifted[&id];
        assert_eq!((shifted.balance, shifted.reserved, shifted.first, shifted.last), (-2, 0, 3, 5));
    }

    #[test]
    fn a_payment_pays_its_invoice_before_the_account_moves() {
        let (id, invoice_id) = (Uuid::now_v7(), Uuid::now_v7());
        let event = recorded(PaymentRecorded { invoice_id, amount: 5, payment_ref: None }.into(), id);
        assert_eq!(
            changes(&event).unwrap().unwrap().1,
            vec![Change::Pay { invoice_id, amount: 5 }, Change::Shift { balance: 5, reserved: 0 }]
        );
    }
}
