//! The admin server's listening socket: TCP, or a Unix socket whose file
//! permissions decide who connects.
//!
//! A Unix socket is created in steps so that nobody else can ever connect:
//! `bind` (the file appears), then its mode (0600, or 0660 and the
//! configured group) is set, and only then `listen`; before `listen` every
//! `connect` is refused, and `connect` checks the file's permissions. A
//! missing parent directory is created 0700 (0750 and the group's with
//! `socket_group`). A socket file left by an earlier run is replaced only
//! if nothing answers on it; any other file at the path is left alone and
//! is an error.

use super::guard::Peer;
use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;
use oispd_component::{private_fs, ComponentError};
use std::net::SocketAddr;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use tokio::net::{TcpListener, UnixListener};

/// Connections waiting to be accepted.
const BACKLOG: i32 = 1024;

impl Connected<IncomingStream<'_, TcpListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, TcpListener>) -> Peer {
        Peer::Tcp {
            local: stream.io().local_addr().ok(),
        }
    }
}

impl Connected<IncomingStream<'_, UnixListener>> for Peer {
    fn connect_info(_: IncomingStream<'_, UnixListener>) -> Peer {
        Peer::Unix
    }
}

/// A bound listener.
pub(crate) enum Bound {
    /// TCP, with the address it got.
    Tcp(TcpListener, SocketAddr),
    /// A Unix socket at a path.
    Unix(UnixListener, PathBuf),
}

/// Binds `endpoint` (`host:port`).
pub(crate) async fn tcp(endpoint: &str) -> Result<Bound, ComponentError> {
    let listener = TcpListener::bind(endpoint).await.map_err(|e| {
        ComponentError::Environment(format!(
            "cannot listen on {endpoint}: {e}; stop whatever uses it or set extensions::admin::endpoint"
        ))
    })?;
    let addr = listener
        .local_addr()
        .map_err(|e| ComponentError::io(format!("address of {endpoint}"), e))?;
    Ok(Bound::Tcp(listener, addr))
}

/// Creates the Unix socket at `path`, mode 0600, or 0660 owned by `group`.
pub(crate) fn unix(path: &Path, group: Option<&str>) -> Result<Bound, ComponentError> {
    let env = |what: String| ComponentError::Environment(what);
    let gid = group.map(group_id).transpose().map_err(env)?;
    if let Some(dir) = path.parent().filter(|d| !d.exists()) {
        make_parent(dir, gid).map_err(|e| {
            env(format!(
                "cannot create {} for the admin socket: {e}",
                dir.display()
            ))
        })?;
    }
    clear_stale(path).map_err(env)?;
    let socket = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None)
        .map_err(|e| ComponentError::io("creating the admin socket", e))?;
    let address = socket2::SockAddr::unix(path)
        .map_err(|e| env(format!("admin socket path {}: {e}", path.display())))?;
    socket
        .bind(&address)
        .map_err(|e| env(format!("cannot bind {}: {e}", path.display())))?;
    let restrict = || -> std::io::Result<()> {
        let mode = if gid.is_some() { 0o660 } else { 0o600 };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        if let Some(gid) = gid {
            std::os::unix::fs::chown(path, None, Some(gid))?;
        }
        Ok(())
    };
    if let Err(e) = restrict() {
        let _ = std::fs::remove_file(path);
        return Err(env(format!(
            "cannot restrict the admin socket {}: {e}",
            path.display()
        )));
    }
    socket
        .listen(BACKLOG)
        .and_then(|()| socket.set_nonblocking(true))
        .map_err(|e| ComponentError::io(format!("listening on {}", path.display()), e))?;
    let listener = UnixListener::from_std(std::os::unix::net::UnixListener::from(
        std::os::fd::OwnedFd::from(socket),
    ))
    .map_err(|e| ComponentError::io(format!("listening on {}", path.display()), e))?;
    Ok(Bound::Unix(listener, path.to_path_buf()))
}

/// The numeric id of group `name` (a number is taken as is).
fn group_id(name: &str) -> Result<u32, String> {
    if let Ok(gid) = name.parse::<u32>() {
        return Ok(gid);
    }
    match nix::unistd::Group::from_name(name) {
        Ok(Some(g)) => Ok(g.gid.as_raw()),
        Ok(None) => Err(format!(
            "extensions::admin::socket_group: no group named {name:?} on this host"
        )),
        Err(e) => Err(format!(
            "extensions::admin::socket_group: cannot look up group {name:?}: {e}"
        )),
    }
}

/// Creates the socket's directory: 0700, or 0750 and the group's when a
/// group may connect (members must be able to reach the socket).
fn make_parent(dir: &Path, gid: Option<u32>) -> std::io::Result<()> {
    match gid {
        None => private_fs::create_dir_all(dir),
        Some(gid) => {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o750)
                .create(dir)?;
            std::os::unix::fs::chown(dir, None, Some(gid))
        }
    }
}

/// Removes a socket file nobody answers on; refuses anything else.
fn clear_stale(path: &Path) -> Result<(), String> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("cannot inspect {}: {e}", path.display())),
    };
    if !meta.file_type().is_socket() {
        return Err(format!(
            "{} exists and is not a socket; remove it or choose another extensions::admin::endpoint",
            path.display()
        ));
    }
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(format!(
            "{} is in use by another process (another oispd?); stop it or choose another extensions::admin::endpoint",
            path.display()
        ));
    }
    std::fs::remove_file(path)
        .map_err(|e| format!("cannot remove the stale socket {}: {e}", path.display()))
}

/// Removes the socket at `path` when oispd stops, if it is still a socket.
pub(crate) fn remove_socket(path: &Path) {
    let is_socket = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket());
    if is_socket {
        if let Err(e) = std::fs::remove_file(path) {
            tracing::warn!(path = %path.display(), error = %e, "cannot remove the admin socket");
        }
    }
}
