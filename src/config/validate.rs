//! `oispd validate`: every check the collector makes before starting,
//! reported all at once, each error prefixed by its `::` path. Nothing is
//! started and no port is bound.
//!
//! [`warnings`] are valid settings worth a second look: a listener in use
//! (the admin server, the otlp receiver's gRPC and HTTP servers) bound
//! beyond loopback without authentication, where anyone who reaches it
//! reads or injects what oispd carries; and every deliberate difference
//! from the collector that a copied config meets, named:
//! `sending_queue.num_consumers` above 1 on an exporter that sends one
//! request at a time; a `sending_queue` written without a size, whose
//! bound is oispd's (16 MiB of encoded records), not the collector's (1000
//! requests); a `sending_queue` that drops its oldest batch when full
//! because records reach it from a source nobody can refuse (capture, a
//! replayed file, a `batch` processor's flush), where the collector
//! refuses the new records; `queue_size` on a persistent queue, which
//! `max_storage_bytes` bounds instead; `sending_queue.storage` written as a
//! directory path rather than the id of a `file_storage` extension; and
//! what an exporter type reports
//! of its own config (`ExporterFactory::collector_differences`: the kafka
//! exporter's per-resource keyed OTLP messages, the file exporter's
//! `flush_interval: 0`). `oispd validate` prints them and still exits 0;
//! `oispd` logs them at start.

use super::{Config, PipelineConfig, KINDS};
use crate::registry::Registry;
use oispd_component::{ComponentId, ConfigError, Kind, Signal};
use serde_yaml_ng::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Receivers that hold their sender's answer until the exporters' queues
/// took its records, so that a full queue refuses the records back to the
/// sender, as in the collector.
const ANSWERING_RECEIVERS: &[&str] = &["otlp"];
/// Processors that hold records and hand them on later by themselves, when
/// no sender waits on them any more.
const HOLDING_PROCESSORS: &[&str] = &["batch"];

/// The otlp receiver's protocols and their default endpoints.
const OTLP_PROTOCOLS: [(&str, &str); 2] = [("grpc", "localhost:4317"), ("http", "localhost:4318")];

/// Checks `config` against the registry; an empty result means valid.
pub fn validate(config: &Config, registry: &Registry) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    check_components(config, registry, &mut errors);
    check_ambiguous_ids(config, &mut errors);
    check_service(config, registry, &mut errors);
    check_queue_storage(config, &mut errors);
    errors
}

/// The `sending_queue.storage` values written on exporters, by exporter id.
fn queue_storages(config: &Config) -> Vec<(String, &str)> {
    config
        .section(Kind::Exporter)
        .iter()
        .filter_map(|(id, body)| {
            let storage = body.get("sending_queue")?.get("storage")?.as_str()?;
            Some((id.to_string(), storage))
        })
        .collect()
}

/// `sending_queue.storage` naming a storage extension: it must be a
/// configured `file_storage` extension listed in `service.extensions`, as
/// in the collector.
fn check_queue_storage(config: &Config, errors: &mut Vec<ConfigError>) {
    use oispd_exporters::file_storage::{resolve_storage, StorageRef};
    for (name, storage) in queue_storages(config) {
        let path = ["exporters", name.as_str(), "sending_queue", "storage"];
        match resolve_storage(std::path::Path::new(storage), |id| {
            config.body(Kind::Extension, id)
        }) {
            Err(e) => errors.push(ConfigError::new(&path, e)),
            Ok(StorageRef::Extension { id, .. }) if !config.service.extensions.contains(&id) => {
                errors.push(ConfigError::new(
                    &path,
                    format!("extension {id:?} is not enabled: list it in service::extensions"),
                ));
            }
            Ok(_) => {}
        }
    }
}

/// `sending_queue.storage` written as a directory path: oispd's extension
/// of a key that in the collector names a storage extension.
fn storage_paths(config: &Config, out: &mut Vec<ConfigError>) {
    use oispd_exporters::file_storage::{resolve_storage, StorageRef};
    for (name, storage) in queue_storages(config) {
        let resolved = resolve_storage(std::path::Path::new(storage), |id| {
            config.body(Kind::Extension, id)
        });
        if let Ok(StorageRef::Directory(_)) = resolved {
            out.push(ConfigError::new(
                &["exporters", &name, "sending_queue", "storage"],
                format!("{storage:?} is a directory path, an oispd extension of this key: the collector takes the id of a storage extension; declare extensions: {{file_storage: {{directory: {storage}}}}} and write storage: file_storage"),
            ));
        }
    }
}

