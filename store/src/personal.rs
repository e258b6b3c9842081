//! Personal data in the log, sealed under a key per person, and crypto-shredding.
//!
//! Before an event with [`events::personal_fields`] is appended, each such field is encrypted
//! (ChaCha20-Poly1305) under its subject's key and replaced by a sealed string,
//! `pii:v1:{key id}:{nonce and ciphertext, base64url}`. The log, Kafka, the read models and
//! snapshots only ever hold that string. Whoever shows the data reveals it with [`reveal`];
//! once the subject is forgotten their key is gone and the field reads [`ERASED`]. The hash
//! chain covers the ciphertext, so the log still verifies.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use events::{NewEvent, RecordedEvent};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::Result;

/// What a sealed field reads once its subject is forgotten.
pub const ERASED: &str = "[erased]";
const PREFIX: &str = "pii:v1:";

/// The subject's name as keys are filed: a lower-case email, trimmed.
pub fn normalise(subject: &str) -> String {
    subject.trim().to_lowercase()
}

pub(crate) fn subject_hash(subject: &str) -> Vec<u8> {
    Sha256::digest(normalise(subject).as_bytes()).to_vec()
}

/// Seals every personal field of `events` under its subject's key, making keys as needed.
pub async fn seal<'c, E>(executor: E, events: &mut [NewEvent]) -> Result<()>
where
    E: PgExecutor<'c> + Copy,
{
    for text in personal_texts(events) {
        let (key_id, key) = key_for(executor, text).await?;
        *text = seal_text(key_id, &key, text);
    }
    Ok(())
}

/// The personal fields of `events` that hold text, to be sealed.
pub(crate) fn personal_texts(events: &mut [NewEvent]) -> Vec<&mut String> {
    events
        .iter_mut()
        .flat_map(|event| text_fields(events::personal_fields(&event.event_type), &mut event.payload))
        .collect()
}

/// The `fields` of a payload that hold text.
pub(crate) fn text_fields<'a>(
    fields: &'static [&'static str],
    payload: &'a mut Value,
) -> impl Iterator<Item = &'a mut String> {
    let object = payload.as_object_mut().into_iter().flat_map(|object| object.iter_mut());
    object.filter(move |(name, _)| fields.contains(&name.as_str())).filter_map(|(_, value)| match value {
        Value::String(text) => Some(text),
        _ => None,
    })
}

/// Replaces every sealed personal field of `events` with its plain text, or with [`ERASED`]
/// when its subject has been forgotten.
pub async fn reveal(executor: impl PgExecutor<'_>, events: &mut [RecordedEvent]) -> Result<()> {
    reveal_texts(executor, sealed_texts(events)).await
}

/// The personal fields of recorded `events`, sealed as the log holds them.
pub(crate) fn sealed_texts(events: &mut [RecordedEvent]) -> Vec<&mut String> {
    events
        .iter_mut()
        .flat_map(|event| text_fields(events::personal_fields(&event.event_type), &mut event.payload))
        .collect()
}

/// Replaces each sealed string with its plain text, or with [`ERASED`]; other strings are left
/// as they are. One query for all of them. (Read models keep fields sealed, as the log does.)
pub async fn reveal_texts(executor: impl PgExecutor<'_>, texts: Vec<&mut String>) -> Result<()> {
    let sealed: Vec<&mut String> = texts.into_iter().filter(|text| text.starts_with(PREFIX)).collect();
    if sealed.is_empty() {
        return Ok(());
    }
    let mut key_ids: Vec<Uuid> = sealed.iter().filter_map(|text| key_id_of(text)).collect();
    key_ids.sort_unstable();
    key_ids.dedup();
    let keys: Vec<(Uuid, Option<Vec<u8>>)> =
        sqlx::query_as("select key_id, key from personal_data_keys where key_id = any($1)")
            .bind(&key_ids)
            .fetch_all(executor)
            .await?;
    let keys: std::collections::HashMap<Uuid, Vec<u8>> =
        keys.into_iter().filter_map(|(id, key)| Some((id, key?))).collect();
    open_texts(sealed, &keys);
    Ok(())
}

/// Replaces each sealed string with its plain text, or with [`ERASED`] when its key is not
/// among `keys`; other strings are left as they are.
pub(crate) fn open_texts(texts: Vec<&mut String>, keys: &std::collections::HashMap<Uuid, Vec<u8>>) {
    for text in texts.into_iter().filter(|text| text.starts_with(PREFIX)) {
        *text = open_text(text, keys).unwrap_or_else(|| ERASED.to_owned());
    }
}

/// Whether `text` is sealed personal data.
pub(crate) fn is_sealed(text: &str) -> bool {
    text.starts_with(PREFIX)
}

