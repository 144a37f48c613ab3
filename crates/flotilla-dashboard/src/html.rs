//! The drawing kit of the report: HTML escaping, numbers for people, a
//! colour per kind of task, and the SVG plots (task stream, utilization,
//! histograms), each a function from trace to markup.

use std::fmt::Write;

use flotilla_core::trace::Trace;

/// `text` with `&`, `<`, `>`, `"` and `'` escaped, for element text and
/// attribute values alike.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A duration in nanoseconds, in the unit that reads best.
pub(crate) fn nanos(ns: u64) -> String {
    let ns = ns as f64;
    if ns >= 60e9 {
        format!("{:.1} min", ns / 60e9)
    } else if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.1} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

/// A size in bytes, in the unit that reads best.
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The colour of kind `kind`: ten well-separated hues, then repeated.
pub(crate) fn colour(kind: u32) -> &'static str {
    const PALETTE: [&str; 10] = [
        "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#edc948", "#76b7b2", "#ff9da7", "#9c755f",
        "#bab0ac", "#e15759",
    ];
    PALETTE[kind as usize % PALETTE.len()]
}

/// Width of the plotting area of the wide plots, in pixels.
pub(crate) const PLOT_WIDTH: u64 = 960;
/// Room left of a plot for its lane labels.
const LABEL_WIDTH: u64 = 140;
/// Room right of a plot for the last tick's label.
const RIGHT_MARGIN: u64 = 30;

/// Time axis ticks under a plot of `width` pixels covering `span_ns`.
fn time_axis(out: &mut String, y: u64, width: u64, span_ns: u64) {
    let _ = write!(
        out,
        r##"<line x1="{LABEL_WIDTH}" y1="{y}" x2="{}" y2="{y}" stroke="#888"/>"##,
        LABEL_WIDTH + width
    );
    for i in 0..=5u64 {
        let x = LABEL_WIDTH + width * i / 5;
        let at = span_ns * i / 5;
        let _ = write!(
            out,
            r##"<line x1="{x}" y1="{y}" x2="{x}" y2="{}" stroke="#888"/><text x="{x}" y="{}" font-size="10" text-anchor="middle">{}</text>"##,
            y + 4,
            y + 15,
            nanos(at)
        );
    }
}

/// The task stream: a lane per worker thread, a bar per task (tasks too
/// short to see merged, see [`Trace::stream`]), coloured by kind, a red
/// tick above bars holding stolen tasks, failed attempts outlined in red.
/// `width` is the plot's width in pixels.
pub(crate) fn stream_svg(trace: &Trace, width: u64) -> String {
    let lanes = trace.lanes.len().max(1) as u64;
    let lane_height: u64 = if lanes > 48 { 4 } else { 16 };
    let span_ns = trace.makespan_ns.max(1);
    let resolution = span_ns.div_ceil(width);
    let height = lanes * lane_height + 24;
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg class="stream" width="{}" height="{height}" viewBox="0 0 {} {height}" xmlns="http://www.w3.org/2000/svg" role="img"><title>Task stream of {}</title>"#,
        LABEL_WIDTH + width + RIGHT_MARGIN,
        LABEL_WIDTH + width + RIGHT_MARGIN,
        escape(&trace.title)
    );
    for (i, lane) in trace.lanes.iter().enumerate() {
        let y = i as u64 * lane_height;
        if lane_height >= 12 {
            let _ = write!(
                out,
                r#"<text x="{}" y="{}" font-size="10" text-anchor="end">{}</text>"#,
                LABEL_WIDTH - 6,
                y + lane_height - 4,
                escape(&lane.to_string())
            );
        }
        let _ = write!(
            out,
            r##"<rect x="{LABEL_WIDTH}" y="{y}" width="{width}" height="{}" fill="#f4f4f4"/>"##,
            lane_height - 1
        );
    }
    let scale = width as f64 / span_ns as f64;
    for bar in trace.stream(resolution) {
        let x = LABEL_WIDTH as f64 + bar.start_ns as f64 * scale;
        let w = ((bar.end_ns - bar.start_ns) as f64 * scale).max(0.5);
        let y = u64::from(bar.lane) * lane_height;
        let kind = trace
            .kinds
            .get(bar.kind as usize)
            .map(String::as_str)
            .unwrap_or("?");
        let stroke = if bar.failed > 0 {
            r##" stroke="#d00" stroke-width="1.5""##
        } else {
            ""
        };
        let _ = write!(
            out,
            r#"<rect class="bar" x="{x:.1}" y="{y}" width="{w:.1}" height="{}" fill="{}"{stroke}><title>{} × {} — {} to {}{}{}</title></rect>"#,
            lane_height - 1,
            colour(bar.kind),
            escape(kind),
            bar.tasks,
            nanos(bar.start_ns),
            nanos(bar.end_ns),
            if bar.stolen > 0 {
                format!(", {} stolen", bar.stolen)
            } else {
                String::new()
            },
            if bar.failed > 0 {
                format!(", {} failed", bar.failed)
            } else {
                String::new()
            },
        );
        if bar.stolen > 0 {
            let _ = write!(
                out,
                r##"<rect class="steal" x="{x:.1}" y="{y}" width="{:.1}" height="3" fill="#c00"/>"##,
                w.min(4.0)
            );
        }
    }
    time_axis(&mut out, lanes * lane_height + 2, width, span_ns);
    out.push_str("</svg>");
    out
}

