//! One request stream as a sans-IO state machine, for both ends.
//!
//! The transport feeds received bytes in and asks what arrived; the
//! machines decide what is allowed when, and which code a stream is stopped
//! with. No sockets, no clocks: the same rules hold for every transport and
//! are tested in memory.
//!
//! - [`RequestReader`] (server): exactly one request frame, then what that
//!   request takes ([`Follows`]): nothing, a channel's `item` frames or a
//!   blob's `bin` frames.
//! - [`ResponseWriter`] (server): any number of `progress`, `log` and
//!   `item` frames, then exactly one final `ok` or `err` frame.
//! - [`ResponseReader`] (client): the same rule checked on receipt; a stream
//!   that ends without a final frame is an error.
//!
//! Whenever one side stops reading a stream before its end it sends
//! `STOP_SENDING` with one of the [`codes`](super::codes): 2 when a frame
//! was larger than the maximum, 3 when the stream was malformed, 0 when the
//! server has answered and needs nothing more.

use bytes::Bytes;
use rmpv::Value;

use super::codec::{FrameDecoder, FrameError};
use super::codes;
use super::decode::{MAX_DEPTH, decode_value, skip_value};
use super::error::{CallError, ErrorKind};
use super::event::CallEvent;
use super::frame::{Follows, Request, Response, parse_input};
use super::lazy::{RawValue, chunk_bytes, parse_request};
use super::record::ProtoError;
use super::session::{SessionFrame, answer_frame, ok_bin_head, ok_head, parse_session_frame};

/// Why a stream cannot go on: the code to stop (or reset) it with and the
/// error to tell the peer, when it can still be told.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamError {
    /// The `STOP_SENDING` code (see [`codes`](super::codes)).
    pub code: u32,
    /// What was wrong, as a `bad-request` error.
    pub error: CallError,
}

impl StreamError {
    fn frame(e: FrameError) -> Self {
        let code = match e {
            FrameError::TooLarge { .. } => codes::FRAME_TOO_LARGE,
            FrameError::Malformed(_) | FrameError::Truncated { .. } => codes::MALFORMED,
        };
        let message = match e {
            FrameError::TooLarge { .. } => format!(
                "{e}; send big data as a blob (upload it, then pass its reference) or in \
                 smaller pieces"
            ),
            _ => e.to_string(),
        };
        StreamError {
            code,
            error: CallError::new(ErrorKind::BadRequest, message),
        }
    }

    fn malformed(e: ProtoError) -> Self {
        StreamError {
            code: codes::MALFORMED,
            error: CallError::new(ErrorKind::BadRequest, e.0),
        }
    }
}

impl std::fmt::Display for StreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (stream code {})", self.error.message, self.code)
    }
}

impl std::error::Error for StreamError {}

/// What the client sent on a request stream, as far as it has arrived.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    /// The request frame (always first), with its `args` not decoded yet
    /// (the `args` field of the request is nil).
    Request(Request, RawValue),
    /// One input message of a channel call.
    Input(Value),
    /// One chunk of a `blob-put`.
    Chunk(Bytes),
    /// A frame of a session: a call with its id, or a cancel.
    Session(SessionFrame),
    /// The client finished its side after a complete frame.
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadPhase {
    Request,
    After(Follows),
    Ended,
}

/// The server's reading side of one request stream.
#[derive(Debug)]
pub struct RequestReader {
    decoder: FrameDecoder,
    phase: ReadPhase,
    /// The most memory one channel input may take once decoded.
    max_decoded: usize,
}

impl RequestReader {
    /// A reader refusing frames over `max_frame` bytes.
    pub fn new(max_frame: usize) -> Self {
        RequestReader {
            decoder: FrameDecoder::new(max_frame),
            phase: ReadPhase::Request,
            max_decoded: usize::MAX,
        }
    }

    /// Refuses channel inputs that would take more than `max` bytes once
    /// decoded (see [`Extent::decoded_bytes`](super::Extent::decoded_bytes)),
    /// before decoding them.
    pub fn limit_inputs(&mut self, max: usize) {
        self.max_decoded = max;
    }