/// Listeners in use that are bound beyond loopback without
/// authentication, each naming the component and the key.
pub fn warnings(config: &Config, registry: &Registry) -> Vec<ConfigError> {
    let mut out = Vec::new();
    single_writer_concurrency(config, registry, &mut out);
    unsized_queues(config, &mut out);
    queues_dropping_the_oldest(config, &mut out);
    persistent_queue_sizes(config, &mut out);
    storage_paths(config, &mut out);
    exporter_differences(config, registry, &mut out);
    let used_extensions: BTreeSet<&str> = config
        .service
        .extensions
        .iter()
        .map(String::as_str)
        .collect();
    for (id, body) in config.section(Kind::Extension) {
        let name = id.to_string();
        if id.type_name() != "admin" || !used_extensions.contains(name.as_str()) {
            continue;
        }
        if let Some(endpoint) = crate::admin::exposure_warning(body) {
            out.push(ConfigError::new(
                &["extensions", &name, "endpoint"],
                format!("{endpoint} listens beyond loopback without authentication: anyone who reaches it reads every prompt oispd sees; set extensions::{name}::auth (bearer_token_file), or listen on 127.0.0.1 or a Unix socket (transport: unix)"),
            ));
        }
    }
    let used_receivers: BTreeSet<&str> = config
        .service
        .pipelines
        .values()
        .flat_map(|p| p.receivers.iter().map(String::as_str))
        .collect();
    for (id, body) in config.section(Kind::Receiver) {
        let name = id.to_string();
        if id.type_name() != "otlp" || !used_receivers.contains(name.as_str()) {
            continue;
        }
        let Some(protocols) = body.get("protocols").and_then(Value::as_mapping) else {
            continue;
        };
        for (protocol, default) in OTLP_PROTOCOLS {
            let Some(settings) = protocols.get(protocol) else {
                continue;
            };
            if settings.get("auth").is_some() {
                continue;
            }
            let endpoint = settings
                .get("endpoint")
                .and_then(Value::as_str)
                .unwrap_or(default);
            if !crate::admin::config::is_loopback_endpoint(endpoint) {
                out.push(ConfigError::new(
                    &["receivers", &name, "protocols", protocol, "endpoint"],
                    format!("{endpoint} listens beyond loopback without authentication: anyone who reaches it can inject records; bind it to localhost unless a network boundary protects it"),
                ));
            }
        }
    }
    out
}

/// `sending_queue.num_consumers` above 1 written on an exporter whose type
/// keeps one request in flight (it writes in order to one place).
fn single_writer_concurrency(config: &Config, registry: &Registry, out: &mut Vec<ConfigError>) {
    for (id, body) in config.section(Kind::Exporter) {
        let Some(factory) = registry.exporter(id.type_name()) else {
            continue;
        };
        let consumers = body
            .get("sending_queue")
            .and_then(|q| q.get("num_consumers"))
            .and_then(Value::as_u64);
        match consumers {
            Some(n) if n > 1 && !factory.exports_concurrently() => {
                let name = id.to_string();
                out.push(ConfigError::new(
                    &["exporters", &name, "sending_queue", "num_consumers"],
                    format!("{n} is ignored: the {} exporter writes in order and keeps one request in flight", id.type_name()),
                ));
            }
            _ => {}
        }
    }
}

/// A `sending_queue` section with no `queue_size` (and no `storage`, no
/// `sizer` other than bytes) on an exporter: a collector user tuning the
/// queue may expect the collector's 1000 requests; oispd bounds it by
/// bytes instead, on purpose.
fn unsized_queues(config: &Config, out: &mut Vec<ConfigError>) {
    for (id, body) in config.section(Kind::Exporter) {
        let Some(queue) = body.get("sending_queue").and_then(Value::as_mapping) else {
            continue;
        };
        let written = |key: &str| queue.get(key).is_some_and(|v| !v.is_null());
        let in_memory = !written("storage") && queue.get("enabled") != Some(&Value::Bool(false));
        let sizer_bytes = queue
            .get("sizer")
            .and_then(Value::as_str)
            .is_none_or(|s| s == "bytes");
        if in_memory && !written("queue_size") && sizer_bytes {
            let name = id.to_string();
            out.push(ConfigError::new(
                &["exporters", &name, "sending_queue"],
                format!(
                    "no queue_size: oispd bounds this queue at {} MiB of OTLP-encoded records, where the collector holds 1000 requests of any size; write queue_size (and sizer) to choose",
                    oispd_component::exporter::DEFAULT_QUEUE_BYTES / (1024 * 1024)
                ),
            ));
        }
    }
}

