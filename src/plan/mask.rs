//! Secret masking: a Secret's `data`/`stringData` values are replaced by a mask derived from a
//! keyed hash of the value, so equal values show the same mask and a changed value a different
//! one, and the value itself never leaves the process.
//!
//! The key is random per run (never printed, never stored), so a mask cannot be used to guess a
//! short secret offline: it only says "same" or "different" within one plan.

use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The prefix every mask starts with, so a reader (and a test) can tell masks from values.
pub const MASK_PREFIX: &str = "(secret sha256:";

/// Masks secret values with an HMAC-SHA256 under a per-run key.
#[derive(Clone)]
pub struct Masker {
    key: [u8; 32],
}

impl std::fmt::Debug for Masker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Masker(..)")
    }
}

impl Masker {
    /// A masker with a fresh random key.
    pub fn random() -> Self {
        Self {
            key: rand::random(),
        }
    }

    /// A masker with a fixed key, for reproducible output in tests.
    #[cfg(test)]
    pub fn with_key(key: [u8; 32]) -> Self {
        Self { key }
    }

    /// The mask of one secret value (the decoded bytes, so `data` and `stringData` holding the
    /// same value show the same mask).
    pub fn mask_bytes(&self, value: &[u8]) -> String {
        let digest = hmac_sha256(&self.key, value);
        let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
        format!("{MASK_PREFIX}{hex})")
    }

    /// Mask every value under `data` and `stringData` when `object` is a core `v1` Secret;
    /// other objects are returned unchanged.
    pub fn mask_object(&self, object: &mut Value) {
        if !is_secret(object) {
            return;
        }
        if let Some(Value::Object(data)) = object.get_mut("data") {
            for value in data.values_mut() {
                let bytes = match value.as_str() {
                    // `data` is base64; hash the decoded value so it matches `stringData`.
                    Some(text) => base64::engine::general_purpose::STANDARD
                        .decode(text)
                        .unwrap_or_else(|_| text.as_bytes().to_vec()),
                    None => value.to_string().into_bytes(),
                };
                *value = Value::String(self.mask_bytes(&bytes));
            }
        }
        if let Some(Value::Object(data)) = object.get_mut("stringData") {
            for value in data.values_mut() {
                let bytes = match value.as_str() {
                    Some(text) => text.as_bytes().to_vec(),
                    None => value.to_string().into_bytes(),
                };
                *value = Value::String(self.mask_bytes(&bytes));
            }
        }
    }
}

/// Whether `object` is a core Secret (`apiVersion: v1`, `kind: Secret`).
pub fn is_secret(object: &Value) -> bool {
    object.get("kind").and_then(Value::as_str) == Some("Secret")
        && object.get("apiVersion").and_then(Value::as_str) == Some("v1")
}

/// HMAC-SHA256 (RFC 2104) over `sha2`, to avoid one more dependency for twelve lines.
fn hmac_sha256(key: &[u8; 32], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut padded = [0u8; BLOCK];
    padded[..key.len()].copy_from_slice(key);
    let mut inner = Sha256::new();
    inner.update(padded.map(|b| b ^ 0x36));
    inner.update(message);
    let inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(padded.map(|b| b ^ 0x5c));
    outer.update(inner);
    outer.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hmac_matches_an_independent_implementation() {
        // Computed independently with Python's `hmac.new(b"\x0b" * 32, b"Hi There", sha256)`.
        let digest = hmac_sha256(&[0x0b; 32], b"Hi There");
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "198a607eb44bfbc69903a0f1cf2bbdc5ba0aa3f3d9ae3c1c7a3b1696a0b68cf7"
        );
    }

    #[test]
    fn equal_values_share_a_mask_and_changed_values_do_not() {
        let masker = Masker::with_key([7; 32]);
        let mut a = json!({"apiVersion": "v1", "kind": "Secret",
            "data": {"password": "aHVudGVyMg=="}, "stringData": {"same": "hunter2", "other": "x"}});
        masker.mask_object(&mut a);
        let data = &a["data"]["password"];
        assert_eq!(
            data, &a["stringData"]["same"],
            "base64 data and stringData of one value"
        );
        assert_ne!(data, &a["stringData"]["other"]);
        assert!(data.as_str().unwrap().starts_with(MASK_PREFIX));
        assert!(!a.to_string().contains("hunter2") && !a.to_string().contains("aHVudGVyMg"));
    }

    #[test]
    fn other_kinds_are_left_alone() {
        let masker = Masker::with_key([7; 32]);
        let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"}});
        masker.mask_object(&mut cm);
        assert_eq!(cm["data"]["a"], "b");
    }
}
