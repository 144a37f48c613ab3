//! Run reports: one self-contained HTML file per finished run.
//!
//! [`render`] draws one run: a summary (makespan, tasks, utilization,
//! steals, failures), the task stream, utilization over time per worker
//! thread, durations per kind of task with their histograms, transfers
//! and spills, the scheduler's decisions and the run's settings.
//! [`render_comparison`] draws several runs side by side in groups — the
//! same work under each placement policy, say — with a utilization plot
//! per run, so that static and dynamic load balancing can be looked at.
//!
//! The page carries its style and its plots (SVG) inline and runs no
//! script: it opens anywhere, offline, and prints.
//!
//! ```
//! use flotilla_core::trace::{Lane, Span, Trace};
//!
//! let mut t = Trace::new("one task");
//! t.lanes.push(Lane::new(0, 0));
//! let k = t.kind("load");
//! t.spans.push(Span::new(0, k, 0, 0, 2_000));
//! t.makespan_ns = 2_000;
//! let html = flotilla_dashboard::report::render(&t);
//! assert!(html.contains("<svg class=\"stream\""));
//! ```

use std::fmt::Write;

use flotilla_core::trace::{DecisionKind, Trace};

use crate::html::{
    bytes, colour, escape, histogram_svg, nanos, stream_svg, utilization_svg, PLOT_WIDTH,
};

