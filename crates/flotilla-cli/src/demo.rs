//! `flotilla demo`: static against dynamic load balancing, every placement
//! strategy measured on this machine.
//!
//! The three skew shapes of `flotilla gen skew` (heavy tail, ramp, periodic) are
//! run as CPU-busy tasks under every placement policy; the table shows each
//! run's makespan and utilization next to the simulator's prediction, so
//! that each static strategy's failure case is visible.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::bail;
use flotilla::prelude::*;
use flotilla::Trace;
use indicatif::{ProgressBar, ProgressStyle};

use crate::bench::run_skew;
use crate::gen::{skew_durations, SkewShape};

/// Arguments of `flotilla demo`.
#[derive(clap::Args, Debug)]
pub(crate) struct DemoArgs {
    /// Worker threads.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Multiply every task's duration by this (1.0 = the durations of `flotilla bench W7`).
    #[arg(long, default_value_t = 0.25)]
    scale: f64,
    /// Also write an HTML report comparing the policies: per shape, each
    /// policy's utilization over time and task stream, on one time scale.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
}

pub(crate) fn run_demo(args: &DemoArgs) -> anyhow::Result<()> {
    if !(args.scale > 0.0 && args.scale.is_finite()) {
        bail!("--scale must be a positive number, got {}", args.scale);
    }
    if args.workers == 0 {
        bail!("--workers must be at least 1");
    }
    // Made first, so that a report that cannot be written stops the demo
    // before it measures anything.
    if let Some(path) = &args.report {
        crate::report::prepare(path)?;
    }
    let mut groups: Vec<(String, Vec<Trace>)> = Vec::new();
    let pool = CpuPool::builder()
        .threads(args.workers)
        .name("demo")
        .build()?;
    let shapes = [
        ("heavy", SkewShape::Heavy),
        ("ramp", SkewShape::Ramp),
        ("periodic", SkewShape::Periodic),
    ];
    let runs = (shapes.len() * Placement::ALL.len()) as u64;
    let bar = if std::io::stderr().is_terminal() {
        let b = ProgressBar::new(runs);
        if let Ok(s) =
            ProgressStyle::with_template("{msg:>28} [{bar:30}] {pos}/{len} runs, {elapsed}")
        {
            b.set_style(s.progress_chars("=> "));
        }
        b
    } else {
        ProgressBar::hidden()
    };
    println!(
        "Load balancing on {} workers: 200 CPU-busy tasks per shape (durations × {}), each policy measured.\n",
        args.workers, args.scale
    );
    println!(
        "{:<9} {:<20} {:>12} {:>12} {:>8} {:>14}",
        "shape", "policy", "makespan (s)", "utilization", "stolen", "simulated util"
    );
    let mut table: Vec<(&str, Vec<(Placement, f64)>)> = Vec::new();
    for (name, shape) in shapes {
        let mut row = Vec::new();
        let durations: Vec<f64> = skew_durations(shape, 7)
            .into_iter()
            .map(|d| d * args.scale)
            .collect();
        let work: f64 = durations.iter().sum::<f64>() / 1000.0;
        let mut best: Option<(Placement, f64)> = None;
        let mut worst: Option<(Placement, f64)> = None;
        let mut traces = Vec::new();
        for p in Placement::ALL {
            bar.set_message(format!("{name} / {}", p.name()));
            let recorder = args.report.is_some().then(|| pool.record());
            let r = run_skew(&pool, &durations, p)?;
            if let Some(recorder) = recorder {
                let mut trace = recorder.trace(p.name());
                trace.makespan_ns = (r.makespan * 1e9) as u64;
                trace.tasks = durations.len() as u64;
                trace.set("shape", name);
                trace.set("scale", args.scale);
                traces.push(trace);
            }
            bar.inc(1);
            row.push((p, r.utilization));
            bar.suspend(|| {
                println!(
                    "{:<9} {:<20} {:>12.3} {:>11.1}% {:>8} {:>13.1}%",
                    name,
                    p.name(),
                    r.makespan,
                    r.utilization * 100.0,
                    r.stolen,
                    r.simulated_utilization * 100.0
                )
            });
            if best.is_none_or(|(_, u)| r.utilization > u) {
                best = Some((p, r.utilization));
            }
            if worst.is_none_or(|(_, u)| r.utilization < u) {
                worst = Some((p, r.utilization));
            }
        }
        table.push((name, row));
        if args.report.is_some() {
            groups.push((
                format!("{name}: {} tasks, {work:.2} s of work", durations.len()),
                traces,
            ));
        }
        if let (Some((bp, bu)), Some((wp, wu))) = (best, worst) {
            bar.suspend(|| {
                println!(
                    "{:<9} total work {:.2} s: best {} ({:.1}%), worst {} ({:.1}%)\n",
                    "",
                    work,
                    bp,
                    bu * 100.0,
                    wp,
                    wu * 100.0
                )
            });
        }
    }
    bar.finish_and_clear();
    for sentence in conclusion(&table) {
        println!("{sentence}");
    }
    println!("Reproduce any row with: flotilla bench W7 --policy NAME");
    if let Some(path) = &args.report {
        let title = format!(
            "Placement policies on skewed work: {} workers, durations × {}",
            args.workers, args.scale
        );
        let html = flotilla::dashboard::report::render_comparison(&title, &groups);
        crate::report::write(path, html)?;
        println!("Report: {}", path.display());
    }
    Ok(())
}

