//! Component factories: the registry is a plain list of these, one per type,
//! collected by the binary. A factory validates a config body without side
//! effects (for `oispd validate`) and builds an instance from it.

use crate::batch::{Batch, Signal};
use crate::config::ConfigError;
use crate::consumer::{Consumer, Output};
use crate::exporter::{Exporter, ExporterSettings};
use crate::id::ComponentId;
use crate::redaction_key::RedactionKey;
use crate::telemetry::Telemetry;
use async_trait::async_trait;
use serde_yaml_ng::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The five kinds of component.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Brings records in.
    Receiver,
    /// Changes, drops or adds records inside a pipeline.
    Processor,
    /// Joins pipelines: an exporter in one, a receiver in others.
    Connector,
    /// Sends records out.
    Exporter,
    /// Runs beside pipelines (admin server).
    Extension,
}

impl Kind {
    /// The top-level config key (`receivers`, ...).
    pub fn section(self) -> &'static str {
        match self {
            Kind::Receiver => "receivers",
            Kind::Processor => "processors",
            Kind::Connector => "connectors",
            Kind::Exporter => "exporters",
            Kind::Extension => "extensions",
        }
    }

    /// The singular noun (`receiver`, ...).
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Receiver => "receiver",
            Kind::Processor => "processor",
            Kind::Connector => "connector",
            Kind::Exporter => "exporter",
            Kind::Extension => "extension",
        }
    }
}

/// Maturity, as the collector labels components.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stability {
    /// Being built; config may change.
    Development,
    /// Usable; config may change.
    Alpha,
    /// Config stable.
    Beta,
    /// Covered by compatibility guarantees.
    Stable,
}

impl Stability {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Stability::Development => "development",
            Stability::Alpha => "alpha",
            Stability::Beta => "beta",
            Stability::Stable => "stable",
        }
    }
}

/// What `oispd components` prints about a type.
#[derive(Clone, Debug)]
pub struct ComponentInfo {
    /// The type name used in ids.
    pub type_name: &'static str,
    /// Older names still accepted (`otlp` for `otlp_grpc`).
    pub aliases: &'static [&'static str],
    /// Maturity.
    pub stability: Stability,
    /// Signals the component handles.
    pub signals: &'static [Signal],
    /// One line saying what it does.
    pub description: &'static str,
}

/// A failure to build or start a component, with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum ComponentError {
    /// The config is invalid (caught by `validate` normally).
    #[error("{0}")]
    Config(String),
    /// Something outside the process is not as needed (port in use, missing
    /// file, missing capability); the message says what to do.
    #[error("{0}")]
    Environment(String),
    /// An I/O error with context.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

impl ComponentError {
    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> ComponentError {
        ComponentError::Io {
            context: context.into(),
            source,
        }
    }
}

/// HTTP routes that components add to the admin server (`/ws/events`).
pub type AdminRoutes = Arc<Mutex<Vec<AdminRoute>>>;

/// Routes one component adds to the admin server, and who may use them.
pub struct AdminRoute {
    /// The routes.
    pub router: axum::Router,
    /// Whether they need the admin token.
    pub access: RouteAccess,
}

/// Who may use a component's admin routes. The admin server's Host and
/// Origin checks apply to every route either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteAccess {
    /// Needs the admin token when `auth` is configured: anything that
    /// carries data (`/ws/events`).
    Authenticated,
    /// Served without the token: only static content that holds no data
    /// (the live page's HTML, which asks for the token itself).
    Public,
}

/// What every factory gets when building an instance.
#[derive(Clone)]
pub struct BuildContext {
    /// The id being built.
    pub id: ComponentId,
    /// Internal metrics and health.
    pub telemetry: Arc<Telemetry>,
    /// Routes for the admin server, merged when it starts.
    pub admin_routes: AdminRoutes,
    /// The installation's redaction key: `redaction` processors and the
    /// sentinel key their hashes with it, as the always-on redactor does.
    pub redaction_key: RedactionKey,
}

/// A running source of records.
#[async_trait]
pub trait Receiver: Send {
    /// Binds ports and opens files (errors here stop start-up with a clear
    /// message), then spawns the work and returns its handle. The task ends
    /// when `shutdown` is cancelled or its input is finite and exhausted; it
    /// drops `output` when done, which lets pipelines drain.
    async fn start(
        self: Box<Self>,
        output: Output,
        shutdown: CancellationToken,
    ) -> Result<JoinHandle<()>, ComponentError>;
}

/// Processes records inside one pipeline, in order.
pub trait Processor: Send {
    /// Processes one batch; `None` (or an empty batch) means nothing goes on.
    fn process(&mut self, batch: Batch) -> Option<Batch>;

