//! The `oispd` command line: `validate` and `components`, run as a user
//! would, checking exit codes and the exact collector-style messages.

use std::io::Write;
use std::process::{Command, Output};

fn oispd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oispd"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run oispd: {e}"))
}

fn config_file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new()
        .suffix(".yaml")
        .tempfile()
        .unwrap_or_else(|e| panic!("{e}"));
    f.write_all(text.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    f
}

fn validate(text: &str) -> (i32, String, String) {
    let f = config_file(text);
    let path = f.path().to_string_lossy().to_string();
    let out = oispd(&["validate", "--config", &path]);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// Scenario: a valid config. Guarantees: exit 0 and no output at all.
#[test]
fn valid_config_prints_nothing_and_exits_zero() {
    let (code, out, err) = validate(
        "receivers: {otlp: {protocols: {grpc: {endpoint: '127.0.0.1:1'}}}}\nexporters: {file: {path: /tmp/x.jsonl}}\nservice: {pipelines: {logs: {receivers: [otlp], exporters: [file]}}}\n",
    );
    assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""));
}

/// Scenario: several mistakes at once. Guarantees: exit 1 and every error,
/// each prefixed by its path in the collector's style.
#[test]
fn every_error_is_reported_with_its_path() {
    let (code, _, err) = validate(
        r#"
receivers:
  otlp: {protocols: {grpc: {}}}
exporters:
  file: {path: /tmp/x.jsonl, rotation: {max_mb: 3}}
  nosuch: {}
service:
  extensions: [admin]
  pipelines:
    logs:
      receivers: [otlp]
      exporters: [file, nope]
"#,
    );
    assert_eq!(code, 1, "{err}");
    for expected in [
        "Error: exporters::file: 'rotation' has invalid keys: max_mb",
        "Error: exporters::nosuch: unknown type: \"nosuch\" for id: \"nosuch\" (valid values: [",
        "Error: service::extensions: references extension \"admin\" which is not configured",
        "Error: service::pipelines::logs: references exporter \"nope\" which is not configured",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
}

/// Scenario: a metrics pipeline fed by the genai_metrics connector, and
/// the mistakes a user can make with one: a logs-only exporter in it, the
/// connector joining logs to logs, a processor that cannot take metrics.
/// Guarantees: the valid config passes silently; each mistake is named
/// with its path, the component and the signals its type handles.
#[test]
fn metrics_pipelines_check_signals() {
    let valid = "receivers: {jsonl: {path: /tmp/x.jsonl}}\n\
        connectors: {genai_metrics: {}}\n\
        exporters: {otlp_grpc: {endpoint: '127.0.0.1:1'}, otlp_http: {endpoint: 'http://127.0.0.1:1'}}\n\
        service: {pipelines: {logs: {receivers: [jsonl], exporters: [genai_metrics]},\n\
          metrics: {receivers: [genai_metrics], exporters: [otlp_grpc, otlp_http]}}}\n";
    let (code, out, err) = validate(valid);
    assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""));

    let (code, _, err) = validate(
        r#"
receivers: {jsonl: {path: /tmp/x.jsonl}}
processors: {filter: {log_conditions: ['true']}}
connectors: {genai_metrics: {}}
exporters:
  kafka: {brokers: ['127.0.0.1:1']}
  file: {path: /tmp/y.jsonl}
service:
  pipelines:
    logs: {receivers: [jsonl], exporters: [genai_metrics]}
    metrics: {receivers: [genai_metrics], processors: [filter], exporters: [kafka]}
"#,
    );
    assert_eq!(code, 1, "{err}");
    for expected in [
        "Error: service::pipelines::metrics: exporter \"kafka\" does not support metrics: its type handles logs, traces",
        "Error: service::pipelines::metrics: processor \"filter\" does not support metrics: its type handles logs, traces",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
    let (code, _, err) = validate(
        "receivers: {jsonl: {path: /tmp/x.jsonl}}\n\
         connectors: {genai_metrics: {}}\n\
         exporters: {file: {path: /tmp/y.jsonl}}\n\
         service: {pipelines: {logs: {receivers: [jsonl], exporters: [genai_metrics]},\n\
           logs/out: {receivers: [genai_metrics], exporters: [file]}}}\n",
    );
    assert_eq!(code, 1, "{err}");
    for expected in [
        "connector \"genai_metrics\" used as exporter in logs pipeline but not used in any supported receiver pipeline",
        "connector \"genai_metrics\" used as receiver in [logs/out] pipeline but not used in any supported exporter pipeline",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
}

/// Scenario: validation must not start anything. Guarantees: a config whose
/// port is taken still validates (nothing is bound).
#[test]
fn validate_binds_no_port() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = busy.local_addr().map(|a| a.port()).unwrap_or_default();
    let (code, _, err) = validate(&format!(
        "receivers: {{otlp: {{protocols: {{grpc: {{endpoint: '127.0.0.1:{port}'}}}}}}}}\nexporters: {{debug: {{}}}}\nservice: {{pipelines: {{logs: {{receivers: [otlp], exporters: [debug]}}}}}}\n"
    ));
    assert_eq!(code, 0, "{err}");
}