/// How far below the best policy of a shape a policy must fall to be called
/// a failure, in utilization points.
const FAILURE_POINTS: f64 = 10.0;

/// What the measured table says, in sentences: which policies fell well
/// behind the best on which shape, and how work stealing did against the
/// best of each shape. Derived from the numbers alone, so a run where work
/// stealing lost says so.
fn conclusion(table: &[(&str, Vec<(Placement, f64)>)]) -> Vec<String> {
    let mut failures = Vec::new();
    let mut stealing_behind = Vec::new();
    let mut stealing_gap: f64 = 0.0;
    for (shape, row) in table {
        let Some(best) = row.iter().map(|&(_, u)| u).reduce(f64::max) else {
            continue;
        };
        for &(p, u) in row {
            let gap = (best - u) * 100.0;
            if gap > FAILURE_POINTS {
                failures.push(format!("{} on {shape} ({:.1}%)", p.name(), u * 100.0));
            }
            if p == Placement::WorkStealing {
                stealing_gap = stealing_gap.max(gap);
                if gap > 1.0 {
                    stealing_behind.push(format!(
                        "on {shape} it reached {:.1}% where the best reached {:.1}%",
                        u * 100.0,
                        best * 100.0
                    ));
                }
            }
        }
    }
    let mut out = Vec::new();
    if failures.is_empty() {
        out.push(format!(
            "No policy fell more than {FAILURE_POINTS:.0} points of utilization behind the best on any shape."
        ));
    } else {
        out.push(format!(
            "More than {FAILURE_POINTS:.0} points behind the best: {}.",
            failures.join(", ")
        ));
    }
    let measured_stealing = table
        .iter()
        .any(|(_, row)| row.iter().any(|&(p, _)| p == Placement::WorkStealing));
    if !measured_stealing {
        return out;
    }
    if stealing_behind.is_empty() {
        out.push(format!(
            "Work stealing was within {:.1} points of the best policy on every shape.",
            stealing_gap.max(0.0)
        ));
    } else {
        out.push(format!(
            "Work stealing fell behind: {}.",
            stealing_behind.join("; ")
        ));
    }
    out
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn a_table_where_stealing_wins_names_the_static_failures() {
        let table = [
            (
                "ramp",
                vec![(Placement::WorkStealing, 0.99), (Placement::Block, 0.66)],
            ),
            (
                "periodic",
                vec![
                    (Placement::WorkStealing, 0.985),
                    (Placement::RoundRobin, 0.52),
                ],
            ),
        ];
        let text = conclusion(&table).join(" ");
        assert!(text.contains("block on ramp (66.0%)"), "{text}");
        assert!(text.contains("round-robin on periodic (52.0%)"), "{text}");
        assert!(
            text.contains("Work stealing was within 0.0 points"),
            "{text}"
        );
    }

    #[test]
    fn a_table_where_stealing_loses_says_so() {
        let table = [(
            "heavy",
            vec![
                (Placement::WorkStealing, 0.80),
                (Placement::CentralQueue, 0.95),
            ],
        )];
        let text = conclusion(&table).join(" ");
        assert!(text.contains("work-stealing on heavy (80.0%)"), "{text}");
        assert!(
            text.contains(
                "Work stealing fell behind: on heavy it reached 80.0% where the best reached 95.0%"
            ),
            "{text}"
        );
        assert!(!text.contains("within"), "{text}");
    }

    #[test]
    fn a_close_table_names_no_failure() {
        let table = [(
            "heavy",
            vec![
                (Placement::WorkStealing, 0.97),
                (Placement::CentralQueue, 0.96),
            ],
        )];
        let text = conclusion(&table).join(" ");
        assert!(
            text.starts_with("No policy fell more than 10 points"),
            "{text}"
        );
    }
}
