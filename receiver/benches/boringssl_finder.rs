//! Time to locate BoringSSL's `SSL_write` and `SSL_read` by structure in
//! stock Bun 1.4.5 (`@oven/bun-linux-x64`, ~107 MB, stripped, no unwind
//! tables): reading its code and read-only data (~100 MB with `pread`,
//! from the page cache after the first iteration) and the whole analysis,
//! through the public `oispd_receiver::ebpf::boringssl::locate`. This is
//! what a new Bun build costs oispd once (later files of the same build
//! hit the examination cache).
//!
//! Needs the pinned Bun that `scripts/setup.sh` caches under
//! `OISPD_E2E_CACHE` (default /var/tmp/oispd-e2e-cache); without it the
//! bench says so and measures nothing. Ten samples (each is a full
//! analysis). Run with
//! `cargo bench -p oispd-receiver --bench boringssl_finder`.

use std::fs::File;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use oispd_receiver::ebpf::boringssl::locate;

fn stock_bun() -> Option<(PathBuf, u64)> {
    let cache =
        std::env::var("OISPD_E2E_CACHE").unwrap_or_else(|_| "/var/tmp/oispd-e2e-cache".into());
    let path = PathBuf::from(cache).join("bun/node_modules/@oven/bun-linux-x64/bin/bun");
    let len = std::fs::metadata(&path).ok()?.len();
    Some((path, len))
}

fn finder(c: &mut Criterion) {
    let Some((path, len)) = stock_bun() else {
        eprintln!("stock Bun not installed (scripts/setup.sh installs it): nothing measured");
        return;
    };
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(e) => panic!("opening {}: {e}", path.display()),
    };
    let mut group = c.benchmark_group("boringssl_finder");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .throughput(Throughput::Bytes(len));
    group.bench_function("locate_stock_bun", |b| {
        b.iter(|| match locate(black_box(&file)) {
            Ok(funcs) => funcs,
            Err(refusal) => panic!("stock Bun refused: {refusal}"),
        })
    });
    group.finish();
}

criterion_group!(benches, finder);
criterion_main!(benches);