    /// When the processor holds records, the latest moment to call [`Processor::flush`].
    fn next_flush(&self) -> Option<tokio::time::Instant> {
        None
    }

    /// Releases held records (at the deadline and at shutdown).
    fn flush(&mut self) -> Option<Batch> {
        None
    }
}

/// A long-running helper next to the pipelines.
#[async_trait]
pub trait Extension: Send {
    /// Binds and spawns; stops when `shutdown` is cancelled.
    async fn start(
        self: Box<Self>,
        shutdown: CancellationToken,
    ) -> Result<JoinHandle<()>, ComponentError>;
}

/// Builds receivers of one type.
pub trait ReceiverFactory: Send + Sync {
    /// Type, aliases, stability.
    fn info(&self) -> ComponentInfo;
    /// Parses and checks a config body, without side effects.
    fn validate(&self, config: &Value) -> Result<(), Vec<ConfigError>>;
    /// Builds one instance (one per id, whatever number of pipelines use it).
    fn create(
        &self,
        ctx: &BuildContext,
        config: &Value,
    ) -> Result<Box<dyn Receiver>, ComponentError>;
    /// The Linux capabilities a running instance needs (kept when oispd
    /// drops the rest after start-up); none unless the receiver says so.
    fn capabilities(&self) -> &'static [crate::privileges::RequiredCapability] {
        &[]
    }
}

/// Builds processors of one type (one instance per pipeline).
pub trait ProcessorFactory: Send + Sync {
    /// Type, aliases, stability.
    fn info(&self) -> ComponentInfo;
    /// Parses and checks a config body, without side effects.
    fn validate(&self, config: &Value) -> Result<(), Vec<ConfigError>>;
    /// Builds the instance for `signal` in one pipeline.
    fn create(
        &self,
        ctx: &BuildContext,
        config: &Value,
        signal: Signal,
    ) -> Result<Box<dyn Processor>, ComponentError>;
}

/// Builds exporters of one type.
pub trait ExporterFactory: Send + Sync {
    /// Type, aliases, stability.
    fn info(&self) -> ComponentInfo;
    /// Parses and checks a config body, without side effects.
    fn validate(&self, config: &Value) -> Result<(), Vec<ConfigError>>;
    /// Builds the exporter and the helper settings it asks for.
    fn create(
        &self,
        ctx: &BuildContext,
        config: &Value,
    ) -> Result<(Box<dyn Exporter>, ExporterSettings), ComponentError>;
    /// Whether its exporters hand the helper a concurrent sender
    /// ([`Exporter::concurrent_sender`]) and so honour
    /// `sending_queue.num_consumers`; false (the default): one export at a
    /// time, in order, and `oispd validate` warns when more are asked for.
    fn exports_concurrently(&self) -> bool {
        false
    }
    /// Settings of a valid `config` that oispd honours differently from
    /// the collector on purpose, each naming the difference, for `oispd
    /// validate` to print as warnings (paths relative to the exporter).
    /// `signals` are those of the pipelines that use the exporter. The
    /// default: none.
    fn collector_differences(&self, config: &Value, signals: &[Signal]) -> Vec<ConfigError> {
        let _ = (config, signals);
        Vec::new()
    }
}

/// Builds connectors of one type.
pub trait ConnectorFactory: Send + Sync {
    /// Type, aliases, stability.
    fn info(&self) -> ComponentInfo;
    /// Parses and checks a config body, without side effects.
    fn validate(&self, config: &Value) -> Result<(), Vec<ConfigError>>;
    /// Pipelines that the config names as targets, to check that each exists
    /// and has this connector among its receivers.
    fn referenced_pipelines(&self, config: &Value) -> Vec<String>;
    /// The (exported from, received into) signal pairs the connector joins,
    /// as the collector's connector factories declare them. The default:
    /// each of its signals into the same signal (`routing`).
    fn signal_pairs(&self) -> Vec<(Signal, Signal)> {
        self.info().signals.iter().map(|s| (*s, *s)).collect()
    }
    /// Builds the connector; `targets` maps each pipeline that lists it as a
    /// receiver to that pipeline's input.
    fn create(
        &self,
        ctx: &BuildContext,
        config: &Value,
        targets: BTreeMap<String, Output>,
    ) -> Result<Arc<dyn Consumer>, ComponentError>;
}

/// Builds extensions of one type.
pub trait ExtensionFactory: Send + Sync {
    /// Type, aliases, stability.
    fn info(&self) -> ComponentInfo;
    /// Parses and checks a config body, without side effects.
    fn validate(&self, config: &Value) -> Result<(), Vec<ConfigError>>;
    /// Builds the extension.
    fn create(
        &self,
        ctx: &BuildContext,
        config: &Value,
    ) -> Result<Box<dyn Extension>, ComponentError>;
}
