//! The `file_storage` extension, as the collector's: a directory that
//! exporters name in `sending_queue.storage` to keep their queue on disk.
//!
//! ```yaml
//! extensions:
//!   file_storage/queue:
//!     directory: /var/lib/oispd/queue   # default /var/lib/otelcol/file_storage
//!     create_directory: true            # default false: the directory must exist
//!     compaction: {on_start: true}      # accepted; nothing to compact
//! exporters:
//!   otlp_grpc/siem:
//!     sending_queue: {storage: file_storage/queue}
//! service:
//!   extensions: [file_storage/queue]
//! ```
//!
//! It backs oispd's own persistent queue (`helper::persistent`: segments of
//! records, each exporter in `directory/<exporter id, escaped>`), not the
//! collector's bbolt database, so the files are not interchangeable. Every
//! key of the collector's extension is accepted. `fsync` changes nothing:
//! oispd syncs every batch before the pipeline goes on. `compaction` and
//! `timeout` change nothing either: settled segments are deleted whole, and
//! the queue's directory lock fails at once when another process holds it.
//! Directories are created 0700 (`directory_permissions` is checked but
//! not applied): they hold prompts and responses.
//!
//! A `sending_queue.storage` that names no configured extension is a
//! directory path, as oispd read the key before it had this extension;
//! `oispd validate` warns about it ([`StorageRef`]).

use oispd_component::{
    parse_config, private_fs, BuildContext, ComponentConfig, ComponentError, ComponentId,
    ComponentInfo, ConfigError, Extension, ExtensionFactory, Signal, Stability,
};
use serde::Deserialize;
use serde_yaml_ng::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The extension's type name.
pub const TYPE_NAME: &str = "file_storage";
/// The collector's default `directory` on Linux.
pub const DEFAULT_DIRECTORY: &str = "/var/lib/otelcol/file_storage";

/// `extensions: {file_storage: ...}`, with the collector's keys.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FileStorageConfig {
    /// Where exporters keep their queues (default
    /// `/var/lib/otelcol/file_storage`).
    pub directory: PathBuf,
    /// Lock wait of the collector's database (accepted; no effect).
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Sync after each write (accepted; oispd always syncs).
    pub fsync: bool,
    /// Create `directory` when missing (default false: it must exist).
    pub create_directory: bool,
    /// Octal permissions for created directories (checked; oispd creates
    /// them 0700).
    pub directory_permissions: Option<String>,
    /// Start from an empty database (accepted; no effect).
    pub recreate: bool,
    /// Compaction of the collector's database (accepted; no effect).
    pub compaction: Compaction,
}

impl Default for FileStorageConfig {
    fn default() -> Self {
        FileStorageConfig {
            directory: PathBuf::from(DEFAULT_DIRECTORY),
            timeout: Duration::from_secs(1),
            fsync: false,
            create_directory: false,
            directory_permissions: None,
            recreate: false,
            compaction: Compaction::default(),
        }
    }
}

/// `compaction`: the collector's keys, accepted so that its configs load.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Compaction {
    /// Compact at start.
    pub on_start: bool,
    /// Compact online once usage falls.
    pub on_rebound: bool,
    /// Scratch directory of a compaction.
    pub directory: Option<PathBuf>,
    /// Largest compaction transaction.
    pub max_transaction_size: Option<u64>,
    /// Allocated size that marks a compaction as needed.
    pub rebound_needed_threshold_mib: Option<u64>,
    /// Data size under which a needed compaction starts.
    pub rebound_trigger_threshold_mib: Option<u64>,
    /// How often rebound conditions are checked.
    #[serde(with = "humantime_serde::option")]
    pub check_interval: Option<Duration>,
    /// Remove compaction leftovers at start.
    pub cleanup_on_start: bool,
}

