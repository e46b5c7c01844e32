//! Reading OISP events straight from the OTLP log record body (a kvlist),
//! without converting to JSON: the envelope fields detectors need, and the
//! text of the event split into segments that say where the text came from
//! (a user message, a tool result, a command...). Where text comes from
//! decides which detectors look at it: indirect injection is injection in a
//! tool result, a dangerous command is one that runs.

use oispd_component::proto::tonic::common::v1::any_value::Value as Av;
use oispd_component::proto::tonic::common::v1::{AnyValue, KeyValue};
use oispd_component::proto::tonic::logs::v1::LogRecord;
use std::fmt::Write as _;

/// The value under `key` in a kvlist.
pub fn get<'a>(kvs: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    kvs.iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
}

/// The value at a path of keys.
pub fn get_path<'a>(kvs: &'a [KeyValue], path: &[&str]) -> Option<&'a AnyValue> {
    let (last, parents) = path.split_last()?;
    let mut cur = kvs;
    for p in parents {
        cur = kv_of(get(cur, p)?)?;
    }
    get(cur, last)
}

/// A string value.
pub fn str_of(v: &AnyValue) -> Option<&str> {
    match v.value.as_ref()? {
        Av::StringValue(s) => Some(s),
        _ => None,
    }
}

/// A kvlist value.
pub fn kv_of(v: &AnyValue) -> Option<&[KeyValue]> {
    match v.value.as_ref()? {
        Av::KvlistValue(kv) => Some(&kv.values),
        _ => None,
    }
}

/// An array value.
pub fn arr_of(v: &AnyValue) -> Option<&[AnyValue]> {
    match v.value.as_ref()? {
        Av::ArrayValue(a) => Some(&a.values),
        _ => None,
    }
}

/// A number (int or double) as `f64`.
pub fn num_of(v: &AnyValue) -> Option<f64> {
    match v.value.as_ref()? {
        Av::IntValue(i) => Some(*i as f64),
        Av::DoubleValue(d) => Some(*d),
        _ => None,
    }
}

/// The string at a path.
pub fn get_str<'a>(kvs: &'a [KeyValue], path: &[&str]) -> Option<&'a str> {
    str_of(get_path(kvs, path)?)
}

/// The parts of an OISP event that every detector uses.
#[derive(Clone, Copy, Debug)]
pub struct EventView<'a> {
    /// The whole event.
    pub body: &'a [KeyValue],
    /// `event_type`.
    pub event_type: &'a str,
    /// `event_id` (empty if missing).
    pub event_id: &'a str,
    /// `data` (empty if missing).
    pub data: &'a [KeyValue],
}

impl<'a> EventView<'a> {
    /// The OISP event a log record carries as a kvlist body, if any.
    pub fn from_record(rec: &'a LogRecord) -> Option<EventView<'a>> {
        let body = kv_of(rec.body.as_ref()?)?;
        let event_type = get_str(body, &["event_type"])?;
        Some(EventView {
            body,
            event_type,
            event_id: get_str(body, &["event_id"]).unwrap_or(""),
            data: get(body, "data").and_then(kv_of).unwrap_or(&[]),
        })
    }

    /// `process.name`, else the last part of `process.exe`.
    pub fn process_name(&self) -> Option<&'a str> {
        get_str(self.body, &["process", "name"]).or_else(|| {
            get_str(self.body, &["process", "exe"]).map(|e| e.rsplit('/').next().unwrap_or(e))
        })
    }

    /// `process.pid`.
    pub fn pid(&self) -> Option<i64> {
        get_path(self.body, &["process", "pid"])
            .and_then(num_of)
            .map(|n| n as i64)
    }

