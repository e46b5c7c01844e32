//! Finding OpenSSL's `SSL_*` functions in an ELF file: the exported
//! (dynamic) symbols and their file offsets, which is what uprobes attach to.
//! Only the headers and the dynamic symbol table are read (node's binary is
//! over 100 MB).

use std::fs::File;
use std::io;
use std::path::Path;

use object::read::ReadCache;
use object::{Object, ObjectSegment, ObjectSymbol};

/// File offsets of the OpenSSL functions oispd probes in one file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SslSymbols {
    /// `SSL_write`
    pub write: u64,
    /// `SSL_read`
    pub read: u64,
    /// `SSL_write_ex` (OpenSSL 1.1.1+)
    pub write_ex: Option<u64>,
    /// `SSL_read_ex` (OpenSSL 1.1.1+)
    pub read_ex: Option<u64>,
    /// `SSL_free`
    pub free: Option<u64>,
}

/// The `SSL_*` functions `path` defines and exports: `Ok(None)` when it does
/// not export both `SSL_write` and `SSL_read` or is not an ELF file, an error
/// when it cannot be opened.
pub(crate) fn ssl_symbols(path: &Path) -> io::Result<Option<SslSymbols>> {
    let cache = ReadCache::new(File::open(path)?);
    let Ok(elf) = object::File::parse(&cache) else {
        return Ok(None);
    };
    Ok(find(&elf))
}

fn find<'data, R: object::ReadRef<'data>>(elf: &object::File<'data, R>) -> Option<SslSymbols> {
    let segments: Vec<(u64, u64, u64)> = elf
        .segments()
        .map(|s| (s.address(), s.size(), s.file_range().0))
        .collect();
    let file_offset = |vaddr: u64| -> Option<u64> {
        segments
            .iter()
            .find(|(addr, size, _)| vaddr >= *addr && vaddr < addr.saturating_add(*size))
            .map(|(addr, _, offset)| vaddr - addr + offset)
    };

    let mut write = None;
    let mut read = None;
    let mut found = SslSymbols::default();
    for sym in elf.dynamic_symbols() {
        if !sym.is_definition() {
            continue;
        }
        let slot = match sym.name_bytes() {
            Ok(b"SSL_write") => &mut write,
            Ok(b"SSL_read") => &mut read,
            Ok(b"SSL_write_ex") => &mut found.write_ex,
            Ok(b"SSL_read_ex") => &mut found.read_ex,
            Ok(b"SSL_free") => &mut found.free,
            _ => continue,
        };
        *slot = file_offset(sym.address());
    }
    found.write = write?;
    found.read = read?;
    Some(found)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Scenario: this test binary (no OpenSSL), a missing file, a text file.
    /// Guarantees: not candidates; only the missing file is an error.
    #[test]
    fn binary_without_openssl_is_not_a_candidate() {
        let exe = std::env::current_exe().unwrap();
        assert_eq!(ssl_symbols(&exe).unwrap(), None);
        assert!(ssl_symbols(Path::new("/nonexistent/libssl.so.3")).is_err());
        let text = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(text.path(), b"not an ELF file").unwrap();
        assert_eq!(ssl_symbols(text.path()).unwrap(), None);
    }

    /// Scenario: the system libssl.so.3, where present.
    /// Guarantees: SSL_write/SSL_read and the _ex variants are found, at
    /// distinct offsets inside the file.
    #[test]
    fn system_libssl_exports_the_probed_functions() {
        let lib = Path::new("/usr/lib/x86_64-linux-gnu/libssl.so.3");
        if !lib.exists() {
            return;
        }
        let syms = ssl_symbols(lib).unwrap().expect("libssl exports SSL_write");
        let len = std::fs::metadata(lib).unwrap().len();
        assert!(syms.write < len && syms.read < len);
        assert_ne!(syms.write, syms.read);
        assert!(syms.write_ex.is_some() && syms.read_ex.is_some() && syms.free.is_some());
    }
}