/// Decisions listed one by one in a report (all are counted).
const DECISIONS_LISTED: usize = 200;

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1320px}\
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd}\
h3{font-size:15px;margin:18px 0 6px}table{border-collapse:collapse;margin:6px 0}\
td,th{padding:3px 10px;border-bottom:1px solid #eee;text-align:left}td.n,th.n{text-align:right}\
.summary{display:flex;flex-wrap:wrap;gap:18px;margin:12px 0}.summary div{background:#f4f6fa;padding:8px 14px;border-radius:6px}\
.summary b{display:block;font-size:18px}.legend span{display:inline-block;margin-right:14px}\
.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-1px}\
.muted{color:#777}.runs{display:flex;flex-wrap:wrap;gap:18px}.run{border:1px solid #ddd;border-radius:6px;padding:8px}.run svg{display:block}\
svg text{fill:#333;font-family:system-ui,sans-serif}";

/// The report of one run, as a whole HTML page.
///
/// ```
/// let t = flotilla_core::trace::Trace::new("nothing ran");
/// let html = flotilla_dashboard::report::render(&t);
/// assert!(html.contains("nothing ran"));
/// ```
pub fn render(trace: &Trace) -> String {
    let mut out = page_start(&format!("flotilla run report — {}", trace.title));
    let _ = write!(out, "<h1>{}</h1>", escape(&trace.title));
    out.push_str(r#"<p class="muted">A flotilla run report.</p>"#);
    summary(&mut out, trace);
    out.push_str("<h2>Task stream</h2>");
    out.push_str(r#"<p class="muted">One lane per worker thread; a bar per task, coloured by kind (back-to-back tasks too short to see are drawn as one bar); a red tick marks stolen tasks, a red outline failed attempts.</p>"#);
    legend(&mut out, trace);
    out.push_str(&stream_svg(trace, PLOT_WIDTH));
    out.push_str("<h2>Utilization over time</h2>");
    out.push_str(&utilization_svg(trace, PLOT_WIDTH, 120));
    kinds(&mut out, trace);
    movement(&mut out, trace);
    decisions(&mut out, trace);
    config(&mut out, trace);
    out.push_str("</body></html>\n");
    out
}

/// A report comparing runs: one section per group (a heading and its
/// runs), each run with its makespan, utilization and steals, its task
/// stream and its utilization over time. Every run's trace title names it
/// within its group (a placement policy, say).
///
/// ```
/// use flotilla_core::trace::{Lane, Span, Trace};
/// let run = |policy: &str, end: u64| {
///     let mut t = Trace::new(policy);
///     t.lanes = vec![Lane::new(0, 0), Lane::new(0, 1)];
///     t.spans.push(Span::new(0, 0, 0, 0, 100));
///     t.spans.push(Span::new(1, 0, 1, 0, end));
///     t.makespan_ns = end.max(100);
///     t.kinds.push("spin".into());
///     t
/// };
/// let groups = vec![("heavy tail".to_string(), vec![run("block", 400), run("work-stealing", 120)])];
/// let html = flotilla_dashboard::report::render_comparison("Placement policies", &groups);
/// assert!(html.contains("work-stealing"));
/// assert_eq!(html.matches("<svg class=\"utilization\"").count(), 2);
/// ```
pub fn render_comparison(title: &str, groups: &[(String, Vec<Trace>)]) -> String {
    let mut out = page_start(title);
    let _ = write!(out, "<h1>{}</h1>", escape(title));
    for (heading, runs) in groups {
        let _ = write!(out, "<h2>{}</h2>", escape(heading));
        out.push_str(r#"<table><tr><th>run</th><th class="n">makespan</th><th class="n">utilization</th><th class="n">tasks</th><th class="n">stolen</th></tr>"#);
        for t in runs {
            let (attempts, stolen, _) = t.counts();
            let _ = write!(
                out,
                r#"<tr><td>{}</td><td class="n">{}</td><td class="n">{:.1}%</td><td class="n">{attempts}</td><td class="n">{stolen}</td></tr>"#,
                escape(&t.title),
                nanos(t.makespan_ns),
                t.utilization_overall() * 100.0
            );
        }
        out.push_str("</table>");
        // Runs of a group share one time scale, so that a longer makespan
        // is a longer plot.
        let longest = runs.iter().map(|t| t.makespan_ns).max().unwrap_or(0).max(1);
        out.push_str(r#"<div class="runs">"#);
        for t in runs {
            let width = (440 * t.makespan_ns.max(1)).div_ceil(longest).max(40);
            let _ = write!(
                out,
                r#"<div class="run"><h3>{} — {}, utilization {:.1}%</h3>"#,
                escape(&t.title),
                nanos(t.makespan_ns),
                t.utilization_overall() * 100.0
            );
            out.push_str(&utilization_svg(t, width, 60));
            out.push_str(&stream_svg(t, width));
            out.push_str("</div>");
        }
        out.push_str("</div>");
        if let Some(first) = runs.first() {
            legend(&mut out, first);
        }
    }
    out.push_str("</body></html>\n");
    out
}

fn page_start(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>",
        escape(title)
    )
}

fn summary(out: &mut String, trace: &Trace) {
    let (attempts, stolen, failed) = trace.counts();
    let busy: u64 = trace.spans.iter().map(|s| s.nanos()).sum();
    let items = [
        ("makespan", nanos(trace.makespan_ns)),
        ("tasks in graph", trace.tasks.to_string()),
        ("attempts run", attempts.to_string()),
        (
            "utilization",
            format!("{:.1}%", trace.utilization_overall() * 100.0),
        ),
        ("busy time", nanos(busy)),
        ("worker threads", trace.lanes.len().to_string()),
        ("stolen", stolen.to_string()),
        ("failed attempts", failed.to_string()),
        ("decisions", trace.decisions.len().to_string()),
    ];
    out.push_str(r#"<div class="summary">"#);
    for (name, value) in items {
        let _ = write!(out, "<div><b>{}</b>{name}</div>", escape(&value));
    }
    out.push_str("</div>");
}

/// The colours of the kinds that ran.
fn legend(out: &mut String, trace: &Trace) {
    let mut ran = vec![false; trace.kinds.len()];
    for s in &trace.spans {
        if let Some(r) = ran.get_mut(s.kind as usize) {
            *r = true;
        }
    }
    out.push_str(r#"<p class="legend">"#);
    for (i, kind) in trace.kinds.iter().enumerate().filter(|&(i, _)| ran[i]) {
        let _ = write!(
            out,
            r#"<span><i style="background:{}"></i>{}</span>"#,
            colour(i as u32),
            escape(kind)
        );
    }
    out.push_str("</p>");
}

fn kinds(out: &mut String, trace: &Trace) {
    out.push_str("<h2>Durations per kind of task</h2>");
    let stats = trace.kind_stats();
    if stats.is_empty() {
        out.push_str("<p>No task ran.</p>");
        return;
    }
    out.push_str(r#"<table class="kinds"><tr><th>kind</th><th class="n">attempts</th><th class="n">failed</th><th class="n">total</th><th class="n">min</th><th class="n">median</th><th class="n">p95</th><th class="n">max</th><th>distribution (powers of two)</th></tr>"#);
    for s in stats {
        let _ = write!(
            out,
            r#"<tr><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td>{}</td></tr>"#,
            escape(&s.kind),
            s.count,
            s.failed,
            nanos(s.total_ns),
            nanos(s.min_ns),
            nanos(s.median_ns),
            nanos(s.p95_ns),
            nanos(s.max_ns),
            histogram_svg(&s.histogram)
        );
    }
    out.push_str("</table>");
}

fn movement(out: &mut String, trace: &Trace) {
    out.push_str("<h2>Transfers and spills</h2>");
    let moved: u64 = trace.transfers.iter().map(|t| t.bytes).sum();
    let spilled: u64 = trace.spills.iter().map(|s| s.bytes).sum();
    let _ = write!(
        out,
        "<p>{} transfers between workers, {} in all; {} spills to disk, {} in all.</p>",
        trace.transfers.len(),
        bytes(moved),
        trace.spills.len(),
        bytes(spilled)
    );
    if trace.transfers.is_empty() && trace.spills.is_empty() {
        out.push_str(r#"<p class="muted">Results stayed where they were made (an in-process run shares one memory).</p>"#);
        return;
    }
    let workers = trace
        .transfers
        .iter()
        .flat_map(|t| [t.from, t.to])
        .chain(trace.spills.iter().map(|s| s.worker))
        .max()
        .map_or(0, |w| w as usize + 1);
    let mut sent = vec![0u64; workers];
    let mut received = vec![0u64; workers];
    let mut spills = vec![0u64; workers];
    for t in &trace.transfers {
        sent[t.from as usize] += t.bytes;
        received[t.to as usize] += t.bytes;
    }
    for s in &trace.spills {
        spills[s.worker as usize] += s.bytes;
    }
    out.push_str(r#"<table><tr><th>worker</th><th class="n">sent</th><th class="n">received</th><th class="n">spilled</th></tr>"#);
    for w in 0..workers {
        let _ = write!(
            out,
            r#"<tr><td>worker {w}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            bytes(sent[w]),
            bytes(received[w]),
            bytes(spills[w])
        );
    }
    out.push_str("</table>");
}

fn decisions(out: &mut String, trace: &Trace) {
    out.push_str("<h2>Scheduler decisions</h2>");
    let (_, stolen, _) = trace.counts();
    let count = |kind| trace.decisions.iter().filter(|d| d.kind == kind).count();
    let _ = write!(
        out,
        "<p>{stolen} tasks stolen by an idle thread; {} retries; {} speculative copies; {} tasks computed again.</p>",
        count(DecisionKind::Retry),
        count(DecisionKind::Copy),
        count(DecisionKind::Recompute)
    );
    if trace.decisions.is_empty() {
        return;
    }
    out.push_str(r#"<table class="decisions"><tr><th class="n">at</th><th>decision</th><th>task</th><th class="n">attempt</th></tr>"#);
    for d in trace.decisions.iter().take(DECISIONS_LISTED) {
        let _ = write!(
            out,
            r#"<tr><td class="n">{}</td><td>{}</td><td>{}</td><td class="n">{}</td></tr>"#,
            nanos(d.at_ns),
            d.kind.name(),
            escape(&d.task),
            d.attempt
        );
    }
    out.push_str("</table>");
    if trace.decisions.len() > DECISIONS_LISTED {
        let _ = write!(
            out,
            r#"<p class="muted">The first {DECISIONS_LISTED} of {} are listed.</p>"#,
            trace.decisions.len()
        );
    }
}

fn config(out: &mut String, trace: &Trace) {
    out.push_str("<h2>Configuration</h2><table class=\"config\">");
    for (name, value) in &trace.config {
        let _ = write!(
            out,
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(name),
            escape(value)
        );
    }
    out.push_str("</table>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use flotilla_core::trace::{Decision, Lane, Outcome, Span, Transfer};

    fn sample() -> Trace {
        let mut t = Trace::new("sample <run>");
        t.lanes = vec![Lane::new(0, 0), Lane::new(0, 1)];
        let load = t.kind("load");
        let sum = t.kind("sum");
        for i in 0..100u32 {
            let mut s = Span::new(i, load, i % 2, u64::from(i) * 10, u64::from(i) * 10 + 9);
            s.stolen = i == 7;
            if i == 9 {
                s.outcome = Outcome::Failed;
            }
            t.spans.push(s);
        }
        t.spans.push(Span::new(100, sum, 0, 1000, 1500));
        t.decisions.push(Decision {
            at_ns: 95,
            task: "load[9]".into(),
            attempt: 2,
            kind: DecisionKind::Retry,
        });
        t.transfers.push(Transfer {
            at_ns: 990,
            from: 1,
            to: 0,
            bytes: 2048,
        });
        t.tasks = 101;
        t.makespan_ns = 1500;
        t.set("placement", "work-stealing");
        t
    }

    #[test]
    fn a_report_shows_every_section_with_the_runs_figures() {
        let html = render(&sample());
        for needle in [
            "sample &lt;run&gt;",
            "<svg class=\"stream\"",
            "<svg class=\"utilization\"",
            "<table class=\"kinds\">",
            "retry",
            "load[9]",
            "work-stealing",
            "2.0 KiB",
            "1 tasks stolen",
        ] {
            assert!(html.contains(needle), "missing {needle:?}");
        }
        assert!(!html.contains("<script"));
        // Every kind is drawn in its own colour, and the legend names it.
        assert!(html.contains(colour(0)) && html.contains(colour(1)));
        // Tags balance (a cheap well-formedness check).
        for tag in ["svg", "table", "tr", "div", "rect"] {
            let open = html.matches(&format!("<{tag} ")).count()
                + html.matches(&format!("<{tag}>")).count();
            let close = html.matches(&format!("</{tag}>")).count();
            let selfclosed = if tag == "rect" {
                html.matches("/>").count()
            } else {
                0
            };
            assert!(
                open <= close + selfclosed,
                "{tag}: {open} open, {close} closed"
            );
        }
    }

    #[test]
    fn a_hundred_thousand_tasks_make_a_report_of_bounded_size() {
        let mut t = Trace::new("many");
        t.lanes = (0..2).map(|i| Lane::new(0, i)).collect();
        let k = t.kind("tiny");
        for i in 0..100_000u32 {
            let start = u64::from(i / 2) * 10;
            t.spans.push(Span::new(i, k, i % 2, start, start + 8));
        }
        t.makespan_ns = 500_000;
        let html = render(&t);
        assert!(html.len() < 1_000_000, "{} bytes", html.len());
        assert!(html.matches("class=\"bar\"").count() <= 2 * (PLOT_WIDTH as usize + 1));
    }
}
