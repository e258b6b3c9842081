//! Signatures on outgoing webhook calls, as Standard Webhooks specifies
//! (<https://www.standardwebhooks.com>): the receiver checks them with any of its libraries.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The `webhook-signature` header for a call with `id`, `timestamp` (Unix seconds) and `body`,
/// signed with each of `secrets` (`whsec_…`): `v1,<base64 HMAC-SHA256>`, space-separated, so
/// that during a rotation a receiver that holds either secret accepts the call. `None` when
/// there is no secret to sign with.
pub fn signature(secrets: &[String], id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let signatures: Vec<String> =
        secrets.iter().filter_map(|secret| sign(secret, id, timestamp, body)).map(|mac| format!("v1,{mac}")).collect();
    (!signatures.is_empty()).then(|| signatures.join(" "))
}

/// The base64 HMAC-SHA256 of `{id}.{timestamp}.{body}` under the secret's key.
fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let key = STANDARD.decode(secret.strip_prefix("whsec_").unwrap_or(secret)).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    Some(STANDARD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification.
    #[test]
    fn signs_as_the_specification_s_example() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned();
        let signed = signature(&[secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, br#"{"test": 2432232314}"#);
        assert_eq!(signed.as_deref(), Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));
    }

    #[test]
    fn each_secret_signs_and_none_signs_nothing() {
        let secrets = ["whsec_AAAA".to_owned(), "whsec_BBBB".to_owned()];
        let both = signature(&secrets, "id", 1, b"{}").unwrap();
        let parts: Vec<&str> = both.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_ne!(parts[0], parts[1]);
        assert_eq!(signature(&secrets[..1], "id", 1, b"{}").as_deref(), Some(parts[0]));
        assert_eq!(signature(&[], "id", 1, b"{}"), None);
        assert_eq!(signature(&["whsec_not base64!".to_owned()], "id", 1, b"{}"), None);
    }
}