/// A written `sending_queue` section, unless it is disabled or blocks when
/// full: the settings under which a full queue makes room itself.
fn overflowing_queue(body: &Value) -> Option<&serde_yaml_ng::Mapping> {
    let queue = body.get("sending_queue")?.as_mapping()?;
    let off = |key: &str, value: bool| queue.get(key) == Some(&Value::Bool(value));
    (!off("enabled", false) && !off("block_on_overflow", true)).then_some(queue)
}

/// The receivers and processors whose records reach each pipeline's
/// exporters with no sender waiting for them (so that a full queue cannot
/// refuse them), by pipeline id, following connectors upstream.
fn unanswered_sources(config: &Config) -> BTreeMap<&str, BTreeSet<String>> {
    fn visit<'a>(
        pid: &'a str,
        config: &'a Config,
        done: &mut BTreeMap<&'a str, BTreeSet<String>>,
        visiting: &mut BTreeSet<&'a str>,
    ) -> BTreeSet<String> {
        if let Some(known) = done.get(pid) {
            return known.clone();
        }
        let Some(pipeline) = config.service.pipelines.get(pid) else {
            return BTreeSet::new();
        };
        if !visiting.insert(pid) {
            return BTreeSet::new(); // a cycle, reported as an error elsewhere
        }
        let mut sources = BTreeSet::new();
        for r in &pipeline.receivers {
            let Some(id) = parse_ref(r) else { continue };
            if config.section(Kind::Connector).contains_key(&id) {
                for (upstream, p) in &config.service.pipelines {
                    if p.exporters.contains(r) {
                        sources.extend(visit(upstream, config, done, visiting));
                    }
                }
            } else if !ANSWERING_RECEIVERS.contains(&id.type_name()) {
                sources.insert(format!("receiver {r:?}"));
            }
        }
        for p in &pipeline.processors {
            if parse_ref(p).is_some_and(|id| HOLDING_PROCESSORS.contains(&id.type_name())) {
                sources.insert(format!("processor {p:?}"));
            }
        }
        visiting.remove(pid);
        done.insert(pid, sources.clone());
        sources
    }
    let mut done = BTreeMap::new();
    for pid in config.service.pipelines.keys() {
        visit(pid, config, &mut done, &mut BTreeSet::new());
    }
    done
}

/// A written `sending_queue` (neither disabled nor blocking) on an exporter
/// that records reach with nobody to refuse them to: when full, oispd drops
/// the oldest batch to take them (capture cannot be pushed back), where the
/// collector refuses the new records.
fn queues_dropping_the_oldest(config: &Config, out: &mut Vec<ConfigError>) {
    let sources = unanswered_sources(config);
    for (id, body) in config.section(Kind::Exporter) {
        if overflowing_queue(body).is_none() {
            continue;
        }
        let name = id.to_string();
        let feeding: BTreeSet<&String> = config
            .service
            .pipelines
            .iter()
            .filter(|(_, p)| p.exporters.contains(&name))
            .filter_map(|(pid, _)| sources.get(pid.as_str()))
            .flatten()
            .collect();
        if feeding.is_empty() {
            continue;
        }
        let feeding: Vec<&str> = feeding.into_iter().map(String::as_str).collect();
        out.push(ConfigError::new(
            &["exporters", &name, "sending_queue"],
            format!(
                "when full, oispd drops the oldest queued batch to take records from {} (nobody waits to be refused them), where the collector refuses the new records; set block_on_overflow: true to make the pipeline wait instead",
                feeding.join(", ")
            ),
        ));
    }
}

