//! The `streams` example plugin: `counter/count` streams numbers (a stream
//! node), `chat/echo` answers each message the caller sends (a channel node).
//!
//! Both return a resource; the host pulls items from it (`next`) or pushes
//! messages into it (`send`, then `finish`). See "Streaming" in the README.

warden_guest::define_plugin!({ world: "streams", path: "wit" });

use std::cell::Cell;
use std::time::Duration;

use exports::example::streams::{chat, counter};
use warden_guest::progress;

struct Streams;

/// State of one `count` call.
struct Numbers {
    n: u64,
    at: Cell<u64>,
    delay: Duration,
}

impl counter::GuestNumbers for Numbers {
    fn next(&self) -> Option<u64> {
        let at = self.at.get();
        if at >= self.n {
            return None;
        }
        if !self.delay.is_zero() {
            std::thread::sleep(self.delay);
        }
        self.at.set(at + 1);
        progress::report((at + 1) as f32 / self.n as f32, &format!("{} of {}", at + 1, self.n));
        Some(at + 1)
    }
}

impl counter::Guest for Streams {
    type Numbers = Numbers;

    fn count(n: u64, delay_ms: u32) -> counter::Numbers {
        counter::Numbers::new(Numbers {
            n,
            at: Cell::new(0),
            delay: Duration::from_millis(u64::from(delay_ms)),
        })
    }
}

/// State of one `echo` conversation.
struct Session {
    greeting: String,
    seen: Cell<u64>,
}

impl chat::GuestSession for Session {
    fn send(&self, message: String) -> Vec<String> {
        self.seen.set(self.seen.get() + 1);
        vec![format!("{}{message}", self.greeting)]
    }

    fn finish(&self) -> Vec<String> {
        vec![format!("bye after {} message(s)", self.seen.get())]
    }
}

impl chat::Guest for Streams {
    type Session = Session;

    fn echo(greeting: String) -> chat::Session {
        chat::Session::new(Session {
            greeting,
            seen: Cell::new(0),
        })
    }
}

export!(Streams);
