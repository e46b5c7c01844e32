//! The `data` of file events: `file.open`, `file.read`, `file.write`,
//! `file.delete` and `file.rename` (`schema/v0.1/events/file.schema.json`).

use crate::common::Extra;
use serde::{Deserialize, Serialize};

/// File metadata (`$defs/file_info`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FileInfo {
    /// Path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Base name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Extension without the dot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
    /// Size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Inode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inode: Option<u64>,
    /// Permissions in octal (`0644`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Owner uid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// Owner gid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    /// Modification time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtime: Option<String>,
    /// Status change time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctime: Option<String>,
    /// A directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_directory: Option<bool>,
    /// A symlink.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_symlink: Option<bool>,
    /// Symlink target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symlink_target: Option<String>,
    /// Content hashes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<FileHash>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Content hashes of a file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FileHash {
    /// SHA-256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// SHA-1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha1: Option<String>,
    /// MD5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub md5: Option<String>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `file.open`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FileOpen {
    /// Path (required).
    pub path: String,
    /// Open flags (required): `read`, `write`, `append`, `create`, `truncate`, `exclusive`.
    pub flags: Vec<String>,
    /// File descriptor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fd: Option<i64>,
    /// File metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FileInfo>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `file.read`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FileRead {
    /// Path (required).
    pub path: String,
    /// Bytes read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_read: Option<u64>,
    /// Offset where the read started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
    /// Whole file read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complete: Option<bool>,
    /// File metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FileInfo>,
    /// Hash of the content read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<String>,
    /// Preview (at most 256 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_preview: Option<String>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `file.write`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FileWrite {
    /// Path (required).
    pub path: String,
    /// Bytes written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_written: Option<u64>,
    /// Offset where the write started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
    /// File was truncated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated: Option<bool>,
    /// This write created the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<bool>,
    /// File metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FileInfo>,
    /// Hash of the content written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<String>,
    /// Preview (at most 256 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_preview: Option<String>,
    /// Detected content type (`source_code`, `config`, `binary`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detected_type: Option<String>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `file.delete`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FileDelete {
    /// Path (required).
    pub path: String,
    /// File metadata captured before deletion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FileInfo>,
    /// Recursive directory deletion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recursive: Option<bool>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `file.rename`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FileRename {
    /// Old path (required).
    pub old_path: String,
    /// New path (required).
    pub new_path: String,
    /// Overwrote an existing file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overwrote: Option<bool>,
    /// File metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FileInfo>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}
