//! Merging several config documents the way the collector merges several
//! `--config` sources: maps are merged key by key, recursively; any other
//! value (lists included) in a later document replaces the earlier one.

use serde_yaml_ng::Value;

/// Merges `overlay` into `base`.
pub fn merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Mapping(b), Value::Mapping(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}
