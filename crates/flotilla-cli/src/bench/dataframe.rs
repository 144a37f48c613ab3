//! W5 (weather aggregations) and W9 (ratings joined with items, mean rating
//! per genre) on the DataFrame, reading the files of `flotilla gen`.

use std::time::Instant;

use anyhow::Context;
use flotilla::cluster::Client;
use flotilla::dataframe::arrow::array::cast::AsArray;
use flotilla::dataframe::arrow::array::types::{Float64Type, Int64Type};
use flotilla::dataframe::arrow::array::{Array, RecordBatch};
use flotilla::dataframe::arrow::{cast as arrow_cast, schema as arrow_schema};
use flotilla::dataframe::io::CsvOptions;
use flotilla::dataframe::kernels::{Agg, JoinKind};
use flotilla::dataframe::{col, DataFrame, JoinOptions, Scalar};
use flotilla::on_cluster::{ComputeOnCluster, PersistOnCluster};
use flotilla::{ComputeOptions, CpuPool};

use super::{emit, input_file, pool, BenchArgs, Json, Runtime};
use crate::gen;

/// Where the frames of a workload are computed: this process's pool, or
/// the worker processes of a LocalCluster.
enum Engine {
    Local(CpuPool),
    /// The cluster, held so that its processes live as long as the client.
    Cluster(#[allow(dead_code)] Box<super::BenchCluster>, Client),
}

impl Engine {
    fn new(args: &BenchArgs) -> anyhow::Result<Engine> {
        Ok(match args.runtime {
            Runtime::Local => {
                let pool = pool(args)?;
                pool.submit(|| ()).result()?; // warm
                Engine::Local(pool)
            }
            Runtime::Cluster => {
                let cluster = super::cluster::start(args)?;
                let client = cluster.client()?;
                Engine::Cluster(Box::new(cluster), client)
            }
        })
    }

    fn system(&self) -> &'static str {
        match self {
            Engine::Local(_) => "flotilla-local",
            Engine::Cluster(..) => "flotilla-cluster",
        }
    }

    fn options(pool: &CpuPool) -> ComputeOptions {
        ComputeOptions::new().pool(pool).progress(false)
    }

    fn scalar<A: Clone + Send + Sync + 'static>(&self, s: Scalar<A>) -> anyhow::Result<A> {
        Ok(match self {
            Engine::Local(pool) => s.compute_with(&Engine::options(pool))?,
            Engine::Cluster(_, client) => s.compute_on(client)?,
        })
    }

    fn frame(&self, df: &DataFrame) -> anyhow::Result<RecordBatch> {
        Ok(match self {
            Engine::Local(pool) => df.compute_with(&Engine::options(pool))?,
            Engine::Cluster(_, client) => df.compute_on(client)?,
        })
    }

    /// The frame's partitions computed once and kept in memory.
    fn persist(&self, df: &DataFrame) -> anyhow::Result<DataFrame> {
        Ok(match self {
            Engine::Local(pool) => df.persist_with(&Engine::options(pool))?,
            Engine::Cluster(_, client) => df.persist_on(client)?,
        })
    }
}

/// Full-precision JSON for a float (Rust's shortest round-trip form).
fn num(x: f64) -> String {
    format!("{x:?}")
}

