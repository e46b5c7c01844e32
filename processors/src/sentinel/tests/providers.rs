//! SEC-42 shadow AI and SEC-43 large uploads.

use super::*;

fn request(provider: Value, content: &str) -> LogRecord {
    event(
        "ai.request",
        json!({"provider": provider, "messages": [{"role": "user", "content": content}]}),
    )
}

fn at(mut rec: LogRecord, seconds: u64) -> LogRecord {
    rec.time_unix_nano = 1_767_323_045_000_000_000 + seconds * 1_000_000_000;
    rec
}

/// Scenario: an allow-list of openai and anthropic; requests to deepseek
/// (name `other`, id `deepseek`), a DNS lookup and a connection to
/// unlisted providers; repeats within and after the interval.
/// Guarantees: SEC-42 medium, once per process/provider per interval.
#[test]
fn shadow_ai() {
    let mut s = sentinel_with("allowed_providers: [openai, Anthropic]");
    let deepseek = request(
        json!({"name": "other", "id": "deepseek", "endpoint": "https://api.deepseek.com/chat/completions"}),
        "hi",
    );
    let f = one(&mut s, &at(deepseek.clone(), 0), DetectorId::ShadowAi);
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(f.evidence[0]["kind"], "deepseek");
    assert_eq!(f.summary, "Shadow AI: python3 (pid 4242) used deepseek, which is not an allowed provider (ai.request)");
    none_of(&mut s, &[at(deepseek.clone(), 60)], DetectorId::ShadowAi);
    one(&mut s, &at(deepseek, 3601), DetectorId::ShadowAi);

    let dns = event(
        "network.dns",
        json!({"query_name": "api.mistral.ai", "query_type": "A"}),
    );
    assert_eq!(
        one(&mut s, &dns, DetectorId::ShadowAi).evidence[0]["kind"],
        "mistral"
    );
    let connect = event_from(
        "node",
        "network.connect",
        json!({"dest": {"ip": "104.18.7.192", "port": 443, "domain": "api.groq.com"}, "protocol": "tcp"}),
    );
    assert_eq!(
        one(&mut s, &connect, DetectorId::ShadowAi).evidence[0]["host"],
        "api.groq.com"
    );

    none_of(
        &mut s,
        &[
            request(
                json!({"name": "openai", "endpoint": "https://api.openai.com/v1/chat/completions"}),
                "hi",
            ),
            request(json!({"name": "anthropic"}), "hi"),
            event(
                "network.connect",
                json!({"dest": {"ip": "140.82.112.3", "port": 443, "domain": "github.com"}}),
            ),
            event("network.dns", json!({"query_name": "api.openai.com"})),
        ],
        DetectorId::ShadowAi,
    );
}

/// Scenario: no allow-list.
/// Guarantees: SEC-42 is off (every provider allowed).
#[test]
fn no_allow_list_means_no_shadow_ai() {
    let mut s = sentinel();
    none_of(
        &mut s,
        &[request(json!({"name": "other", "id": "deepseek"}), "hi")],
        DetectorId::ShadowAi,
    );
}

/// Scenario: requests of 5 MiB and 20 MiB of content (text and an inline
/// image), a big flow to a provider, a big flow elsewhere, a normal chat.
/// Guarantees: SEC-43 medium over the threshold, high from 4x; nothing
/// for ordinary traffic.
#[test]
fn large_uploads() {
    let mut s = sentinel();
    let big = "x".repeat(5 * 1024 * 1024);
    let f = one(
        &mut s,
        &request(json!({"name": "openai"}), &big),
        DetectorId::LargeUpload,
    );
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(f.evidence[0]["bytes"], 5 * 1024 * 1024);
    assert!(
        f.summary
            .starts_with("Large upload to openai by python3 (pid 4242): 5.0 MiB in one request"),
        "{}",
        f.summary
    );
    let image = format!("data:image/png;base64,{}", "A".repeat(20 * 1024 * 1024));
    let rec = event(
        "ai.request",
        json!({"provider": {"name": "anthropic"}, "messages": [{"role": "user", "content": [
            {"type": "text", "text": "what is in this picture?"},
            {"type": "image_url", "image_url": {"url": image}}
        ]}]}),
    );
    assert_eq!(
        one(&mut s, &rec, DetectorId::LargeUpload).severity,
        Severity::High
    );
    let flow = event(
        "network.flow",
        json!({"dest": {"ip": "104.18.7.192", "port": 443, "domain": "api.openai.com"}, "bytes_sent": 9_000_000, "bytes_received": 2000}),
    );
    assert_eq!(
        one(&mut s, &flow, DetectorId::LargeUpload).evidence[0]["provider"],
        "openai"
    );
    none_of(
        &mut s,
        &[
            event(
                "network.flow",
                json!({"dest": {"domain": "backup.example.com", "port": 443}, "bytes_sent": 90_000_000}),
            ),
            request(
                json!({"name": "openai"}),
                "Summarize this paragraph for me.",
            ),
        ],
        DetectorId::LargeUpload,
    );
    let mut s = sentinel_with("upload_threshold_bytes: 100");
    assert_eq!(
        one(
            &mut s,
            &request(json!({"name": "openai"}), &"y".repeat(150)),
            DetectorId::LargeUpload
        )
        .severity,
        Severity::Medium
    );
}
