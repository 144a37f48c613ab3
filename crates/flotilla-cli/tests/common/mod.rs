//! What the CLI's test files share: processes reaped when a test ends, and
//! a scheduler started on a free loopback port.
#![allow(dead_code)] // each test file uses its part

use std::io::{BufRead, BufReader};
use std::process::{ChildStderr, Command, Stdio};

/// Processes killed and reaped when the test ends, passed or not.
pub(crate) struct Reaped(pub(crate) Vec<std::process::Child>);

impl Drop for Reaped {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts `command` with its standard error piped, reaped with `procs`; a
/// reader of what it logs.
pub(crate) fn spawn_logged(procs: &mut Reaped, command: &mut Command) -> BufReader<ChildStderr> {
    let mut child = command.stderr(Stdio::piped()).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    procs.0.push(child);
    BufReader::new(stderr)
}

/// Starts `flotilla scheduler` on a free loopback port with `token` in
/// `FLOTILLA_TOKEN` (or none), reaped with `procs`; its address.
pub(crate) fn start_scheduler(procs: &mut Reaped, token: Option<&str>) -> String {
    start_scheduler_with(procs, token, &[])
}

/// [`start_scheduler`] with `extra` arguments.
pub(crate) fn start_scheduler_with(
    procs: &mut Reaped,
    token: Option<&str>,
    extra: &[&str],
) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_flotilla"));
    command
        .args(["scheduler", "--listen", "127.0.0.1:0"])
        .args(extra);
    match token {
        Some(t) => command.env("FLOTILLA_TOKEN", t),
        None => command.env_remove("FLOTILLA_TOKEN"),
    };
    // The line that says where it listens (a line about its dashboard may
    // come first, when another scheduler holds the default address).
    let mut reader = spawn_logged(procs, &mut command);
    let mut said = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            panic!("the scheduler ended without saying where it listens: {said:?}");
        }
        said.push_str(&line);
        if let Some(rest) = line.split("listening on ").nth(1) {
            return rest
                .split_whitespace()
                .next()
                .unwrap_or_else(|| panic!("no address in {line:?}"))
                .to_string();
        }
    }
}
