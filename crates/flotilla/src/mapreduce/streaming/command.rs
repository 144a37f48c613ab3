//! One run of one command: `sh -c CMD` with its three pipes, fed and drained
//! at the same time, and judged by its exit status.
//!
//! ```text
//!              writer thread (scoped)          task thread               stderr thread (scoped)
//!              ──────────────────────          ───────────               ──────────────────────
//!  records ──► feed(CommandInput) ──stdin──► [ sh -c CMD ] ──stdout──► drain(CommandOutput)
//!                                                   └────────stderr──────────► tail + reporter counters
//! ```
//!
//! The three pipes are served by three threads, so no side ever waits on a
//! full pipe that nobody reads: the classic deadlock of a parent that writes
//! a child's whole input before reading its output cannot happen. Both
//! helper threads are scoped, and always joined before the run returns.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use super::StreamingError;

/// Lines of a command's stderr kept for an error message.
pub(super) const STDERR_TAIL_LINES: usize = 20;
/// Bytes of a command's stderr kept for an error message.
pub(super) const STDERR_TAIL_BYTES: usize = 2048;
/// The longest stderr line read at once; longer ones are cut into pieces.
const STDERR_LINE_LIMIT: u64 = 4096;
/// Bytes of a successful command's stderr kept for its log (the start).
pub(super) const STDERR_LOG_BYTES: usize = 1 << 20;
/// The longest first line a summary shows.
const FIRST_LINE_CHARS: usize = 200;

/// Which of a job's commands a failure is about.
///
/// ```
/// use flotilla::mapreduce::streaming::CommandRole;
///
/// assert_eq!(CommandRole::Combiner.to_string(), "combiner");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum CommandRole {
    /// The map command, run once per input split.
    Mapper,
    /// The combine command, run on each map task's sorted output.
    Combiner,
    /// The reduce command, run once per partition.
    Reducer,
}

impl fmt::Display for CommandRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CommandRole::Mapper => "mapper",
            CommandRole::Combiner => "combiner",
            CommandRole::Reducer => "reducer",
        })
    }
}

/// How one attempt's command failed: which command, how it ended, and the
/// end of what it wrote to stderr.
///
/// ```
/// use flotilla::mapreduce::streaming::{CommandFailure, CommandRole};
///
/// let failure = CommandFailure {
///     role: CommandRole::Mapper,
///     command: "./parse.py".into(),
///     status: "exited with status 2".into(),
///     exit_code: Some(2),
///     stderr_tail: "ValueError: bad rating 'x'".into(),
/// };
/// let text = failure.to_string();
/// assert!(text.starts_with("mapper `./parse.py` exited with status 2"));
/// assert!(text.contains("ValueError"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandFailure {
    /// Which command of the job.
    pub role: CommandRole,
    /// The command line, as given to `sh -c`.
    pub command: String,
    /// How it ended, in words: `exited with status 1`, `was killed by
    /// signal 9`, `could not be started: …`, `broke its input pipe: …`.
    pub status: String,
    /// The exit code, when the command exited by itself.
    pub exit_code: Option<i32>,
    /// The last lines of its stderr (at most 20 lines and 2 KB, invalid
    /// UTF-8 replaced), without `reporter:` lines.
    pub stderr_tail: String,
}

impl fmt::Display for CommandFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} `{}` {}", self.role, self.command, self.status)?;
        if self.stderr_tail.is_empty() {
            f.write_str(" (nothing on stderr)")
        } else {
            write!(f, "; the end of its stderr:\n{}", self.stderr_tail)
        }
    }
}

/// What a command is and how it runs: role, command line, environment.
#[derive(Debug)]
pub(super) struct CommandSpec<'a> {
    pub(super) role: CommandRole,
    pub(super) command: &'a str,
    pub(super) env: Vec<(&'static str, String)>,
}

impl CommandSpec<'_> {
    fn failure(&self, status: String, exit_code: Option<i32>, tail: String) -> CommandFailure {
        CommandFailure {
            role: self.role,
            command: self.command.to_string(),
            status,
            exit_code,
            stderr_tail: tail,
        }
    }
}

/// Why a feed or a drain (the code on our side of the pipes) stopped.
#[derive(Debug)]
pub(super) enum StepError {
    /// A pipe to or from the command failed (other than the command closing
    /// its input early): counted against the command, so retried.
    Pipe(io::Error),
    /// Our side failed (input file, spill, output file): not retried.
    Fatal(StreamingError),
    /// The job is failing elsewhere: stop without retrying.
    Aborted,
}

impl From<StreamingError> for StepError {
    fn from(e: StreamingError) -> Self {
        StepError::Fatal(e)
    }
}

