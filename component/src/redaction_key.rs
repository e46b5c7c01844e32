//! The per-installation secret that redaction hashes are keyed with.
//!
//! Redaction markers and tokens carry a short prefix of HMAC-SHA256 of the
//! value they replace, so that the same credential can be recognised across
//! records. Keyed with a secret that never leaves the host, the prefix says
//! nothing about the value to anyone without the key: an unsalted hash of a
//! weak password would fall to a dictionary at once. The binary loads the
//! key from its state directory (or makes one) and hands it to every
//! component through [`crate::BuildContext`]; nothing reads it from a global.

use std::fmt;

/// A 32-byte redaction key. `Debug` never shows the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct RedactionKey([u8; RedactionKey::LEN]);

impl RedactionKey {
    /// Length of a key in bytes.
    pub const LEN: usize = 32;

    /// The key made of `bytes`.
    pub const fn from_bytes(bytes: [u8; RedactionKey::LEN]) -> RedactionKey {
        RedactionKey(bytes)
    }

    /// A fresh key from the operating system's random source.
    pub fn random() -> Result<RedactionKey, std::io::Error> {
        let mut bytes = [0u8; RedactionKey::LEN];
        getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(RedactionKey(bytes))
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8; RedactionKey::LEN] {
        &self.0
    }
}

impl fmt::Debug for RedactionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RedactionKey(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scenario: two random keys, and a key printed with `{:?}`.
    /// Guarantees: random keys differ; Debug output holds no key byte.
    #[test]
    fn random_keys_differ_and_never_print() {
        let a = RedactionKey::random().unwrap();
        let b = RedactionKey::random().unwrap();
        assert_ne!(a, b);
        assert_eq!(format!("{a:?}"), "RedactionKey(..)");
    }
}