    /// `data.tool.name` (agent events).
    pub fn tool_name(&self) -> Option<&'a str> {
        get_str(self.data, &["tool", "name"])
    }

    /// `data.tool.type` (agent events).
    pub fn tool_type(&self) -> Option<&'a str> {
        get_str(self.data, &["tool", "type"])
    }

    /// `data.provider.name` (AI events).
    pub fn provider_name(&self) -> Option<&'a str> {
        get_str(self.data, &["provider", "name"])
    }

    /// `data.provider.id` (the catalogue id behind `other`).
    pub fn provider_id(&self) -> Option<&'a str> {
        get_str(self.data, &["provider", "id"])
    }

    /// "process `name` (pid N)" for summaries.
    pub fn actor_label(&self) -> String {
        match (self.process_name(), self.pid()) {
            (Some(n), Some(p)) => format!("{n} (pid {p})"),
            (Some(n), None) => n.to_string(),
            (None, Some(p)) => format!("pid {p}"),
            (None, None) => "an unknown process".to_string(),
        }
    }
}

/// Where a piece of text came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A user message or prompt: direct input.
    UserPrompt,
    /// A system or developer prompt.
    SystemPrompt,
    /// Model output (or earlier assistant turns).
    AssistantOutput,
    /// A tool result fed back to a model.
    ToolOutput,
    /// Retrieved content (RAG results, tool definitions, file previews).
    Retrieved,
    /// Tool call arguments that are not a command.
    ToolArguments,
    /// A command that runs: process arguments, shell tool input.
    Command,
    /// A file path an agent touches.
    FilePath,
}

impl Source {
    /// True for content that did not come from the user or the operator:
    /// injection there is indirect.
    pub fn is_third_party(self) -> bool {
        matches!(self, Source::ToolOutput | Source::Retrieved)
    }
}

/// What a segment holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Content<'a> {
    /// Text.
    Text(&'a str),
    /// A `$redacted` marker left by an earlier redaction pass.
    Redacted {
        /// `reason` (`secret_detected`, `pii_detected`).
        reason: &'a str,
        /// `detector` (the credential kind or PII class).
        detector: &'a str,
    },
}

/// One part of a path in an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part<'a> {
    /// A map key.
    Key(&'a str),
    /// An array index.
    Index(usize),
}

/// A path in an event (`data.messages[1].content`).
#[derive(Clone, Debug, Default)]
pub struct FieldPath<'a>(Vec<Part<'a>>);

impl<'a> FieldPath<'a> {
    fn push(&mut self, p: Part<'a>) {
        self.0.push(p);
    }

    fn pop(&mut self) {
        self.0.pop();
    }

    /// The path as text.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for p in &self.0 {
            match p {
                Part::Key(k) => {
                    if !s.is_empty() {
                        s.push('.');
                    }
                    s.push_str(k);
                }
                Part::Index(i) => {
                    let _ = write!(s, "[{i}]");
                }
            }
        }
        s
    }
}

/// A piece of text in an event, where it is, and where it came from.
pub struct Segment<'s, 'a> {
    /// The text or marker.
    pub content: Content<'s>,
    /// Its origin.
    pub source: Source,
    /// Its path in the event.
    pub field: &'s FieldPath<'a>,
}

/// Keys of content maps that never hold prose worth scanning.
const SKIP_KEYS: &[&str] = &[
    "type",
    "id",
    "role",
    "tool_use_id",
    "tool_call_id",
    "cache_control",
    "mime_type",
    "media_type",
    "content_hash",
    "content_length",
];

/// Tool-call argument keys whose values are commands to run.
const COMMAND_KEYS: &[&str] = &[
    "command", "cmd", "commands", "script", "shell", "bash", "code",
];

/// Tool names or types that run commands.
fn is_shell_tool(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "bash",
        "shell",
        "terminal",
        "exec",
        "command",
        "run_cmd",
        "powershell",
        "subprocess",
        "code_interpreter",
        "computer",
    ]
    .iter()
    .any(|t| n.contains(t))
        || matches!(n.as_str(), "sh" | "zsh" | "run" | "cmd")
}