/// Utilization over time: per lane, the busy fraction of each of
/// `bins` slices of the run as a filled curve, with its mean.
pub(crate) fn utilization_svg(trace: &Trace, width: u64, bins: usize) -> String {
    let rows = trace.utilization(bins);
    let row_height: u64 = if rows.len() > 32 { 8 } else { 28 };
    let height = rows.len().max(1) as u64 * row_height + 24;
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg class="utilization" width="{}" height="{height}" viewBox="0 0 {} {height}" xmlns="http://www.w3.org/2000/svg" role="img"><title>Utilization of {}</title>"#,
        LABEL_WIDTH + width + RIGHT_MARGIN,
        LABEL_WIDTH + width + RIGHT_MARGIN,
        escape(&trace.title)
    );
    for (i, row) in rows.iter().enumerate() {
        let top = i as u64 * row_height;
        let base = top + row_height - 2;
        let mean = row.iter().sum::<f64>() / row.len().max(1) as f64;
        if row_height >= 12 {
            let label = trace
                .lanes
                .get(i)
                .map(ToString::to_string)
                .unwrap_or_default();
            let _ = write!(
                out,
                r#"<text x="{}" y="{}" font-size="10" text-anchor="end">{} · {:.0}%</text>"#,
                LABEL_WIDTH - 6,
                base - 6,
                escape(&label),
                mean * 100.0
            );
        }
        let mut path = format!("M{LABEL_WIDTH} {base}");
        let step = width as f64 / row.len().max(1) as f64;
        let usable = (row_height - 4) as f64;
        for (b, &busy) in row.iter().enumerate() {
            let y = base as f64 - busy * usable;
            let x0 = LABEL_WIDTH as f64 + b as f64 * step;
            let _ = write!(path, " L{x0:.1} {y:.1} L{:.1} {y:.1}", x0 + step);
        }
        let _ = write!(path, " L{} {base} Z", LABEL_WIDTH + width);
        let _ = write!(
            out,
            r##"<rect x="{LABEL_WIDTH}" y="{}" width="{width}" height="{}" fill="#f4f4f4"/><path class="busy" d="{path}" fill="#4e79a7"><title>{}: {:.0}% busy</title></path>"##,
            top + 2,
            row_height - 4,
            escape(
                &trace
                    .lanes
                    .get(i)
                    .map(ToString::to_string)
                    .unwrap_or_default()
            ),
            mean * 100.0
        );
    }
    time_axis(
        &mut out,
        rows.len() as u64 * row_height + 2,
        width,
        trace.makespan_ns.max(1),
    );
    out.push_str("</svg>");
    out
}

/// A small histogram of power-of-two duration buckets.
pub(crate) fn histogram_svg(histogram: &[u64]) -> String {
    let max = histogram.iter().copied().max().unwrap_or(0).max(1);
    let (bar, height) = (6u64, 24u64);
    let width = histogram.len().max(1) as u64 * bar;
    let mut out = format!(
        r#"<svg class="histogram" width="{width}" height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">"#
    );
    for (i, &n) in histogram.iter().enumerate() {
        if n == 0 {
            continue;
        }
        let h = (n * height).div_ceil(max);
        let _ = write!(
            out,
            r##"<rect x="{}" y="{}" width="{}" height="{h}" fill="#59a14f"><title>{n} from {} to {}</title></rect>"##,
            i as u64 * bar,
            height - h,
            bar - 1,
            nanos(if i == 0 { 0 } else { 1 << i }),
            nanos(1 << (i + 1))
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn numbers_read_in_their_unit() {
        assert_eq!(nanos(12), "12 ns");
        assert_eq!(nanos(12_000), "12.0 µs");
        assert_eq!(nanos(1_500_000), "1.5 ms");
        assert_eq!(nanos(2_000_000_000), "2.00 s");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(3 << 20), "3.0 MiB");
    }
}
