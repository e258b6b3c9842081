//! The hash chain: each event's hash covers its content and the hash of the event before it,
//! so changing any stored event changes every hash after it.

use sha2::{Digest, Sha256};

use crate::canonical;

/// The hash the first event chains to.
pub const GENESIS_HASH: ChainHash = ChainHash([0; 32]);

/// A SHA-256 link of the chain.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChainHash(pub [u8; 32]);

impl ChainHash {
    pub fn from_slice(bytes: &[u8]) -> Option<ChainHash> {
        <[u8; 32]>::try_from(bytes).ok().map(ChainHash)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl std::fmt::Debug for ChainHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ChainHash({})", self.to_hex())
    }
}

/// Everything of an event that its hash covers.
#[derive(Debug, Clone, Copy)]
pub struct HashedFields<'a> {
    pub position: i64,
    pub stream_id: &'a str,
    pub stream_version: i64,
    pub event_id: uuid::Uuid,
    pub event_type: &'a str,
    pub schema_version: i32,
    pub payload: &'a serde_json::Value,
    pub metadata: &'a serde_json::Value,
    /// Microseconds since the Unix epoch: PostgreSQL keeps no finer time.
    pub recorded_at_micros: i64,
}

impl HashedFields<'_> {
    /// The hash of this event chained to `previous`.
    ///
    /// Variable-length fields are length-prefixed so that no two different events share an
    /// encoding. `scratch` is reused between calls to spare allocations on long chains.
    pub fn chain(&self, previous: &ChainHash, scratch: &mut Vec<u8>) -> ChainHash {
        scratch.clear();
        scratch.extend_from_slice(&previous.0);
        scratch.extend_from_slice(&self.position.to_be_bytes());
        put_bytes(scratch, self.stream_id.as_bytes());
        scratch.extend_from_slice(&self.stream_version.to_be_bytes());
        scratch.extend_from_slice(self.event_id.as_bytes());
        put_bytes(scratch, self.event_type.as_bytes());
        scratch.extend_from_slice(&self.schema_version.to_be_bytes());
        put_json(scratch, self.payload);
        put_json(scratch, self.metadata);
        scratch.extend_from_slice(&self.recorded_at_micros.to_be_bytes());
        ChainHash(Sha256::digest(&scratch[..]).into())
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
    out.extend_from_slice(bytes);
}

fn put_json(out: &mut Vec<u8>, value: &serde_json::Value) {
    let length_at = out.len();
    out.extend_from_slice(&[0; 8]);
    canonical::write(value, out);
    let length = (out.len() - length_at - 8) as u64;
    out[length_at..length_at + 8].copy_from_slice(&length.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields<'a>(payload: &'a serde_json::Value, metadata: &'a serde_json::Value) -> HashedFields<'a> {
        HashedFields {
            position: 1,
            stream_id: "workspace-1",
            stream_version: 1,
            event_id: uuid::Uuid::nil(),
            event_type: "WorkspaceCreated",
            schema_version: 1,
            payload,
            metadata,
            recorded_at_micros: 1_700_000_000_000_000,
        }
    }

    #[test]
    fn every_covered_field_changes_the_hash() {
        let payload = json!({"name": "Research"});
        let metadata = json!({"actor": "alice"});
        let mut scratch = Vec::new();
        let base = fields(&payload, &metadata).chain(&GENESIS_HASH, &mut scratch);

        let other_payload = json!({"name": "Researc"});
        let variants = [
            HashedFields { position: 2, ..fields(&payload, &metadata) },
            HashedFields { stream_id: "workspace-2", ..fields(&payload, &metadata) },
            HashedFields { stream_version: 2, ..fields(&payload, &metadata) },
            HashedFields { event_id: uuid::Uuid::max(), ..fields(&payload, &metadata) },
            HashedFields { event_type: "WorkspaceRenamed", ..fields(&payload, &metadata) },
            HashedFields { schema_version: 2, ..fields(&payload, &metadata) },
            HashedFields { recorded_at_micros: 1, ..fields(&payload, &metadata) },
            fields(&other_payload, &metadata),
        ];
        for variant in variants {
            assert_ne!(variant.chain(&GENESIS_HASH, &mut scratch), base, "{variant:?}");
        }
        let other_previous = ChainHash([1; 32]);
        assert_ne!(fields(&payload, &metadata).chain(&other_previous, &mut scratch), base);
    }

    #[test]
    fn key_order_does_not_change_the_hash() {
        let a: serde_json::Value = serde_json::from_str(r#"{"a":1,"b":2}"#).unwrap();
        let b: serde_json::Value = serde_json::from_str(r#"{ "b": 2, "a": 1 }"#).unwrap();
        let metadata = json!({});
        let mut scratch = Vec::new();
        assert_eq!(
            fields(&a, &metadata).chain(&GENESIS_HASH, &mut scratch),
            fields(&b, &metadata).chain(&GENESIS_HASH, &mut scratch)
        );
    }
}
