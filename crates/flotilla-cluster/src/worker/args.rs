//! A worker's options in words: sizes (`512M`), resources (`gpu=1`), and
//! the flags and variables with which any binary that calls
//! [`worker_if_asked`](crate::worker_if_asked) becomes a worker with the
//! same options as `flotilla worker`.

use std::path::Path;

use super::WorkerOptions;
use crate::protocol::Token;
use crate::tls::Tls;

/// The variable giving the memory a worker offers (a size: `8G`).
///
/// ```
/// assert_eq!(flotilla_cluster::WORKER_MEMORY_LIMIT_ENV, "FLOTILLA_WORKER_MEMORY_LIMIT");
/// ```
pub const WORKER_MEMORY_LIMIT_ENV: &str = "FLOTILLA_WORKER_MEMORY_LIMIT";

/// The variable giving the resources a worker offers (`gpu=1,fpga=2`).
///
/// ```
/// assert_eq!(flotilla_cluster::WORKER_RESOURCES_ENV, "FLOTILLA_WORKER_RESOURCES");
/// ```
pub const WORKER_RESOURCES_ENV: &str = "FLOTILLA_WORKER_RESOURCES";

/// The variable giving the folders on a worker's own disks, separated as
/// in `PATH` (`:` on Unix).
///
/// ```
/// assert_eq!(flotilla_cluster::WORKER_LOCAL_DATA_ENV, "FLOTILLA_WORKER_LOCAL_DATA");
/// ```
pub const WORKER_LOCAL_DATA_ENV: &str = "FLOTILLA_WORKER_LOCAL_DATA";

/// The variable giving the folder a worker spills results to.
///
/// ```
/// assert_eq!(flotilla_cluster::WORKER_SPILL_DIR_ENV, "FLOTILLA_WORKER_SPILL_DIR");
/// ```
pub const WORKER_SPILL_DIR_ENV: &str = "FLOTILLA_WORKER_SPILL_DIR";

/// A number of bytes, optionally with a unit: `1000`, `64K`, `512M`, `4G`,
/// `1T` (powers of 1024; `KB`, `MiB` and the like work too).
///
/// # Errors
///
/// A message naming the text that is not a size, or its unit.
///
/// ```
/// use flotilla_cluster::parse_size;
/// assert_eq!(parse_size("512M"), Ok(512 << 20));
/// assert_eq!(parse_size("1000"), Ok(1000));
/// assert!(parse_size("4X").unwrap_err().contains("unit"));
/// ```
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (digits, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t, ""),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a size (try 512M or 4G)"))?;
    let scale: u64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        "T" | "TB" | "TIB" => 1 << 40,
        other => return Err(format!("{other:?} is not a size unit (use K, M, G or T)")),
    };
    n.checked_mul(scale)
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// A named resource and its amount: `NAME=AMOUNT` (`gpu=1`).
///
/// # Errors
///
/// A message naming the text that is not `NAME=AMOUNT`.
///
/// ```
/// use flotilla_cluster::parse_resource;
/// assert_eq!(parse_resource("gpu=2"), Ok(("gpu".to_string(), 2)));
/// assert!(parse_resource("gpu").unwrap_err().contains("NAME=AMOUNT"));
/// ```
pub fn parse_resource(text: &str) -> Result<(String, u64), String> {
    let (name, amount) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not NAME=AMOUNT (gpu=1)"))?;
    let amount = amount
        .trim()
        .parse()
        .map_err(|_| format!("the amount in {text:?} is not a whole number"))?;
    if name.trim().is_empty() {
        return Err(format!("{text:?} has no resource name"));
    }
    Ok((name.trim().to_string(), amount))
}

