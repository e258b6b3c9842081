//! Secrets Oxbow itself must use, sealed in the log: the keys that sign an agent's webhook
//! calls ([`events::secret_fields`]).
//!
//! They are sealed as personal data is (see [`crate::personal`]), with two differences. Each
//! secret has a key of its own, in `secret_keys`, which names no person, so no erasure finds
//! it. And a sealed secret reads `secret:v1:…`, a prefix nothing that reveals personal data
//! opens: exports, Kafka, the read models and the activity feed all show the seal. Only
//! [`signing_secrets`] opens them, for the executor that signs.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use events::NewEvent;
use serde::Deserialize;
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::Result;
use crate::personal::{key_id_under, new_key, open_under, seal_under, text_fields};

const PREFIX: &str = "secret:v1:";

/// The secret fields of `events` that hold text, to be sealed.
pub(crate) fn secret_texts(events: &mut [NewEvent]) -> Vec<&mut String> {
    events
        .iter_mut()
        .flat_map(|event| text_fields(events::secret_fields(&event.event_type), &mut event.payload))
        .collect()
}

/// Whether `text` is a sealed secret.
pub fn is_sealed(text: &str) -> bool {
    text.starts_with(PREFIX)
}

/// Seals every secret field of `events`, each under a new key of its own.
pub async fn seal<'c, E>(executor: E, events: &mut [NewEvent]) -> Result<()>
where
    E: PgExecutor<'c> + Copy,
{
    for text in secret_texts(events) {
        let (key_id, key) = (Uuid::now_v7(), new_key());
        sqlx::query("insert into secret_keys (key_id, key) values ($1, $2)")
            .bind(key_id)
            .bind(&key[..])
            .execute(executor)
            .await?;
        *text = seal_text(key_id, &key, text);
    }
    Ok(())
}

pub(crate) fn seal_text(key_id: Uuid, key: &[u8], plain: &str) -> String {
    seal_under(PREFIX, key_id, key, plain)
}

/// What a `WebhookSecretIssued` payload says, as far as signing goes.
#[derive(Deserialize)]
struct Issued {
    secret: String,
    #[serde(default)]
    previous_valid_until: Option<DateTime<Utc>>,
}

/// The secrets, in the clear, that sign calls to the agent whose stream is `stream_id` at
/// `now`: its newest, then the one before it while that one's grace lasts. Empty for an agent
/// that was never given one (its calls go unsigned).
pub async fn signing_secrets(
    executor: impl PgExecutor<'_> + Copy,
    stream_id: &str,
    now: DateTime<Utc>,
) -> Result<Vec<String>> {
    let newest: Vec<serde_json::Value> = sqlx::query_scalar(
        "select payload from events where stream_id = $1 and event_type = 'WebhookSecretIssued' \
          order by stream_version desc limit 2",
    )
    .bind(stream_id)
    .fetch_all(executor)
    .await?;
    let issued: Vec<Issued> = newest.into_iter().filter_map(|payload| serde_json::from_value(payload).ok()).collect();
    let in_force = in_force(&issued, now);
    let key_ids: Vec<Uuid> = in_force.iter().filter_map(|sealed| key_id_under(PREFIX, sealed)).collect();
    let keys: Vec<(Uuid, Vec<u8>)> = sqlx::query_as("select key_id, key from secret_keys where key_id = any($1)")
        .bind(&key_ids)
        .fetch_all(executor)
        .await?;
    let keys: HashMap<Uuid, Vec<u8>> = keys.into_iter().collect();
    Ok(in_force.into_iter().filter_map(|sealed| open_under(PREFIX, sealed, &keys)).collect())
}

/// Of the newest issues first, the sealed secrets that sign at `now`.
fn in_force(newest_first: &[Issued], now: DateTime<Utc>) -> Vec<&str> {
    let mut in_force = Vec::new();
    if let Some(newest) = newest_first.first() {
        in_force.push(newest.secret.as_str());
        if let Some(previous) = newest_first.get(1)
            && newest.previous_valid_until.is_some_and(|until| until > now)
        {
            in_force.push(previous.secret.as_str());
        }
    }
    in_force
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_is_not_personal_data_and_opens_with_its_own_key() {
        let (key_id, key) = (Uuid::now_v7(), vec![3u8; 32]);
        let sealed = seal_text(key_id, &key, "whsec_c2VjcmV0");
        assert!(is_sealed(&sealed) && !sealed.contains("c2VjcmV0"));
        assert!(!crate::personal::is_sealed(&sealed), "what reveals personal data leaves it sealed");
        let keys = [(key_id, key)].into_iter().collect();
        assert_eq!(open_under(PREFIX, &sealed, &keys).as_deref(), Some("whsec_c2VjcmV0"));
        let mut texts = [sealed.clone()];
        crate::personal::open_texts(texts.iter_mut().collect(), &keys);
        assert_eq!(texts[0], sealed, "opening personal texts does not open a secret");
    }

    #[test]
    fn the_previous_secret_signs_only_during_its_grace() {
        let now = Utc::now();
        let issued = |secret: &str, grace: Option<i64>| Issued {
            secret: secret.into(),
            previous_valid_until: grace.map(|seconds| now + chrono::Duration::seconds(seconds)),
        };
        assert_eq!(in_force(&[issued("new", Some(60)), issued("old", None)], now), ["new", "old"]);
        assert_eq!(in_force(&[issued("new", Some(-1)), issued("old", None)], now), ["new"]);
        assert_eq!(in_force(&[issued("new", None), issued("old", None)], now), ["new"]);
        assert_eq!(in_force(&[issued("only", Some(60))], now), ["only"]);
        assert!(in_force(&[], now).is_empty());
    }
}
