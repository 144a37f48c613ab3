//! Prometheus metrics: what a runtime knows, in the text exposition
//! format, every name starting `flotilla_`.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `flotilla_tasks` | gauge | `state`: `pending`, `done`, `failed` |
//! | `flotilla_task_duration_seconds` | histogram | `kind` |
//! | `flotilla_queue_length` | gauge | `worker`, `thread` |
//! | `flotilla_worker_busy_ratio` | gauge | `worker` (over the last window) |
//! | `flotilla_memory_bytes` | gauge | `worker` |
//! | `flotilla_spilled_bytes` | gauge | `worker` |
//! | `flotilla_steals_total` | counter | |
//! | `flotilla_retries_total` | counter | |
//! | `flotilla_speculative_copies_total` | counter | |
//! | `flotilla_recomputed_total` | counter | |
//! | `flotilla_transferred_bytes_total` | counter | |
//! | `flotilla_uptime_seconds` | gauge | |
//!
//! ```
//! use flotilla_core::trace::{Lane, Span, Trace};
//! use flotilla_dashboard::live::Live;
//!
//! let mut trace = Trace::new("x");
//! trace.lanes.push(Lane::new(0, 0));
//! let k = trace.kind("load");
//! trace.spans.push(Span::new(0, k, 0, 0, 2_000_000)); // 2 ms
//! trace.makespan_ns = 3_000_000;
//! let text = flotilla_dashboard::metrics::render(&Live { trace, planned: vec![3], ..Live::default() });
//! assert!(text.contains("flotilla_tasks{state=\"done\"} 1\n"));
//! assert!(text.contains("flotilla_tasks{state=\"pending\"} 2\n"));
//! assert!(text.contains("flotilla_task_duration_seconds_bucket{kind=\"load\",le=\"0.01\"} 1\n"));
//! ```

use std::fmt::Write;

use crate::live::{Live, View};

/// Upper bounds of the duration histograms' buckets, in seconds.
const BUCKETS: [f64; 10] = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0, 60.0, 600.0];

/// The window over which busy ratios are measured.
const BUSY_WINDOW_NS: u64 = 10_000_000_000;