/// `queue_size` written beside `storage`: oispd bounds a persistent queue
/// by `max_storage_bytes` only, where the collector's holds `queue_size`.
fn persistent_queue_sizes(config: &Config, out: &mut Vec<ConfigError>) {
    for (id, body) in config.section(Kind::Exporter) {
        let Some(queue) = body.get("sending_queue").and_then(Value::as_mapping) else {
            continue;
        };
        let written = |key: &str| queue.get(key).filter(|v| !v.is_null());
        if let (Some(_), Some(size)) = (written("storage"), written("queue_size")) {
            let size = serde_yaml_ng::to_string(size).unwrap_or_default();
            out.push(ConfigError::new(
                &["exporters", &id.to_string(), "sending_queue", "queue_size"],
                format!(
                    "{} does not bound a persistent queue in oispd: max_storage_bytes does (default {} MiB), where the collector's persistent queue holds queue_size",
                    size.trim(),
                    oispd_component::exporter::DEFAULT_MAX_STORAGE_BYTES / (1024 * 1024)
                ),
            ));
        }
    }
}

/// What each used exporter's type reports of its own config.
fn exporter_differences(config: &Config, registry: &Registry, out: &mut Vec<ConfigError>) {
    for (id, body) in config.section(Kind::Exporter) {
        let Some(factory) = registry.exporter(id.type_name()) else {
            continue;
        };
        let name = id.to_string();
        let signals: BTreeSet<Signal> = config
            .service
            .pipelines
            .iter()
            .filter(|(_, p)| p.exporters.contains(&name))
            .filter_map(|(pid, _)| pipeline_signal(pid).ok())
            .collect();
        if signals.is_empty() {
            continue;
        }
        let signals: Vec<Signal> = signals.into_iter().collect();
        out.extend(
            factory
                .collector_differences(body, &signals)
                .into_iter()
                .map(|w| w.prefixed(&["exporters", &name])),
        );
    }
}

fn check_components(config: &Config, registry: &Registry, errors: &mut Vec<ConfigError>) {
    for kind in KINDS {
        for (id, body) in config.section(kind) {
            let path = [kind.section(), &id.to_string()];
            match registry.validate_body(kind, id.type_name(), body) {
                None => {
                    let valid: Vec<&str> =
                        registry.infos(kind).iter().map(|i| i.type_name).collect();
                    let hint = if kind == Kind::Exporter && id.type_name() == "logging" {
                        "the logging exporter has been deprecated, use the debug exporter instead"
                            .to_string()
                    } else {
                        format!(
                            "unknown type: {:?} for id: {:?} (valid values: [{}])",
                            id.type_name(),
                            id.to_string(),
                            valid.join(", ")
                        )
                    };
                    errors.push(ConfigError::new(&path, hint));
                }
                Some(Err(list)) => {
                    errors.extend(list.into_iter().map(|e| e.prefixed(&path)));
                }
                Some(Ok(())) => {}
            }
        }
    }
}

fn check_ambiguous_ids(config: &Config, errors: &mut Vec<ConfigError>) {
    for id in config.section(Kind::Connector).keys() {
        for other in [Kind::Exporter, Kind::Receiver] {
            if config.section(other).contains_key(id) {
                errors.push(ConfigError::new(
                    &["connectors", &id.to_string()],
                    format!(
                        "ambiguous ID: Found both {id:?} {} and {id:?} connector. Change one of the components' IDs to eliminate ambiguity (e.g. rename {id:?} connector to \"{id}/connector\")",
                        other.noun(),
                        id = id.to_string()
                    ),
                ));
            }
        }
    }
}

/// Where a pipeline id's signal comes from.
fn pipeline_signal(pid: &str) -> Result<Signal, String> {
    let id = ComponentId::parse(pid)?;
    match Signal::from_pipeline_type(id.type_name()) {
        Some(s) => Ok(s),
        None if id.type_name() == "profiles" => Err(format!(
            "pipeline {pid:?}: oispd carries logs, traces and metrics only; the {} signal is not supported",
            id.type_name()
        )),
        None => Err(format!(
            "pipeline {pid:?}: unknown signal {:?}: use logs, traces or metrics",
            id.type_name()
        )),
    }
}

fn parse_ref(text: &str) -> Option<ComponentId> {
    ComponentId::parse(text).ok()
}

