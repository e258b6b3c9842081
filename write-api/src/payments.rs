//! `POST /v1/payments/webhook`: the payment provider confirms a payment, and the workspace's
//! account is credited (or its invoice paid) once per payment.
//!
//! The provider signs each delivery the way the common providers do: the header
//! `Oxbow-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, keyed with the
//! secret the operator shares with it (`OXBOW_PAYMENT_WEBHOOK_SECRET`). A delivery older than
//! five minutes is refused, so a captured one cannot be replayed later; a repeated delivery of
//! a payment changes nothing, since the account counts each payment id once.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use uuid::Uuid;

use app::{Accepted, Caller, CommandRequest, CommandService};
use commands::billing::{BillingCommand, PurchaseCredits, RecordPayment};
use events::WorkspaceId;

use crate::problem::Problem;

/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "oxbow-signature";
/// How old a delivery may be, in seconds, either way.
const TOLERANCE_SECONDS: u64 = 300;
/// The most `v1=` entries a delivery may carry: a provider rotating its secret sends two.
const MAX_SIGNATURES: usize = 3;

/// One confirmed payment. Unknown members are ignored: providers add fields.
#[derive(Debug, Deserialize)]
pub struct Payment {
    /// The provider's id of the payment: each is counted once.
    pub id: String,
    /// Only `payment.succeeded` credits anything; other kinds are acknowledged and ignored.
    #[serde(rename = "type")]
    pub kind: String,
    pub workspace_id: Uuid,
    pub amount: i64,
    /// Pays this invoice rather than buying credits.
    #[serde(default)]
    pub invoice_id: Option<Uuid>,
}

/// Why a delivery's signature is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum SignatureError {
    Missing,
    Malformed,
    TooMany,
    Stale,
    Mismatch,
}

/// Checks `header` against `body`, signed at most [`TOLERANCE_SECONDS`] from `now`. The body
/// is hashed once, however many signatures the header carries (at most [`MAX_SIGNATURES`]),
/// and each is compared in constant time.
pub fn verify(secret: &[u8], header: Option<&str>, body: &[u8], now: i64) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let (mut timestamp, mut signatures) = (None, Vec::new());
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", _)) if signatures.len() == MAX_SIGNATURES => return Err(SignatureError::TooMany),
            Some(("v1", value)) => signatures.push(hex::decode(value).map_err(|_| SignatureError::Malformed)?),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if now.abs_diff(timestamp) > TOLERANCE_SECONDS {
        return Err(SignatureError::Stale);
    }
    // A provider rotating its secret sends one signature per secret: any may match. The MAC's
    // state after the body is kept; each comparison only finishes a copy of it.
    let signed = mac(secret, timestamp, body);
    let matches = signatures.iter().any(|signature| signed.clone().verify_slice(signature).is_ok());
    if matches { Ok(()) } else { Err(SignatureError::Mismatch) }
}

/// The header a provider would send for `body` at `timestamp` (for tests and tools).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", hex::encode(mac(secret, timestamp, body).finalize().into_bytes()))
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// What a verified delivery asks of the account, if anything.
pub fn command_of(payment: &Payment) -> Option<CommandRequest> {
    if payment.kind != "payment.succeeded" {
        return None;
    }
    let workspace = WorkspaceId::from(payment.workspace_id);
    let command = match payment.invoice_id {
        Some(invoice_id) => BillingCommand::RecordPayment(RecordPayment {
            invoice_id,
            amount: payment.amount,
            payment_ref: Some(payment.id.clone()),
        }),
        None => {
            BillingCommand::PurchaseCredits(PurchaseCredits { amount: payment.amount, payment_ref: payment.id.clone() })
        }
    };
    Some(CommandRequest::billing(workspace, command))
}

/// Verifies, reads and carries out one delivery.
pub async fn receive(
    service: &CommandService,
    secret: &[u8],
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Option<Accepted>, Problem> {
    let header = headers.get(SIGNATURE_HEADER).and_then(|value| value.to_str().ok());
    verify(secret, header, body, chrono::Utc::now().timestamp()).map_err(|error| {
        let detail = match error {
            SignatureError::Missing => "the Oxbow-Signature header is missing",
            SignatureError::Malformed => "the Oxbow-Signature header is not `t=<unix seconds>,v1=<hex>`",
            SignatureError::TooMany => "the Oxbow-Signature header carries more than 3 signatures",
            SignatureError::Stale => "the delivery was signed more than five minutes from now",
            SignatureError::Mismatch => "the signature does not match the body",
        };
        Problem::new(StatusCode::UNAUTHORIZED, "invalid_signature", "The signature is not valid", detail)
    })?;
    let payment: Payment = serde_json::from_slice(body).map_err(|error| Problem::malformed(error.to_string()))?;
    let Some(request) = command_of(&payment) else {
        return Ok(None);
    };
    request.command.validate().map_err(|error| Problem::invalid(&error))?;
    let correlation_id = Uuid::now_v7();
    Ok(Some(service.execute(request, &Caller::payments(), None, correlation_id).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_body_verifies_and_any_change_does_not() {
        let secret = b"whsec_test";
        let body = br#"{"id":"pay_1"}"#;
        let header = sign(secret, 1_000, body);
        assert_eq!(verify(secret, Some(&header), body, 1_000), Ok(()));
        assert_eq!(verify(secret, Some(&header), body, 1_299), Ok(()));
        assert_eq!(verify(secret, Some(&header), br#"{"id":"pay_2"}"#, 1_000), Err(SignatureError::Mismatch));
        assert_eq!(verify(b"another", Some(&header), body, 1_000), Err(SignatureError::Mismatch));
        assert_eq!(verify(secret, Some(&header), body, 1_301), Err(SignatureError::Stale));
        assert_eq!(verify(secret, None, body, 1_000), Err(SignatureError::Missing));
        assert_eq!(verify(secret, Some("t=1000"), body, 1_000), Err(SignatureError::Malformed));
        assert_eq!(verify(secret, Some("v1=zz,t=1000"), body, 1_000), Err(SignatureError::Malformed));
        // During a rotation the provider signs with both secrets.
        let rotated = format!("{},v1={}", sign(b"old", 1_000, body), &sign(secret, 1_000, body)["t=1000,v1=".len()..]);
        assert_eq!(verify(secret, Some(&rotated), body, 1_000), Ok(()));
    }

    #[test]
    fn a_header_of_many_signatures_is_refused_before_any_is_computed() {
        let (secret, body) = (b"whsec_test", br#"{"id":"pay_1"}"#);
        let valid = sign(secret, 1_000, body);
        let three = format!("{valid},v1={},v1={}", "00".repeat(32), "11".repeat(32));
        assert_eq!(verify(secret, Some(&three), body, 1_000), Ok(()), "three are allowed");
        let many = format!("{valid}{}", format!(",v1={}", "00".repeat(32)).repeat(10_000));
        assert_eq!(verify(secret, Some(&many), body, 1_000), Err(SignatureError::TooMany));
    }

    #[test]
    fn a_timestamp_at_the_ends_of_the_range_is_stale_not_an_overflow() {
        let (secret, body) = (b"whsec_test", b"{}");
        let header = sign(secret, i64::MIN, body);
        assert_eq!(verify(secret, Some(&header), body, i64::MAX), Err(SignatureError::Stale));
        let header = sign(secret, i64::MAX, body);
        assert_eq!(verify(secret, Some(&header), body, i64::MIN), Err(SignatureError::Stale));
    }
}
