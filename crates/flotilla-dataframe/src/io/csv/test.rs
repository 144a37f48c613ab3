//! Unit tests of the CSV parser's pieces: the inline number lexers against
//! the standard library, the fast path against the general one, the
//! tokenizer, inference.

use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;

use flotilla_core::rng::Rng;

use super::column::{parse_f64, parse_i64, Column, NullTokens};
use super::fast::{lex_f64, lex_i64, parse_plain};
use super::infer::Inferred;
use super::parse::{parse_general, Dialect, Fault};
use super::tokenize::{next_record, nth_record_start, Record, Unclosed};

fn dialect(delimiter: u8) -> Dialect {
    Dialect {
        delimiter,
        nulls: NullTokens::new(&[String::new()]),
        bad_values_as_null: false,
        skip_bad_records: false,
    }
}

/// A random decimal number as text: sign, integer digits, decimals,
/// sometimes an exponent, sometimes many digits.
fn random_decimal(rng: &mut Rng) -> String {
    let mut s = String::new();
    match rng.below(4) {
        0 => s.push('-'),
        1 if rng.below(4) == 0 => s.push('+'),
        _ => {}
    }
    let most = if rng.below(5) == 0 { 25 } else { 8 };
    let int_digits = rng.below(most);
    for _ in 0..int_digits {
        s.push(char::from(b'0' + rng.below(10) as u8));
    }
    if rng.below(3) > 0 {
        s.push('.');
        let most = if rng.below(5) == 0 { 30 } else { 9 };
        let decimals = rng.below(most);
        for _ in 0..decimals {
            s.push(char::from(b'0' + rng.below(10) as u8));
        }
    }
    if rng.below(10) == 0 {
        s.push('e');
        s.push_str(&(rng.below(40) as i64 - 20).to_string());
    }
    s
}

#[test]
fn inline_floats_are_exactly_the_standard_parse() {
    let mut rng = Rng::seed(7);
    let mut inline = 0;
    for _ in 0..200_000 {
        let text = random_decimal(&mut rng);
        let expected = text.parse::<f64>().ok();
        let (value, end) = lex_f64(text.as_bytes(), 0);
        if let Some(value) = value {
            inline += 1;
            if end == text.len() {
                let expected = expected.unwrap_or_else(|| panic!("{text} parsed inline only"));
                assert_eq!(value.to_bits(), expected.to_bits(), "{text}");
            }
        }
        // Whatever the lexer did, the column's general parser agrees with
        // the standard library.
        assert_eq!(
            parse_f64(text.as_bytes()).map(f64::to_bits),
            expected.map(f64::to_bits)
        );
    }
    assert!(inline > 100_000, "the fast path is rarely taken: {inline}");
}

#[test]
fn inline_floats_at_the_edges_of_exactness() {
    for text in [
        "9007199254740992", // 2^53: exact inline
        "9007199254740993", // 2^53 + 1: rounds, not inline
        "0.1",
        "0.30000000000000004", // 17 digits
        "1234567890123456789", // 19 digits, above 2^53
        "-0.0",
        "0.0000000000000000000001",  // 22 decimals
        "1.00000000000000000000001", // 23 decimals: not inline
        "25.912052",
        "-10.000000",
        "49.999999",
        ".5",
        "5.",
    ] {
        let expected = text.parse::<f64>().unwrap();
        match lex_f64(text.as_bytes(), 0) {
            (Some(v), end) if end == text.len() => {
                assert_eq!(v.to_bits(), expected.to_bits(), "{text}")
            }
            _ => {}
        }
        assert_eq!(
            parse_f64(text.as_bytes()).unwrap().to_bits(),
            expected.to_bits()
        );
    }
    for text in ["", "-", ".", "+", "-.", "e5"] {
        assert_eq!(lex_f64(text.as_bytes(), 0).0, None, "{text:?}");
    }
    // The lexer stops at an exponent: the field is then not settled inline.
    assert_eq!(lex_f64(b"1e", 0), (Some(1.0), 1));
}

#[test]
fn inline_integers_match_the_general_parser() {
    let mut rng = Rng::seed(11);
    for _ in 0..100_000 {
        let mut text = String::new();
        if rng.below(3) == 0 {
            text.push('-');
        }
        for _ in 0..rng.below(22) {
            text.push(char::from(b'0' + rng.below(10) as u8));
        }
        let general = parse_i64(text.as_bytes());
        assert_eq!(general, text.parse::<i64>().ok(), "{text}");
        if let (Some(v), end) = lex_i64(text.as_bytes(), 0) {
            assert_eq!(end, text.len());
            assert_eq!(Some(v), general, "{text}");
        }
    }
    assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
    assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
    assert_eq!(parse_i64(b"9223372036854775808"), None);
    assert_eq!(
        lex_i64(b"123456789012345678", 0).0,
        Some(123_456_789_012_345_678)
    );
    assert_eq!(lex_i64(b"1234567890123456789", 0).0, None); // 19 digits: general parser
}

