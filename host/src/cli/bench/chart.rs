//! `--sweep --chart FILE` and `--sweep-bytes --chart FILE`: calls/s and p99
//! latency against what the sweep varies (calls in flight, or payload
//! size), as an SVG (or an HTML page holding the SVG and a table).

use std::fmt::Write;

use super::load::Outcome;
use super::report::duration;

const W: f64 = 760.0;
const H: f64 = 420.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 80.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 60.0;

/// The x axis of a sweep: its title and one label per run.
pub(super) struct Axis {
    /// `calls in flight`, `payload`.
    pub(super) title: String,
    /// What each run's step was, e.g. `64` or `64 KiB`.
    pub(super) labels: Vec<String>,
}

/// The chart of a sweep, one point per run, at the x labels of `axis`.
pub(super) fn svg(title: &str, axis: &Axis, runs: &[Outcome]) -> String {
    let n = runs.len().max(1);
    let x = |i: usize| {
        if n == 1 {
            LEFT + (W - LEFT - RIGHT) / 2.0
        } else {
            LEFT + (W - LEFT - RIGHT) * i as f64 / (n - 1) as f64
        }
    };
    let rates: Vec<f64> = runs.iter().map(Outcome::rate).collect();
    let p99s: Vec<f64> = runs.iter().map(|r| r.latency().p99 as f64).collect();
    let top_rate = nice_max(rates.iter().copied().fold(0.0, f64::max));
    let top_p99 = nice_max(p99s.iter().copied().fold(0.0, f64::max));
    let y = |v: f64, top: f64| TOP + (H - TOP - BOTTOM) * (1.0 - v / top);
    let mut out = String::new();
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="24" text-anchor="middle" font-size="15">{}</text>
<line x1="{LEFT}" y1="{}" x2="{}" y2="{}" stroke="#444"/>
<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{}" stroke="#1f77b4"/>
<line x1="{}" y1="{TOP}" x2="{}" y2="{}" stroke="#d62728"/>
"##,
        W / 2.0,
        escape(title),
        H - BOTTOM,
        W - RIGHT,
        H - BOTTOM,
        H - BOTTOM,
        W - RIGHT,
        W - RIGHT,
        H - BOTTOM,
    );
    for step in 0..=4 {
        let f = step as f64 / 4.0;
        let yy = y(top_rate * f, top_rate);
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" y1="{yy}" x2="{}" y2="{yy}" stroke="#eee"/><text x="{}" y="{}" text-anchor="end" fill="#1f77b4">{:.0}</text><text x="{}" y="{}" fill="#d62728">{}</text>"##,
            W - RIGHT,
            LEFT - 6.0,
            yy + 4.0,
            top_rate * f,
            W - RIGHT + 6.0,
            yy + 4.0,
            duration((top_p99 * f) as u64),
        );
    }
    // Labels wider than their share of the axis (about 7 px a character)
    // would run into each other: then only every `every`-th is shown.
    let widest = axis.labels.iter().map(|l| l.chars().count()).max();
    let wanted = (widest.unwrap_or(0) as f64 * 7.0 + 8.0) / ((W - LEFT - RIGHT) / n as f64);
    let every = (wanted.ceil() as usize).max(1);
    for (i, label) in axis.labels.iter().enumerate().take(runs.len()) {
        if i % every == 0 {
            let _ = writeln!(
                out,
                r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
                x(i),
                H - BOTTOM + 18.0,
                escape(label)
            );
        }
    }
    let _ = writeln!(
        out,
        r##"<text x="{}" y="{}" text-anchor="middle">{}</text>
<text x="16" y="{}" transform="rotate(-90 16 {})" text-anchor="middle" fill="#1f77b4">calls/s</text>
<text x="{}" y="{}" transform="rotate(90 {} {})" text-anchor="middle" fill="#d62728">p99 latency</text>"##,
        (LEFT + W - RIGHT) / 2.0,
        H - 16.0,
        escape(&axis.title),
        H / 2.0,
        H / 2.0,
        W - 16.0,
        H / 2.0,
        W - 16.0,
        H / 2.0,
    );
    for (values, top, colour, name) in [
        (&rates, top_rate, "#1f77b4", "rate"),
        (&p99s, top_p99, "#d62728", "p99"),
    ] {
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v, top)))
            .collect();
        let _ = writeln!(
            out,
            r#"<polyline class="{name}" fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
            points.join(" ")
        );
        for p in &points {
            let (px, py) = p.split_once(',').unwrap_or(("0", "0"));
            let _ = writeln!(
                out,
                r#"<circle cx="{px}" cy="{py}" r="3" fill="{colour}"/>"#
            );
        }
    }
    out.push_str("</svg>\n");
    out
}