/// The options of a worker from `flags` (the arguments after
/// `--flotilla-worker ADDR`) over `var` (the environment): threads,
/// memory limit, resources, prefetch, token and TLS.
pub(crate) fn worker_options(
    flags: &[String],
    var: impl Fn(&str) -> Option<String>,
) -> Result<WorkerOptions, String> {
    let mut options = WorkerOptions::new();
    let mut threads = var(crate::WORKER_THREADS_ENV);
    let mut memory = var(WORKER_MEMORY_LIMIT_ENV);
    let mut resources = var(WORKER_RESOURCES_ENV);
    let mut prefetch = var(crate::WORKER_PREFETCH_ENV);
    let mut spill_dir = var(WORKER_SPILL_DIR_ENV);
    let mut local_data: Vec<String> = var(WORKER_LOCAL_DATA_ENV)
        .map(|v| {
            std::env::split_paths(&v)
                .map(|p| p.to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let mut token_file = None;
    let mut tls_files: [Option<String>; 3] = [None, None, None];
    let mut tls_name = None;
    let mut flags = flags.iter();
    while let Some(flag) = flags.next() {
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (flag.as_str(), None),
        };
        // Every flag takes one value; --local-data may be given again.
        let slot = match name {
            "--threads" => Some(&mut threads),
            "--memory-limit" => Some(&mut memory),
            "--resources" => Some(&mut resources),
            "--prefetch" => Some(&mut prefetch),
            "--spill-dir" => Some(&mut spill_dir),
            "--local-data" => None,
            "--token-file" => Some(&mut token_file),
            "--tls-ca" => Some(&mut tls_files[0]),
            "--tls-cert" => Some(&mut tls_files[1]),
            "--tls-key" => Some(&mut tls_files[2]),
            "--tls-name" => Some(&mut tls_name),
            other => {
                return Err(format!(
                    "unknown worker option {other:?} (a worker takes --threads, --memory-limit, \
                     --resources, --prefetch, --spill-dir, --local-data, --token-file, --tls-ca, --tls-cert, --tls-key, --tls-name)"
                ))
            }
        };
        let value = match inline {
            Some(v) => v,
            None => flags
                .next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))?,
        };
        match slot {
            Some(slot) => *slot = Some(value),
            None => local_data.push(value),
        }
    }
    if let Some(t) = threads {
        let n: usize = t
            .trim()
            .parse()
            .map_err(|_| format!("threads: {t:?} is not a whole number"))?;
        if n == 0 {
            return Err("threads: a worker needs at least 1".into());
        }
        options = options.threads(n);
    }
    if let Some(m) = memory {
        options = options.memory_limit(parse_size(&m).map_err(|e| format!("memory limit: {e}"))?);
    }
    for r in resources.iter().flat_map(|r| r.split(',')) {
        if r.trim().is_empty() {
            continue;
        }
        let (name, amount) = parse_resource(r).map_err(|e| format!("resources: {e}"))?;
        options = options.resource(&name, amount);
    }
    if let Some(p) = prefetch {
        let n: usize = p
            .trim()
            .parse()
            .map_err(|_| format!("prefetch: {p:?} is not a whole number"))?;
        options = options.prefetch(n);
    }
    if let Some(dir) = spill_dir {
        options = options.spill_dir(dir.into());
    }
    for dir in local_data.into_iter().filter(|d| !d.is_empty()) {
        options = options.local_data(dir.into());
    }
    if let Some(path) = token_file {
        options = options.token(Some(
            Token::from_file(Path::new(&path)).map_err(|e| e.to_string())?,
        ));
    }
    let tls = match tls_files {
        [Some(ca), Some(cert), Some(key)] => Some(Tls::from_files(ca, cert, key)),
        [None, None, None] => Tls::from_env().transpose(),
        _ => return Err("TLS needs all three of --tls-ca, --tls-cert and --tls-key".into()),
    };
    match (tls, tls_name) {
        (Some(tls), name) => {
            let mut tls = tls.map_err(|e| e.to_string())?;
            if let Some(name) = name {
                tls = tls.with_name(&name).map_err(|e| e.to_string())?;
            }
            options = options.tls(Some(tls));
        }
        (None, Some(_)) => return Err("--tls-name needs the TLS files".into()),
        (None, None) => {}
    }
    Ok(options)
}

#[cfg(test)]
mod test {
    use super::*;

    fn flags(text: &str) -> Vec<String> {
        text.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn sizes_and_resources_parse_and_bad_ones_say_why() {
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("4g"), Ok(4 << 30));
        assert!(parse_size("lots").unwrap_err().contains("not a size"));
        assert!(parse_size("99999999999T")
            .unwrap_err()
            .contains("too large"));
        assert!(parse_resource("gpu=x")
            .unwrap_err()
            .contains("whole number"));
        assert!(parse_resource("=1")
            .unwrap_err()
            .contains("no resource name"));
    }

    #[test]
    fn flags_win_over_the_environment() {
        let env = |name: &str| match name {
            "FLOTILLA_WORKER_THREADS" => Some("8".to_string()),
            "FLOTILLA_WORKER_MEMORY_LIMIT" => Some("1G".to_string()),
            "FLOTILLA_WORKER_RESOURCES" => Some("gpu=1".to_string()),
            _ => None,
        };
        let o = worker_options(&flags("--threads 3 --resources=gpu=2,fpga=1"), env).unwrap();
        assert_eq!(o.thread_count(), 3);
        assert_eq!(o.memory_limit, Some(1 << 30));
        assert_eq!(
            o.resources,
            [("gpu".to_string(), 2), ("fpga".to_string(), 1)]
        );
    }

    #[test]
    fn local_folders_come_from_the_variable_and_each_flag() {
        let env = |name: &str| match name {
            "FLOTILLA_WORKER_LOCAL_DATA" => Some("/disk/a:/disk/b".to_string()),
            _ => None,
        };
        let o = worker_options(&flags("--local-data /disk/c --local-data=/disk/d"), env).unwrap();
        let folders: Vec<_> = o
            .local_folders()
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        assert_eq!(folders, ["/disk/a", "/disk/b", "/disk/c", "/disk/d"]);
        let err = worker_options(&flags("--local-data"), |_: &str| None).unwrap_err();
        assert!(err.contains("--local-data needs a value"), "{err}");
    }

    #[test]
    fn bad_flags_are_named() {
        let none = |_: &str| None;
        let err = worker_options(&flags("--threds 3"), none).unwrap_err();
        assert!(err.contains("\"--threds\""), "{err}");
        let err = worker_options(&flags("--threads"), none).unwrap_err();
        assert!(err.contains("--threads needs a value"), "{err}");
        let err = worker_options(&flags("--threads 0"), none).unwrap_err();
        assert!(err.contains("at least 1"), "{err}");
        let err = worker_options(&flags("--memory-limit 4X"), none).unwrap_err();
        assert!(
            err.contains("memory limit") && err.contains("unit"),
            "{err}"
        );
        let err = worker_options(&flags("--tls-ca ca.pem"), none).unwrap_err();
        assert!(err.contains("all three"), "{err}");
        let err = worker_options(&flags("--token-file /nonexistent/token"), none).unwrap_err();
        assert!(err.contains("/nonexistent/token"), "{err}");
    }
}
