//! Files and directories that hold what oispd sees (prompts, responses,
//! findings): readable by their owner only. Modes are set when a file or
//! directory is created (`OpenOptions::mode`, `DirBuilder::mode`), so there
//! is no moment in which another user could open it; files and directories
//! of oispd's own that an earlier version left with looser modes are
//! tightened when opened, with one warning each.
//!
//! Directories oispd did not create (a `/var/log` the user named as the
//! parent of an output file) are never changed.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Mode of every file oispd creates.
pub const FILE_MODE: u32 = 0o600;
/// Mode of every directory oispd creates.
pub const DIR_MODE: u32 = 0o700;
/// Permission bits for the group and other users.
const SHARED_BITS: u32 = 0o077;

/// `OpenOptions` that create files with mode 0600.
pub fn options() -> OpenOptions {
    let mut o = OpenOptions::new();
    o.mode(FILE_MODE);
    o
}

/// Creates `dir` and its missing parents with mode 0700. Directories that
/// exist are left as they are.
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)
}

/// Creates `dir` (and missing parents, 0700) for oispd's own use, or, if it
/// exists, takes group and other permissions away from it.
pub fn own_dir(dir: &Path) -> io::Result<()> {
    create_dir_all(dir)?;
    let meta = std::fs::symlink_metadata(dir)?;
    if !meta.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists and is not a directory", dir.display()),
        ));
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & SHARED_BITS != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode & !SHARED_BITS))?;
        warn_tightened(dir, mode, mode & !SHARED_BITS);
    }
    Ok(())
}

/// Takes group and other permissions away from the open regular file
/// `file` (named `path` in the warning); returns whether it changed
/// anything. Devices, pipes and other special files are left alone.
/// Works on the open descriptor, so it changes the file that was opened,
/// whatever happened to the path since.
pub fn tighten_open(file: &File, path: &Path) -> io::Result<bool> {
    let changed = tighten_descriptor(file)?;
    if let Some((from, to)) = changed {
        warn_tightened(path, from, to);
    }
    Ok(changed.is_some())
}

/// [`tighten_open`] on the regular file at `path`, if there is one
/// (symbolic links are not followed), without a warning: for callers that
/// tighten many files (queue segments, rotated backups) and say so once.
pub fn tighten_quietly(path: &Path) -> io::Result<bool> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => return Ok(false),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    }
    // Not through a link planted in a shared directory, and without
    // blocking on a pipe put in the file's place.
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    Ok(tighten_descriptor(&file)?.is_some())
}

/// Tightens every regular file in `paths` quietly; one warning names how
/// many were readable by other users (`what`: "persistent queue segments").
/// Returns the first error, after trying them all.
pub fn tighten_all<'a>(paths: impl IntoIterator<Item = &'a Path>, what: &str) -> io::Result<()> {
    let mut tightened = Vec::new();
    let mut first_error = None;
    for path in paths {
        match tighten_quietly(path) {
            Ok(true) => tightened.push(path.display().to_string()),
            Ok(false) => {}
            Err(e) => {
                first_error.get_or_insert(io::Error::new(
                    e.kind(),
                    format!("cannot tighten the permissions of {}: {e}", path.display()),
                ));
            }
        }
    }
    if let Some(first) = tightened.first() {
        tracing::warn!(
            files = tightened.len(),
            first = %first,
            "tightened the permissions of {what} to 0600: they hold captured data and were readable by other users"
        );
    }
    first_error.map_or(Ok(()), Err)
}

/// `(old mode, new mode)` if the descriptor's regular file had group or
/// other bits, which are now cleared.
fn tighten_descriptor(file: &File) -> io::Result<Option<(u32, u32)>> {
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Ok(None);
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & SHARED_BITS == 0 {
        return Ok(None);
    }
    let tight = mode & !SHARED_BITS;
    file.set_permissions(std::fs::Permissions::from_mode(tight))?;
    Ok(Some((mode, tight)))
}

fn warn_tightened(path: &Path, from: u32, to: u32) {
    tracing::warn!(
        path = %path.display(),
        from = %format!("{from:04o}"),
        to = %format!("{to:04o}"),
        "tightened the permissions of a file that holds captured data: it was readable by other users"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    /// Scenario: a file and nested directories created through this module
    /// (the test process has the usual umask 022).
    /// Guarantees: files are 0600, every created directory 0700.
    #[test]
    fn creates_private_files_and_directories() {
        let root = tempfile::tempdir().unwrap();
        let nested = root.path().join("a/b/c");
        create_dir_all(&nested).unwrap();
        for d in ["a", "a/b", "a/b/c"] {
            assert_eq!(mode(&root.path().join(d)), 0o700, "{d}");
        }
        let file = nested.join("f");
        options()
            .write(true)
            .create_new(true)
            .open(&file)
            .unwrap()
            .write_all(b"x")
            .unwrap();
        assert_eq!(mode(&file), 0o600);
    }

    /// Scenario: a 0644 file and a 0755 directory left by an older version;
    /// a symbolic link to a 0644 file; a character device.
    /// Guarantees: the file becomes 0600 and the directory 0700, a second
    /// pass reports nothing to do; neither the link's target nor the
    /// device is touched.
    #[test]
    fn tightens_loose_modes_once() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("old.seg");
        std::fs::write(&file, b"x").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(tighten_quietly(&file).unwrap());
        assert_eq!(mode(&file), 0o600);
        assert!(!tighten_quietly(&file).unwrap());
        assert!(!tighten_quietly(&root.path().join("missing")).unwrap());
        // A link is not followed: its target keeps its mode.
        let target = root.path().join("target");
        std::fs::write(&target, b"x").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
        let link = root.path().join("link.seg");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        tighten_all([link.as_path(), file.as_path()], "test files").unwrap();
        assert_eq!(mode(&target), 0o644);

        let dir = root.path().join("queue");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        own_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);

        let null = File::open("/dev/null").unwrap();
        assert!(!tighten_open(&null, Path::new("/dev/null")).unwrap());
        assert_eq!(mode(Path::new("/dev/null")), 0o666);
    }
}