/// Why one attempt of a task failed.
#[derive(Debug)]
pub(super) enum AttemptError {
    /// The command failed: the attempt may be retried.
    Command(CommandFailure),
    /// Our side failed: the task fails without retrying.
    Fatal(StreamingError),
    /// The job is failing elsewhere.
    Aborted,
}

impl From<StreamingError> for AttemptError {
    fn from(e: StreamingError) -> Self {
        AttemptError::Fatal(e)
    }
}

/// What a successful run gives back: the feed's and the drain's results,
/// the counters the command reported on stderr, and the rest of its
/// stderr, if it wrote any.
#[derive(Debug)]
pub(super) struct CommandRun<T, U> {
    pub(super) fed: T,
    pub(super) drained: U,
    pub(super) counters: BTreeMap<String, u64>,
    pub(super) stderr: Option<StderrLog>,
}

/// What a command wrote to stderr besides `reporter:` lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct StderrLog {
    /// Its first line, invalid UTF-8 replaced, at most 200 characters.
    pub(super) first_line: String,
    /// How many bytes it wrote.
    pub(super) bytes: u64,
    /// The text for the log: all of it, or its first
    /// [`STDERR_LOG_BYTES`] and a line saying how much was left out.
    pub(super) text: Vec<u8>,
}

/// The command's stdin, as the feed sees it.
///
/// Writes return `false` once the command takes no more input: it closed
/// its stdin (it stopped reading, like `head`), the pipe failed (the error
/// is kept and fails the attempt), or the attempt is being stopped. The
/// feed should then stop, unless it has more to do with its records (count
/// them, keep them for a retry). Whether stopping early was fine is for the
/// command's exit status to say.
#[derive(Debug)]
pub(super) struct CommandInput<'a> {
    pipe: BufWriter<ChildStdin>,
    stop: &'a AtomicBool,
    abort: &'a AtomicBool,
    open: bool,
    error: Option<io::Error>,
}

impl CommandInput<'_> {
    /// Writes one line and its newline.
    pub(super) fn line(&mut self, line: &[u8]) -> bool {
        self.write_parts(&[line, b"\n"])
    }

    /// Writes `key\tvalue\n`, or `key\n` when the value is empty.
    pub(super) fn record(&mut self, key: &[u8], value: &[u8]) -> bool {
        if value.is_empty() {
            self.write_parts(&[key, b"\n"])
        } else {
            self.write_parts(&[key, b"\t", value, b"\n"])
        }
    }

    /// Whether the job is failing elsewhere: the feed should stop now.
    pub(super) fn is_aborted(&self) -> bool {
        self.abort.load(Ordering::Relaxed)
    }

    fn write_parts(&mut self, parts: &[&[u8]]) -> bool {
        if !self.open {
            return false;
        }
        if self.stop.load(Ordering::Relaxed) || self.is_aborted() {
            self.open = false;
            return false;
        }
        for part in parts {
            if let Err(e) = self.pipe.write_all(part) {
                self.open = false;
                if e.kind() != io::ErrorKind::BrokenPipe {
                    self.error = Some(e);
                }
                return false;
            }
        }
        true
    }

    /// Flushes and closes the pipe, so that the command sees the end of its
    /// input; returns the pipe's error, if it failed.
    fn close(mut self) -> io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if !self.open {
            return Ok(());
        }
        match self.pipe.flush() {
            Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e),
            _ => Ok(()),
        }
    }
}

/// The command's stdout, as the drain sees it.
#[derive(Debug)]
pub(super) struct CommandOutput<'a> {
    pipe: BufReader<ChildStdout>,
    abort: &'a AtomicBool,
}

impl CommandOutput<'_> {
    /// Reads the next line into `line`, without its `\n`; `Ok(false)` at the
    /// end of the output. A last line without a newline is still a line.
    pub(super) fn next_line(&mut self, line: &mut Vec<u8>) -> Result<bool, StepError> {
        if self.abort.load(Ordering::Relaxed) {
            return Err(StepError::Aborted);
        }
        line.clear();
        match self.pipe.read_until(b'\n', line) {
            Ok(0) => Ok(false),
            Ok(_) => {
                if line.last() == Some(&b'\n') {
                    line.pop();
                }
                Ok(true)
            }
            Err(e) => Err(StepError::Pipe(e)),
        }
    }

    /// Hands the output to `each` in chunks as it comes, until its end.
    pub(super) fn for_each_chunk(
        &mut self,
        mut each: impl FnMut(&[u8]) -> Result<(), StepError>,
    ) -> Result<(), StepError> {
        loop {
            if self.abort.load(Ordering::Relaxed) {
                return Err(StepError::Aborted);
            }
            let chunk = match self.pipe.fill_buf() {
                Ok([]) => return Ok(()),
                Ok(chunk) => chunk,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(StepError::Pipe(e)),
            };
            let n = chunk.len();
            each(chunk)?;
            self.pipe.consume(n);
        }
    }
}