#[test]
fn digit_runs_stop_at_every_kind_of_byte() {
    // Every byte value after 0..=12 digits, at every alignment.
    for stop in 0..=255u8 {
        for digits in 0..=12 {
            let mut text: Vec<u8> = (0..digits).map(|i| b'0' + (i % 10) as u8).collect();
            text.push(stop);
            text.extend_from_slice(b"999999999");
            let (value, end) = lex_i64(&text, 0);
            if stop.is_ascii_digit() || (digits == 0 && matches!(stop, b'+' | b'-')) {
                continue;
            }
            assert_eq!(end, digits, "stop {stop:#x} after {digits} digits");
            let expected = std::str::from_utf8(&text[..digits])
                .ok()
                .and_then(|t| t.parse().ok());
            assert_eq!(value, expected);
        }
    }
    // A number at the very end of the input.
    assert_eq!(lex_i64(b"42", 0), (Some(42), 2));
    assert_eq!(lex_f64(b"4.25", 0), (Some(4.25), 4));
}

/// Reads `input` with both paths; both must agree on every value and on
/// the fault.
fn both_paths(input: &[u8], types: &[DataType], dialect: &Dialect) -> Result<Vec<ArrayRef>, Fault> {
    let mut fast: Vec<Column> = types
        .iter()
        .map(|t| Column::new(t, 4, &dialect.nulls))
        .collect();
    let mut general: Vec<Column> = types
        .iter()
        .map(|t| Column::new(t, 4, &dialect.nulls))
        .collect();
    let (mut bad_fast, mut bad_general) = (0, 0);
    let fast_rows = parse_plain(input, 0, dialect, &mut fast, &mut bad_fast).map(|p| {
        assert_eq!(p.quoted, None);
        p.rows
    });
    let general_rows = parse_general(input, 0, dialect, &mut general, &mut bad_general);
    assert_eq!(
        fast_rows,
        general_rows,
        "{:?}",
        String::from_utf8_lossy(input)
    );
    let rows = fast_rows?;
    assert_eq!(bad_fast, bad_general);
    let finish = |columns: &mut Vec<Column>| -> Vec<ArrayRef> {
        columns
            .iter_mut()
            .map(|c| c.finish().unwrap().unwrap())
            .collect()
    };
    let (fast, general) = (finish(&mut fast), finish(&mut general));
    assert_eq!(fast, general, "{:?}", String::from_utf8_lossy(input));
    assert!(fast.iter().all(|a| a.len() == rows));
    Ok(fast)
}

#[test]
fn the_fast_path_agrees_with_the_general_one() {
    let types = [
        DataType::Int64,
        DataType::Float64,
        DataType::Utf8,
        DataType::Boolean,
    ];
    let pieces: [&[&str]; 4] = [
        &[
            "1",
            "-7",
            "",
            "0",
            "123456789012345678901",
            "+3",
            "1.5",
            "x",
            "007",
        ],
        &[
            "2.5",
            "-0.125",
            "",
            "1e3",
            "1",
            ".5",
            "nan",
            "inf",
            "12345678901234567890.5",
            "abc",
            "1.2.3",
        ],
        &["a", "", "hello world", "in\"side", "é"],
        &["true", "FALSE", "", "yes"],
    ];
    let mut rng = Rng::seed(3);
    for lenient in [false, true] {
        let dialect = Dialect {
            bad_values_as_null: lenient,
            ..dialect(b',')
        };
        for _ in 0..3_000 {
            let mut input = Vec::new();
            for _ in 0..rng.below(6) {
                if rng.below(8) == 0 {
                    input.extend_from_slice(b"\n"); // a blank line
                }
                let fields = if rng.below(20) == 0 {
                    3 + rng.below(3)
                } else {
                    4
                };
                for j in 0..fields {
                    if j > 0 {
                        input.push(b',');
                    }
                    let choices = pieces[j.min(3)];
                    input.extend_from_slice(choices[rng.below(choices.len())].as_bytes());
                }
                input.extend_from_slice(if rng.below(3) == 0 { b"\r\n" } else { b"\n" });
            }
            if rng.below(3) == 0 {
                // No line end after the last record.
                while input.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                    input.pop();
                }
            }
            let _ = both_paths(&input, &types, &dialect);
        }
    }
}

