//! What makes two requests "the same" for an idempotency key.

use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The hash stored with an idempotency key: type, id, expected version and the payload in
/// canonical form (so white space and key order do not count). Stored keys are compared with
/// it after an upgrade too, so its bytes must never change.
pub(crate) fn request_hash(command_type: &str, id: Uuid, expected_version: Option<i64>, payload: &Value) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(command_type.as_bytes());
    hasher.update([0]);
    hasher.update(id.as_bytes());
    hasher.update(expected_version.unwrap_or(-1).to_be_bytes());
    hasher.update(events::canonical::to_vec(payload));
    hasher.finalize().to_vec()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Pinned: keys stored by earlier releases, the sagas' `capture:{run}:{step}:{attempt}`
    /// among them, must keep answering.
    #[test]
    fn the_request_hash_is_the_one_stored_keys_were_made_with() {
        let id: Uuid = "0190a0b2-7c4e-7000-8000-00000000abcd".parse().unwrap();
        let capture = json!({"reservation_id": "0190a0b2-7c4e-7000-8000-000000000001", "amount": 12});
        assert_eq!(
            hex::encode(request_hash("CaptureCredits", id, None, &capture)),
            "068d836e4bb2f494550a488f1819170bbcc7d171f1bcd807cd96c229fdee9ccb"
        );
        let rename = json!({"name": "Ré  \"x\"", "b": [1, 2.5, null], "a": {"z": true}});
        assert_eq!(
            hex::encode(request_hash("RenameWorkspace", id, Some(3), &rename)),
            "c1b8dcdf7649f5b0f71b416e9c608acac146fdbf4b586bdc098c5ec20c4bccbb"
        );
    }

    #[test]
    fn a_typed_command_hashes_as_its_payload_sent_over_http() {
        use commands::billing::{BillingCommand, CaptureCredits};
        let reservation_id: Uuid = "0190a0b2-7c4e-7000-8000-000000000001".parse().unwrap();
        let capture = BillingCommand::from(CaptureCredits { reservation_id, amount: 12 });
        let typed = crate::CommandRequest::billing(Uuid::nil().into(), capture);
        let sent = json!({"amount": 12, "reservation_id": reservation_id});
        assert_eq!(
            request_hash("CaptureCredits", Uuid::nil(), None, &typed.payload),
            request_hash("CaptureCredits", Uuid::nil(), None, &sent)
        );
    }
}