    /// Adds received bytes (none once reading has ended).
    pub fn push(&mut self, bytes: &[u8]) {
        if self.phase != ReadPhase::Ended {
            self.decoder.push(bytes);
        }
    }

    /// Says what the request that arrived takes after it; until then only
    /// the request is read.
    pub fn expect(&mut self, follows: Follows) {
        if self.phase != ReadPhase::Ended {
            self.phase = ReadPhase::After(follows);
        }
    }

    /// Whether the request has arrived and what follows it is being read.
    pub fn has_request(&self) -> bool {
        self.phase != ReadPhase::Request
    }

    /// The next complete frame's meaning, if one has arrived.
    ///
    /// # Errors
    ///
    /// [`StreamError`] for a frame over the maximum (code 2), a malformed
    /// frame, a request of an unknown type or shape, or a frame that is not
    /// what the request takes (code 3). The stream cannot go on after one.
    pub fn next_inbound(&mut self) -> Result<Option<Inbound>, StreamError> {
        // After a request that takes no input nothing more is read (the
        // server stops the stream with code 0 once it has answered).
        if matches!(
            self.phase,
            ReadPhase::Ended | ReadPhase::After(Follows::Nothing)
        ) {
            return Ok(None);
        }
        let Some(body) = self
            .decoder
            .next_frame_bytes()
            .map_err(StreamError::frame)?
        else {
            return Ok(None);
        };
        match self.phase {
            ReadPhase::Request => {
                let (request, args) = parse_request(body).map_err(StreamError::malformed)?;
                // Until told otherwise, nothing follows a request.
                self.phase = ReadPhase::After(Follows::Nothing);
                Ok(Some(Inbound::Request(request, args)))
            }
            ReadPhase::After(Follows::Inputs) => {
                let extent = skip_value(&body, 0, MAX_DEPTH)
                    .map_err(|e| StreamError::frame(FrameError::Malformed(e)))?;
                if extent.decoded_bytes() > self.max_decoded {
                    return Err(StreamError {
                        code: codes::FRAME_TOO_LARGE,
                        error: CallError::new(
                            ErrorKind::ResourceLimit,
                            format!(
                                "an input would take {} bytes once decoded; this server \
                                 allows {}",
                                extent.decoded_bytes(),
                                self.max_decoded
                            ),
                        ),
                    });
                }
                let frame = decode_value(&body, MAX_DEPTH)
                    .map_err(|e| StreamError::frame(FrameError::Malformed(e)))?;
                parse_input(frame)
                    .map(|v| Some(Inbound::Input(v)))
                    .map_err(StreamError::malformed)
            }
            ReadPhase::After(Follows::Chunks) => chunk_bytes(body)
                .map(|c| Some(Inbound::Chunk(c)))
                .map_err(StreamError::malformed),
            ReadPhase::After(Follows::Session) => parse_session_frame(body)
                .map(|f| Some(Inbound::Session(f)))
                .map_err(StreamError::malformed),
            ReadPhase::After(Follows::Nothing) | ReadPhase::Ended => Ok(None),
        }
    }

    /// Bytes received and not yet taken as frames.
    pub fn buffered(&self) -> usize {
        self.decoder.buffered()
    }

    /// Bytes of memory the reader's buffer takes (what a budget counts).
    pub fn held(&self) -> usize {
        self.decoder.held()
    }

    /// Stops reading for good: drops what is buffered and gives its memory
    /// back. Nothing more is taken from the stream.
    pub fn discard(&mut self) {
        self.decoder.discard();
        self.phase = ReadPhase::Ended;
    }

    /// The client finished its side (FIN).
    ///
    /// # Errors
    ///
    /// [`StreamError`] (code 3) when it ended inside a frame or before the
    /// request.
    pub fn end(&mut self) -> Result<Inbound, StreamError> {
        self.decoder.finish().map_err(StreamError::frame)?;
        if self.phase == ReadPhase::Request {
            return Err(StreamError::malformed(ProtoError(
                "the stream ended before a request frame".into(),
            )));
        }
        self.phase = ReadPhase::Ended;
        Ok(Inbound::End)
    }
}

/// A frame written after the final one: a bug in the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a frame after the final frame of a stream")]
pub struct AfterFinal;