/// Runs `sh -c COMMAND`: `feed` writes its stdin on a scoped thread while
/// `drain` reads its stdout on this one, and a second scoped thread keeps
/// the tail of its stderr. Returns both results when the command exited
/// with status 0 and neither side failed.
///
/// When the drain fails, the command is killed and its stdout closed, so
/// that the feed stops too. `abort` is the job's flag: once set, the feed
/// and the drain stop at their next record.
pub(super) fn run_command<T, U, F, D>(
    spec: &CommandSpec<'_>,
    abort: &AtomicBool,
    feed: F,
    drain: D,
) -> Result<CommandRun<T, U>, AttemptError>
where
    F: FnOnce(&mut CommandInput<'_>) -> Result<T, StepError> + Send,
    T: Send,
    D: FnOnce(&mut CommandOutput<'_>) -> Result<U, StepError>,
{
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(spec.command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in &spec.env {
        command.env(name, value);
    }
    let mut child = command.spawn().map_err(|e| {
        AttemptError::Command(spec.failure(
            format!("could not be started (sh -c): {e}"),
            None,
            String::new(),
        ))
    })?;
    let (Some(stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        kill_and_reap(&mut child);
        return Err(AttemptError::Command(spec.failure(
            "was started without its pipes".into(),
            None,
            String::new(),
        )));
    };
    let stop = AtomicBool::new(false);
    thread::scope(|scope| {
        let stderr_thread = thread::Builder::new()
            .name("flotilla-stderr".into())
            .spawn_scoped(scope, move || StderrTail::read(stderr));
        let stderr_thread = match stderr_thread {
            Ok(handle) => handle,
            Err(e) => {
                drop((stdin, stdout));
                kill_and_reap(&mut child);
                return Err(AttemptError::Fatal(StreamingError::Thread(e)));
            }
        };
        let stop = &stop;
        let writer = thread::Builder::new()
            .name("flotilla-stdin".into())
            .spawn_scoped(scope, move || {
                let mut input = CommandInput {
                    pipe: BufWriter::with_capacity(64 << 10, stdin),
                    stop,
                    abort,
                    open: true,
                    error: None,
                };
                let fed = feed(&mut input);
                let closed = input.close();
                match (fed, closed) {
                    (Err(e), _) => Err(e),
                    (Ok(_), Err(e)) => Err(StepError::Pipe(e)),
                    (Ok(t), Ok(())) => Ok(t),
                }
            });
        let writer = match writer {
            Ok(handle) => handle,
            Err(e) => {
                drop(stdout);
                kill_and_reap(&mut child);
                let _ = join(stderr_thread);
                return Err(AttemptError::Fatal(StreamingError::Thread(e)));
            }
        };
        let mut output = CommandOutput {
            pipe: BufReader::with_capacity(64 << 10, stdout),
            abort,
        };
        let drained = drain(&mut output);
        if drained.is_err() {
            stop.store(true, Ordering::Relaxed);
            let _ = child.kill();
        }
        // Closing stdout makes whatever the command started and still
        // writes there stop (SIGPIPE), so that the joins below end.
        drop(output);
        let status = child.wait();
        let fed = join(writer);
        let stderr = join(stderr_thread);
        let failure = |status: String, code: Option<i32>| {
            AttemptError::Command(spec.failure(status, code, stderr.render()))
        };
        // The job failing elsewhere wins; then our own side's failures.
        if matches!(drained, Err(StepError::Aborted)) || matches!(fed, Err(StepError::Aborted)) {
            return Err(AttemptError::Aborted);
        }
        let drained = match drained {
            Err(StepError::Fatal(e)) => return Err(AttemptError::Fatal(e)),
            other => other,
        };
        let fed = match fed {
            Err(StepError::Fatal(e)) => return Err(AttemptError::Fatal(e)),
            other => other,
        };
        let status = match status {
            Ok(status) => status,
            Err(e) => return Err(failure(format!("could not be waited for: {e}"), None)),
        };
        if !status.success() {
            return Err(failure(describe_status(status), status.code()));
        }
        // Exited 0, but a pipe failed on the way.
        let pipe = |e: StepError, which: &str| match e {
            StepError::Pipe(e) => failure(
                format!("exited with status 0, but its {which} pipe failed: {e}"),
                Some(0),
            ),
            StepError::Fatal(e) => AttemptError::Fatal(e),
            StepError::Aborted => AttemptError::Aborted,
        };
        let drained = drained.map_err(|e| pipe(e, "output"))?;
        let fed = fed.map_err(|e| pipe(e, "input"))?;
        let log = stderr.log();
        Ok(CommandRun {
            fed,
            drained,
            counters: stderr.counters,
            stderr: log,
        })
    })
}

/// Joins a scoped thread, passing its panic on.
fn join<T>(handle: thread::ScopedJoinHandle<'_, T>) -> T {
    match handle.join() {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

fn kill_and_reap(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// `exited with status 1`, `was killed by signal 9 (SIGKILL)`.
pub(super) fn describe_status(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exited with status {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            let name = match signal {
                1 => " (SIGHUP)",
                2 => " (SIGINT)",
                6 => " (SIGABRT)",
                9 => " (SIGKILL)",
                11 => " (SIGSEGV)",
                13 => " (SIGPIPE)",
                15 => " (SIGTERM)",
                _ => "",
            };
            return format!("was killed by signal {signal}{name}");
        }
    }
    format!("ended with {status}")
}

/// The end of a command's stderr, its start (for the log), and the
/// counters it reported there with Hadoop streaming's
/// `reporter:counter:GROUP,COUNTER,AMOUNT` lines.
#[derive(Debug, Default)]
pub(super) struct StderrTail {
    lines: VecDeque<Vec<u8>>,
    pub(super) counters: BTreeMap<String, u64>,
    /// The first [`STDERR_LOG_BYTES`] of the lines that are not
    /// `reporter:` lines, as written.
    start: Vec<u8>,
    /// All the bytes of those lines.
    bytes: u64,
}

impl StderrTail {
    fn read(stderr: ChildStderr) -> StderrTail {
        let mut reader = BufReader::new(stderr);
        let mut tail = StderrTail::default();
        let mut line = Vec::new();
        loop {
            line.clear();
            match (&mut reader)
                .take(STDERR_LINE_LIMIT)
                .read_until(b'\n', &mut line)
            {
                Ok(0) | Err(_) => break,
                Ok(_) => tail.take_line(&line),
            }
        }
        tail
    }

    /// Takes one line (with or without its newline).
    pub(super) fn take_line(&mut self, raw: &[u8]) {
        let line = raw.strip_suffix(b"\n").unwrap_or(raw);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(report) = line.strip_prefix(b"reporter:") {
            if report.starts_with(b"status:") {
                return;
            }
            if let Some((name, amount)) = report.strip_prefix(b"counter:").and_then(parse_counter) {
                let slot = self.counters.entry(name).or_default();
                *slot = slot.saturating_add(amount);
                return;
            }
        }
        self.bytes += raw.len() as u64;
        let room = STDERR_LOG_BYTES.saturating_sub(self.start.len());
        self.start.extend_from_slice(&raw[..raw.len().min(room)]);
        if self.lines.len() == STDERR_TAIL_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back(line.to_vec());
    }

    /// What the command wrote besides `reporter:` lines; `None` if nothing.
    pub(super) fn log(&self) -> Option<StderrLog> {
        if self.bytes == 0 {
            return None;
        }
        let first = self.start.split(|&b| b == b'\n').next().unwrap_or_default();
        let first = first.strip_suffix(b"\r").unwrap_or(first);
        let first = String::from_utf8_lossy(first);
        let mut first_line: String = first.chars().take(FIRST_LINE_CHARS).collect();
        if first.chars().nth(FIRST_LINE_CHARS).is_some() {
            first_line.push('…');
        }
        let mut text = self.start.clone();
        let left_out = self.bytes - text.len() as u64;
        if left_out > 0 {
            if text.last() != Some(&b'\n') {
                text.push(b'\n');
            }
            text.extend_from_slice(
                format!("[flotilla: {left_out} more bytes of stderr left out]\n").as_bytes(),
            );
        }
        Some(StderrLog {
            first_line,
            bytes: self.bytes,
            text,
        })
    }

    /// The kept lines, at most [`STDERR_TAIL_BYTES`] of them (the last ones).
    pub(super) fn render(&self) -> String {
        let mut text = String::new();
        for (i, line) in self.lines.iter().enumerate() {
            if i > 0 {
                text.push('\n');
            }
            text.push_str(&String::from_utf8_lossy(line));
        }
        if text.len() <= STDERR_TAIL_BYTES {
            return text;
        }
        let mut cut = text.len() - STDERR_TAIL_BYTES;
        while !text.is_char_boundary(cut) {
            cut += 1;
        }
        format!("…{}", &text[cut..])
    }
}

/// `GROUP,COUNTER,AMOUNT` → (`GROUP.COUNTER`, AMOUNT).
fn parse_counter(spec: &[u8]) -> Option<(String, u64)> {
    let spec = std::str::from_utf8(spec).ok()?;
    let (name, amount) = spec.rsplit_once(',')?;
    let (group, counter) = name.split_once(',')?;
    let amount = amount.trim().parse().ok()?;
    Some((format!("{group}.{counter}"), amount))
}
