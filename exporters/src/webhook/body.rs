//! The webhook request body and its identity:
//! `{"events": [...], "sensor_id": "...", "batch_id": "..."}`.
//!
//! The exporter helper retries a failed batch by calling `export` again
//! with the same records, so the `batch_id` is derived from the content
//! instead of being drawn at random: the first 128 bits (32 hex digits) of
//! SHA-256 over the sensor id and the serialized events. Every attempt of a
//! batch carries the same id, without the exporter keeping any state, and
//! two different batches cannot share one (their events differ, each OISP
//! event having its own ULID). A receiver de-duplicates on `batch_id`.

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A serialized body and its id.
#[derive(Debug)]
pub(crate) struct Body {
    /// The JSON bytes.
    pub(crate) bytes: Vec<u8>,
    /// The `batch_id` inside them.
    pub(crate) batch_id: String,
}

/// Builds the body of `events` sent by `sensor_id`.
pub(crate) fn build(events: &[Value], sensor_id: &str) -> Result<Body, serde_json::Error> {
    let events_json = serde_json::to_vec(events)?;
    let sensor_json = serde_json::to_vec(sensor_id)?;
    let mut h = Sha256::new();
    h.update(&sensor_json);
    h.update(b"\n");
    h.update(&events_json);
    let digest = h.finalize();
    let batch_id = hex::encode(&digest[..16]);
    let mut bytes = Vec::with_capacity(events_json.len() + sensor_json.len() + 80);
    bytes.extend_from_slice(b"{\"events\":");
    bytes.extend_from_slice(&events_json);
    bytes.extend_from_slice(b",\"sensor_id\":");
    bytes.extend_from_slice(&sensor_json);
    bytes.extend_from_slice(b",\"batch_id\":\"");
    bytes.extend_from_slice(batch_id.as_bytes());
    bytes.extend_from_slice(b"\"}");
    Ok(Body { bytes, batch_id })
}

/// `sha256=<hex>` of HMAC-SHA256(`secret`, `body`).
pub(crate) fn signature(secret: &[u8], body: &[u8]) -> String {
    // HMAC accepts keys of any length; new_from_slice cannot fail for it.
    match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(body);
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        }
        Err(_) => String::new(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Scenario: a body of two events. Guarantees: the documented shape,
    /// valid JSON, key order events, sensor_id, batch_id.
    #[test]
    fn body_has_events_sensor_and_batch_id() {
        let events = vec![
            json!({"event_id": "01A", "event_type": "ai.request"}),
            json!({"event_id": "01B"}),
        ];
        let b = build(&events, "sensor-1").unwrap();
        let v: Value = serde_json::from_slice(&b.bytes).unwrap();
        assert_eq!(v["events"], json!(events));
        assert_eq!(v["sensor_id"], "sensor-1");
        assert_eq!(v["batch_id"], b.batch_id.as_str());
        assert_eq!(b.batch_id.len(), 32);
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["events", "sensor_id", "batch_id"]);
    }

    /// Scenario: the same batch built twice, and batches that differ.
    /// Guarantees: a retried batch keeps its id; different batches do not
    /// share one.
    #[test]
    fn batch_id_is_stable_per_content() {
        let a = vec![json!({"event_id": "01A"})];
        let b = vec![json!({"event_id": "01B"})];
        assert_eq!(
            build(&a, "s").unwrap().batch_id,
            build(&a, "s").unwrap().batch_id
        );
        assert_ne!(
            build(&a, "s").unwrap().batch_id,
            build(&b, "s").unwrap().batch_id
        );
        assert_ne!(
            build(&a, "s").unwrap().batch_id,
            build(&a, "t").unwrap().batch_id
        );
    }

    /// Scenario: RFC 4231 test case 2. Guarantees: standard HMAC-SHA256.
    #[test]
    fn signature_is_hmac_sha256() {
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
