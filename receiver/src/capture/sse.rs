//! Incremental decoding of streamed response bodies into whole records:
//! server-sent events (the WHATWG event-stream format, as OpenAI and
//! Anthropic send it: `data:` lines, `event:` names, comments, CR / LF /
//! CRLF line ends), newline-delimited JSON (Ollama) and a JSON array sent
//! element by element (Gemini `streamGenerateContent` without `alt=sse`).
//! Input may be split at any byte.

/// One dispatched server-sent event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SseEvent {
    /// The `event:` field, if any.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

/// Splits bytes into lines (CR, LF or CRLF) across pushes.
#[derive(Debug, Default)]
struct LineSplitter {
    partial: Vec<u8>,
    /// The previous push ended in CR: a leading LF belongs to it.
    after_cr: bool,
}

impl LineSplitter {
    fn push(&mut self, data: &[u8], mut line: impl FnMut(&[u8])) {
        let mut start = 0;
        let mut i = 0;
        if self.after_cr {
            self.after_cr = false;
            if data.first() == Some(&b'\n') {
                start = 1;
                i = 1;
            }
        }
        while i < data.len() {
            let b = data[i];
            if b == b'\n' || b == b'\r' {
                if self.partial.is_empty() {
                    line(&data[start..i]);
                } else {
                    self.partial.extend_from_slice(&data[start..i]);
                    line(&self.partial);
                    self.partial.clear();
                }
                if b == b'\r' {
                    if i + 1 == data.len() {
                        self.after_cr = true;
                    } else if data[i + 1] == b'\n' {
                        i += 1;
                    }
                }
                start = i + 1;
            }
            i += 1;
        }
        self.partial.extend_from_slice(&data[start..]);
    }

    fn take_rest(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.partial)
    }

    fn held(&self) -> usize {
        self.partial.len()
    }
}

/// Server-sent events decoder.
#[derive(Debug, Default)]
pub(crate) struct SseDecoder {
    lines: LineSplitter,
    event: Option<String>,
    data: String,
    has_data: bool,
}

impl SseDecoder {
    /// Feeds body bytes; complete events are appended to `out`.
    pub(crate) fn push(&mut self, data: &[u8], out: &mut Vec<SseEvent>) {
        let mut lines = std::mem::take(&mut self.lines);
        lines.push(data, |line| self.line(line, out));
        self.lines = lines;
    }

    /// The body ended: an event not followed by a blank line is still dispatched.
    pub(crate) fn finish(&mut self, out: &mut Vec<SseEvent>) {
        let rest = self.lines.take_rest();
        if !rest.is_empty() {
            self.line(&rest, out);
        }
        self.line(b"", out);
    }

    /// Bytes held for an incomplete line or event.
    pub(crate) fn held(&self) -> usize {
        self.lines.held() + self.data.len()
    }

    fn line(&mut self, line: &[u8], out: &mut Vec<SseEvent>) {
        if line.is_empty() {
            if self.has_data {
                out.push(SseEvent {
                    event: self.event.take(),
                    data: std::mem::take(&mut self.data),
                });
            }
            self.event = None;
            self.has_data = false;
            self.data.clear();
            return;
        }
        if line[0] == b':' {
            return;
        }
        let (field, value) = match line.iter().position(|b| *b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        let value = String::from_utf8_lossy(value);
        match field {
            b"data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(&value);
                self.has_data = true;
            }
            b"event" => self.event = Some(value.into_owned()),
            _ => {}
        }
    }
}

/// Newline-delimited JSON decoder.
#[derive(Debug, Default)]
pub(crate) struct NdjsonDecoder {
    lines: LineSplitter,
}

impl NdjsonDecoder {
    /// Feeds body bytes; complete non-empty lines are appended to `out`.
    pub(crate) fn push(&mut self, data: &[u8], out: &mut Vec<Vec<u8>>) {
        self.lines.push(data, |line| {
            if !line.trim_ascii().is_empty() {
                out.push(line.to_vec());
            }
        });
    }

    /// The body ended: a last line without newline is still a record.
    pub(crate) fn finish(&mut self, out: &mut Vec<Vec<u8>>) {
        let rest = self.lines.take_rest();
        if !rest.trim_ascii().is_empty() {
            out.push(rest);
        }
    }

    /// Bytes held for an incomplete line.
    pub(crate) fn held(&self) -> usize {
        self.lines.held()
    }
}

/// Splits a top-level JSON array into its elements as they arrive.
#[derive(Debug, Default)]
pub(crate) struct JsonArrayDecoder {
    started: bool,
    depth: u32,
    in_string: bool,
    escaped: bool,
    element: Vec<u8>,
}