impl ComponentConfig for FileStorageConfig {
    fn validate(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.directory.as_os_str().is_empty() {
            out.push("'directory' must be set".to_string());
        }
        if let Some(p) = &self.directory_permissions {
            if u32::from_str_radix(p, 8).map_or(true, |m| m > 0o777) {
                out.push(format!(
                    "'directory_permissions' {p:?} must be octal permission bits such as \"0750\""
                ));
            }
            if !self.create_directory {
                out.push("'directory_permissions' requires create_directory to be true".into());
            }
        }
        out
    }
}

impl FileStorageConfig {
    /// The directory, ready for a persistent queue: created (0700) when
    /// `create_directory` asks for it, otherwise required to exist, as in
    /// the collector.
    pub fn prepare_directory(&self) -> Result<&Path, String> {
        let dir = self.directory.as_path();
        if self.create_directory {
            private_fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create directory {}: {e}", dir.display()))?;
        }
        match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => Ok(dir),
            Ok(_) => Err(format!("{} is not a directory", dir.display())),
            Err(e) => Err(format!(
                "directory must exist: {}: {e} (or set create_directory: true)",
                dir.display()
            )),
        }
    }
}

/// What a `sending_queue.storage` value refers to.
#[derive(Clone, Debug, PartialEq)]
pub enum StorageRef {
    /// A configured `file_storage` extension, by id.
    Extension {
        /// The extension's id as written.
        id: String,
        /// Its config.
        config: FileStorageConfig,
    },
    /// A directory path (oispd's reading of the key before the extension).
    Directory(PathBuf),
}

/// Resolves a `sending_queue.storage` value against the configured
/// extensions (`extension` gives the body of a configured one): a
/// configured `file_storage` id is that extension; an id of type
/// `file_storage` that is not configured is an error, as in the collector;
/// anything else is a directory path.
pub fn resolve_storage<'a>(
    storage: &Path,
    extension: impl Fn(&ComponentId) -> Option<&'a Value>,
) -> Result<StorageRef, String> {
    let id = storage.to_str().and_then(|s| ComponentId::parse(s).ok());
    let Some(id) = id else {
        return Ok(StorageRef::Directory(storage.to_path_buf()));
    };
    match extension(&id) {
        Some(body) if id.type_name() == TYPE_NAME => {
            let config = parse_config::<FileStorageConfig>(body).map_err(|errors| {
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            })?;
            Ok(StorageRef::Extension {
                id: id.to_string(),
                config,
            })
        }
        Some(_) => Err(format!(
            "extension {:?} is not a storage extension: use a {TYPE_NAME} extension",
            id.to_string()
        )),
        None if id.type_name() == TYPE_NAME => Err(format!(
            "references extension {:?} which is not configured",
            id.to_string()
        )),
        None => Ok(StorageRef::Directory(storage.to_path_buf())),
    }
}

/// Builds `file_storage` extensions.
pub struct FileStorageFactory;

impl ExtensionFactory for FileStorageFactory {
    fn info(&self) -> ComponentInfo {
        ComponentInfo {
            type_name: TYPE_NAME,
            aliases: &[],
            stability: Stability::Beta,
            signals: &[Signal::Logs, Signal::Traces],
            description: "A directory for exporters' persistent sending queues (sending_queue.storage: <id>), with the collector's keys",
        }
    }

    fn validate(&self, config: &Value) -> Result<(), Vec<ConfigError>> {
        parse_config::<FileStorageConfig>(config).map(|_| ())
    }

    fn create(
        &self,
        _ctx: &BuildContext,
        config: &Value,
    ) -> Result<Box<dyn Extension>, ComponentError> {
        parse_config::<FileStorageConfig>(config).map_err(crate::factory::config_error)?;
        Ok(Box::new(FileStorage))
    }
}

/// The running extension: the exporters that name it opened their queues
/// in its directory before extensions start, so it has nothing to serve.
struct FileStorage;

