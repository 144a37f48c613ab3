//! Unit tests of the glob matcher and the newline search.

use super::glob::{has_wildcard, NamePattern};
use super::scan::{count_newlines, find_newline, newline_mask};

fn matches(pattern: &str, name: &str) -> bool {
    NamePattern::parse(pattern)
        .unwrap_or_else(|e| panic!("{pattern}: {e}"))
        .matches(name)
}

#[test]
fn star_matches_any_run() {
    assert!(matches("part-*.txt", "part-00000.txt"));
    assert!(matches("part-*.txt", "part-.txt"));
    assert!(!matches("part-*.txt", "part-0.tsv"));
    assert!(matches("*", "anything"));
    assert!(matches("*", ""));
    assert!(matches("a*b*c", "aXXbYYbZc"));
    assert!(!matches("a*b*c", "aXXbYYbZ"));
    assert!(matches("**.gz", "x.gz"));
    assert!(matches("*a", "aaaa"));
    assert!(!matches("*ab", "aaaa"));
}

#[test]
fn question_mark_matches_one_char() {
    assert!(matches("part-?", "part-1"));
    assert!(!matches("part-?", "part-12"));
    assert!(!matches("part-?", "part-"));
    assert!(matches("caf?", "café"));
}

#[test]
fn classes_match_members_ranges_and_negation() {
    assert!(matches("log[abc].txt", "logb.txt"));
    assert!(!matches("log[abc].txt", "logd.txt"));
    assert!(matches("part-[0-4]", "part-3"));
    assert!(!matches("part-[0-4]", "part-5"));
    assert!(matches("part-[!0-4]", "part-5"));
    assert!(matches("part-[^0-4]", "part-x"));
    assert!(!matches("part-[!0-4]", "part-2"));
    assert!(matches("[]]", "]"));
    assert!(matches("[*]", "*"));
    assert!(!matches("[*]", "x"));
    assert!(matches("[a-]", "-"));
}

#[test]
fn malformed_patterns_are_rejected() {
    assert!(NamePattern::parse("part-[0-4").is_err());
    assert!(NamePattern::parse("[z-a]").is_err());
    assert!(has_wildcard("a[b"));
    assert!(!has_wildcard("plain.txt"));
}

#[test]
fn find_newline_agrees_with_position() {
    for len in 0..70 {
        for at in 0..=len {
            let mut hay = vec![b'x'; len];
            if at < len {
                hay[at] = b'\n';
                // Bytes that trip naive zero-byte tests.
                if at + 1 < len {
                    hay[at + 1] = 0x0b;
                }
                if at > 0 {
                    hay[at - 1] = 0x8a;
                }
            }
            let expected = hay.iter().position(|&b| b == b'\n');
            assert_eq!(find_newline(&hay), expected, "len {len} at {at}");
        }
    }
    let all: Vec<u8> = (0..=255).cycle().take(1000).collect();
    assert_eq!(find_newline(&all), Some(10));
    assert_eq!(find_newline(&all[11..]), Some(255));
}

#[test]
fn newline_mask_flags_exactly_the_newlines() {
    let mut block: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(37) | 1).collect();
    block
        .iter_mut()
        .filter(|b| **b == b'\n')
        .for_each(|b| *b = b'x');
    assert_eq!(newline_mask(&block), 0);
    for at in [0, 1, 7, 8, 9, 31, 32, 62, 63] {
        block[at] = b'\n';
    }
    // Neighbours that trip approximate tests.
    block[2] = 0x0b;
    block[10] = 0x8a;
    let expected = [0, 1, 7, 8, 9, 31, 32, 62, 63]
        .iter()
        .fold(0u64, |mask, at| mask | 1 << at);
    assert_eq!(newline_mask(&block), expected);
    assert_eq!(newline_mask(&[b'\n'; 64]), u64::MAX);
}

#[test]
fn count_newlines_counts() {
    assert_eq!(count_newlines(b""), 0);
    assert_eq!(count_newlines(b"a\nb\n\n"), 3);
    let big = vec![b'\n'; 200_000];
    assert_eq!(count_newlines(&big), 200_000);
    let mixed: Vec<u8> = (0..100_003u32).map(|i| (i % 251) as u8).collect();
    let expected = mixed.iter().filter(|&&b| b == b'\n').count() as u64;
    assert_eq!(count_newlines(&mixed), expected);
}
