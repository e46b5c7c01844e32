//! Latency samples and their percentiles, in the summaries' JSON shape
//! (`{"n", "p50", "p99", "max"}` in milliseconds).

use serde_json::{json, Value};

/// Latency samples in nanoseconds.
#[derive(Clone, Debug, Default)]
pub struct Samples(Vec<u64>);

impl Samples {
    /// Adds one sample.
    pub fn push(&mut self, ns: u64) {
        self.0.push(ns);
    }

    /// Adds every sample of `other`.
    pub fn extend(&mut self, other: Samples) {
        self.0.extend(other.0);
    }

    /// `{"n", "p50", "p99", "max"}` in milliseconds (nearest rank); the
    /// percentiles are null when there are no samples.
    pub fn summary(mut self) -> Value {
        self.0.sort_unstable();
        let n = self.0.len();
        let at = |p: f64| -> Value {
            if n == 0 {
                return Value::Null;
            }
            let rank = ((n as f64 * p).ceil() as usize).clamp(1, n);
            json!(self.0[rank - 1] as f64 / 1e6)
        };
        json!({"n": n, "p50": at(0.50), "p99": at(0.99), "max": at(1.0)})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scenario: 100 samples of 1..=100 ms, and no samples.
    /// Guarantees: nearest-rank percentiles (p50 = 50 ms, p99 = 99 ms,
    /// max = 100 ms); nulls when empty.
    #[test]
    fn nearest_rank_percentiles() {
        let mut s = Samples::default();
        for ms in (1..=100u64).rev() {
            s.push(ms * 1_000_000);
        }
        let v = s.summary();
        assert_eq!(v["n"], 100);
        assert_eq!(v["p50"], 50.0);
        assert_eq!(v["p99"], 99.0);
        assert_eq!(v["max"], 100.0);
        let empty = Samples::default().summary();
        assert_eq!(empty["n"], 0);
        assert!(empty["p99"].is_null());
    }
}