/// The key a sealed string was sealed under.
pub fn key_id_of(text: &str) -> Option<Uuid> {
    key_id_under(PREFIX, text)
}

/// The key a string sealed with `prefix` was sealed under.
pub(crate) fn key_id_under(prefix: &str, text: &str) -> Option<Uuid> {
    let rest = text.strip_prefix(prefix)?;
    rest.split_once(':')?.0.parse().ok()
}

/// The keys not yet destroyed that `email`'s data is sealed under.
pub async fn live_keys_of(executor: impl PgExecutor<'_>, email: &str) -> Result<Vec<Uuid>> {
    let keys = sqlx::query_scalar("select key_id from personal_data_keys where subject_hash = $1 and key is not null")
        .bind(subject_hash(email))
        .fetch_all(executor)
        .await?;
    Ok(keys)
}

/// Records the erasure of `key_ids` in the log (`SubjectForgotten` by `actor`, on the
/// operations stream), then destroys them ([`forget`]). The log first: an erasure that is not
/// recorded does not happen, and one recorded twice (a rerun after a crash in between) is
/// harmless. Returns how many keys were destroyed.
pub async fn erase(pool: &sqlx::PgPool, key_ids: &[Uuid], actor: &str) -> Result<u64> {
    use events::operations::{OperationsEvent, SubjectForgotten};
    let erasure = OperationsEvent::from(SubjectForgotten { key_ids: key_ids.to_vec() });
    let metadata = events::Metadata {
        actor: actor.to_owned(),
        workspace_id: None,
        correlation_id: Uuid::now_v7(),
        causation_id: Uuid::now_v7(),
    };
    let log = crate::EventStore::new(pool.clone(), crate::CommitterConfig::default());
    log.append(crate::AppendRequest::to_stream(
        events::operations::stream_id(),
        crate::ExpectedVersion::Any,
        vec![NewEvent::from_domain(Uuid::now_v7(), &erasure, &metadata)],
    ))
    .await?;
    forget(pool, key_ids).await
}

/// Which of `key_ids` are not destroyed yet, in order.
pub async fn live_keys(executor: impl PgExecutor<'_>, key_ids: &[Uuid]) -> Result<Vec<Uuid>> {
    let live = sqlx::query_scalar(
        "select key_id from personal_data_keys where key_id = any($1) and key is not null order by key_id",
    )
    .bind(key_ids)
    .fetch_all(executor)
    .await?;
    Ok(live)
}

/// Destroys the keys `key_ids`, and the snapshots that were folded from their revealed data.
/// Returns how many keys were destroyed (0 when there was nothing left to forget). Without
/// [`erase`]'s record in the log, a restore brings them back.
pub async fn forget(pool: &sqlx::PgPool, key_ids: &[Uuid]) -> Result<u64> {
    let mut transaction = pool.begin().await?;
    let forgotten = sqlx::query(
        "update personal_data_keys set key = null, subject_hash = null, forgotten_at = now() \
          where key is not null and key_id = any($1)",
    )
    .bind(key_ids)
    .execute(&mut *transaction)
    .await?
    .rows_affected();
    drop_revealed_snapshots(&mut transaction, forgotten).await?;
    transaction.commit().await?;
    Ok(forgotten)
}

/// Destroys again every key the log says was forgotten (`SubjectForgotten`) that is there
/// again: a restore to a moment between the erasure's record and the keys' destruction, or a
/// copy of the keys older than the log. Idempotent; with nothing recorded, one index read of
/// the operations stream. Returns how many keys were destroyed.
pub async fn reapply_erasures(pool: &sqlx::PgPool) -> Result<u64> {
    let recorded: Vec<Uuid> = sqlx::query_scalar(
        "select distinct (jsonb_array_elements_text(payload->'key_ids'))::uuid from events \
          where stream_id = $1 and event_type = 'SubjectForgotten'",
    )
    .bind(events::operations::stream_id())
    .fetch_all(pool)
    .await?;
    match recorded.is_empty() {
        true => Ok(0),
        false => forget(pool, &recorded).await,
    }
}

/// Once keys are destroyed, snapshots of streams with personal data may hold it revealed.
async fn drop_revealed_snapshots(transaction: &mut sqlx::PgConnection, forgotten: u64) -> Result<()> {
    if forgotten > 0 {
        sqlx::query(
            "delete from snapshots s where exists \
               (select 1 from events e where e.stream_id = s.stream_id and e.event_type = any($1))",
        )
        .bind(events::personal_event_types().collect::<Vec<_>>())
        .execute(transaction)
        .await?;
    }
    Ok(())
}

