//! The wire format of the capture-under-load benchmark: OpenAI Chat
//! Completions requests of an exact body size that the `ai-calls` client
//! sends ([`RequestTemplate`]), and the non-streaming answers with token
//! usage that the `fake-provider` server gives ([`completion`]).
//!
//! Every request is distinct (its call number is written into the prompt),
//! so a capture that repeated or merged calls would show up in the counts.

use serde_json::json;

/// Path of the Chat Completions API.
pub const CHAT_PATH: &str = "/v1/chat/completions";

/// API key the client sends; oispd must reduce it to a prefix and a hash.
const API_KEY: &str = "sk-bench-0123456789abcdefghijklmnopqrstuvwxyzABCD";

/// Digits of the call number inside the prompt.
const CALL_DIGITS: usize = 12;

/// Sentence the prompt is filled with up to the body size.
const FILLER: &str = "Summarise the quarterly report for the operations team in plain words. ";

/// A pre-built HTTP/1.1 request whose call number is rewritten per call.
#[derive(Clone, Debug)]
pub struct RequestTemplate {
    bytes: Vec<u8>,
    /// Offset of the call number's first digit in `bytes`.
    number_at: usize,
    body_len: usize,
}

impl RequestTemplate {
    /// A request to `authority` (the `Host` header) for `model` whose JSON
    /// body is exactly `body_bytes` long (at least the size of the JSON
    /// without filler, about 200 bytes).
    pub fn new(authority: &str, model: &str, body_bytes: usize) -> anyhow::Result<Self> {
        let marker = "#".repeat(CALL_DIGITS);
        let shell = |content: &str| {
            json!({
                "model": model,
                "messages": [
                    {"role": "system", "content": "You are a concise assistant for an operations team."},
                    {"role": "user", "content": content},
                ],
                "max_tokens": 64,
                "temperature": 0,
            })
            .to_string()
        };
        let head = format!("Call {marker}. ");
        let empty = shell(&head).len();
        anyhow::ensure!(
            body_bytes >= empty,
            "body-bytes must be at least {empty} for this model name"
        );
        let fill: String = FILLER.chars().cycle().take(body_bytes - empty).collect();
        let body = shell(&format!("{head}{fill}"));
        debug_assert_eq!(body.len(), body_bytes);
        let request = format!(
            "POST {CHAT_PATH} HTTP/1.1\r\nhost: {authority}\r\nauthorization: Bearer {API_KEY}\r\n\
             content-type: application/json\r\naccept: application/json\r\n\
             user-agent: oispd-loadgen/{}\r\ncontent-length: {}\r\n\r\n{body}",
            env!("CARGO_PKG_VERSION"),
            body.len()
        );
        let number_at = request
            .find(&marker)
            .ok_or_else(|| anyhow::anyhow!("call number marker missing"))?;
        Ok(RequestTemplate {
            bytes: request.into_bytes(),
            number_at,
            body_len: body.len(),
        })
    }

    /// The request bytes of call `n` (the number modulo 10^12).
    pub fn render(&mut self, n: u64) -> &[u8] {
        let mut v = n;
        for i in (0..CALL_DIGITS).rev() {
            self.bytes[self.number_at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
        &self.bytes
    }

    /// Length of the JSON body.
    pub fn body_len(&self) -> usize {
        self.body_len
    }

    /// Length of the whole request (head and body).
    pub fn request_len(&self) -> usize {
        self.bytes.len()
    }
}

/// The model a request body asks for, if it is JSON with a `model` string.
pub fn requested_model(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Req {
        model: Option<String>,
    }
    serde_json::from_slice::<Req>(body).ok()?.model
}

/// A complete HTTP/1.1 response: a non-streaming chat completion for
/// `model`, numbered `seq`, with prompt tokens estimated from the request
/// body's size (4 bytes a token).
pub fn completion(model: &str, seq: u64, body_len: usize, created: u64) -> Vec<u8> {
    let prompt_tokens = (body_len / 4) as u64;
    let completion_tokens = 12u64;
    let body = json!({
        "id": format!("chatcmpl-bench{seq:012}"),
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": "Operations met every target this quarter; costs fell four percent."},
            "logprobs": null,
            "finish_reason": "stop",
        }],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    })
    .to_string();
    let mut out = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         x-request-id: req_bench{seq:012}\r\nopenai-processing-ms: 1\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

/// An HTTP/1.1 error response with an OpenAI-style error body.
pub fn error_response(status: u16, reason: &str, message: &str) -> Vec<u8> {
    let body = json!({"error": {"message": message, "type": "invalid_request_error"}}).to_string();
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scenario: a template for an 8 KiB body, rendered for two calls.
    /// Guarantees: the body is exactly the size asked for, valid JSON with
    /// the model, the content-length header matches, and each call's prompt
    /// carries its own number.
    #[test]
    fn requests_have_the_exact_body_size_and_their_call_number() {
        let mut t = RequestTemplate::new("api.openai.com:8443", "gpt-4o-mini", 8192)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.body_len(), 8192);
        let first = t.render(7).to_vec();
        let second = t.render(123_456_789_012).to_vec();
        for (req, number) in [(&first, "000000000007"), (&second, "123456789012")] {
            let mut headers = [httparse::EMPTY_HEADER; 16];
            let mut parsed = httparse::Request::new(&mut headers);
            let head = match parsed.parse(req) {
                Ok(httparse::Status::Complete(n)) => n,
                other => panic!("request head did not parse: {other:?}"),
            };
            assert_eq!(parsed.path, Some(CHAT_PATH));
            let length = parsed
                .headers
                .iter()
                .find(|h| h.name == "content-length")
                .map(|h| String::from_utf8_lossy(h.value).to_string());
            assert_eq!(length.as_deref(), Some("8192"));
            let body = &req[head..];
            assert_eq!(body.len(), 8192);
            let v: serde_json::Value =
                serde_json::from_slice(body).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(v["model"], "gpt-4o-mini");
            let prompt = v["messages"][1]["content"].as_str().unwrap_or_default();
            assert!(
                prompt.starts_with(&format!("Call {number}. ")),
                "{prompt:.40}"
            );
            assert_eq!(requested_model(body).as_deref(), Some("gpt-4o-mini"));
        }
    }

    /// Scenario: a body size smaller than the JSON around the prompt.
    /// Guarantees: refused with an error, not a short body.
    #[test]
    fn too_small_a_body_is_refused() {
        assert!(RequestTemplate::new("api.openai.com", "gpt-4o-mini", 100).is_err());
    }

    /// Scenario: the answer to a request.
    /// Guarantees: a complete HTTP/1.1 response whose body is a chat
    /// completion with the model asked for and consistent usage.
    #[test]
    fn completion_is_a_chat_completion_with_usage() {
        let resp = completion("gpt-4o-mini", 3, 8192, 1_700_000_000);
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut parsed = httparse::Response::new(&mut headers);
        let head = match parsed.parse(&resp) {
            Ok(httparse::Status::Complete(n)) => n,
            other => panic!("response head did not parse: {other:?}"),
        };
        assert_eq!(parsed.code, Some(200));
        let v: serde_json::Value =
            serde_json::from_slice(&resp[head..]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v["model"], "gpt-4o-mini");
        assert_eq!(v["object"], "chat.completion");
        assert_eq!(v["usage"]["prompt_tokens"], 2048);
        assert_eq!(v["usage"]["total_tokens"], 2060);
        assert_eq!(v["choices"][0]["finish_reason"], "stop");
    }
}