#[test]
fn faults_name_the_record_and_the_column() {
    let d = dialect(b',');
    let types = [DataType::Int64, DataType::Float64];
    assert_eq!(
        both_paths(b"1,2\n3,x\n", &types, &d).unwrap_err(),
        Fault::BadValue {
            record: 4,
            column: 1,
            value: b"x".to_vec()
        }
    );
    assert_eq!(
        both_paths(b"1,2\n3\n", &types, &d).unwrap_err(),
        Fault::FieldCount { record: 4, rows: 1 }
    );
    assert_eq!(
        both_paths(b"1,2\r\n3,4,5\r\n", &types, &d).unwrap_err(),
        Fault::FieldCount { record: 5, rows: 1 }
    );
}

#[test]
fn the_fast_path_hands_quoted_records_to_the_general_one() {
    let d = dialect(b',');
    let mut columns = vec![
        Column::new(&DataType::Int64, 4, &d.nulls),
        Column::new(&DataType::Utf8, 4, &d.nulls),
    ];
    let input = b"1,a\n2,\"b,c\"\n3,d\n";
    let parsed = super::parse::parse_block(input, 0, &d, &mut columns).unwrap();
    assert_eq!(parsed.rows, 3);
    let texts = columns[1].finish().unwrap().unwrap();
    let texts = texts
        .as_any()
        .downcast_ref::<arrow_array::StringArray>()
        .unwrap();
    assert_eq!(
        texts.iter().flatten().collect::<Vec<_>>(),
        ["a", "b,c", "d"]
    );
    let ids = columns[0].finish().unwrap().unwrap();
    assert_eq!(ids.len(), 3);
}

fn tokens(input: &[u8]) -> Result<(Vec<String>, usize), Unclosed> {
    let mut record = Record::default();
    let next = next_record(input, 0, b',', &mut record)?;
    let fields = (0..record.len())
        .map(|i| String::from_utf8_lossy(record.field(input, i)).into_owned())
        .collect();
    Ok((fields, next))
}

#[test]
fn the_tokenizer_follows_rfc_4180() {
    assert_eq!(
        tokens(b"a,b\nc").unwrap(),
        (vec!["a".into(), "b".into()], 4)
    );
    assert_eq!(
        tokens(b"a,b\r\nc").unwrap(),
        (vec!["a".into(), "b".into()], 5)
    );
    assert_eq!(tokens(b"a,").unwrap(), (vec!["a".into(), "".into()], 2));
    assert_eq!(
        tokens(b"\"x,y\",\"say \"\"hi\"\"\"\n").unwrap(),
        (vec!["x,y".into(), "say \"hi\"".into()], 19)
    );
    assert_eq!(
        tokens(b"\"two\nlines\",z\n").unwrap(),
        (vec!["two\nlines".into(), "z".into()], 14)
    );
    // Lenient: text after a closing quote joins the field; a quote inside
    // an unquoted field is kept.
    assert_eq!(tokens(b"\"ab\"c,d\n").unwrap().0, ["abc", "d"]);
    assert_eq!(tokens(b"a\"b,c\n").unwrap().0, ["a\"b", "c"]);
    assert_eq!(tokens(b"\"\"\n").unwrap().0, [""]);
    assert_eq!(tokens(b"\"open,x\n"), Err(Unclosed));
    // A bare \r inside a field is data.
    assert_eq!(tokens(b"a\rb,c\n").unwrap().0, ["a\rb", "c"]);
}

#[test]
fn records_are_counted_past_blank_lines_and_quoted_breaks() {
    let input = b"h\n\na\n\"b\nb\"\n\r\nc\n";
    assert_eq!(nth_record_start(input, 0, b',', 0), Some(0));
    assert_eq!(nth_record_start(input, 0, b',', 1), Some(3));
    assert_eq!(nth_record_start(input, 0, b',', 2), Some(5));
    assert_eq!(nth_record_start(input, 0, b',', 3), Some(13));
    assert_eq!(nth_record_start(input, 0, b',', 4), None);
}