fn check_service(config: &Config, registry: &Registry, errors: &mut Vec<ConfigError>) {
    let service = &config.service;
    for ext in &service.extensions {
        let known =
            parse_ref(ext).is_some_and(|id| config.section(Kind::Extension).contains_key(&id));
        if !known {
            errors.push(ConfigError::new(
                &["service", "extensions"],
                format!("references extension {ext:?} which is not configured"),
            ));
        }
    }
    if service.pipelines.is_empty() {
        errors.push(ConfigError::new(
            &["service"],
            "must have at least one pipeline",
        ));
        return;
    }
    // connector id -> (signals it is exported to, signals it receives into)
    let mut connector_use: BTreeMap<ComponentId, (BTreeSet<Signal>, BTreeSet<String>)> =
        BTreeMap::new();
    for (pid, pipeline) in &service.pipelines {
        let path = ["service", "pipelines", pid.as_str()];
        let signal = match pipeline_signal(pid) {
            Ok(s) => s,
            Err(e) => {
                errors.push(ConfigError::new(&["service", "pipelines"], e));
                continue;
            }
        };
        check_pipeline(config, pipeline, &path, errors);
        check_signal_support(config, registry, pipeline, signal, &path, errors);
        for r in &pipeline.receivers {
            if let Some(id) =
                parse_ref(r).filter(|id| config.section(Kind::Connector).contains_key(id))
            {
                connector_use.entry(id).or_default().1.insert(pid.clone());
            }
        }
        for e in &pipeline.exporters {
            if let Some(id) =
                parse_ref(e).filter(|id| config.section(Kind::Connector).contains_key(id))
            {
                connector_use.entry(id).or_default().0.insert(signal);
            }
        }
        let _ = registry;
    }
    check_connectors(config, registry, &connector_use, errors);
    if let Some(cycle) = find_cycle(config) {
        errors.push(ConfigError::new(
            &[],
            format!("failed to build pipelines: cycle detected: {cycle}"),
        ));
    }
}

fn check_pipeline(
    config: &Config,
    pipeline: &PipelineConfig,
    path: &[&str],
    errors: &mut Vec<ConfigError>,
) {
    if pipeline.receivers.is_empty() {
        errors.push(ConfigError::new(path, "must have at least one receiver"));
    }
    if pipeline.exporters.is_empty() {
        errors.push(ConfigError::new(path, "must have at least one exporter"));
    }
    let known = |kinds: &[Kind], text: &str| {
        parse_ref(text).is_some_and(|id| kinds.iter().any(|k| config.section(*k).contains_key(&id)))
    };
    for r in &pipeline.receivers {
        if !known(&[Kind::Receiver, Kind::Connector], r) {
            errors.push(ConfigError::new(
                path,
                format!("references receiver {r:?} which is not configured"),
            ));
        }
    }
    let mut seen = BTreeSet::new();
    for p in &pipeline.processors {
        if !known(&[Kind::Processor], p) {
            errors.push(ConfigError::new(
                path,
                format!("references processor {p:?} which is not configured"),
            ));
        }
        if !seen.insert(p) {
            errors.push(ConfigError::new(
                path,
                format!("references processor {p:?} multiple times"),
            ));
        }
    }
    for e in &pipeline.exporters {
        if !known(&[Kind::Exporter, Kind::Connector], e) {
            errors.push(ConfigError::new(
                path,
                format!("references exporter {e:?} which is not configured"),
            ));
        }
    }
}

/// Every receiver, processor and exporter of a pipeline handles its signal
/// (connectors are checked by [`check_connectors`]).
fn check_signal_support(
    config: &Config,
    registry: &Registry,
    pipeline: &PipelineConfig,
    signal: Signal,
    path: &[&str],
    errors: &mut Vec<ConfigError>,
) {
    for (kind, texts) in [
        (Kind::Receiver, &pipeline.receivers),
        (Kind::Processor, &pipeline.processors),
        (Kind::Exporter, &pipeline.exporters),
    ] {
        let configured = texts
            .iter()
            .filter_map(|t| parse_ref(t))
            .filter(|id| config.section(kind).contains_key(id));
        for id in configured {
            let Some(signals) = component_signals(registry, kind, id.type_name()) else {
                continue;
            };
            if !signals.contains(&signal) {
                let names: Vec<&str> = signals.iter().map(|s| s.as_str()).collect();
                errors.push(ConfigError::new(
                    path,
                    format!(
                        "{} \"{id}\" does not support {signal}: its type handles {}",
                        kind.noun(),
                        names.join(", ")
                    ),
                ));
            }
        }
    }
}