/// An HTML page with the chart and a table of the runs, one row per label
/// of `axis` (with MB/s for payload sweeps).
pub(super) fn html(title: &str, axis: &Axis, runs: &[Outcome]) -> String {
    let with_mb = runs.iter().any(|r| r.payload_bytes.is_some());
    let mut rows = String::new();
    for (label, r) in axis.labels.iter().zip(runs) {
        let l = r.latency();
        let mb = match r.mb_per_sec() {
            Some(mb) => format!("<td>{mb:.2}</td>"),
            None if with_mb => "<td></td>".to_owned(),
            None => String::new(),
        };
        let _ = writeln!(
            rows,
            "<tr><td>{}</td><td>{:.0}</td>{mb}<td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(label),
            r.rate(),
            duration(l.p50),
            duration(l.p99),
            duration(l.max),
            escape(&r.errors_text()),
        );
    }
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>body{{font-family:sans-serif}}td,th{{padding:2px 10px;text-align:right}}</style>\
         </head><body>\n{svg}<table><tr><th>{step}</th><th>calls/s</th>{mb}<th>p50</th><th>p99</th>\
         <th>max</th><th>errors</th></tr>\n{rows}</table></body></html>\n",
        t = escape(title),
        svg = svg(title, axis, runs),
        step = escape(&axis.title),
        mb = if with_mb { "<th>MB/s</th>" } else { "" },
    )
}

/// A round number at or above `v` (1, 2 or 5 times a power of ten).
fn nice_max(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let magnitude = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if v <= m * magnitude {
            return m * magnitude;
        }
    }
    10.0 * magnitude
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::super::load::histogram;
    use super::*;

    fn run(payload_bytes: Option<usize>) -> Outcome {
        let mut latencies = histogram();
        latencies.record(250).unwrap();
        Outcome {
            latencies,
            errors: Default::default(),
            elapsed: std::time::Duration::from_secs(1),
            concurrency: 1,
            payload_bytes,
        }
    }

    #[test]
    fn both_sweeps_draw_their_axis() {
        let runs = [run(Some(16)), run(Some(65536))];
        let axis = Axis {
            title: "payload".into(),
            labels: vec!["16 bytes".into(), "64 KiB".into()],
        };
        let svg = svg("echo", &axis, &runs);
        for text in [">payload<", ">16 bytes<", ">64 KiB<"] {
            assert!(svg.contains(text), "{text}: {svg}");
        }
        let page = html("echo", &axis, &runs);
        assert!(page.contains("<th>payload</th>"), "{page}");
        assert!(page.contains("<th>MB/s</th>"), "{page}");
        assert!(
            page.contains("<tr><td>64 KiB</td><td>1</td><td>0.07</td>"),
            "{page}"
        );

        let axis = Axis {
            title: "calls in flight".into(),
            labels: vec!["1".into()],
        };
        let page = html("add", &axis, &[run(None)]);
        assert!(page.contains("<th>calls in flight</th>"), "{page}");
        assert!(!page.contains("MB/s"), "{page}");
    }

    #[test]
    fn axes_round_up() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(12_000.0), 20_000.0);
        assert_eq!(nice_max(450.0), 500.0);
    }
}