#[test]
fn nulls_and_truncation() {
    let nulls = NullTokens::new(&["".to_owned(), "NA".to_owned()]);
    assert!(nulls.is_null(b"") && nulls.is_null(b"NA") && !nulls.is_null(b"na"));
    let strict = NullTokens::new(&["-".to_owned()]);
    assert!(!strict.is_null(b""));

    // A null token that is a number turns off inline numbers.
    let column = Column::new(&DataType::Int64, 1, &NullTokens::new(&["-999".to_owned()]));
    assert!(!column.inline_numbers);
    let column = Column::new(&DataType::Int64, 1, &nulls);
    assert!(column.inline_numbers);

    let mut text = Column::new(&DataType::Utf8, 1, &nulls);
    for field in [&b"a"[..], b"NA", b"bc", b"", b"d"] {
        text.push_field(field, &nulls).unwrap();
    }
    text.truncate(3);
    let array = text.finish().unwrap().unwrap();
    let array = array
        .as_any()
        .downcast_ref::<arrow_array::StringArray>()
        .unwrap();
    assert_eq!(
        array.iter().collect::<Vec<_>>(),
        [Some("a"), None, Some("bc")]
    );
}

#[test]
fn invalid_text_is_found_by_row() {
    let nulls = NullTokens::new(&[String::new()]);
    let mut text = Column::new(&DataType::Utf8, 1, &nulls);
    for field in [&b"ok"[..], b"fine", b"bad\xff", b"x"] {
        text.push_field(field, &nulls).unwrap();
    }
    assert_eq!(
        text.finish().unwrap_err(),
        super::column::FinishError::InvalidUtf8 { row: 2 }
    );
}

#[test]
fn inference_joins_types_up_the_lattice() {
    use Inferred as I;
    let of = |s: &str| I::of(s.as_bytes());
    assert_eq!(of("12"), I::Int64);
    assert_eq!(of("-1.5"), I::Float64);
    assert_eq!(of("1e-3"), I::Float64);
    assert_eq!(of("NaN"), I::Float64);
    assert_eq!(of("infinity"), I::Utf8);
    assert_eq!(of("True"), I::Boolean);
    assert_eq!(of("2024-02-29"), I::Date32);
    assert_eq!(of("2023-02-29"), I::Utf8);
    assert_eq!(of("2024-02-29T10:11:12"), I::TimestampMicros);
    assert_eq!(of("2024-02-29 10:11:12.123456789"), I::TimestampNanos);
    assert_eq!(of("99999999999999999999"), I::Utf8);
    assert_eq!(of("abc"), I::Utf8);
    assert_eq!(I::Int64.join(I::Float64), I::Float64);
    assert_eq!(I::Null.join(I::Boolean), I::Boolean);
    assert_eq!(I::Int64.join(I::Boolean), I::Utf8);
    assert_eq!(I::Date32.join(I::TimestampMicros), I::TimestampMicros);
    assert_eq!(I::Float64.join(I::Date32), I::Utf8);
    assert!(I::Int64.compatible(I::Float64));
    assert!(I::Null.compatible(I::Utf8));
    assert!(I::Utf8.compatible(I::Utf8));
    assert!(!I::Int64.compatible(I::Utf8));
    assert!(!I::Boolean.compatible(I::Int64));
    assert_eq!(I::Null.data_type(), DataType::Utf8);
}

#[test]
fn the_default_null_tokens_keep_numbers_on_the_inline_path() {
    let defaults: Vec<String> = super::DEFAULT_NULL_VALUES
        .iter()
        .map(|t| t.to_string())
        .collect();
    let nulls = NullTokens::new(&defaults);
    for data_type in [DataType::Int64, DataType::Float64] {
        assert!(Column::new(&data_type, 0, &nulls).inline_numbers);
    }
    // A token that is a number is not taken as one.
    let numeric = NullTokens::new(&["-999".to_owned()]);
    assert!(!Column::new(&DataType::Int64, 0, &numeric).inline_numbers);
    assert!(!Column::new(&DataType::Float64, 0, &numeric).inline_numbers);
}

#[test]
fn records_of_the_wrong_width_are_skipped_on_both_paths_when_asked() {
    let d = Dialect {
        skip_bad_records: true,
        ..dialect(b',')
    };
    let types = [DataType::Int64, DataType::Utf8];
    for input in [
        &b"1,a\n2\n3,c\n4,d,e\n5,e\n"[..],
        b"1,\"a\"\n2\n3,c\n4,\"d\",e\n5,e\n",
    ] {
        let mut columns: Vec<Column> = types.iter().map(|t| Column::new(t, 0, &d.nulls)).collect();
        let parsed = super::parse::parse_block(input, 0, &d, &mut columns).unwrap();
        assert_eq!((parsed.rows, parsed.skipped), (3, 2));
        assert_eq!(parsed.skipped_at.len(), 2);
        let ids = columns[0].finish().unwrap().unwrap();
        assert_eq!(ids.len(), 3);
    }
}
