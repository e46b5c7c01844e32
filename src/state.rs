//! oispd's state directory and the redaction key kept in it.
//!
//! The state directory is `--state-dir` if given, else `$STATE_DIRECTORY`
//! (set by systemd's `StateDirectory=`; the first entry if it lists
//! several), else `/var/lib/oispd` when running as root, else
//! `$XDG_STATE_HOME/oispd` or `~/.local/state/oispd`.
//!
//! `redaction.key` there holds 32 random bytes that key the hashes in
//! redaction markers (HMAC-SHA256; see `oispd_processors::redaction::rewrite`).
//! It is created once (mode 0600, its directory 0700 when oispd creates
//! it) and read at every start, so the same credential keeps the same hash
//! across restarts. A key file that is not a regular file owned by oispd's
//! user, or that group or others may read or write, is refused rather than
//! trusted. Without a usable key oispd runs with a random per-process key
//! and says once that hashes will not correlate across restarts.

use oispd_component::RedactionKey;
use std::ffi::OsString;
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Name of the key file in the state directory.
pub const KEY_FILE: &str = "redaction.key";

/// Why the key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// No state directory could be determined.
    #[error("no state directory (set --state-dir, STATE_DIRECTORY, XDG_STATE_HOME or HOME)")]
    NoStateDir,
    /// Reading, creating or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The file exists but must not be trusted.
    #[error("{path}: {reason}; refusing to use it")]
    Untrusted {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The state directory: `flag`, else from the environment (`env` looks up a
/// variable), else by user.
pub fn state_dir(
    flag: Option<&Path>,
    env: &dyn Fn(&str) -> Option<OsString>,
    is_root: bool,
) -> Option<PathBuf> {
    if let Some(p) = flag {
        return Some(p.to_path_buf());
    }
    let non_empty = |name: &str| env(name).filter(|v| !v.is_empty());
    if let Some(v) = non_empty("STATE_DIRECTORY") {
        // systemd separates several directories with ':'.
        let first = v.to_string_lossy().split(':').next().map(PathBuf::from);
        if let Some(p) = first.filter(|p| p.is_absolute()) {
            return Some(p);
        }
    }
    if is_root {
        return Some(PathBuf::from("/var/lib/oispd"));
    }
    if let Some(v) = non_empty("XDG_STATE_HOME").map(PathBuf::from) {
        if v.is_absolute() {
            return Some(v.join("oispd"));
        }
    }
    non_empty("HOME")
        .map(PathBuf::from)
        .filter(|h| h.is_absolute())
        .map(|h| h.join(".local/state/oispd"))
}

/// Opens for reading without following a symlink in the last component.
fn open_nofollow(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
}

/// Reads the key file at `path`, checking that it can be trusted.
fn read_key(path: &Path) -> Result<RedactionKey, KeyError> {
    let mut file = open_nofollow(path).map_err(io(path))?;
    let meta = file.metadata().map_err(io(path))?;
    let untrusted = |reason: String| KeyError::Untrusted {
        path: path.to_path_buf(),
        reason,
    };
    if !meta.file_type().is_file() {
        return Err(untrusted("not a regular file".into()));
    }
    let euid = rustix::process::geteuid().as_raw();
    if meta.uid() != euid {
        return Err(untrusted(format!(
            "owned by uid {}, not by oispd's uid {euid}",
            meta.uid()
        )));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(untrusted(format!(
            "mode {:04o} lets group or others access it (want 0600)",
            meta.mode() & 0o7777
        )));
    }
    let mut bytes = Vec::with_capacity(RedactionKey::LEN + 1);
    Read::by_ref(&mut file)
        .take(RedactionKey::LEN as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io(path))?;
    let key: [u8; RedactionKey::LEN] = bytes.as_slice().try_into().map_err(|_| {
        untrusted(format!(
            "holds {} bytes, not {}",
            bytes.len(),
            RedactionKey::LEN
        ))
    })?;
    Ok(RedactionKey::from_bytes(key))
}

/// Writes a new key to `path` if there is none: written to a private
/// temporary file first, then linked into place, which fails if another
/// process was first (its key is read instead).
fn create_key(dir: &Path, path: &Path) -> Result<RedactionKey, KeyError> {
    let key = RedactionKey::random().map_err(io(path))?;
    let tmp = dir.join(format!(".{KEY_FILE}.{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let written = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&tmp)?;
        f.write_all(key.as_bytes())?;
        f.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(&tmp)(e));
    }
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(key),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_key(path),
        Err(e) => Err(io(path)(e)),
    }
}

/// The key in `dir`/`redaction.key`, created (and `dir` with it, mode 0700)
/// if missing.
pub fn load_or_create_key(dir: &Path) -> Result<RedactionKey, KeyError> {
    if !dir.is_dir() {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io(dir))?;
    }
    let path = dir.join(KEY_FILE);
    match read_key(&path) {
        Err(KeyError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            create_key(dir, &path)
        }
        other => other,
    }
}

