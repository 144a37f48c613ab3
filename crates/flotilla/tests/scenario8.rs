//! Scenario 8 of DESIGN.md: weather analysis (mean, max, sum, a Fahrenheit
//! column, the mean per station) from memory and from a CSV file, checked
//! against a plain loop over the same rows.

use std::collections::BTreeMap;

use flotilla::dataframe::arrow::array::cast::AsArray;
use flotilla::dataframe::arrow::array::types::{Float64Type, Int64Type};
use flotilla::dataframe::io::CsvOptions;
use flotilla::dataframe::kernels::Agg;
use flotilla::dataframe::{col, DataFrame, SortKey};

fn rows(n: usize) -> Vec<(i64, f64)> {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let station = (x % 999 + 1) as i64;
            // Six decimals, as `flotilla gen weather` writes them.
            let t = ((x >> 20) % 60_000_000) as f64 / 1e6 - 10.0;
            (station, (t * 1e6).round() / 1e6)
        })
        .collect()
}

struct Expected {
    mean: f64,
    max: f64,
    sum: f64,
    f_mean: f64,
    per_station: BTreeMap<i64, f64>,
}

fn expected(rows: &[(i64, f64)]) -> Expected {
    let sum: f64 = rows.iter().map(|r| r.1).sum();
    let n = rows.len() as f64;
    let mut groups: BTreeMap<i64, (f64, f64)> = BTreeMap::new();
    for (s, t) in rows {
        let g = groups.entry(*s).or_default();
        g.0 += t;
        g.1 += 1.0;
    }
    Expected {
        mean: sum / n,
        max: rows.iter().map(|r| r.1).fold(f64::MIN, f64::max),
        sum,
        f_mean: rows.iter().map(|r| r.1 * 9.0 / 5.0 + 32.0).sum::<f64>() / n,
        per_station: groups.into_iter().map(|(s, (t, c))| (s, t / c)).collect(),
    }
}

fn check(df: &DataFrame, e: &Expected) {
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
    let t = df.stats("temperature").unwrap().compute().unwrap();
    assert!(close(t.mean().unwrap(), e.mean));
    assert_eq!(t.max, Some(e.max));
    assert!(close(t.sum, e.sum));
    let f = df
        .with_column("temperature_f", col("temperature") * 9 / 5 + 32)
        .unwrap()
        .mean("temperature_f")
        .unwrap()
        .compute()
        .unwrap()
        .unwrap();
    assert!(close(f, e.f_mean));
    let per_station = df
        .group_by(&["station_id"])
        .unwrap()
        .agg(&[Agg::mean("temperature")])
        .unwrap()
        .sort_by(&[SortKey::new("station_id")])
        .unwrap()
        .compute()
        .unwrap();
    let s = per_station.column(0).as_primitive::<Int64Type>();
    let m = per_station.column(1).as_primitive::<Float64Type>();
    assert_eq!(per_station.num_rows(), e.per_station.len());
    for (i, (station, mean)) in e.per_station.iter().enumerate() {
        assert_eq!(s.value(i), *station);
        assert!(close(m.value(i), *mean), "station {station}");
    }
}

#[test]
fn weather_from_memory() {
    let data = rows(50_000);
    let e = expected(&data);
    let (station, t): (Vec<i64>, Vec<f64>) = data.into_iter().unzip();
    for partitions in [1, 7, 32] {
        let df = DataFrame::from_columns(
            vec![
                ("station_id", station.clone().into()),
                ("temperature", t.clone().into()),
            ],
            partitions,
        )
        .unwrap();
        check(&df, &e);
    }
}

#[test]
fn weather_from_a_csv_file() {
    let data = rows(50_000);
    let e = expected(&data);
    let dir = std::env::temp_dir().join(format!("flotilla-scenario8-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("weather.csv");
    let mut text = String::from("station_id,temperature\n");
    for (s, t) in &data {
        text.push_str(&format!("{s},{t:.6}\n"));
    }
    std::fs::write(&path, text).unwrap();
    for partition_bytes in [1 << 20, 64 << 10, 4 << 10] {
        let df = DataFrame::read_csv(
            &[path.to_str().unwrap()],
            CsvOptions::new().partition_bytes(partition_bytes),
        )
        .unwrap();
        check(&df, &e);
        check(&df.persist().unwrap(), &e);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