/// The server's writing side of one request stream, or of one call of a
/// session (its frames then carry the call's id).
#[derive(Debug, Default)]
pub struct ResponseWriter {
    finished: bool,
    /// The call's id, in a session.
    id: Option<u64>,
}

impl ResponseWriter {
    /// A writer that has sent nothing yet.
    pub fn new() -> Self {
        ResponseWriter::default()
    }

    /// A writer for call `id` of a session: every frame carries the id.
    pub fn in_session(id: u64) -> Self {
        ResponseWriter {
            finished: false,
            id: Some(id),
        }
    }

    /// Appends the frame of an event to `out`.
    ///
    /// # Errors
    ///
    /// [`AfterFinal`] once the final frame was written.
    pub fn event(&mut self, event: CallEvent, out: &mut Vec<u8>) -> Result<(), AfterFinal> {
        self.write(Response::Event(event), out)
    }

    /// Appends the final frame to `out`.
    ///
    /// # Errors
    ///
    /// [`AfterFinal`] once the final frame was written.
    pub fn finish(
        &mut self,
        result: Result<Value, CallError>,
        out: &mut Vec<u8>,
    ) -> Result<(), AfterFinal> {
        self.write(Response::outcome(result), out)
    }

    /// Appends the final frame of a success whose value is already
    /// `len` bytes of MessagePack (exactly one value) to `out`, all but the
    /// value itself: the caller sends it right after, and the frame is the
    /// same bytes [`ResponseWriter::finish`] writes for the decoded value.
    ///
    /// # Errors
    ///
    /// [`AfterFinal`] once the final frame was written.
    pub fn finish_encoded(&mut self, len: usize, out: &mut Vec<u8>) -> Result<(), AfterFinal> {
        self.finish_head(len, out)
    }

    /// Appends the final frame of a success whose value is `len` bytes
    /// (MessagePack `bin`) to `out`, all but the bytes themselves: the
    /// caller sends them right after, without copying them into `out`.
    ///
    /// # Errors
    ///
    /// [`AfterFinal`] once the final frame was written.
    pub fn finish_bin(&mut self, len: usize, out: &mut Vec<u8>) -> Result<(), AfterFinal> {
        self.finish_final()?;
        ok_bin_head(self.id, len, out);
        Ok(())
    }

    /// The length prefix and the start of an `ok` frame whose value takes
    /// `value_len` bytes.
    fn finish_head(&mut self, value_len: usize, out: &mut Vec<u8>) -> Result<(), AfterFinal> {
        self.finish_final()?;
        ok_head(self.id, value_len, out);
        Ok(())
    }

    /// Marks the final frame written, once.
    fn finish_final(&mut self) -> Result<(), AfterFinal> {
        if self.finished {
            return Err(AfterFinal);
        }
        self.finished = true;
        Ok(())
    }

    /// Appends `response` to `out`.
    ///
    /// # Errors
    ///
    /// [`AfterFinal`] once the final frame was written.
    pub fn write(&mut self, response: Response, out: &mut Vec<u8>) -> Result<(), AfterFinal> {
        if self.finished {
            return Err(AfterFinal);
        }
        self.finished = response.is_final();
        answer_frame(self.id, response, out);
        Ok(())
    }

    /// Whether the final frame has been written.
    pub fn is_finished(&self) -> bool {
        self.finished
    }
}

/// What arrived on the client's side of a request stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Something the request sent before its result.
    Event(CallEvent),
    /// The final frame: the request's result.
    Final(Result<Value, CallError>),
}

/// The client's reading side of one request stream.
#[derive(Debug)]
pub struct ResponseReader {
    decoder: FrameDecoder,
    finished: bool,
}

impl ResponseReader {
    /// A reader refusing frames over `max_frame` bytes.
    pub fn new(max_frame: usize) -> Self {
        ResponseReader {
            decoder: FrameDecoder::new(max_frame),
            finished: false,
        }
    }