/// A fresh 256-bit key.
pub(crate) fn new_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).expect("the operating system provides randomness");
    key
}

async fn key_for<'c>(executor: impl PgExecutor<'c> + Copy, subject: &str) -> Result<(Uuid, Vec<u8>)> {
    let hash = subject_hash(subject);
    let key = new_key();
    // Made here unless the subject has a key; a racing insert of the same subject is read on
    // the second try.
    for _ in 0..2 {
        let row: Option<(Uuid, Vec<u8>)> = sqlx::query_as(
            "with made as ( \
                 insert into personal_data_keys (key_id, subject_hash, key) values ($1, $2, $3) \
                 on conflict (subject_hash) do nothing returning key_id, key) \
             select key_id, key from made \
             union all select key_id, key from personal_data_keys where subject_hash = $2 \
             limit 1",
        )
        .bind(Uuid::now_v7())
        .bind(&hash)
        .bind(&key[..])
        .fetch_optional(executor)
        .await?;
        if let Some(found) = row {
            return Ok(found);
        }
    }
    Err(crate::Error::Seal("no key could be made for a subject".into()))
}

pub(crate) fn seal_text(key_id: Uuid, key: &[u8], plain: &str) -> String {
    seal_under(PREFIX, key_id, key, plain)
}

pub(crate) fn open_text(text: &str, keys: &std::collections::HashMap<Uuid, Vec<u8>>) -> Option<String> {
    open_under(PREFIX, text, keys)
}

/// Seals `plain` under `key`, as `{prefix}{key id}:{nonce and ciphertext, base64url}`; the key
/// id is authenticated with it.
pub(crate) fn seal_under(prefix: &str, key_id: Uuid, key: &[u8], plain: &str) -> String {
    let cipher = ChaCha20Poly1305::new_from_slice(key).expect("keys are made 32 bytes long");
    let mut nonce = [0u8; 12];
    // The OS's randomness failing is not something to carry on from.
    getrandom::fill(&mut nonce).expect("the operating system provides randomness");
    let sealed = cipher
        .encrypt(&Nonce::from(nonce), Payload { msg: plain.as_bytes(), aad: key_id.as_bytes() })
        .expect("ChaCha20-Poly1305 encrypts any message that fits in memory");
    let mut bytes = nonce.to_vec();
    bytes.extend(sealed);
    format!("{prefix}{key_id}:{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// What [`seal_under`] sealed with `prefix`, opened with its key among `keys`.
pub(crate) fn open_under(prefix: &str, text: &str, keys: &std::collections::HashMap<Uuid, Vec<u8>>) -> Option<String> {
    let (key_id, body) = text.strip_prefix(prefix)?.split_once(':')?;
    let key_id: Uuid = key_id.parse().ok()?;
    let key = keys.get(&key_id)?;
    let bytes = URL_SAFE_NO_PAD.decode(body).ok()?;
    if bytes.len() < 12 {
        return None;
    }
    let (nonce, sealed) = bytes.split_at(12);
    let nonce: [u8; 12] = nonce.try_into().ok()?;
    let cipher = ChaCha20Poly1305::new_from_slice(key).ok()?;
    let plain = cipher.decrypt(&Nonce::from(nonce), Payload { msg: sealed, aad: key_id.as_bytes() }).ok()?;
    String::from_utf8(plain).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_text_opens_only_with_its_key() {
        let (key_id, key) = (Uuid::now_v7(), vec![7u8; 32]);
        let sealed = seal_text(key_id, &key, "cy@example.com");
        assert!(!sealed.contains("cy@example.com"));
        assert_eq!(key_id_of(&sealed), Some(key_id));
        let keys = [(key_id, key)].into_iter().collect();
        assert_eq!(open_text(&sealed, &keys).as_deref(), Some("cy@example.com"));
        let other = [(key_id, vec![8u8; 32])].into_iter().collect();
        assert_eq!(open_text(&sealed, &other), None, "another key does not open it");
        assert_eq!(open_text(&sealed, &Default::default()), None, "no key, no text");
        // A character well inside the ciphertext, changed: each carries six bits of it.
        let at = sealed.len() - 10;
        let changed = if &sealed[at..=at] == "A" { "B" } else { "A" };
        let tampered = format!("{}{changed}{}", &sealed[..at], &sealed[at + 1..]);
        assert_eq!(open_text(&tampered, &keys), None, "tampering is found");
    }

    #[test]
    fn subjects_are_filed_by_their_normalised_email() {
        assert_eq!(subject_hash(" Cy@Example.com "), subject_hash("cy@example.com"));
        assert_ne!(subject_hash("cy@example.com"), subject_hash("bo@example.com"));
    }
}