impl JsonArrayDecoder {
    /// Feeds body bytes; complete elements are appended to `out`.
    pub(crate) fn push(&mut self, data: &[u8], out: &mut Vec<Vec<u8>>) {
        for &b in data {
            if !self.started {
                if b == b'[' {
                    self.started = true;
                }
                continue;
            }
            if self.in_string {
                self.element.push(b);
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
                continue;
            }
            match b {
                b'"' => {
                    self.in_string = true;
                    self.element.push(b);
                }
                b'{' | b'[' => {
                    self.depth += 1;
                    self.element.push(b);
                }
                b'}' | b']' if self.depth > 0 => {
                    self.depth -= 1;
                    self.element.push(b);
                    if self.depth == 0 {
                        out.push(std::mem::take(&mut self.element));
                    }
                }
                b',' | b']' if self.depth == 0 => {
                    if !self.element.trim_ascii().is_empty() {
                        out.push(std::mem::take(&mut self.element));
                    }
                    self.element.clear();
                }
                _ if self.depth == 0 && b.is_ascii_whitespace() => {}
                _ => self.element.push(b),
            }
        }
    }

    /// Bytes held for an incomplete element.
    pub(crate) fn held(&self) -> usize {
        self.element.len()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn sse_all(body: &[u8], piece: usize) -> Vec<SseEvent> {
        let mut d = SseDecoder::default();
        let mut out = Vec::new();
        for p in body.chunks(piece) {
            d.push(p, &mut out);
        }
        d.finish(&mut out);
        out
    }

    /// Scenario: OpenAI-style stream with CRLF line ends, a comment and
    /// `[DONE]`, split at every piece size from 1 to the whole body.
    /// Guarantees: the same events come out whatever the split.
    #[test]
    fn openai_style_any_split() {
        let body = b": keep-alive\r\n\r\ndata: {\"a\":1}\r\n\r\ndata: {\"a\":2}\r\n\r\ndata: [DONE]\r\n\r\n";
        let expected = vec![
            SseEvent {
                event: None,
                data: "{\"a\":1}".into(),
            },
            SseEvent {
                event: None,
                data: "{\"a\":2}".into(),
            },
            SseEvent {
                event: None,
                data: "[DONE]".into(),
            },
        ];
        for piece in 1..=body.len() {
            assert_eq!(sse_all(body, piece), expected, "piece {piece}");
        }
    }

    /// Scenario: Anthropic-style events with names, LF and lone-CR line ends,
    /// multi-line data.
    /// Guarantees: names are attached, data lines are joined with `\n`.
    #[test]
    fn anthropic_style_named_events() {
        let body = b"event: message_start\ndata: {\"x\":1}\n\nevent: ping\rdata: a\rdata: b\r\r";
        for piece in 1..=body.len() {
            let ev = sse_all(body, piece);
            assert_eq!(ev.len(), 2);
            assert_eq!(ev[0].event.as_deref(), Some("message_start"));
            assert_eq!(ev[1].event.as_deref(), Some("ping"));
            assert_eq!(ev[1].data, "a\nb");
        }
    }

    /// Scenario: a Gemini JSON array stream with nested arrays, strings
    /// holding brackets and escaped quotes, split byte by byte.
    /// Guarantees: each top-level element comes out whole.
    #[test]
    fn json_array_elements() {
        let body = b"[{\"t\":\"a]\\\"}\",\"l\":[1,2]}\n,\r\n{\"t\":\"b\"}\n]";
        let mut d = JsonArrayDecoder::default();
        let mut out = Vec::new();
        for b in body {
            d.push(&[*b], &mut out);
        }
        assert_eq!(out.len(), 2);
        let first: serde_json::Value = serde_json::from_slice(&out[0]).unwrap();
        assert_eq!(first["t"], "a]\"}");
        let second: serde_json::Value = serde_json::from_slice(&out[1]).unwrap();
        assert_eq!(second["t"], "b");
    }

    /// Scenario: NDJSON with a last line lacking its newline.
    /// Guarantees: every line is a record, blank lines are skipped.
    #[test]
    fn ndjson_lines() {
        let mut d = NdjsonDecoder::default();
        let mut out = Vec::new();
        d.push(b"{\"a\":1}\n\n{\"a\"", &mut out);
        d.push(b":2}\n{\"a\":3}", &mut out);
        d.finish(&mut out);
        assert_eq!(
            out,
            vec![
                b"{\"a\":1}".to_vec(),
                b"{\"a\":2}".to_vec(),
                b"{\"a\":3}".to_vec()
            ]
        );
    }
}
