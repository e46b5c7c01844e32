//! GenAI client spans for a `traces` pipeline: each `ai.request` is kept
//! until the `ai.response` with the same `request_id` arrives, and the
//! pair becomes one span (`oispd_semconv::otel::span_from_exchange`) on the
//! request's resource. Requests waiting for their response are bounded;
//! the oldest is let go first (its events were exported; only its span is
//! missing, and counted).

use std::collections::{HashMap, VecDeque};

use oispd_semconv::otel::{event_resource, oispd_scope, span_from_exchange};
use oispd_semconv::{EventData, OispEvent};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

/// Requests waiting for their response at most.
const MAX_PENDING: usize = 4096;

/// Requests waiting for their responses.
#[derive(Debug, Default)]
pub(crate) struct SpanPairs {
    pending: HashMap<String, OispEvent>,
    order: VecDeque<String>,
    /// Requests let go without their response (counted as lost spans).
    pub(crate) evicted: u64,
}

impl SpanPairs {
    /// Looks at one event; returns the span it completes.
    pub(crate) fn observe(&mut self, ev: &OispEvent) -> Option<(OispEvent, Span)> {
        match &ev.data {
            Some(EventData::AiRequest(r)) => {
                let id = r.request_id.clone()?;
                if self.pending.len() >= MAX_PENDING {
                    self.evict_oldest();
                }
                if self.pending.insert(id.clone(), ev.clone()).is_none() {
                    self.order.push_back(id);
                }
                None
            }
            Some(EventData::AiResponse(r)) => {
                let id = r.request_id.as_ref()?;
                let request = self.pending.remove(id)?;
                self.order.retain(|k| k != id);
                let span = span_from_exchange(&request, ev)?;
                Some((request, span))
            }
            _ => None,
        }
    }

    /// Requests waiting now.
    pub(crate) fn pending(&self) -> usize {
        self.pending.len()
    }

    fn evict_oldest(&mut self) {
        while let Some(id) = self.order.pop_front() {
            if self.pending.remove(&id).is_some() {
                self.evicted += 1;
                return;
            }
        }
    }
}

/// Groups spans by the resource of their request, as OTLP wants them.
pub(crate) fn resource_spans(spans: Vec<(OispEvent, Span)>) -> Vec<ResourceSpans> {
    let mut out: Vec<ResourceSpans> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (request, span) in spans {
        let resource = event_resource(&request);
        let key = format!("{:?}", resource.attributes);
        let i = *index.entry(key).or_insert_with(|| {
            out.push(ResourceSpans {
                resource: Some(resource),
                scope_spans: vec![ScopeSpans {
                    scope: Some(oispd_scope()),
                    spans: Vec::new(),
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            });
            out.len() - 1
        });
        if let Some(scope) = out[i].scope_spans.first_mut() {
            scope.spans.push(span);
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use oispd_semconv::ai::{AiRequest, AiResponse};
    use oispd_semconv::common::ProcessInfo;
    use oispd_semconv::{CaptureMethod, Completeness, Confidence, ConfidenceLevel, Source};

    fn event(data: EventData, pid: u32) -> OispEvent {
        let mut ev = OispEvent::new(
            data,
            Source::oispd(CaptureMethod::TlsBoundary, "ssl_write"),
            Confidence::new(ConfidenceLevel::High, Completeness::Full),
        );
        ev.process = Some(ProcessInfo {
            pid: Some(pid),
            name: Some("python3".into()),
            ..Default::default()
        });
        ev
    }

    fn request(id: &str, pid: u32) -> OispEvent {
        event(
            EventData::AiRequest(AiRequest {
                request_id: Some(id.into()),
                ..Default::default()
            }),
            pid,
        )
    }

    fn response(id: &str, pid: u32) -> OispEvent {
        event(
            EventData::AiResponse(AiResponse {
                request_id: Some(id.into()),
                ..Default::default()
            }),
            pid,
        )
    }

    /// Scenario: two interleaved calls of two processes, and a response without its request.
    /// Guarantees: one span per pair, grouped by process resource; the stray response makes none.
    #[test]
    fn pairs_requests_with_their_responses() {
        let mut p = SpanPairs::default();
        assert!(p.observe(&request("a", 1)).is_none());
        assert!(p.observe(&request("b", 2)).is_none());
        let b = p.observe(&response("b", 2)).unwrap();
        let a = p.observe(&response("a", 1)).unwrap();
        assert!(p.observe(&response("c", 1)).is_none());
        assert_eq!(p.pending(), 0);
        let a2 = p.observe(&request("a2", 1));
        assert!(a2.is_none());
        let a2 = p.observe(&response("a2", 1)).unwrap();
        let grouped = resource_spans(vec![b, a, a2]);
        assert_eq!(grouped.len(), 2);
        assert_eq!(grouped[0].scope_spans[0].spans.len(), 1);
        assert_eq!(grouped[1].scope_spans[0].spans.len(), 2);
    }

    /// Scenario: more requests than can wait, none answered.
    /// Guarantees: the oldest are let go and counted; the table stays bounded.
    #[test]
    fn pending_requests_are_bounded() {
        let mut p = SpanPairs::default();
        for i in 0..(MAX_PENDING + 3) {
            p.observe(&request(&i.to_string(), 1));
        }
        assert_eq!(p.pending(), MAX_PENDING);
        assert_eq!(p.evicted, 3);
        assert!(p.observe(&response("0", 1)).is_none());
        assert!(p
            .observe(&response(&(MAX_PENDING + 2).to_string(), 1))
            .is_some());
    }
}