/// W5: mean, max and sum of the temperature, the mean of a Fahrenheit
/// column, and the mean temperature per station, from the weather CSV.
pub(super) fn w5(args: &BenchArgs) -> anyhow::Result<()> {
    let input = input_file(args, "weather_10m.csv", |p| {
        gen::write_weather(p, 10_000_000, 20240502).map(|_| ())
    })?;
    let engine = Engine::new(args)?;
    let start = Instant::now();
    let df = if args.out_of_core {
        // Partitions sized to the budget, each read by the task that
        // aggregates it: three passes over the file, never all of it held.
        let budget = (args.memory_mb as u64) << 20;
        DataFrame::read_csv(&[input.as_str()], CsvOptions::new().memory_budget(budget))?
    } else {
        // Read once, keep the partitions in memory (as the peers do).
        engine.persist(&DataFrame::read_csv(&[input.as_str()], CsvOptions::new())?)?
    };
    let t = engine.scalar(df.stats("temperature")?)?;
    let f_mean = engine.scalar(
        df.with_column("temperature_f", col("temperature") * 9 / 5 + 32)?
            .mean("temperature_f")?,
    )?;
    let stations = engine.frame(
        &df.group_by(&["station_id"])?
            .agg(&[Agg::mean("temperature")])?,
    )?;
    let secs = start.elapsed().as_secs_f64();
    let per_station = station_means(&stations)?;
    let (mean, max, f_mean) = (
        t.mean().context("no temperatures")?,
        t.max.context("no temperatures")?,
        f_mean.context("no temperatures")?,
    );
    let hi = per_station
        .iter()
        .cloned()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .context("no stations")?;
    let lo = per_station
        .iter()
        .cloned()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .context("no stations")?;
    let checksum: f64 = per_station.iter().map(|(s, m)| *s as f64 * m).sum();
    let mean_sum: f64 = per_station.iter().map(|(_, m)| m).sum();
    let result = format!(
        "{{\"mean\": {}, \"max\": {}, \"sum\": {}, \"f_mean\": {}, \"n_stations\": {}, \"station_mean_sum\": {}, \"station_mean_max\": [{}, {}], \"station_mean_min\": [{}, {}], \"checksum\": {}}}",
        num(mean), num(max), num(t.sum), num(f_mean), per_station.len(), num(mean_sum),
        hi.0, num(hi.1), lo.0, num(lo.1), num(checksum)
    );
    emit(&[
        ("workload", "W5".into()),
        ("system", engine.system().into()),
        ("seconds", secs.into()),
        ("result", Json::Raw(result)),
        ("rows", (t.count as usize).into()),
        ("partitions", df.num_partitions().into()),
        ("out_of_core", Json::Raw(args.out_of_core.to_string())),
        ("memory_mb", args.memory_mb.into()),
        ("peak_rss_mb", super::peak_rss_mb().into()),
        ("workers", args.workers.into()),
    ]);
    Ok(())
}

/// (station, mean) pairs of the group-by's output, sorted by station.
fn station_means(b: &RecordBatch) -> anyhow::Result<Vec<(i64, f64)>> {
    let s = b
        .column(0)
        .as_primitive_opt::<Int64Type>()
        .context("station_id is not Int64")?;
    let m = b
        .column(1)
        .as_primitive_opt::<Float64Type>()
        .context("the mean is not Float64")?;
    let mut out: Vec<(i64, f64)> = (0..b.num_rows())
        .filter(|&i| s.is_valid(i) && m.is_valid(i))
        .map(|i| (s.value(i), m.value(i)))
        .collect();
    out.sort_by_key(|p| p.0);
    Ok(out)
}

/// W9: the ratings file joined with the items table on item_id, then the
/// mean rating per genre, sorted by genre.
pub(super) fn w9(args: &BenchArgs) -> anyhow::Result<()> {
    let ratings = match args.input.first() {
        Some(p) => p.to_string_lossy().into_owned(),
        None => input_file(args, "ratings_10m.tsv", |p| {
            gen::write_ratings(p, 10_000_000, 20240501).map(|_| ())
        })?,
    };
    let items = match args.input.get(1) {
        Some(p) => p.to_string_lossy().into_owned(),
        None => {
            let path = args.cache.join("items.csv");
            if !path.exists() {
                gen::write_items(&path, 11)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            path.to_string_lossy().into_owned()
        }
    };
    let engine = Engine::new(args)?;
    let start = Instant::now();
    let ratings = DataFrame::read_csv(
        &[ratings.as_str()],
        CsvOptions::new()
            .delimiter(b'\t')
            .has_header(false)
            .column_names(["user_id", "item_id", "rating", "timestamp"])
            .columns(["item_id", "rating"]),
    )?;
    let items = DataFrame::read_csv(&[items.as_str()], CsvOptions::new())?;
    let joined = ratings.join_with(
        &items,
        &["item_id"],
        &["item_id"],
        JoinOptions::new(JoinKind::Inner).dictionary_strings(true),
    )?;
    let means = engine.frame(&joined.group_by(&["genre"])?.agg(&[Agg::mean("rating")])?)?;
    let secs = start.elapsed().as_secs_f64();
    let genre = arrow_cast::cast(means.column(0), &arrow_schema::DataType::Utf8)?;
    let genre = genre.as_string_opt::<i32>().context("genre is not text")?;
    let mean = means
        .column(1)
        .as_primitive_opt::<Float64Type>()
        .context("the mean is not Float64")?;
    let mut pairs: Vec<(String, f64)> = (0..means.num_rows())
        .map(|i| (genre.value(i).to_string(), mean.value(i)))
        .collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let result = format!(
        "[{}]",
        pairs
            .iter()
            .map(|(g, m)| format!("[{g:?}, {}]", num((m * 1e6).round() / 1e6)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    emit(&[
        ("workload", "W9".into()),
        ("system", engine.system().into()),
        ("seconds", secs.into()),
        ("result", Json::Raw(result)),
        ("partitions", ratings.num_partitions().into()),
        ("workers", args.workers.into()),
    ]);
    Ok(())
}
