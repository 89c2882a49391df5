//! Feeds arbitrary bytes, in arbitrary pieces, to the frame decoder and the
//! request parser: neither may panic, hang or allocate past the maximum.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_host::proto::{FrameDecoder, Request, Response};

fuzz_target!(|data: &[u8]| {
    let Some((&split, data)) = data.split_first() else {
        return;
    };
    let mut decoder = FrameDecoder::new(64 << 10);
    let piece = usize::from(split).max(1);
    for chunk in data.chunks(piece) {
        decoder.push(chunk);
        loop {
            match decoder.next_frame() {
                Ok(Some(value)) => {
                    let _ = Request::from_value(value.clone());
                    let _ = Response::from_value(value);
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
    let _ = decoder.finish();
});