    /// Adds received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.decoder.push(bytes);
    }

    /// Whether the final frame has arrived.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The next complete frame, if one has arrived.
    ///
    /// # Errors
    ///
    /// [`StreamError`] for a frame over the maximum (code 2), a malformed
    /// frame or a frame after the final one (code 3).
    pub fn next_answer(&mut self) -> Result<Option<Answer>, StreamError> {
        let Some(frame) = self.decoder.next_frame().map_err(StreamError::frame)? else {
            return Ok(None);
        };
        if self.finished {
            return Err(StreamError::malformed(ProtoError(
                "the server sent a frame after the final frame".into(),
            )));
        }
        match Response::from_value(frame).map_err(StreamError::malformed)? {
            Response::Event(event) => Ok(Some(Answer::Event(event))),
            Response::Ok(value) => {
                self.finished = true;
                Ok(Some(Answer::Final(Ok(value))))
            }
            Response::Err(error) => {
                self.finished = true;
                Ok(Some(Answer::Final(Err(error))))
            }
        }
    }

    /// The server finished its side (FIN).
    ///
    /// # Errors
    ///
    /// [`StreamError`] when it ended inside a frame or without a final frame.
    pub fn end(&mut self) -> Result<(), StreamError> {
        self.decoder.finish().map_err(StreamError::frame)?;
        if !self.finished {
            return Err(StreamError::malformed(ProtoError(
                "the server ended the stream without a result".into(),
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{LogLevel, frame_bytes as frame};

    fn call(node: &str) -> Request {
        Request::Call {
            node: node.into(),
            args: Value::Nil,
            deadline_ms: None,
            meta: None,
        }
    }

    #[test]
    fn an_encoded_answer_is_the_frame_of_its_value() {
        let value = Value::Array(vec![1.into(), (-300).into(), Value::F64(0.5)]);
        let mut encoded = Vec::new();
        rmpv::encode::write_value(&mut encoded, &value).unwrap();
        let mut direct = Vec::new();
        let mut writer = ResponseWriter::new();
        writer.finish_encoded(encoded.len(), &mut direct).unwrap();
        direct.extend_from_slice(&encoded);
        let mut decoded = Vec::new();
        ResponseWriter::new()
            .finish(Ok(value), &mut decoded)
            .unwrap();
        assert_eq!(direct, decoded);
        assert_eq!(
            writer.finish_encoded(encoded.len(), &mut direct),
            Err(AfterFinal)
        );
        // Bytes: the head here, the bytes sent after it.
        for len in [0usize, 255, 256, 65_535, 65_536] {
            let data = vec![7u8; len];
            let mut head = Vec::new();
            ResponseWriter::new().finish_bin(len, &mut head).unwrap();
            head.extend_from_slice(&data);
            let mut decoded = Vec::new();
            ResponseWriter::new()
                .finish(Ok(Value::Binary(data)), &mut decoded)
                .unwrap();
            assert_eq!(head, decoded, "{len}");
        }
    }

    /// A server writer and a client reader joined in memory, fed byte by byte.
    #[test]
    fn events_then_exactly_one_final_frame_pass_from_writer_to_reader() {
        let mut writer = ResponseWriter::new();
        let mut wire = Vec::new();
        let progress = CallEvent::Progress {
            fraction: 0.5,
            message: "half".into(),
        };
        let log = CallEvent::Log {
            level: LogLevel::Warn,
            message: "careful".into(),
        };
        writer.event(progress.clone(), &mut wire).unwrap();
        writer.event(log.clone(), &mut wire).unwrap();
        writer
            .event(CallEvent::Item(Value::from(1)), &mut wire)
            .unwrap();
        writer.finish(Ok(Value::from(3)), &mut wire).unwrap();
        assert!(writer.is_finished());
        assert_eq!(
            writer.event(CallEvent::Item(Value::Nil), &mut wire),
            Err(AfterFinal)
        );

        let mut reader = ResponseReader::new(1 << 20);
        let mut got = Vec::new();
        for b in &wire {
            reader.push(&[*b]);
            while let Some(answer) = reader.next_answer().unwrap() {
                got.push(answer);
            }
        }
        reader.end().unwrap();
        assert_eq!(
            got,
            [
                Answer::Event(progress),
                Answer::Event(log),
                Answer::Event(CallEvent::Item(Value::from(1))),
                Answer::Final(Ok(Value::from(3))),
            ]
        );
    }

    #[test]
    fn a_reader_refuses_a_missing_result_and_frames_after_the_result() {
        let mut reader = ResponseReader::new(1 << 20);
        reader.push(&frame(
            &Response::Event(CallEvent::Item(Value::Nil)).into_value(),
        ));
        assert!(matches!(reader.next_answer(), Ok(Some(Answer::Event(_)))));
        let err = reader.end().unwrap_err();
        assert_eq!(err.code, codes::MALFORMED);
        assert!(err.error.message.contains("without a result"));

        let mut reader = ResponseReader::new(1 << 20);
        reader.push(&frame(&Response::Ok(Value::Nil).into_value()));
        reader.push(&frame(&Response::Ok(Value::Nil).into_value()));
        assert!(matches!(
            reader.next_answer(),
            Ok(Some(Answer::Final(Ok(_))))
        ));
        assert_eq!(reader.next_answer().unwrap_err().code, codes::MALFORMED);
    }

    #[test]
    fn the_request_comes_first_then_only_what_it_takes() {
        let mut reader = RequestReader::new(1 << 20);
        reader.push(&frame(&call("streams/chat/echo").into_value()));
        reader.push(&frame(&crate::proto::input_frame(Value::from("hi"))));
        assert_eq!(
            reader.next_inbound(),
            Ok(Some(Inbound::Request(
                call("streams/chat/echo"),
                RawValue::nil()
            )))
        );
        assert!(reader.has_request());
        reader.expect(Follows::Inputs);
        assert_eq!(
            reader.next_inbound(),
            Ok(Some(Inbound::Input(Value::from("hi"))))
        );
        assert_eq!(reader.next_inbound(), Ok(None));
        assert_eq!(reader.end(), Ok(Inbound::End));

        let mut blob = RequestReader::new(1 << 20);
        blob.push(&frame(&Request::BlobPut { size: None }.into_value()));
        blob.push(&frame(&Value::Binary(vec![1, 2])));
        assert!(matches!(
            blob.next_inbound(),
            Ok(Some(Inbound::Request(..)))
        ));
        blob.expect(Follows::Chunks);
        assert_eq!(
            blob.next_inbound(),
            Ok(Some(Inbound::Chunk(Bytes::from_static(&[1, 2]))))
        );
    }

    /// The same rule everywhere: too large is 2, malformed is 3, whether it
    /// is the request, a channel input or a blob chunk.
    #[test]
    fn codes_are_the_same_for_the_request_inputs_and_chunks() {
        let too_large = 64u32 << 20;
        let prepared = |follows: Option<Follows>| {
            let mut reader = RequestReader::new(1024);
            if let Some(follows) = follows {
                reader.push(&frame(&call("a/b").into_value()));
                assert!(reader.next_inbound().unwrap().is_some());
                reader.expect(follows);
            }
            reader
        };
        for follows in [None, Some(Follows::Inputs), Some(Follows::Chunks)] {
            let mut big = prepared(follows);
            big.push(&too_large.to_be_bytes());
            let err = big.next_inbound().unwrap_err();
            assert_eq!(err.code, codes::FRAME_TOO_LARGE, "{follows:?}");
            assert_eq!(err.error.kind, ErrorKind::BadRequest);

            // A frame of the wrong shape for where it is.
            let mut bad = prepared(follows);
            bad.push(&frame(&Value::from(7)));
            let err = bad.next_inbound().unwrap_err();
            assert_eq!(err.code, codes::MALFORMED, "{follows:?}");

            let mut cut = prepared(follows);
            cut.push(&[0, 0, 0, 9, 1]);
            assert_eq!(cut.next_inbound(), Ok(None));
            assert_eq!(cut.end().unwrap_err().code, codes::MALFORMED);
        }
        let mut empty = RequestReader::new(1024);
        let err = empty.end().unwrap_err();
        assert!(err.error.message.contains("before a request frame"));
        // After a request that takes no input, nothing more is read, not
        // even garbage.
        let mut extra = RequestReader::new(1024);
        extra.push(&frame(&Request::Catalog.into_value()));
        extra.push(&[0xff; 64]);
        assert!(extra.next_inbound().unwrap().is_some());
        assert_eq!(extra.next_inbound(), Ok(None));
    }
}