#[async_trait::async_trait]
impl Extension for FileStorage {
    async fn start(
        self: Box<Self>,
        shutdown: CancellationToken,
    ) -> Result<JoinHandle<()>, ComponentError> {
        Ok(tokio::spawn(async move { shutdown.cancelled().await }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn parse(yaml: &str) -> Result<FileStorageConfig, Vec<String>> {
        let v: Value = serde_yaml_ng::from_str(yaml).unwrap();
        parse_config(&v).map_err(|e| e.iter().map(ToString::to_string).collect())
    }

    /// Scenario: an empty body, then every key of the collector's
    /// extension, compaction included, then typos and bad values.
    /// Guarantees: the collector's defaults; its keys load; unknown keys and
    /// bad permissions are errors naming the key.
    #[test]
    fn collector_keys_load_with_its_defaults() {
        let c = parse("~").unwrap();
        assert_eq!(c.directory, PathBuf::from("/var/lib/otelcol/file_storage"));
        assert!(!c.create_directory && !c.fsync);
        let full = parse(
            "directory: /q\ntimeout: 2s\nfsync: true\ncreate_directory: true\n\
             directory_permissions: '0750'\nrecreate: false\n\
             compaction: {on_start: true, on_rebound: true, directory: /tmp, max_transaction_size: 65536,\n\
             rebound_needed_threshold_mib: 100, rebound_trigger_threshold_mib: 10, check_interval: 5s, cleanup_on_start: true}",
        )
        .unwrap();
        assert_eq!(full.directory, PathBuf::from("/q"));
        assert!(full.compaction.on_rebound);
        assert_eq!(
            parse("directroy: /q").unwrap_err(),
            vec!["'' has invalid keys: directroy"]
        );
        assert_eq!(
            parse("compaction: {on_stat: true}").unwrap_err(),
            vec!["'compaction' has invalid keys: on_stat"]
        );
        assert!(
            parse("create_directory: true\ndirectory_permissions: '0999'").unwrap_err()[0]
                .contains("octal")
        );
        assert!(parse("directory_permissions: '0750'").unwrap_err()[0]
            .contains("requires create_directory"));
    }

    /// Scenario: storage values naming a configured file_storage extension,
    /// an unconfigured file_storage id, another extension type, and paths.
    /// Guarantees: each resolves as the collector (or, for paths, oispd)
    /// reads it.
    #[test]
    fn storage_values_resolve() {
        let mut extensions: BTreeMap<ComponentId, Value> = BTreeMap::new();
        extensions.insert(
            ComponentId::parse("file_storage/q").unwrap(),
            serde_yaml_ng::from_str("{directory: /q}").unwrap(),
        );
        extensions.insert(
            ComponentId::parse("admin").unwrap(),
            serde_yaml_ng::from_str("{}").unwrap(),
        );
        let resolve = |s: &str| resolve_storage(Path::new(s), |id| extensions.get(id));
        match resolve("file_storage/q").unwrap() {
            StorageRef::Extension { id, config } => {
                assert_eq!(
                    (id.as_str(), config.directory),
                    ("file_storage/q", "/q".into())
                )
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            resolve("file_storage").unwrap_err(),
            "references extension \"file_storage\" which is not configured"
        );
        assert!(resolve("admin")
            .unwrap_err()
            .contains("not a storage extension"));
        for path in ["/var/lib/oispd/queue", "./queue", "queue"] {
            assert_eq!(
                resolve(path).unwrap(),
                StorageRef::Directory(path.into()),
                "{path}"
            );
        }
    }

    /// Scenario: a missing directory without and with create_directory.
    /// Guarantees: without, an error naming the directory and the key;
    /// with, the directory is created 0700.
    #[test]
    fn directory_must_exist_unless_created() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("a/b");
        let mut c = FileStorageConfig {
            directory: missing.clone(),
            ..FileStorageConfig::default()
        };
        let err = c.prepare_directory().unwrap_err();
        assert!(
            err.contains("directory must exist") && err.contains("create_directory"),
            "{err}"
        );
        assert!(!missing.exists());
        c.create_directory = true;
        assert_eq!(c.prepare_directory().unwrap(), missing.as_path());
        let mode = std::fs::metadata(&missing).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
