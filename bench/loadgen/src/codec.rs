//! tonic codecs that keep protobuf work off the benchmark's own hot paths:
//! [`PreEncoded`] sends request bytes encoded once up front (the generator
//! copies them into the frame and nothing else), and [`Counting`] lets the
//! sink count records on the wire instead of decoding them.

use bytes::{Buf, BufMut, Bytes};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use prost::Message;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::Status;

/// Client codec: sends pre-encoded `ExportLogsServiceRequest` bytes and
/// decodes the `ExportLogsServiceResponse` (for its partial-success count).
#[derive(Clone, Copy, Debug, Default)]
pub struct PreEncoded;

/// Encoder half of [`PreEncoded`].
#[derive(Debug)]
pub struct BytesEncoder;

/// Decoder half of [`PreEncoded`].
#[derive(Debug)]
pub struct LogsResponseDecoder;

impl Codec for PreEncoded {
    type Encode = Bytes;
    type Decode = ExportLogsServiceResponse;
    type Encoder = BytesEncoder;
    type Decoder = LogsResponseDecoder;

    fn encoder(&mut self) -> BytesEncoder {
        BytesEncoder
    }

    fn decoder(&mut self) -> LogsResponseDecoder {
        LogsResponseDecoder
    }
}

impl Encoder for BytesEncoder {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for LogsResponseDecoder {
    type Item = ExportLogsServiceResponse;
    type Error = Status;

    fn decode(
        &mut self,
        src: &mut DecodeBuf<'_>,
    ) -> Result<Option<ExportLogsServiceResponse>, Status> {
        ExportLogsServiceResponse::decode(src)
            .map(Some)
            .map_err(|e| Status::internal(format!("bad export response: {e}")))
    }
}

/// What the sink learns from one export request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counted {
    /// Records (log records or spans) in the request.
    pub records: u64,
    /// Length of the (uncompressed) protobuf message.
    pub bytes: u64,
}

/// The empty export response (every field default): zero bytes on the wire.
#[derive(Clone, Copy, Debug, Default)]
pub struct EmptyResponse;

/// Server codec: counts the records of a request, answers an empty response.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counting;

/// Decoder half of [`Counting`].
#[derive(Debug)]
pub struct CountingDecoder;

/// Encoder half of [`Counting`].
#[derive(Debug)]
pub struct EmptyEncoder;

impl Codec for Counting {
    type Encode = EmptyResponse;
    type Decode = Counted;
    type Encoder = EmptyEncoder;
    type Decoder = CountingDecoder;

    fn encoder(&mut self) -> EmptyEncoder {
        EmptyEncoder
    }

    fn decoder(&mut self) -> CountingDecoder {
        CountingDecoder
    }
}

impl Encoder for EmptyEncoder {
    type Item = EmptyResponse;
    type Error = Status;

    fn encode(&mut self, _item: EmptyResponse, _dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        Ok(())
    }
}

impl Decoder for CountingDecoder {
    type Item = Counted;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Counted>, Status> {
        let len = src.remaining();
        let records = if src.chunk().len() == len {
            crate::wire::count_records(src.chunk())
        } else {
            crate::wire::count_records(&src.copy_to_bytes(len))
        }
        .map_err(|e| Status::invalid_argument(e.to_string()))?;
        src.advance(src.remaining());
        Ok(Some(Counted {
            records,
            bytes: len as u64,
        }))
    }
}