/// Calls `f` for every segment of text in the event.
pub fn for_each_segment<'a>(ev: &EventView<'a>, f: &mut dyn FnMut(&Segment<'_, 'a>)) {
    let mut path = FieldPath::default();
    path.push(Part::Key("data"));
    let data = ev.data;
    match ev.event_type {
        "ai.request" => {
            for (key, source) in [
                ("messages", None),
                ("contents", None),
                ("system", Some(Source::SystemPrompt)),
                ("instructions", Some(Source::SystemPrompt)),
                ("prompt", Some(Source::UserPrompt)),
                ("input", Some(Source::UserPrompt)),
                ("tools", Some(Source::Retrieved)),
            ] {
                if let Some(v) = get(data, key) {
                    path.push(Part::Key(key));
                    match source {
                        Some(s) => content(v, s, &mut path, f),
                        None => messages(v, &mut path, f),
                    }
                    path.pop();
                }
            }
        }
        "ai.response" => {
            for key in [
                "choices",
                "content",
                "output",
                "candidates",
                "message",
                "text",
            ] {
                if let Some(v) = get(data, key) {
                    path.push(Part::Key(key));
                    content(v, Source::AssistantOutput, &mut path, f);
                    path.pop();
                }
            }
            if let Some(v) = get(data, "tool_calls") {
                path.push(Part::Key("tool_calls"));
                content(v, Source::ToolArguments, &mut path, f);
                path.pop();
            }
        }
        "agent.tool_call" => {
            let shell = ev.tool_name().is_some_and(is_shell_tool)
                || ev.tool_type().is_some_and(is_shell_tool);
            if let Some(v) = get(data, "arguments") {
                path.push(Part::Key("arguments"));
                arguments(v, shell, &mut path, f);
                path.pop();
            }
        }
        "agent.tool_result" => {
            for key in ["result", "error", "output", "content"] {
                if let Some(v) = get(data, key) {
                    path.push(Part::Key(key));
                    content(v, Source::ToolOutput, &mut path, f);
                    path.pop();
                }
            }
        }
        "agent.rag_retrieve" => {
            for (key, source) in [
                ("results", Source::Retrieved),
                ("query", Source::UserPrompt),
            ] {
                if let Some(v) = get(data, key) {
                    path.push(Part::Key(key));
                    content(v, source, &mut path, f);
                    path.pop();
                }
            }
        }
        "process.exec" => {
            let args = get(data, "args")
                .and_then(arr_of)
                .map(|a| a.iter().filter_map(str_of).collect::<Vec<&str>>().join(" "));
            let (text, key) = match args {
                Some(a) if !a.is_empty() => (a, "args"),
                _ => match get_str(data, &["exe"]) {
                    Some(e) => (e.to_string(), "exe"),
                    None => return,
                },
            };
            path.push(Part::Key(key));
            f(&Segment {
                content: Content::Text(&text),
                source: Source::Command,
                field: &path,
            });
            path.pop();
        }
        t if t.starts_with("file.") => {
            for key in ["path", "old_path", "new_path"] {
                if let Some(p) = get_str(data, &[key]) {
                    path.push(Part::Key(key));
                    f(&Segment {
                        content: Content::Text(p),
                        source: Source::FilePath,
                        field: &path,
                    });
                    path.pop();
                }
            }
            if let Some(v) = get(data, "content_preview") {
                path.push(Part::Key("content_preview"));
                content(v, Source::Retrieved, &mut path, f);
                path.pop();
            }
        }
        _ => {}
    }
}

/// A list of chat messages: the role decides the source of each.
fn messages<'a>(v: &'a AnyValue, path: &mut FieldPath<'a>, f: &mut dyn FnMut(&Segment<'_, 'a>)) {
    let Some(list) = arr_of(v) else {
        content(v, Source::UserPrompt, path, f);
        return;
    };
    for (i, m) in list.iter().enumerate() {
        path.push(Part::Index(i));
        match kv_of(m) {
            Some(msg) => {
                let role = get_str(msg, &["role"]).unwrap_or("user");
                let source = match role {
                    "system" | "developer" => Source::SystemPrompt,
                    "assistant" | "model" => Source::AssistantOutput,
                    "tool" | "function" | "ipython" => Source::ToolOutput,
                    _ => Source::UserPrompt,
                };
                for kv in msg {
                    let Some(val) = kv.value.as_ref() else {
                        continue;
                    };
                    let s = match kv.key.as_str() {
                        "content" | "parts" | "text" => source,
                        "tool_calls" | "function_call" => Source::ToolArguments,
                        _ => continue,
                    };
                    path.push(Part::Key(&kv.key));
                    content(val, s, path, f);
                    path.pop();
                }
            }
            None => content(m, Source::UserPrompt, path, f),
        }
        path.pop();
    }
}

