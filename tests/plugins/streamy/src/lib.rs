//! Streams for the tests (see wit/streamy.wit).

warden_guest::define_plugin!({ world: "streamy", path: "wit" });

use std::cell::Cell;

use exports::test::streamy::items;

struct Streamy;

struct Numbers {
    n: u32,
    at: Cell<u32>,
}

impl items::GuestNumberStream for Numbers {
    fn next(&self) -> Option<u32> {
        let at = self.at.get();
        (at < self.n).then(|| {
            self.at.set(at + 1);
            at
        })
    }
}

struct Blocks {
    n: u32,
    size: u32,
    at: Cell<u32>,
}

impl items::GuestBlockStream for Blocks {
    fn next(&self) -> Option<String> {
        let at = self.at.get();
        if at >= self.n {
            return None;
        }
        self.at.set(at + 1);
        Some("x".repeat(self.size as usize))
    }
}

struct Failing {
    ok_items: u32,
    at: Cell<u32>,
}

impl items::GuestFailingStream for Failing {
    fn next(&self) -> Result<Option<u32>, String> {
        let at = self.at.get();
        if at >= self.ok_items {
            return Err(format!("failed after {at} items"));
        }
        self.at.set(at + 1);
        Ok(Some(at))
    }
}

impl items::Guest for Streamy {
    type NumberStream = Numbers;
    type BlockStream = Blocks;
    type FailingStream = Failing;

    fn numbers(n: u32) -> items::NumberStream {
        items::NumberStream::new(Numbers { n, at: Cell::new(0) })
    }

    fn blocks(n: u32, size: u32) -> items::BlockStream {
        items::BlockStream::new(Blocks {
            n,
            size,
            at: Cell::new(0),
        })
    }

    fn failing(ok_items: u32) -> items::FailingStream {
        items::FailingStream::new(Failing {
            ok_items,
            at: Cell::new(0),
        })
    }
}

export!(Streamy);