/// The signals a receiver, processor or exporter type handles.
fn component_signals(
    registry: &Registry,
    kind: Kind,
    type_name: &str,
) -> Option<&'static [Signal]> {
    let info = match kind {
        Kind::Receiver => registry.receiver(type_name).map(|f| f.info()),
        Kind::Processor => registry.processor(type_name).map(|f| f.info()),
        Kind::Exporter => registry.exporter(type_name).map(|f| f.info()),
        Kind::Connector | Kind::Extension => None,
    };
    info.map(|i| i.signals)
}

fn check_connectors(
    config: &Config,
    registry: &Registry,
    usage: &BTreeMap<ComponentId, (BTreeSet<Signal>, BTreeSet<String>)>,
    errors: &mut Vec<ConfigError>,
) {
    for (id, body) in config.section(Kind::Connector) {
        let (exported_from, receiving) = usage.get(id).cloned().unwrap_or_default();
        let receiving_signals: BTreeSet<Signal> = receiving
            .iter()
            .filter_map(|p| pipeline_signal(p).ok())
            .collect();
        if exported_from.is_empty() && receiving.is_empty() {
            continue; // unused components are allowed, as in the collector
        }
        let pairs = registry
            .connector(id.type_name())
            .map(|f| f.signal_pairs())
            .unwrap_or_default();
        let joins = |from: Signal, to: Signal| pairs.contains(&(from, to));
        for s in &exported_from {
            if !receiving_signals.iter().any(|t| joins(*s, *t)) {
                errors.push(ConfigError::new(
                    &[],
                    format!("failed to build pipelines: connector \"{id}\" used as exporter in {s} pipeline but not used in any supported receiver pipeline"),
                ));
            }
        }
        for p in &receiving {
            let used_as_exporter =
                pipeline_signal(p).is_ok_and(|t| exported_from.iter().any(|s| joins(*s, t)));
            if !used_as_exporter {
                errors.push(ConfigError::new(
                    &[],
                    format!("failed to build pipelines: connector \"{id}\" used as receiver in [{p}] pipeline but not used in any supported exporter pipeline"),
                ));
            }
        }
        if let Some(factory) = registry.connector(id.type_name()) {
            for target in factory.referenced_pipelines(body) {
                if !config.service.pipelines.contains_key(&target) {
                    errors.push(ConfigError::new(
                        &["connectors", &id.to_string()],
                        format!("routes to pipeline {target:?} which is not configured"),
                    ));
                } else if !receiving.contains(&target) {
                    errors.push(ConfigError::new(
                        &["connectors", &id.to_string()],
                        format!("routes to pipeline {target:?}, which does not list \"{id}\" among its receivers"),
                    ));
                }
            }
        }
    }
}

/// A cycle through connectors (pipeline -> connector -> pipeline ...), as text.
fn find_cycle(config: &Config) -> Option<String> {
    let connectors = config.section(Kind::Connector);
    // edges: pipeline -> pipelines fed by connectors it exports to
    let mut edges: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
    for (pid, p) in &config.service.pipelines {
        for e in p
            .exporters
            .iter()
            .filter(|e| parse_ref(e).is_some_and(|id| connectors.contains_key(&id)))
        {
            for (qid, q) in &config.service.pipelines {
                if q.receivers.contains(e) {
                    edges
                        .entry(pid.as_str())
                        .or_default()
                        .push((e.as_str(), qid.as_str()));
                }
            }
        }
    }
    fn visit<'a>(
        node: &'a str,
        edges: &BTreeMap<&'a str, Vec<(&'a str, &'a str)>>,
        stack: &mut Vec<(&'a str, &'a str)>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<String> {
        if done.contains(node) {
            return None;
        }
        for (conn, next) in edges.get(node).map(|v| v.as_slice()).unwrap_or_default() {
            if let Some(pos) = stack.iter().position(|(_, p)| p == next) {
                let mut parts: Vec<String> = stack[pos..]
                    .iter()
                    .map(|(c, p)| format!("connector \"{c}\" -> pipeline \"{p}\""))
                    .collect();
                parts.push(format!("connector \"{conn}\" -> pipeline \"{next}\""));
                return Some(parts.join(" -> "));
            }
            stack.push((conn, next));
            if let Some(c) = visit(next, edges, stack, done) {
                return Some(c);
            }
            stack.pop();
        }
        done.insert(node);
        None
    }
    let mut done = BTreeSet::new();
    for start in config.service.pipelines.keys() {
        let mut stack = vec![("", start.as_str())];
        if let Some(c) = visit(start, &edges, &mut stack, &mut done) {
            return Some(c);
        }
    }
    None
}
