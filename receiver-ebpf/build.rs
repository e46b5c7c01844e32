//! Builds `src/bpf/oispd.bpf.c` into the eBPF object the crate embeds (the
//! bpf2go convention).
//!
//! - With clang and libbpf's headers present, the object is compiled from
//!   source (`-O2 -g -Wall -Werror -target bpf`, CO-RE). A compile error fails
//!   the build. When the result differs from the committed prebuilt object
//!   `src/bpf/oispd.bpf.o`, the prebuilt is refreshed and a warning says to
//!   commit it.
//! - Without them (or with `OISPD_BPF_PREBUILT=1`), the committed prebuilt
//!   object is used as is, so `cargo build` works on a machine without clang.
//!
//! `CLANG` names the compiler (default `clang`).

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const SOURCES: &[&str] = &[
    "oispd.bpf.c",
    "common.bpf.h",
    "tls.bpf.h",
    "aead.bpf.h",
    "process.bpf.h",
    "net.bpf.h",
    "files.bpf.h",
    "records.h",
    "kernel.h",
];
const LIBBPF_HEADER: &str = "/usr/include/bpf/bpf_helpers.h";

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let bpf_dir = manifest.join("src/bpf");
    let prebuilt = bpf_dir.join("oispd.bpf.o");
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap_or_default()).join("oispd.bpf.o");

    for source in SOURCES {
        println!("cargo:rerun-if-changed=src/bpf/{source}");
    }
    println!("cargo:rerun-if-changed=src/bpf/oispd.bpf.o");
    println!("cargo:rerun-if-env-changed=CLANG");
    println!("cargo:rerun-if-env-changed=OISPD_BPF_PREBUILT");

    let clang = env::var("CLANG").unwrap_or_else(|_| "clang".to_string());
    let forced_prebuilt = env::var("OISPD_BPF_PREBUILT").is_ok_and(|v| v == "1");
    let have_clang = Command::new(&clang)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let have_headers = Path::new(LIBBPF_HEADER).exists();

    if forced_prebuilt || !have_clang || !have_headers {
        if !forced_prebuilt {
            println!(
                "cargo:warning=using the prebuilt eBPF object ({}); install clang and libbpf-dev to build it from source",
                if have_clang { "libbpf headers missing" } else { "clang not found" }
            );
        }
        copy(&prebuilt, &out);
        return;
    }

    compile(&clang, &bpf_dir, &out);
    let fresh = read(&out);
    if fs::read(&prebuilt).ok().as_deref() != Some(fresh.as_slice()) {
        match fs::write(&prebuilt, &fresh) {
            Ok(()) => println!(
                "cargo:warning=refreshed the prebuilt eBPF object receiver-ebpf/src/bpf/oispd.bpf.o from source: commit it"
            ),
            Err(e) => println!(
                "cargo:warning=the prebuilt eBPF object is stale and could not be refreshed ({e})"
            ),
        }
    }
}

fn compile(clang: &str, bpf_dir: &Path, out: &Path) {
    let status = Command::new(clang)
        .current_dir(bpf_dir)
        .args([
            "-O2",
            "-g",
            "-Wall",
            "-Werror",
            "-target",
            "bpf",
            "-mcpu=v3",
            "-D__TARGET_ARCH_x86",
            // Reproducible output wherever the checkout lives.
            &format!("-fdebug-prefix-map={}=.", bpf_dir.display()),
            "-c",
            "oispd.bpf.c",
            "-o",
        ])
        .arg(out)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("clang failed to build the eBPF object ({s}); see the errors above"),
        Err(e) => panic!("could not run {clang}: {e}"),
    }
}

fn copy(from: &Path, to: &Path) {
    if let Err(e) = fs::copy(from, to) {
        panic!("cannot copy {} to {}: {e}", from.display(), to.display());
    }
}

fn read(path: &Path) -> Vec<u8> {
    match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => panic!("cannot read {}: {e}", path.display()),
    }
}