/// `value` as a label value: backslash, double quote and newline escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// The metrics of `live` in Prometheus' text format.
///
/// ```
/// let text = flotilla_dashboard::metrics::render(&Default::default());
/// assert!(text.contains("# TYPE flotilla_steals_total counter"));
/// ```
pub fn render(live: &Live) -> String {
    let view = View::build(live, BUSY_WINDOW_NS);
    let trace = &live.trace;
    let mut out = String::new();
    header(&mut out, "flotilla_tasks", "gauge", "Tasks by state.");
    let t = view.totals;
    for (state, n) in [
        ("pending", t.planned.saturating_sub(t.done)),
        ("done", t.done),
        ("failed", t.failed),
    ] {
        let _ = writeln!(out, "flotilla_tasks{{state=\"{state}\"}} {n}");
    }

    header(
        &mut out,
        "flotilla_task_duration_seconds",
        "histogram",
        "Run time of task attempts, per kind of task.",
    );
    let mut per_kind: Vec<(Vec<u64>, f64, u64)> =
        vec![(vec![0; BUCKETS.len()], 0.0, 0); trace.kinds.len()];
    for s in &trace.spans {
        let Some((buckets, sum, count)) = per_kind.get_mut(s.kind as usize) else {
            continue;
        };
        let secs = s.nanos() as f64 / 1e9;
        for (b, &le) in buckets.iter_mut().zip(&BUCKETS) {
            if secs <= le {
                *b += 1;
            }
        }
        *sum += secs;
        *count += 1;
    }
    for (kind, (buckets, sum, count)) in trace.kinds.iter().zip(&per_kind) {
        if *count == 0 {
            continue;
        }
        let kind = label(kind);
        for (n, le) in buckets.iter().zip(BUCKETS) {
            let _ = writeln!(
                out,
                "flotilla_task_duration_seconds_bucket{{kind=\"{kind}\",le=\"{le}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "flotilla_task_duration_seconds_bucket{{kind=\"{kind}\",le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "flotilla_task_duration_seconds_sum{{kind=\"{kind}\"}} {sum}"
        );
        let _ = writeln!(
            out,
            "flotilla_task_duration_seconds_count{{kind=\"{kind}\"}} {count}"
        );
    }

    header(
        &mut out,
        "flotilla_queue_length",
        "gauge",
        "Tasks queued for a worker thread.",
    );
    for (i, lane) in trace.lanes.iter().enumerate() {
        let _ = writeln!(
            out,
            "flotilla_queue_length{{worker=\"{}\",thread=\"{}\"}} {}",
            lane.worker,
            lane.thread,
            live.queued.get(i).copied().unwrap_or(0)
        );
    }

    // One gauge per worker, each read off the worker's row of the view.
    type PerWorker = fn(&crate::live::WorkerView) -> f64;
    let per_worker: [(&str, &str, PerWorker); 3] = [
        (
            "flotilla_worker_busy_ratio",
            "Fraction of a worker's thread time spent running tasks over the last 10 s.",
            |w| w.busy,
        ),
        (
            "flotilla_memory_bytes",
            "Bytes of results a worker holds in memory.",
            |w| w.memory as f64,
        ),
        (
            "flotilla_spilled_bytes",
            "Bytes of results a worker holds on disk.",
            |w| w.spilled as f64,
        ),
    ];
    for (name, help, value) in per_worker {
        header(&mut out, name, "gauge", help);
        for (w, worker) in view.workers.iter().enumerate() {
            let _ = writeln!(out, "{name}{{worker=\"{w}\"}} {}", value(worker));
        }
    }

    for (name, help, value) in [
        (
            "flotilla_steals_total",
            "Tasks taken from another thread's queue.",
            t.stolen,
        ),
        (
            "flotilla_retries_total",
            "Failed tasks run again.",
            t.retries,
        ),
        (
            "flotilla_speculative_copies_total",
            "Copies launched of straggling tasks.",
            t.copies,
        ),
        (
            "flotilla_recomputed_total",
            "Tasks computed again because a result was lost.",
            t.recomputed,
        ),
        (
            "flotilla_transferred_bytes_total",
            "Bytes of results moved between workers.",
            t.transferred,
        ),
    ] {
        header(&mut out, name, "counter", help);
        let _ = writeln!(out, "{name} {value}");
    }
    header(
        &mut out,
        "flotilla_uptime_seconds",
        "gauge",
        "Seconds since the runtime began recording.",
    );
    let _ = writeln!(
        out,
        "flotilla_uptime_seconds {}",
        trace.makespan_ns as f64 / 1e9
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use flotilla_core::trace::{Lane, Outcome, Span, Trace};

    /// Every sample line: `name{labels} value`, the value a number, the
    /// name declared by a `# TYPE` line before it.
    fn check_exposition(text: &str) {
        let mut declared = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                declared.push(rest.split(' ').next().unwrap().to_string());
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            let (name_labels, value) = line.rsplit_once(' ').unwrap();
            value.parse::<f64>().unwrap_or_else(|_| panic!("{line}"));
            let name = name_labels.split('{').next().unwrap();
            assert!(name.starts_with("flotilla_"), "{line}");
            assert!(
                declared.iter().any(|d| name == d
                    || name
                        .strip_prefix(d.as_str())
                        .is_some_and(|s| ["_bucket", "_sum", "_count"].contains(&s))),
                "{name} undeclared"
            );
        }
    }

    #[test]
    fn histograms_are_cumulative_and_labels_are_escaped() {
        let mut trace = Trace::new("x");
        trace.lanes = vec![Lane::new(0, 0), Lane::new(1, 0)];
        let k = trace.kind("say \"hi\"\\");
        for (i, ns) in [500u64, 5_000, 50_000, 5_000_000_000]
            .into_iter()
            .enumerate()
        {
            let mut s = Span::new(i as u32, k, (i % 2) as u32, 0, ns);
            if i == 3 {
                s.outcome = Outcome::Failed;
            }
            trace.spans.push(s);
        }
        trace.makespan_ns = 6_000_000_000;
        let live = Live {
            trace,
            queued: vec![4, 0],
            memory: vec![100, 200],
            ..Live::default()
        };
        let text = render(&live);
        check_exposition(&text);
        let kind = r#"kind="say \"hi\"\\""#;
        assert!(
            text.contains(&format!(
                "flotilla_task_duration_seconds_bucket{{{kind},le=\"0.000001\"}} 1\n"
            )),
            "{text}"
        );
        assert!(text.contains(&format!(
            "flotilla_task_duration_seconds_bucket{{{kind},le=\"0.0001\"}} 3\n"
        )));
        assert!(text.contains(&format!(
            "flotilla_task_duration_seconds_bucket{{{kind},le=\"+Inf\"}} 4\n"
        )));
        assert!(text.contains("flotilla_tasks{state=\"failed\"} 1\n"));
        assert!(text.contains("flotilla_queue_length{worker=\"0\",thread=\"0\"} 4\n"));
        assert!(text.contains("flotilla_memory_bytes{worker=\"1\"} 200\n"));
    }
}
