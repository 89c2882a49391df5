//! Timing helpers the in-process benchmarks share: medians of repeated
//! work, and figures printed beside their baseline (a table line and a
//! JSON line).

use std::time::{Duration, Instant};

/// The median of `n` timings of `f`, after a warm-up of `n / 10 + 1`.
pub(crate) fn median(n: usize, mut f: impl FnMut()) -> Duration {
    for _ in 0..n / 10 + 1 {
        f();
    }
    let mut times: Vec<Duration> = (0..n)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed()
        })
        .collect();
    times.sort();
    times[n / 2]
}

/// Prints `value` beside `baseline` in microseconds, with their ratio.
pub(crate) fn report(name: &str, value: Duration, baseline: Duration, note: &str) {
    let (v, b) = (value.as_secs_f64() * 1e6, baseline.as_secs_f64() * 1e6);
    println!(
        "{name:<48} {v:>10.2} us  baseline {b:>10.2} us  ratio {:>7.1}  ({note})",
        v / b
    );
    println!(
        "{{\"bench\":\"{name}\",\"unit\":\"us\",\"value\":{v:.3},\"baseline\":{b:.3},\"ratio\":{:.3}}}",
        v / b
    );
}

/// CPU time (user and system) this process has used, from /proc (Linux);
/// zero elsewhere.
pub(crate) fn cpu_time() -> Duration {
    cpu_time_of("self")
}

/// CPU time (user and system) process `pid` (or `self`) has used.
pub(crate) fn cpu_time_of(pid: &str) -> Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Duration::ZERO;
    };
    // Fields after the command name (which may hold spaces) in parentheses:
    // utime and stime are the 12th and 13th, in clock ticks (100 per second).
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}