/// Scenario: env expansion with a default. Guarantees: `${env:VAR:-default}` resolves.
#[test]
fn env_defaults_are_expanded_before_validation() {
    let f = config_file(
        "receivers: {otlp: {protocols: {grpc: {endpoint: '${env:OISPD_TEST_UNSET_ENDPOINT:-127.0.0.1:4317}'}}}}\nexporters: {debug: {}}\nservice: {pipelines: {logs: {receivers: [otlp], exporters: [debug]}}}\n",
    );
    let path = f.path().to_string_lossy().to_string();
    let out = oispd(&["validate", "--config", &path]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Scenario: a missing config file. Guarantees: one line naming the file.
#[test]
fn missing_config_file_is_named() {
    let out = oispd(&["validate", "--config", "/nonexistent/oispd.yaml"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("/nonexistent/oispd.yaml"), "{err}");
}

/// Scenario: `oispd components`. Guarantees: every kind and the core types are listed.
#[test]
fn components_lists_every_kind() {
    let out = oispd(&["components"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "receivers:",
        "processors:",
        "exporters:",
        "connectors:",
        "extensions:",
        "name: otlp",
        "name: jsonl",
        "name: file",
        "name: otlp_grpc",
        "name: otlp_http",
        "name: debug",
        "name: admin",
        "name: genai_metrics",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

/// Scenario: the embedded default config. Guarantees: it validates.
#[test]
fn embedded_default_config_is_valid() {
    let out = oispd(&["validate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const SENSOR_TOML: &str = r#"
[export.jsonl]
enabled = true
path = "/tmp/oispd-sensor-test.jsonl"
append = true
rotate_size_mb = 10
rotate_count = 3

[export.otlp]
enabled = true
endpoint = "http://127.0.0.1:4317"
protocol = "grpc"
service_name = "oisp-sensor"

[export.webhook]
enabled = true
url = "http://127.0.0.1:9/hook"
batch_size = 10
flush_interval_ms = 500
timeout_ms = 2000
retry_count = 3

[export.kafka]
enabled = false
brokers = "127.0.0.1:9092"
topic = "oisp"
"#;

/// Scenario: `oispd config convert sensor.toml`. Guarantees: the printed
/// YAML is a valid oispd config (validated by the binary itself) that has
/// every enabled export and none of the disabled ones.
#[test]
fn sensor_toml_converts_to_a_valid_pipeline() {
    let mut toml = tempfile::Builder::new()
        .suffix(".toml")
        .tempfile()
        .unwrap_or_else(|e| panic!("{e}"));
    toml.write_all(SENSOR_TOML.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let toml_path = toml.path().to_string_lossy().to_string();
    let out = oispd(&["config", "convert", &toml_path]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let yaml = String::from_utf8_lossy(&out.stdout).to_string();
    for needle in ["ebpf", "file", "otlp_grpc", "webhook"] {
        assert!(yaml.contains(needle), "missing {needle:?} in:\n{yaml}");
    }
    assert!(!yaml.contains("kafka"), "{yaml}");
    let (code, _, err) = validate(&yaml);
    assert_eq!(
        code, 0,
        "converted config does not validate:\n{err}\n{yaml}"
    );
    // The TOML itself is accepted by --config as the same pipeline.
    let direct = oispd(&["validate", "--config", &toml_path]);
    assert!(
        direct.status.success(),
        "{}",
        String::from_utf8_lossy(&direct.stderr)
    );
}

/// Scenario: the reference deployment config a user copies.
/// Guarantees: `oispd validate --config config/otel-style.yaml` passes.
#[test]
fn reference_config_is_valid() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/otel-style.yaml");
    let out = oispd(&["validate", "--config", path]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Scenario: the admin server and the otlp receiver's gRPC and HTTP
/// servers listen on every interface without authentication; then the same
/// with the admin server behind a token, the receiver on loopback, and the
/// same settings on components no pipeline uses.
/// Guarantees: exit 0 either way; each exposed listener gets one warning
/// naming its component and key; protected, loopback and unused listeners
/// get none.
#[test]
fn listeners_beyond_loopback_without_auth_are_warned_about() {
    let (code, out, err) = validate(
        r#"
receivers:
  otlp: {protocols: {grpc: {endpoint: '0.0.0.0:4317'}, http: {endpoint: '[::]:4318'}}}
  otlp/unused: {protocols: {grpc: {endpoint: '0.0.0.0:14317'}}}
exporters: {debug: {}}
extensions:
  admin: {endpoint: '0.0.0.0:7777'}
service:
  extensions: [admin]
  pipelines: {logs: {receivers: [otlp], exporters: [debug]}}
"#,
    );
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("Warning: ")).collect();
    assert_eq!(warnings.len(), 3, "{err}");
    for expected in [
        "Warning: extensions::admin::endpoint: 0.0.0.0:7777 listens beyond loopback without authentication",
        "Warning: receivers::otlp::protocols::grpc::endpoint: 0.0.0.0:4317 listens beyond loopback without authentication",
        "Warning: receivers::otlp::protocols::http::endpoint: [::]:4318 listens beyond loopback without authentication",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }

    let (code, out, err) = validate(
        r#"
receivers:
  otlp: {protocols: {grpc: {endpoint: '127.0.0.1:4317'}, http: {}}}
exporters: {debug: {}}
extensions:
  admin: {endpoint: '0.0.0.0:7777', auth: {bearer_token: 0123456789abcdef0123}}
  admin/unused: {endpoint: '0.0.0.0:7778'}
service:
  extensions: [admin]
  pipelines: {logs: {receivers: [otlp], exporters: [debug]}}
"#,
    );
    assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""));
}

/// Scenario: `sending_queue.num_consumers: 4` on a `file` exporter (a
/// single writer) and on an `otlp_grpc` exporter, and 1 on another file.
/// Guarantees: exit 0; one warning, naming the file exporter's key and
/// saying the value is ignored; none for the exporter that honours it or
/// for 1.
#[test]
fn num_consumers_on_a_single_writer_is_warned_about() {
    let (code, out, err) = validate(
        r#"
receivers:
  otlp: {protocols: {grpc: {endpoint: '127.0.0.1:4317'}}}
exporters:
  file/local: {path: /tmp/oispd-cli-test.jsonl, sending_queue: {num_consumers: 4}}
  file/one: {path: /tmp/oispd-cli-test-1.jsonl, sending_queue: {num_consumers: 1}}
  otlp_grpc: {endpoint: '127.0.0.1:4317', tls: {insecure: true}, sending_queue: {num_consumers: 4}}
service:
  pipelines: {logs: {receivers: [otlp], exporters: [file/local, file/one, otlp_grpc]}}
"#,
    );
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("Warning: ")).collect();
    assert_eq!(
        warnings,
        vec![
            "Warning: exporters::file/local::sending_queue::num_consumers: 4 is ignored: the file exporter writes in order and keeps one request in flight",
            "Warning: exporters::file/local::sending_queue: no queue_size: oispd bounds this queue at 16 MiB of OTLP-encoded records, where the collector holds 1000 requests of any size; write queue_size (and sizer) to choose",
            "Warning: exporters::file/one::sending_queue: no queue_size: oispd bounds this queue at 16 MiB of OTLP-encoded records, where the collector holds 1000 requests of any size; write queue_size (and sizer) to choose",
            "Warning: exporters::otlp_grpc::sending_queue: no queue_size: oispd bounds this queue at 16 MiB of OTLP-encoded records, where the collector holds 1000 requests of any size; write queue_size (and sizer) to choose",
        ],
        "{err}"
    );
}

/// Scenario: exporters whose `sending_queue` is written without a size
/// (only `num_consumers`, only `sizer: bytes`), with a size, with only
/// `sizer: items`, persistent, and absent.
/// Guarantees: exit 0; a warning names each unsized in-memory queue and
/// says oispd's byte bound differs from the collector's 1000 requests;
/// sized, items-sized, persistent and absent queues get none.
#[test]
fn unsized_sending_queue_says_how_oispd_differs_from_the_collector() {
    let (code, out, err) = validate(
        r#"
receivers:
  otlp: {protocols: {grpc: {endpoint: '127.0.0.1:4317'}}}
exporters:
  otlp_grpc/a: {endpoint: '127.0.0.1:1', tls: {insecure: true}, sending_queue: {num_consumers: 20}}
  otlp_grpc/b: {endpoint: '127.0.0.1:1', tls: {insecure: true}, sending_queue: {sizer: bytes}}
  otlp_grpc/c: {endpoint: '127.0.0.1:1', tls: {insecure: true}, sending_queue: {queue_size: 500}}
  otlp_grpc/d: {endpoint: '127.0.0.1:1', tls: {insecure: true}, sending_queue: {sizer: items}}
  otlp_grpc/e: {endpoint: '127.0.0.1:1', tls: {insecure: true}, sending_queue: {storage: file_storage}}
  otlp_grpc/f: {endpoint: '127.0.0.1:1', tls: {insecure: true}}
extensions:
  file_storage: {directory: /tmp/oispd-cli-q}
service:
  extensions: [file_storage]
  pipelines: {logs: {receivers: [otlp], exporters: [otlp_grpc/a, otlp_grpc/b, otlp_grpc/c, otlp_grpc/d, otlp_grpc/e, otlp_grpc/f]}}
"#,
    );
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("Warning: ")).collect();
    let note = "no queue_size: oispd bounds this queue at 16 MiB of OTLP-encoded records, where the collector holds 1000 requests of any size; write queue_size (and sizer) to choose";
    assert_eq!(
        warnings,
        vec![
            format!("Warning: exporters::otlp_grpc/a::sending_queue: {note}"),
            format!("Warning: exporters::otlp_grpc/b::sending_queue: {note}"),
        ],
        "{err}"
    );
}

fn warnings_of(err: &str) -> Vec<&str> {
    err.lines().filter(|l| l.starts_with("Warning: ")).collect()
}

/// Scenario: sized in-memory and persistent queues on exporters fed by the
/// ebpf receiver, by an otlp receiver through a `batch` processor, by the
/// ebpf pipeline through a routing connector, and by an otlp receiver
/// alone; then queues that block or are disabled, and an exporter without
/// a `sending_queue` section.
/// Guarantees: exit 0; in config order, each queue that would drop its oldest batch for
/// records nobody waits on gets one warning naming the sources that feed
/// it and the collector's behaviour; the otlp-only, blocking, disabled and
/// unwritten queues get none.
#[test]
fn queues_that_drop_the_oldest_batch_are_named() {
    let (code, out, err) = validate(
        r#"
receivers:
  ebpf: {}
  otlp: {protocols: {grpc: {endpoint: '127.0.0.1:4317'}}}
processors:
  batch/siem: {}
connectors:
  routing:
    default_pipelines: [logs/routed]
    table:
      - {context: log, condition: 'true', pipelines: [logs/routed]}
exporters:
  otlp_grpc/capture: {endpoint: '127.0.0.1:1', tls: {insecure: true}, sending_queue: {queue_size: 100}}
  otlp_grpc/disk: {endpoint: '127.0.0.1:1', tls: {insecure: true}, sending_queue: {storage: file_storage}}
  otlp_grpc/batched: {endpoint: '127.0.0.1:1', tls: {insecure: true}, sending_queue: {queue_size: 100}}
  otlp_grpc/routed: {endpoint: '127.0.0.1:1', tls: {insecure: true}, sending_queue: {queue_size: 100}}
  otlp_grpc/answered: {endpoint: '127.0.0.1:1', tls: {insecure: true}, sending_queue: {queue_size: 100}}
  otlp_grpc/blocking: {endpoint: '127.0.0.1:1', tls: {insecure: true}, sending_queue: {queue_size: 100, block_on_overflow: true}}
  otlp_grpc/disabled: {endpoint: '127.0.0.1:1', tls: {insecure: true}, sending_queue: {enabled: false}}
  otlp_grpc/unwritten: {endpoint: '127.0.0.1:1', tls: {insecure: true}}
extensions:
  file_storage: {directory: /tmp/oispd-cli-q}
service:
  extensions: [file_storage]
  pipelines:
    logs/capture:
      receivers: [ebpf]
      exporters: [otlp_grpc/capture, otlp_grpc/disk, otlp_grpc/blocking, otlp_grpc/disabled, otlp_grpc/unwritten, routing]
    logs/batched: {receivers: [otlp], processors: [batch/siem], exporters: [otlp_grpc/batched]}
    logs/routed: {receivers: [routing], exporters: [otlp_grpc/routed]}
    logs/answered: {receivers: [otlp], exporters: [otlp_grpc/answered]}
"#,
    );
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    let tail = "(nobody waits to be refused them), where the collector refuses the new records; set block_on_overflow: true to make the pipeline wait instead";
    assert_eq!(
        warnings_of(&err),
        vec![
            format!("Warning: exporters::otlp_grpc/capture::sending_queue: when full, oispd drops the oldest queued batch to take records from receiver \"ebpf\" {tail}"),
            format!("Warning: exporters::otlp_grpc/disk::sending_queue: when full, oispd drops the oldest queued batch to take records from receiver \"ebpf\" {tail}"),
            format!("Warning: exporters::otlp_grpc/batched::sending_queue: when full, oispd drops the oldest queued batch to take records from processor \"batch/siem\" {tail}"),
            format!("Warning: exporters::otlp_grpc/routed::sending_queue: when full, oispd drops the oldest queued batch to take records from receiver \"ebpf\" {tail}"),
        ],
        "{err}"
    );
}

/// Scenario: a persistent queue written with `queue_size`, and one without.
/// Guarantees: exit 0; one warning, on the first, saying that
/// max_storage_bytes bounds it where the collector's holds queue_size.
#[test]
fn queue_size_on_a_persistent_queue_is_named() {
    let (code, out, err) = validate(
        r#"
receivers:
  otlp: {protocols: {grpc: {endpoint: '127.0.0.1:4317'}}}
exporters:
  otlp_grpc/sized: {endpoint: '127.0.0.1:1', tls: {insecure: true}, sending_queue: {storage: file_storage, queue_size: 5000}}
  otlp_grpc/bytes: {endpoint: '127.0.0.1:1', tls: {insecure: true}, sending_queue: {storage: file_storage, max_storage_bytes: 1048576}}
extensions:
  file_storage: {directory: /tmp/oispd-cli-q}
service:
  extensions: [file_storage]
  pipelines: {logs: {receivers: [otlp], exporters: [otlp_grpc/sized, otlp_grpc/bytes]}}
"#,
    );
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    assert_eq!(
        warnings_of(&err),
        vec!["Warning: exporters::otlp_grpc/sized::sending_queue::queue_size: 5000 does not bound a persistent queue in oispd: max_storage_bytes does (default 256 MiB), where the collector's persistent queue holds queue_size"],
        "{err}"
    );
}

/// Scenario: kafka exporters with the default encoding (logs), with
/// `oisp_json` on logs only, and with `oisp_json` also used for traces
/// (always OTLP); file exporters with `flush_interval: 0s` and `1s`.
/// Guarantees: exit 0; each OTLP-encoded signal of a kafka exporter gets
/// one warning naming its per-resource keyed messages against the
/// collector's one unkeyed message per batch; `flush_interval: 0s` gets one
/// naming the collector's reading of 0; nothing else.
#[test]
fn exporter_types_name_their_own_differences() {
    let (code, out, err) = validate(
        r#"
receivers:
  otlp: {protocols: {grpc: {endpoint: '127.0.0.1:4317'}}}
exporters:
  kafka: {brokers: '127.0.0.1:9092'}
  kafka/oisp: {brokers: '127.0.0.1:9092', logs: {encoding: oisp_json}}
  kafka/both: {brokers: '127.0.0.1:9092', logs: {encoding: oisp_json}}
  file/now: {path: /tmp/oispd-cli-now.json, flush_interval: 0s}
  file/later: {path: /tmp/oispd-cli-later.json, flush_interval: 1s}
service:
  pipelines:
    logs: {receivers: [otlp], exporters: [kafka, kafka/oisp, kafka/both, file/now, file/later]}
    traces: {receivers: [otlp], exporters: [kafka/both]}
"#,
    );
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    let kafka = "messages hold one resource each, keyed host.name/process.pid so that one agent's records keep their order in one partition, where the collector writes one message per batch with no key";
    assert_eq!(
        warnings_of(&err),
        vec![
            format!("Warning: exporters::kafka::logs::encoding: otlp_proto {kafka}"),
            format!("Warning: exporters::kafka/both::traces::encoding: otlp_proto {kafka}"),
            "Warning: exporters::file/now::flush_interval: 0 writes every batch before its export returns, where the collector's file exporter reads 0 as unset and flushes every 1s".to_string(),
        ],
        "{err}"
    );
}

/// Scenario: `sending_queue.storage` as the collector writes it (the id of
/// a `file_storage` extension, compaction keys included) and as a
/// directory path; then an id of no configured extension and an extension
/// left out of `service.extensions`.
/// Guarantees: the extension form validates silently; the path form
/// validates with one warning saying it is oispd's extension of the key;
/// the other two are errors naming the key, as in the collector.
#[test]
fn queue_storage_names_a_file_storage_extension() {
    let (code, out, err) = validate(
        r#"
receivers:
  otlp: {protocols: {grpc: {endpoint: '127.0.0.1:4317'}}}
exporters:
  otlp_grpc/ext: {endpoint: '127.0.0.1:1', tls: {insecure: true}, sending_queue: {storage: file_storage/q}}
  otlp_grpc/path: {endpoint: '127.0.0.1:1', tls: {insecure: true}, sending_queue: {storage: /tmp/oispd-cli-q}}
extensions:
  file_storage/q: {directory: /tmp/oispd-cli-q, create_directory: true, compaction: {on_start: true, on_rebound: true, directory: /tmp}}
service:
  extensions: [file_storage/q]
  pipelines: {logs: {receivers: [otlp], exporters: [otlp_grpc/ext, otlp_grpc/path]}}
"#,
    );
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    assert_eq!(
        warnings_of(&err),
        vec!["Warning: exporters::otlp_grpc/path::sending_queue::storage: \"/tmp/oispd-cli-q\" is a directory path, an oispd extension of this key: the collector takes the id of a storage extension; declare extensions: {file_storage: {directory: /tmp/oispd-cli-q}} and write storage: file_storage"],
        "{err}"
    );

    let (code, _, err) = validate(
        r#"
receivers:
  otlp: {protocols: {grpc: {endpoint: '127.0.0.1:4317'}}}
exporters:
  otlp_grpc/missing: {endpoint: '127.0.0.1:1', tls: {insecure: true}, sending_queue: {storage: file_storage}}
  otlp_grpc/unlisted: {endpoint: '127.0.0.1:1', tls: {insecure: true}, sending_queue: {storage: file_storage/q}}
extensions:
  file_storage/q: {directory: /tmp/oispd-cli-q}
service:
  pipelines: {logs: {receivers: [otlp], exporters: [otlp_grpc/missing, otlp_grpc/unlisted]}}
"#,
    );
    assert_eq!(code, 1, "{err}");
    for expected in [
        "exporters::otlp_grpc/missing::sending_queue::storage: references extension \"file_storage\" which is not configured",
        "exporters::otlp_grpc/unlisted::sending_queue::storage: extension \"file_storage/q\" is not enabled: list it in service::extensions",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
}
