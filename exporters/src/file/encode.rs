//! Line encoding of the file exporter. Every function appends complete,
//! newline-terminated lines: serde_json's compact output escapes control
//! characters, so a record can never span two lines.

use super::config::Format;
use crate::oisp_view::write_record_json;
use crate::otlp::encode::request_json;
use oispd_component::Batch;

/// Appends the lines of `batch` in `format` to `out`.
pub fn encode_lines(batch: &Batch, format: Format, out: &mut Vec<u8>) -> serde_json::Result<()> {
    match (format, batch) {
        (Format::OispJsonl, Batch::Logs(resource_logs)) => {
            for rl in resource_logs {
                let resource = rl.resource.as_ref();
                for sl in &rl.scope_logs {
                    for record in &sl.log_records {
                        write_record_json(resource, sl.scope.as_ref(), record, out)?;
                        out.push(b'\n');
                    }
                }
            }
        }
        (Format::OispJsonl, Batch::Traces(resource_spans)) => {
            for span in resource_spans
                .iter()
                .flat_map(|rs| &rs.scope_spans)
                .flat_map(|ss| &ss.spans)
            {
                serde_json::to_writer(&mut *out, span)?;
                out.push(b'\n');
            }
        }
        (Format::OtlpJson, batch) => {
            request_json(batch, out)?;
            out.push(b'\n');
        }
    }
    Ok(())
}
