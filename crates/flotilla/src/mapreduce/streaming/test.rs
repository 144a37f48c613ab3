//! Unit tests of the streaming job's pieces: record parsing, the stderr
//! tail, the merge of in-memory runs.

use super::command::{
    describe_status, StderrTail, STDERR_LOG_BYTES, STDERR_TAIL_BYTES, STDERR_TAIL_LINES,
};
use super::map_task::split_record;
use super::reduce_task::MergeSlices;

#[test]
fn a_record_is_cut_at_its_first_tab() {
    assert_eq!(split_record(b"k\tv"), (&b"k"[..], &b"v"[..]));
    assert_eq!(split_record(b"k\tv\tw"), (&b"k"[..], &b"v\tw"[..]));
    assert_eq!(split_record(b"no tab"), (&b"no tab"[..], &b""[..]));
    assert_eq!(split_record(b"k\t"), (&b"k"[..], &b""[..]));
    assert_eq!(split_record(b""), (&b""[..], &b""[..]));
    assert_eq!(split_record(b"\xff\t\xfe"), (&b"\xff"[..], &b"\xfe"[..]));
}

#[test]
fn the_stderr_tail_keeps_the_last_lines() {
    let mut tail = StderrTail::default();
    for i in 0..100 {
        tail.take_line(format!("line {i}\n").as_bytes());
    }
    let text = tail.render();
    assert_eq!(text.lines().count(), STDERR_TAIL_LINES);
    assert!(text.starts_with("line 80\n"), "{text}");
    assert!(text.ends_with("line 99"), "{text}");
}

#[test]
fn the_stderr_tail_keeps_the_last_bytes() {
    let mut tail = StderrTail::default();
    tail.take_line("é".repeat(3000).as_bytes());
    tail.take_line(b"the end\r\n");
    let text = tail.render();
    assert!(
        text.len() <= STDERR_TAIL_BYTES + "…".len(),
        "{}",
        text.len()
    );
    assert!(text.starts_with('…'));
    assert!(text.ends_with("é\nthe end"));
}

#[test]
fn reporter_lines_are_counters_not_messages() {
    let mut tail = StderrTail::default();
    tail.take_line(b"reporter:counter:Words,Long,3\n");
    tail.take_line(b"reporter:counter:Words,Long,4\n");
    tail.take_line(b"reporter:status:halfway\n");
    tail.take_line(b"reporter:counter:oops\n");
    tail.take_line(b"a real message");
    assert_eq!(tail.counters.get("Words.Long"), Some(&7));
    assert_eq!(tail.counters.len(), 1);
    assert_eq!(tail.render(), "reporter:counter:oops\na real message");
}

#[test]
fn the_stderr_log_keeps_the_start_and_counts_every_byte() {
    let mut tail = StderrTail::default();
    assert_eq!(tail.log(), None);
    tail.take_line(b"reporter:counter:G,C,1\n");
    assert_eq!(tail.log(), None, "reporter lines are not messages");
    tail.take_line(b"bad byte \xff here\r\n");
    let line = vec![b'x'; 4096];
    for _ in 0..300 {
        tail.take_line(&line);
    }
    let log = tail.log().unwrap();
    assert_eq!(log.first_line, "bad byte \u{fffd} here");
    assert_eq!(log.bytes, 17 + 300 * 4096);
    assert!(log.text.starts_with(b"bad byte \xff here\r\nxxx"));
    let note = format!(
        "\n[flotilla: {} more bytes of stderr left out]\n",
        log.bytes - STDERR_LOG_BYTES as u64
    );
    assert!(log.text.ends_with(note.as_bytes()));
    assert_eq!(log.text.len(), STDERR_LOG_BYTES + note.len());
}

#[test]
fn exit_statuses_are_described_in_words() {
    let status = |cmd: &str| {
        std::process::Command::new("sh")
            .args(["-c", cmd])
            .status()
            .unwrap()
    };
    assert_eq!(describe_status(status("exit 3")), "exited with status 3");
    assert_eq!(
        describe_status(status("kill -9 $$")),
        "was killed by signal 9 (SIGKILL)"
    );
}

#[test]
fn in_memory_runs_merge_stably() {
    let runs: [&[(i32, char)]; 3] = [
        &[(1, 'a'), (3, 'a'), (3, 'b')],
        &[],
        &[(1, 'c'), (2, 'c'), (3, 'c')],
    ];
    let merged: Vec<(i32, char)> = MergeSlices::new(&runs).map(|(k, v)| (*k, *v)).collect();
    assert_eq!(
        merged,
        [(1, 'a'), (1, 'c'), (2, 'c'), (3, 'a'), (3, 'b'), (3, 'c')]
    );
}
