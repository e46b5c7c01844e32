//! The context objects every OISP event may carry: host, actor, process, app,
//! web context, source (provenance), confidence, related events and trace
//! context (`schema/v0.1/common/*.schema.json` and the envelope's `$defs`).
//!
//! Every object whose schema allows additional properties keeps unknown keys
//! in a flattened `extra` map, so that parsing and re-serializing an event
//! loses nothing.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

/// Unknown keys of an object, kept verbatim.
pub type Extra = Map<String, Value>;

/// Host or device where the event originated (`common/host.schema.json`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Host {
    /// Hostname of the machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Unique device identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// OS family: `linux`, `darwin`, `windows`, `freebsd`, `other`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    /// OS version (`Ubuntu 22.04`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    /// CPU architecture: `x86_64`, `aarch64`, `arm`, `i686`, `other`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// Kernel version (`6.5.0-44-generic`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_version: Option<String>,
    /// Cloud provider metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud: Option<Cloud>,
    /// Container context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<Container>,
    /// Kubernetes context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k8s: Option<K8s>,
    /// Whether this is a managed (corporate) device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed: Option<bool>,
    /// Custom tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Cloud provider metadata of a host.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Cloud {
    /// `aws`, `gcp`, `azure`, `digitalocean`, `other`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Cloud region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Instance id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// Instance type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Container context of a host.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Container {
    /// Container id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Container name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Image name and tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// `docker`, `containerd`, `crio`, `podman`, `other`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Kubernetes context of a host.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct K8s {
    /// Cluster name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_name: Option<String>,
    /// Namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Pod name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_name: Option<String>,
    /// Pod UID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_uid: Option<String>,
    /// The container's name in the pod spec (OTel `k8s.container.name`;
    /// an oispd addition to OISP's `k8s` object, which allows extra keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    /// Node name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
    /// Deployment name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<String>,
    /// Service account name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
    /// Pod labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<IndexMap<String, String>>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// User or identity context (`common/actor.schema.json`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Actor {
    /// Unix user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// Unix group id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    /// User name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Group memberships.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
    /// Login session id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// TTY.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal: Option<String>,
    /// Enterprise identity (IdP / SSO).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
    /// Service account of a non-human actor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<ServiceAccount>,
    /// How the actor authenticated (`password`, `sso`, `token`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_method: Option<String>,
    /// Elevated privileges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_elevated: Option<bool>,
    /// Believed to be a human.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_human: Option<bool>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Enterprise identity of an actor.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    /// `okta`, `azure_ad`, `google_workspace`, `onelogin`, `jumpcloud`, `other`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Corporate e-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// User principal name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upn: Option<String>,
    /// Employee id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employee_id: Option<String>,
    /// Department.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// Job title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
    /// Manager.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager: Option<String>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Service account of a non-human actor.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceAccount {
    /// Account name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `kubernetes`, `iam`, `service_principal`, `api_key`, `other`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Process context (`common/process.schema.json`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessInfo {
    /// Process id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// Parent process id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ppid: Option<u32>,
    /// Process group id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pgid: Option<u32>,
    /// Session id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<u32>,
    /// Executable path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exe: Option<String>,
    /// Process name (basename of exe or comm).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Full command line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmdline: Option<String>,
    /// Command line as arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmdline_args: Option<Vec<String>>,
    /// Working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// Selected environment variables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<IndexMap<String, String>>,
    /// Process start time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// macOS bundle id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_id: Option<String>,
    /// Code signing information.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_signature: Option<CodeSignature>,
    /// Hashes of the executable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<BinaryHash>,
    /// Parent process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<ParentProcess>,
    /// Ancestry chain (parent, grandparent, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ancestors: Option<Vec<AncestorProcess>>,
    /// Thread id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<u32>,
    /// Linux capabilities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Vec<String>>,
    /// Container id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
    /// Cgroup path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<String>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Code signing information of an executable.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CodeSignature {
    /// Signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed: Option<bool>,
    /// Signature valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid: Option<bool>,
    /// Signing identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    /// Team id (macOS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
    /// Notarized (macOS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notarized: Option<bool>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Hashes of an executable (lower-case hex).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BinaryHash {
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