/// Message content: a string, a `$redacted` marker, or parts.
fn content<'a>(
    v: &'a AnyValue,
    source: Source,
    path: &mut FieldPath<'a>,
    f: &mut dyn FnMut(&Segment<'_, 'a>),
) {
    match v.value.as_ref() {
        Some(Av::StringValue(s)) => f(&Segment {
            content: Content::Text(s),
            source,
            field: path,
        }),
        Some(Av::ArrayValue(a)) => {
            for (i, item) in a.values.iter().enumerate() {
                path.push(Part::Index(i));
                content(item, source, path, f);
                path.pop();
            }
        }
        Some(Av::KvlistValue(kv)) => {
            let kvs = &kv.values;
            // A marker only when the map holds nothing else: a `$redacted`
            // key written next to other content must not hide it.
            let marker = match kvs.as_slice() {
                [only] if only.key == crate::redaction::MARKER_KEY => {
                    only.value.as_ref().and_then(kv_of)
                }
                _ => None,
            };
            if let Some(marker) = marker {
                f(&Segment {
                    content: Content::Redacted {
                        reason: get_str(marker, &["reason"]).unwrap_or(""),
                        detector: get_str(marker, &["detector"]).unwrap_or(""),
                    },
                    source,
                    field: path,
                });
                return;
            }
            let part_type = get_str(kvs, &["type"]).unwrap_or("");
            if part_type.contains("image")
                || matches!(
                    part_type,
                    "document" | "input_audio" | "audio" | "file" | "input_file"
                )
            {
                return;
            }
            let inner = match part_type {
                "tool_result" | "function_result" | "tool_response" | "function_call_output" => {
                    Source::ToolOutput
                }
                "tool_use" | "function_call" | "tool_call" => Source::ToolArguments,
                _ => source,
            };
            for kv in kvs {
                if SKIP_KEYS.contains(&kv.key.as_str()) {
                    continue;
                }
                let Some(val) = kv.value.as_ref() else {
                    continue;
                };
                let s = match kv.key.as_str() {
                    "tool_calls" | "function_call" => Source::ToolArguments,
                    _ => inner,
                };
                path.push(Part::Key(&kv.key));
                content(val, s, path, f);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Tool-call arguments: commands when the tool runs commands or the key
/// says so, plain arguments otherwise.
fn arguments<'a>(
    v: &'a AnyValue,
    shell: bool,
    path: &mut FieldPath<'a>,
    f: &mut dyn FnMut(&Segment<'_, 'a>),
) {
    match v.value.as_ref() {
        Some(Av::KvlistValue(kv)) => {
            for e in &kv.values {
                let Some(val) = e.value.as_ref() else {
                    continue;
                };
                let is_cmd = shell || COMMAND_KEYS.contains(&e.key.to_ascii_lowercase().as_str());
                path.push(Part::Key(&e.key));
                arguments(val, is_cmd, path, f);
                path.pop();
            }
        }
        Some(Av::ArrayValue(a)) => {
            for (i, item) in a.values.iter().enumerate() {
                path.push(Part::Index(i));
                arguments(item, shell, path, f);
                path.pop();
            }
        }
        Some(Av::StringValue(s)) => f(&Segment {
            content: Content::Text(s),
            source: if shell {
                Source::Command
            } else {
                Source::ToolArguments
            },
            field: path,
        }),
        _ => {}
    }
}
