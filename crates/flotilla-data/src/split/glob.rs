//! A small glob matcher for the file-name part of an input pattern.
//!
//! Supports `*` (any run of characters), `?` (one character) and bracket
//! classes `[abc]`, `[a-z]`, `[!abc]` / `[^abc]`. A `]` right after the
//! opening `[` (or after its `!`) is a literal member, and `[*]` matches a
//! literal `*`. There is no escape character: inputs are paths, and `\` is
//! a separator on some systems.

/// One element of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(char),
    AnyOne,
    AnyRun,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// A compiled file-name pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct NamePattern {
    tokens: Vec<Token>,
}

/// Whether `text` holds a character that makes it a glob pattern.
pub(super) fn has_wildcard(text: &str) -> bool {
    text.contains(['*', '?', '['])
}

impl NamePattern {
    /// Compiles `pattern`, or says why it is malformed.
    pub(super) fn parse(pattern: &str) -> Result<Self, &'static str> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '*' => {
                    // `**` means the same as `*` in a single name.
                    if tokens.last() != Some(&Token::AnyRun) {
                        tokens.push(Token::AnyRun);
                    }
                    i += 1;
                }
                '?' => {
                    tokens.push(Token::AnyOne);
                    i += 1;
                }
                '[' => {
                    let (token, next) = parse_class(&chars, i + 1)?;
                    tokens.push(token);
                    i = next;
                }
                c => {
                    tokens.push(Token::Literal(c));
                    i += 1;
                }
            }
        }
        Ok(NamePattern { tokens })
    }

    /// The literal first character of the pattern, if it starts with one.
    pub(super) fn literal_first(&self) -> Option<char> {
        match self.tokens.first() {
            Some(Token::Literal(c)) => Some(*c),
            _ => None,
        }
    }

    /// Whether the whole of `name` matches.
    ///
    /// The classic greedy algorithm with one backtrack point: on a mismatch,
    /// the last `*` takes one more character. Linear in practice, and never
    /// worse than `O(pattern × name)`.
    pub(super) fn matches(&self, name: &str) -> bool {
        let name: Vec<char> = name.chars().collect();
        let tokens = &self.tokens;
        let (mut t, mut n) = (0, 0);
        // (token after the last `*`, name position that `*` stops at)
        let mut backtrack: Option<(usize, usize)> = None;
        while n < name.len() {
            let step = match tokens.get(t) {
                Some(Token::AnyRun) => {
                    backtrack = Some((t + 1, n));
                    t += 1;
                    continue;
                }
                Some(token) => token_matches(token, name[n]),
                None => false,
            };
            if step {
                t += 1;
                n += 1;
            } else if let Some((after_star, star_end)) = backtrack {
                t = after_star;
                n = star_end + 1;
                backtrack = Some((after_star, star_end + 1));
            } else {
                return false;
            }
        }
        tokens[t..].iter().all(|token| *token == Token::AnyRun)
    }
}

fn token_matches(token: &Token, c: char) -> bool {
    match token {
        Token::Literal(l) => *l == c,
        Token::AnyOne => true,
        Token::AnyRun => true,
        Token::Class { negated, ranges } => {
            ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
        }
    }
}

/// Parses a bracket class whose body starts at `chars[start]`; returns the
/// token and the index after the closing `]`.
fn parse_class(chars: &[char], start: usize) -> Result<(Token, usize), &'static str> {
    let mut i = start;
    let negated = matches!(chars.get(i), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let Some(&c) = chars.get(i) else {
            return Err("unclosed `[` in the file-name pattern");
        };
        if c == ']' && !first {
            i += 1;
            break;
        }
        first = false;
        match (chars.get(i + 1), chars.get(i + 2)) {
            (Some('-'), Some(&hi)) if hi != ']' => {
                if hi < c {
                    return Err("reversed range in a `[...]` class");
                }
                ranges.push((c, hi));
                i += 3;
            }
            _ => {
                ranges.push((c, c));
                i += 1;
            }
        }
    }
    Ok((Token::Class { negated, ranges }, i))
}
