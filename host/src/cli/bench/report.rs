//! What a run prints: throughput, latency percentiles, a text histogram of
//! the latencies, errors by kind; or the same as JSON; or, in a sweep, one
//! line of a table.

use serde_json::{Value as Json, json};

use super::load::Outcome;
use crate::text::bytes_text;

/// Latency percentiles of the successful calls, in microseconds.
pub(super) struct Latency {
    pub(super) min: u64,
    pub(super) mean: f64,
    pub(super) p50: u64,
    pub(super) p90: u64,
    pub(super) p99: u64,
    pub(super) p999: u64,
    pub(super) max: u64,
}

impl Outcome {
    /// Calls answered per second, failed ones included.
    pub(super) fn rate(&self) -> f64 {
        self.calls() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// With `--sweep-bytes`: request payload megabytes (10^6) per second,
    /// the payload's bytes times the successful calls per second (a refused
    /// payload moved nothing).
    pub(super) fn mb_per_sec(&self) -> Option<f64> {
        let ok_rate = self.latencies.len() as f64 / self.elapsed.as_secs_f64().max(1e-9);
        self.payload_bytes.map(|n| n as f64 * ok_rate / 1e6)
    }

    /// The failed calls, with their kinds when there are any: `0`,
    /// `5 (bad-args)`, `9 (connection-lost 6, resource-limit 3)`.
    pub(super) fn errors_text(&self) -> String {
        let total: u64 = self.errors.values().sum();
        let kinds: Vec<String> = match self.errors.len() {
            0 => return total.to_string(),
            1 => self.errors.keys().cloned().collect(),
            _ => self
                .errors
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect(),
        };
        format!("{total} ({})", kinds.join(", "))
    }

    /// Latency percentiles of the successful calls.
    pub(super) fn latency(&self) -> Latency {
        let h = &self.latencies;
        Latency {
            min: h.min(),
            mean: h.mean(),
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }

    /// The run as one JSON object.
    pub(super) fn to_json(&self, node: &str, transport: &str) -> Json {
        let l = self.latency();
        json!({
            "node": node,
            "transport": transport,
            "concurrency": self.concurrency,
            "payload_bytes": self.payload_bytes,
            "calls": self.calls(),
            "ok": self.latencies.len(),
            "errors": self.errors,
            "seconds": self.elapsed.as_secs_f64(),
            "calls_per_sec": self.rate(),
            "latency_us": {
                "min": l.min, "mean": l.mean, "p50": l.p50, "p90": l.p90,
                "p99": l.p99, "p99.9": l.p999, "max": l.max,
            },
        })
    }

    /// The run as text: summary, percentiles, histogram, errors.
    pub(super) fn to_text(&self, node: &str, transport: &str) -> String {
        let l = self.latency();
        let payload = match self.payload_bytes {
            Some(n) => format!(", {} payload", bytes_text(n)),
            None => String::new(),
        };
        let mut out = format!(
            "{node} over {transport}, {} in flight{payload}: {} calls in {:.2} s, {:.0} calls/s\n",
            self.concurrency,
            self.calls(),
            self.elapsed.as_secs_f64(),
            self.rate()
        );
        if self.latencies.is_empty() {
            out.push_str("\nno call succeeded\n");
        } else {
            out.push_str("\nlatency of the successful calls:\n");
            for (name, v) in [
                ("min", l.min),
                ("p50", l.p50),
                ("p90", l.p90),
                ("p99", l.p99),
                ("p99.9", l.p999),
                ("max", l.max),
            ] {
                out.push_str(&format!("  {name:>6}  {}\n", duration(v)));
            }
            out.push_str(&format!("  {:>6}  {}\n", "mean", duration(l.mean as u64)));
            out.push('\n');
            out.push_str(&self.text_histogram());
        }
        if !self.errors.is_empty() {
            out.push_str("\nerrors by kind:\n");
            for (kind, n) in &self.errors {
                out.push_str(&format!("  {kind:>16}  {n}\n"));
            }
        }
        out
    }

    /// Up to 12 buckets spaced evenly in log scale from min to max, each a
    /// bar as long as its share of the busiest bucket.
    fn text_histogram(&self) -> String {
        let h = &self.latencies;
        let (lo, hi) = (h.min().max(1) as f64, h.max().max(1) as f64);
        let buckets = if hi / lo < 1.05 { 1 } else { 12 };
        let ratio = (hi / lo).powf(1.0 / buckets as f64);
        let mut edges = Vec::with_capacity(buckets + 1);
        for i in 0..=buckets {
            edges.push((lo * ratio.powi(i as i32)).round() as u64);
        }
        let mut counts = vec![0u64; buckets];
        for v in h.iter_recorded() {
            let value = v.value_iterated_to();
            let i = edges[1..]
                .iter()
                .position(|e| value < *e)
                .unwrap_or(buckets - 1);
            counts[i] += v.count_at_value();
        }
        let busiest = counts.iter().copied().max().unwrap_or(0).max(1);
        let mut out = String::from("histogram:\n");
        for (w, n) in edges.windows(2).zip(&counts) {
            // At least one mark for a bucket that has any call.
            let bar = (*n as f64 / busiest as f64 * 40.0).ceil() as usize;
            out.push_str(&format!(
                "  {:>9} .. {:<9} {:>8}  {}\n",
                duration(w[0]),
                duration(w[1]),
                n,
                "█".repeat(bar)
            ));
        }
        out
    }
}

/// The heading of a sweep's table: `step` names its first column; MB/s
/// is shown for payload sweeps (`with_mb`).
pub(super) fn sweep_header(step: &str, with_mb: bool) -> String {
    let mb = match with_mb {
        true => format!("  {:>10}", "MB/s"),
        false => String::new(),
    };
    format!(
        "{step:>9}  {:>10}{mb}  {:>10}  {:>10}  {:>10}  errors",
        "calls/s", "p50", "p99", "max"
    )
}

impl Outcome {
    /// The run as one line of a sweep's table, its step shown as `label`.
    pub(super) fn sweep_row(&self, label: &str) -> String {
        let l = self.latency();
        let errors = self.errors_text();
        let mb = match self.mb_per_sec() {
            Some(mb) => format!("  {mb:>10.2}"),
            None => String::new(),
        };
        format!(
            "{label:>9}  {:>10.0}{mb}  {:>10}  {:>10}  {:>10}  {errors}",
            self.rate(),
            duration(l.p50),
            duration(l.p99),
            duration(l.max),
        )
    }
}

/// Microseconds as `850 µs`, `1.25 ms` or `2.50 s`.
pub(super) fn duration(us: u64) -> String {
    match us {
        0..1_000 => format!("{us} µs"),
        1_000..1_000_000 => format!("{:.2} ms", us as f64 / 1e3),
        _ => format!("{:.2} s", us as f64 / 1e6),
    }
}

#[cfg(test)]
mod tests {
    use super::super::load::histogram;
    use super::*;

    fn outcome(samples: &[u64], errors: &[(&str, u64)]) -> Outcome {
        let mut latencies = histogram();
        for s in samples {
            latencies.record(*s).unwrap();
        }
        Outcome {
            latencies,
            errors: errors.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect(),
            elapsed: std::time::Duration::from_secs(2),
            concurrency: 4,
            payload_bytes: None,
        }
    }

    #[test]
    fn percentiles_rates_and_errors_add_up() {
        let samples: Vec<u64> = (1..=1000).map(|i| i * 10).collect();
        let o = outcome(&samples, &[("node-error", 10)]);
        assert_eq!(o.calls(), 1010);
        assert!((o.rate() - 505.0).abs() < 1e-6);
        let l = o.latency();
        assert!((4990..=5010).contains(&l.p50), "{}", l.p50);
        assert!((9890..=9910).contains(&l.p99), "{}", l.p99);
        let json = o.to_json("math/add", "quic");
        assert_eq!(json["errors"]["node-error"], 10);
        assert_eq!(json["ok"], 1000);
        let text = o.to_text("math/add", "quic");
        assert!(text.contains("node-error"), "{text}");
        // Every successful call is in one bucket of the histogram.
        let counted: u64 = text
            .lines()
            .skip_while(|l| !l.starts_with("histogram"))
            .skip(1)
            .take_while(|l| l.contains(".."))
            .map(|l| l.split_whitespace().nth(5).unwrap().parse::<u64>().unwrap())
            .sum();
        assert_eq!(counted, 1000, "{text}");
    }

    #[test]
    fn payload_rows_show_megabytes_per_second() {
        let mut o = outcome(&[100, 200], &[]);
        assert_eq!(o.mb_per_sec(), None);
        assert!(!o.sweep_row("4").contains('.'), "{}", o.sweep_row("4"));
        assert_eq!(o.to_json("n", "quic")["payload_bytes"], Json::Null);
        o.payload_bytes = Some(1_000_000);
        // 2 calls in 2 s of 1 MB each.
        assert_eq!(o.mb_per_sec(), Some(1.0));
        o.errors.insert("resource-limit".into(), 8);
        assert_eq!(o.mb_per_sec(), Some(1.0), "refused payloads move nothing");
        o.errors.clear();
        let header = sweep_header("payload", true);
        let row = o.sweep_row(&bytes_text(1_000_000));
        assert!(header.contains("MB/s"), "{header}");
        assert!(row.contains("976.6 KiB") && row.contains("1.00"), "{row}");
        assert_eq!(
            header.split_whitespace().count(),
            row.split_whitespace().count() - 4,
            "the label, p50, p99 and max are two words each: {header}\n{row}"
        );
        assert_eq!(o.to_json("n", "quic")["payload_bytes"], 1_000_000);
        assert!(o.to_text("n", "quic").contains("976.6 KiB payload"));
    }

    #[test]
    fn sweep_rows_name_the_error_kinds() {
        assert_eq!(outcome(&[100], &[]).errors_text(), "0");
        let one = outcome(&[], &[("bad-args", 5)]);
        assert_eq!(one.errors_text(), "5 (bad-args)");
        assert!(one.sweep_row("16").ends_with("  5 (bad-args)"));
        let two = outcome(&[], &[("resource-limit", 3), ("connection-lost", 6)]);
        assert_eq!(two.errors_text(), "9 (connection-lost 6, resource-limit 3)");
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(850), "850 µs");
        assert_eq!(duration(1_250), "1.25 ms");
        assert_eq!(duration(2_500_000), "2.50 s");
    }
}
