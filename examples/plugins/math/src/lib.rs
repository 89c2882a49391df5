//! The `math` example plugin: `add`, `divide` and a progress-reporting
//! `slow-sum`, written as plain functions (`#[warden_guest::plugin]` makes
//! the WIT from their signatures and docs).

/// Arithmetic nodes: the smallest useful Warden plugin.
#[warden_guest::plugin]
mod math {
    use std::time::Duration;

    /// Adds two integers (wrapping on overflow).
    pub fn add(a: i64, b: i64) -> i64 {
        a.wrapping_add(b)
    }

    /// Divides `a` by `b`; dividing by zero is an error the caller receives
    /// as a `node-error` with the message as details.
    pub fn divide(a: f64, b: f64) -> Result<f64, String> {
        if b == 0.0 {
            return Err(format!("cannot divide {a} by zero"));
        }
        Ok(a / b)
    }

    /// Sums 1..=n slowly, reporting progress after each step and sleeping
    /// `delay-ms` milliseconds between steps.
    pub fn slow_sum(n: u32, delay_ms: u32) -> u64 {
        warden_guest::log::info(&format!("summing 1..={n}"));
        let mut sum = 0u64;
        for i in 1..=n {
            sum += u64::from(i);
            warden_guest::progress::report(i as f32 / n as f32, &format!("added {i} of {n}"));
            if delay_ms > 0 {
                std::thread::sleep(Duration::from_millis(u64::from(delay_ms)));
            }
        }
        sum
    }
}
