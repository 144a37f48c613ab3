//! Reports and the live dashboard as a person sees them: opened in
//! headless Chromium (Debian's `chromium`, which `.ci/run` installs),
//! checked for what they draw and for console errors.
//!
//! With `FLOTILLA_SCREENSHOTS=DIR` the tests also save what they saw as
//! PNGs there (the README's pictures come from this).

#[path = "browser/chromium.rs"]
mod chromium;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chromium::Browser;
use flotilla::{ComputeOptions, CpuPool, Delayed, Placement, TaskKey};

fn spin(micros: u64) -> u64 {
    let start = Instant::now();
    let mut x = 0u64;
    while start.elapsed() < Duration::from_micros(micros) {
        x = x.wrapping_add(1);
    }
    x
}

/// A round of skewed work: 24 loads (every fifth ten times longer),
/// pairwise combines, one total.
fn round(pool: &CpuPool, options: &ComputeOptions) -> u64 {
    let loads: Vec<Delayed<u64>> = (0..24u64)
        .map(|i| {
            Delayed::from_fn(move || spin(if i % 5 == 0 { 10_000 } else { 1_000 }))
                .named(TaskKey::indexed("load", i))
        })
        .collect();
    let combined: Vec<Delayed<u64>> = loads
        .chunks(2)
        .enumerate()
        .map(|(i, pair)| {
            Delayed::gather(pair, |v| v.iter().fold(0, |a, b| a ^ **b))
                .named(TaskKey::indexed("combine", i as u64))
        })
        .collect();
    let _ = pool;
    Delayed::gather(&combined, |v| v.len() as u64)
        .named("total")
        .compute_with(options)
        .unwrap()
}

fn screenshot_dir() -> Option<std::path::PathBuf> {
    std::env::var_os("FLOTILLA_SCREENSHOTS").map(Into::into)
}

#[test]
fn a_run_report_renders_its_plots_in_a_browser_without_errors() {
    let dir = std::env::temp_dir().join(format!("flotilla-browser-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("run.html");
    let pool = CpuPool::builder()
        .threads(2)
        .placement(Placement::WorkStealing)
        .build()
        .unwrap();
    let options = ComputeOptions::new()
        .pool(&pool)
        .label("skewed loads")
        .report(&path);
    assert_eq!(round(&pool, &options), 12);

    let browser = Browser::start();
    let mut page = browser.open(&format!("file://{}", path.display()));
    let bars = page.eval("document.querySelectorAll('svg.stream rect.bar').length");
    assert!(bars.as_u64().unwrap() >= 3, "{bars}");
    // A utilization curve per thread, laid out with a real size.
    assert_eq!(
        page.eval("document.querySelectorAll('svg.utilization path.busy').length"),
        2
    );
    let width = page.eval("document.querySelector('svg.stream').getBoundingClientRect().width");
    assert!(width.as_f64().unwrap() > 500.0, "{width}");
    let kinds = page.eval(
        "[...document.querySelectorAll('table.kinds td:first-child')].map(td => td.textContent)",
    );
    for kind in ["load", "combine", "total"] {
        assert!(
            kinds.as_array().unwrap().iter().any(|k| k == kind),
            "{kinds}"
        );
    }
    let text = page
        .eval("document.body.innerText")
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        text.contains("skewed loads") && text.contains("work-stealing"),
        "{text}"
    );
    assert_eq!(page.console_errors(), Vec::<String>::new());
    if let Some(shots) = screenshot_dir() {
        page.screenshot(&shots.join("report.png"));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_dashboard_shows_a_running_pool_live() {
    let pool = CpuPool::builder()
        .threads(2)
        .placement(Placement::WorkStealing)
        .build()
        .unwrap();
    let dashboard = pool.dashboard("127.0.0.1:0").unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let worker = {
        let (pool, stop) = (pool.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            let options = ComputeOptions::new().pool(&pool).progress(false);
            while !stop.load(Ordering::SeqCst) {
                round(&pool, &options);
            }
        })
    };
    // The work stops however the test ends.
    struct Stop(Arc<AtomicBool>);
    impl Drop for Stop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let _stop = Stop(Arc::clone(&stop));

    let browser = Browser::start();
    let mut page = browser.open(&dashboard.url());
    // Live: several updates arrive without reloading, and the count of
    // finished tasks rises between them.
    page.wait_until(
        "Number(document.body.dataset.updates) >= 4",
        Duration::from_secs(30),
    );
    let history = page.eval("document.body.dataset.doneHistory.split(',').map(Number)");
    let history: Vec<u64> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert!(history.last() > history.first(), "{history:?}");
    assert_eq!(
        page.eval("document.querySelectorAll('#workers tr.worker').length"),
        1
    );
    assert_eq!(
        page.eval("document.getElementById('placement').textContent"),
        "work-stealing"
    );
    let kinds = page.eval("[...document.querySelectorAll('#progress tr.kind td:first-child')].map(td => td.textContent)");
    for kind in ["load", "combine", "total"] {
        assert!(
            kinds.as_array().unwrap().iter().any(|k| k == kind),
            "{kinds}"
        );
    }
    let bars = page.eval("Number(document.getElementById('stream').dataset.bars)");
    assert!(bars.as_u64().unwrap() > 0, "{bars}");
    // The graph of a round (37 tasks) is drawn, node per task.
    assert_eq!(
        page.eval("document.querySelectorAll('svg.graph circle.node').length"),
        37
    );
    assert_eq!(page.console_errors(), Vec::<String>::new());
    if let Some(shots) = screenshot_dir() {
        page.screenshot(&shots.join("dashboard.png"));
    }

    // The same address serves Prometheus metrics.
    let metrics = chromium::get(dashboard.addr(), "/metrics");
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
            .unwrap_or_else(|| panic!("{name} missing from\n{metrics}"))
    };
    assert!(value("flotilla_tasks{state=\"done\"}") >= 37.0);
    assert!(value("flotilla_task_duration_seconds_count{kind=\"load\"}") >= 24.0);
    assert!(value("flotilla_uptime_seconds") > 0.0);
    for line in metrics.lines().filter(|l| !l.starts_with('#')) {
        assert!(line.starts_with("flotilla_"), "{line}");
        let value = line.rsplit_once(' ').unwrap().1;
        value.parse::<f64>().unwrap_or_else(|_| panic!("{line}"));
    }
    stop.store(true, Ordering::SeqCst);
    worker.join().unwrap();
}