/// The redaction key for this run: from the state directory if possible,
/// else a random per-process key (with one warning saying so).
pub fn redaction_key(dir: Option<&Path>) -> anyhow::Result<RedactionKey> {
    let loaded = match dir {
        Some(d) => load_or_create_key(d),
        None => Err(KeyError::NoStateDir),
    };
    match loaded {
        Ok(key) => Ok(key),
        Err(e) => {
            tracing::warn!(
                error = %e,
                "redaction key unavailable: using a random key for this process only; \
                 redaction hashes will not correlate across restarts"
            );
            RedactionKey::random()
                .map_err(|e| anyhow::anyhow!("cannot make a random redaction key: {e}"))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use std::collections::HashMap;
    use std::os::unix::fs::PermissionsExt;

    fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let map: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        move |k: &str| map.get(k).cloned()
    }

    /// Scenario: the state directory from the flag, systemd, root, XDG and
    /// HOME, in that order of precedence.
    /// Guarantees: each source wins over the ones after it; relative or
    /// empty values are ignored.
    #[test]
    fn state_directory_precedence() {
        let all = env_of(&[
            ("STATE_DIRECTORY", "/run/sd/oispd:/other"),
            ("XDG_STATE_HOME", "/home/u/.state"),
            ("HOME", "/home/u"),
        ]);
        let flag = PathBuf::from("/srv/oispd");
        assert_eq!(state_dir(Some(&flag), &all, true), Some(flag.clone()));
        assert_eq!(
            state_dir(None, &all, false),
            Some(PathBuf::from("/run/sd/oispd"))
        );
        let user = env_of(&[("XDG_STATE_HOME", "/home/u/.state"), ("HOME", "/home/u")]);
        assert_eq!(
            state_dir(None, &user, true),
            Some(PathBuf::from("/var/lib/oispd"))
        );
        assert_eq!(
            state_dir(None, &user, false),
            Some(PathBuf::from("/home/u/.state/oispd"))
        );
        let home = env_of(&[("XDG_STATE_HOME", "relative"), ("HOME", "/home/u")]);
        assert_eq!(
            state_dir(None, &home, false),
            Some(PathBuf::from("/home/u/.local/state/oispd"))
        );
        assert_eq!(state_dir(None, &env_of(&[("HOME", "")]), false), None);
    }

    /// Scenario: no key yet, then a second start.
    /// Guarantees: the directory is created 0700 and the key file 0600 with
    /// 32 bytes; the second start reads the same key.
    #[test]
    fn creates_then_reuses_the_key() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state/oispd");
        let first = load_or_create_key(&dir).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        let file = dir.join(KEY_FILE);
        assert_eq!(mode(&file), 0o600);
        assert_eq!(std::fs::read(&file).unwrap(), first.as_bytes().to_vec());
        let again = load_or_create_key(&dir).unwrap();
        assert_eq!(first, again);
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![OsString::from(KEY_FILE)]);
    }

    /// Scenario: key files readable by others, of the wrong size, or a
    /// symlink to another file.
    /// Guarantees: each is refused (never trusted), and the fallback key
    /// differs from the file's content.
    #[test]
    fn refuses_untrusted_key_files() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let file = dir.join(KEY_FILE);
        std::fs::write(&file, [7u8; 32]).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_or_create_key(dir).unwrap_err();
        assert!(
            matches!(err, KeyError::Untrusted { .. }) && err.to_string().contains("0644"),
            "{err}"
        );
        let fallback = redaction_key(Some(dir)).unwrap();
        assert_ne!(fallback.as_bytes(), &[7u8; 32]);

        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&file, [7u8; 31]).unwrap();
        let err = load_or_create_key(dir).unwrap_err();
        assert!(err.to_string().contains("31 bytes"), "{err}");

        std::fs::remove_file(&file).unwrap();
        let target = dir.join("elsewhere");
        std::fs::write(&target, [9u8; 32]).unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::symlink(&target, &file).unwrap();
        assert!(load_or_create_key(dir).is_err());
    }
}
