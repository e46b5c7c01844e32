//! `kernel_record`: ring-buffer records as the eBPF programs write them,
//! through the user-space parser (`receiver/src/ebpf/parse.rs`) and, for
//! TLS plaintext, into the chunks handed to the capture decoder.
//!
//! The input is one record. The lengths in it are not the kernel's word:
//! an `SSL_*_ex` probe reads the byte count from the probed process's
//! memory. Property: every chunk claims to have moved at least what it
//! carries and at most `MAX_UNCAPTURED_BYTES` more.

use oispd_receiver::capture::MAX_UNCAPTURED_BYTES;
use oispd_receiver::ebpf::parse_ring_record;

/// Parses one record.
pub fn kernel_record(data: &[u8]) {
    for chunk in parse_ring_record(data).unwrap_or_default() {
        let captured = chunk.data.len() as u64;
        assert!(
            chunk.full_len >= captured && chunk.full_len - captured <= MAX_UNCAPTURED_BYTES,
            "chunk claims {} bytes moved with {captured} captured",
            chunk.full_len
        );
    }
}
