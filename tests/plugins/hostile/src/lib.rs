//! Misbehaving nodes for the sandbox tests.

use std::sync::atomic::{AtomicU32, Ordering};

warden_guest::define_plugin!({ world: "hostile", path: "wit" });

use std::hint::black_box;

struct Hostile;

/// Recursion that uses only the wasm stack (no locals in linear memory), and
/// that LLVM cannot turn into a loop.
#[allow(unconditional_recursion)]
fn deeper(n: u64) -> u64 {
    deeper(n.wrapping_add(1)).rotate_left(1) ^ n
}

impl Guest for Hostile {
    fn spin() {
        let mut n = 0u64;
        loop {
            n = black_box(n.wrapping_add(1));
        }
    }

    fn hog(mib_per_step: u32) -> u32 {
        let mut kept: Vec<Vec<u8>> = Vec::new();
        loop {
            let mut block = vec![0u8; (mib_per_step.max(1) as usize) << 20];
            // Touch every page so the memory is really used.
            for i in (0..block.len()).step_by(4096) {
                block[i] = 1;
            }
            kept.push(black_box(block));
            if kept.len() == usize::MAX {
                return 0;
            }
        }
    }

    fn recurse(depth: u64) -> u64 {
        deeper(depth)
    }

    #[allow(unconditional_recursion)]
    fn smash(depth: u64) -> u64 {
        // A local whose address is taken lives on the shadow stack in linear memory.
        let pad = black_box([depth; 32]);
        let below = Hostile::smash(black_box(depth + 1));
        below.wrapping_add(pad[(depth % 32) as usize])
    }

    fn boom(message: String) {
        panic!("{message}");
    }

    fn big(bytes: u32) -> String {
        "x".repeat(bytes as usize)
    }

    fn chatty(lines: u32) -> u32 {
        for i in 0..lines {
            println!("stdout line {i}");
            eprintln!("stderr line {i}");
        }
        lines
    }

    fn crash() {
        #[cfg(target_arch = "wasm32")]
        core::arch::wasm32::unreachable();
    }

    fn fine() -> String {
        "fine".into()
    }

    fn remember() -> u32 {
        static CALLS: AtomicU32 = AtomicU32::new(0);
        CALLS.fetch_add(1, Ordering::Relaxed) + 1
    }
}

export!(Hostile);