/// Parent of a process.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ParentProcess {
    /// Process id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// Executable path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exe: Option<String>,
    /// Process name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Command line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmdline: Option<String>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One ancestor of a process.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AncestorProcess {
    /// Process id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// Executable path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exe: Option<String>,
    /// Process name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Application that initiated an AI request (`common/app.schema.json`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct App {
    /// Id from the app registry (`cursor`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Vendor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// Version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// macOS bundle id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_id: Option<String>,
    /// `dev_tools`, `chat`, `productivity`, `creative`, `browser`, `cli`, `server`, `other`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// `unknown`, `identified`, `profiled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// Known to use AI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_ai_app: Option<bool>,
    /// Hosts AI extensions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_ai_host: Option<bool>,
    /// `native`, `web`, `extension`, `cli`, `server`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Subscription tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription: Option<String>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Browser context of a web-originated request (`common/web_context.schema.json`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WebContext {
    /// `Origin` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// `Referer` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referer: Option<String>,
    /// `User-Agent` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// Web app id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_app_id: Option<String>,
    /// Web app name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_app_name: Option<String>,
    /// `direct` or `embedded`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_app_type: Option<String>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Technical method used to capture an event (`source.capture_method`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptureMethod {
    /// eBPF tracepoint.
    EbpfTracepoint,
    /// eBPF kprobe.
    EbpfKprobe,
    /// eBPF uprobe.
    EbpfUprobe,
    /// DTrace.
    Dtrace,
    /// Event Tracing for Windows.
    Etw,
    /// Syscall interception.
    SyscallIntercept,
    /// Plaintext captured at the TLS library boundary.
    TlsBoundary,
    /// Man-in-the-middle proxy.
    MitmProxy,
    /// Browser extension.
    BrowserExtension,
    /// SDK instrumentation.
    SdkInstrumentation,
    /// Vendor API.
    VendorApi,
    /// Vendor audit log.
    VendorAuditLog,
    /// Log parsing.
    LogParsing,
    /// macOS Endpoint Security.
    EndpointSecurity,
    /// Network extension.
    NetworkExtension,
    /// Anything else.
    Other,
}

/// Provenance of an event (envelope `$defs/source`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Source {
    /// Name of the collector that generated the event (`oispd`).
    pub collector: String,
    /// Collector version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collector_version: Option<String>,
    /// Capture method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture_method: Option<CaptureMethod>,
    /// Capture point (`ssl_write`, `execve`, `connect`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture_point: Option<String>,
    /// Sensor host name when it differs from the event host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensor_host: Option<String>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Source {
    /// Provenance `oispd` at this crate's version with the given method and point.
    pub fn oispd(capture_method: CaptureMethod, capture_point: impl Into<String>) -> Source {
        Source {
            collector: crate::COLLECTOR_NAME.to_string(),
            collector_version: Some(crate::VERSION.to_string()),
            capture_method: Some(capture_method),
            capture_point: Some(capture_point.into()),
            sensor_host: None,
            extra: Extra::new(),
        }
    }
}

/// Overall confidence level (`confidence.level`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfidenceLevel {
    /// High.
    High,
    /// Medium.
    Medium,
    /// Low.
    Low,
    /// Inferred.
    Inferred,
}

/// How complete the captured data is (`confidence.completeness`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Completeness {
    /// Everything was captured.
    Full,
    /// Some data is missing (truncated body, missed start of a stream).
    Partial,
    /// Only metadata.
    MetadataOnly,
    /// Content was redacted.
    Redacted,
    /// Sampled.
    Sampled,
    /// Reported by a vendor.
    VendorReported,
}

/// Confidence and completeness metadata (`common/confidence.schema.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Confidence {
    /// Confidence level.
    pub level: ConfidenceLevel,
    /// Completeness.
    pub completeness: Completeness,
    /// Reasons supporting the assessment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasons: Option<Vec<String>>,
    /// Fields known to be missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<Vec<String>>,
    /// Known limitations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limitations: Option<Vec<String>>,
    /// `direct`, `socket_inode`, `cgroup`, `timing_correlation`, `heuristic`, `unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_attribution: Option<String>,
    /// `plaintext_capture`, `tls_boundary`, `mitm_decryption`, `vendor_api`, `log_extraction`, `inference`, `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_source: Option<String>,
    /// `known_endpoint`, `payload_inspection`, `header_fingerprint`, `content_pattern`,
    /// `model_string_match`, `heuristic`, `vendor_reported`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ai_detection_method: Option<String>,
    /// Sampling rate in [0, 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_rate: Option<Number>,
    /// Whether redaction was applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redaction_applied: Option<bool>,
    /// Redaction profile applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redaction_profile: Option<String>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Confidence {
    /// A confidence with only the two required fields set.
    pub fn new(level: ConfidenceLevel, completeness: Completeness) -> Confidence {
        Confidence {
            level,
            completeness,
            reasons: None,
            missing: None,
            limitations: None,
            process_attribution: None,
            content_source: None,
            ai_detection_method: None,
            sample_rate: None,
            redaction_applied: None,
            redaction_profile: None,
            extra: Extra::new(),
        }
    }
}

/// Nature of a relationship between two events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relationship {
    /// The related event is this event's parent.
    Parent,
    /// The related event is this event's child.
    Child,
    /// This event was caused by the related event.
    CausedBy,
    /// This event causes the related event.
    Causes,
    /// Otherwise related.
    Related,
}

/// A link to another event (`related_events[]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RelatedEvent {
    /// Related event's id.
    pub event_id: String,
    /// Relationship.
    pub relationship: Relationship,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

impl RelatedEvent {
    /// A link to `event_id` with `relationship`.
    pub fn new(event_id: impl Into<String>, relationship: Relationship) -> RelatedEvent {
        RelatedEvent {
            event_id: event_id.into(),
            relationship,
            extra: Extra::new(),
        }
    }
}

/// W3C trace context of an event (`trace_context`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TraceContext {
    /// Trace id, 32 lower-case hex characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// Span id, 16 lower-case hex characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span_id: Option<String>,
    /// Trace flags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_flags: Option<u8>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}
