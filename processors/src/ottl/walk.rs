//! Walking a [`Batch`] with OTTL record views: once per resource, per scope
//! or per log record / span, depending on the statement's context.

use super::record::{Context, RecordMut};
use oispd_component::Batch;

/// Calls `f` once per item of `ctx` (per resource, per scope, or per log
/// record / span) with a view that includes the enclosing resource and scope.
/// A log or span context on a batch of the other signal visits nothing. Stops
/// at the first error.
pub fn visit<E>(
    batch: &mut Batch,
    ctx: Context,
    mut f: impl FnMut(&mut RecordMut<'_>) -> Result<(), E>,
) -> Result<(), E> {
    match batch {
        Batch::Logs(rls) => {
            for rl in rls {
                let resource = &mut rl.resource;
                if ctx == Context::Resource {
                    let mut cache = Vec::new();
                    f(&mut RecordMut::resource(resource, &mut cache))?;
                    continue;
                }
                for sl in &mut rl.scope_logs {
                    let scope = &mut sl.scope;
                    match ctx {
                        Context::Scope => {
                            let mut cache = Vec::new();
                            f(&mut RecordMut::scope(resource, scope, &mut cache))?;
                        }
                        Context::Log => {
                            for lr in &mut sl.log_records {
                                let mut cache = Vec::new();
                                f(&mut RecordMut::log(resource, scope, lr, &mut cache))?;
                            }
                        }
                        Context::Resource | Context::Span => {}
                    }
                }
            }
        }
        Batch::Traces(rss) => {
            for rs in rss {
                let resource = &mut rs.resource;
                if ctx == Context::Resource {
                    let mut cache = Vec::new();
                    f(&mut RecordMut::resource(resource, &mut cache))?;
                    continue;
                }
                for ss in &mut rs.scope_spans {
                    let scope = &mut ss.scope;
                    match ctx {
                        Context::Scope => {
                            let mut cache = Vec::new();
                            f(&mut RecordMut::scope(resource, scope, &mut cache))?;
                        }
                        Context::Span => {
                            for span in &mut ss.spans {
                                let mut cache = Vec::new();
                                f(&mut RecordMut::span(resource, scope, span, &mut cache))?;
                            }
                        }
                        Context::Resource | Context::Log => {}
                    }
                }
            }
        }
        // No OTTL context reaches metric points; OTTL processors refuse
        // metrics pipelines when they are built.
        Batch::Metrics(_) => {}
    }
    Ok(())
}

/// Keeps the log records or spans for which `keep` returns true, then drops
/// resource and scope groups left empty. After the first error no further
/// record is looked at (all remaining ones are kept) and the error is returned.
pub fn retain<E>(
    batch: &mut Batch,
    mut keep: impl FnMut(&mut RecordMut<'_>) -> Result<bool, E>,
) -> Result<(), E> {
    let mut failure = None;
    let mut decide = |rec: &mut RecordMut<'_>| -> bool {
        if failure.is_some() {
            return true;
        }
        match keep(rec) {
            Ok(k) => k,
            Err(e) => {
                failure = Some(e);
                true
            }
        }
    };
    match batch {
        Batch::Logs(rls) => {
            for rl in rls.iter_mut() {
                let resource = &mut rl.resource;
                for sl in &mut rl.scope_logs {
                    let scope = &mut sl.scope;
                    sl.log_records.retain_mut(|lr| {
                        let mut cache = Vec::new();
                        decide(&mut RecordMut::log(resource, scope, lr, &mut cache))
                    });
                }
            }
        }
        Batch::Traces(rss) => {
            for rs in rss.iter_mut() {
                let resource = &mut rs.resource;
                for ss in &mut rs.scope_spans {
                    let scope = &mut ss.scope;
                    ss.spans.retain_mut(|span| {
                        let mut cache = Vec::new();
                        decide(&mut RecordMut::span(resource, scope, span, &mut cache))
                    });
                }
            }
        }
        Batch::Metrics(_) => {}
    }
    batch.prune_empty();
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
