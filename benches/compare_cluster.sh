#!/usr/bin/env bash
# One cluster comparison run: flotilla on a LocalCluster of 2 worker processes beside
# Dask distributed (LocalCluster of 2 workers x 1 thread), Ray (2 CPUs) and PySpark
# (local[2], W3/W5/W9 on the same files), interleaved;
# JSON lines on stdout. W3 and W9 read bench-data/ratings_10m.tsv (made by the first
# `flotilla bench W3` if missing), W9 also bench-data/items.csv, W5
# bench-data/weather_10m.csv (made by the first `flotilla bench W9` / `W5`).
# Needs: cargo build --release -p flotilla-cli; PEERS venv:
#   PEERS_HOME=$PWD/peers-home bash ../shared/peers/setup.sh   (pyspark needs Java 17+)
# Usage: bash benches/compare_cluster.sh > bench-data/compare-cluster.jsonl
set -u
cd "$(dirname "$0")/.."
F=./target/release/flotilla
PY=peers-home/.venv/bin/python
P=../shared/peers
export PYTHONPATH=$P
R=bench-data/ratings_10m.tsv
for i in 1 2; do
  $F bench W1 --runtime cluster --workers 2
  $PY $P/w1_tasks.py --system dask-distributed
  $F bench W1 --runtime cluster --workers 2
  $PY $P/w1_tasks.py --system ray
done
$F bench W2 --runtime cluster --workers 2
$F bench W2 --runtime cluster --workers 2
for i in 1 2; do
  $F bench W3 --runtime cluster --workers 2
  $PY benches/peers/w3_distributed.py $R --system dask-distributed-dataframe
  $F bench W3 --runtime cluster --workers 2
  $PY benches/peers/w3_distributed.py $R --system dask-distributed-bag
  $PY $P/w3_ratings.py $R --system pyspark-rdd
done
W=bench-data/weather_10m.csv
I=bench-data/items.csv
for i in 1 2; do
  $F bench W5
  $F bench W5 --runtime cluster --workers 2
  $PY $P/w5_weather.py $W --system dask-distributed
  $PY $P/w5_weather.py $W --system pyspark-df
  $F bench W9
  $F bench W9 --runtime cluster --workers 2
  $PY benches/peers/w9_distributed.py $R $I
  $PY $P/w9_join.py $R $I --system pyspark-df
done
