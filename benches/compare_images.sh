#!/usr/bin/env bash
# The image case study: 2,000 generated 512x512 images (bench-data/images-2000,
# written by the first run) analysed by `flotilla images` in-process (2 threads) and
# on a LocalCluster of 2 worker processes, beside the same pipeline in Python
# (Pillow + NumPy + SciPy) on ProcessPoolExecutor(2) and on Dask distributed
# (LocalCluster of 2 workers x 1 thread), interleaved; then a checkpointed run and
# its resumption with everything checkpointed. Every system writes its rows to its
# own SQLite file. JSON lines on stdout (images_per_second, seconds).
# Needs: cargo build --release -p flotilla-cli; the peers' venv
#   (PEERS_HOME=$PWD/peers-home bash ../shared/peers/setup.sh, then
#    peers-home/.venv/bin/pip install pillow scipy).
# Usage: bash benches/compare_images.sh > bench-data/compare-images.jsonl
set -eu
cd "$(dirname "$0")/.."
F=./target/release/flotilla
PY=peers-home/.venv/bin/python
IN=bench-data/images-2000
OUT=$(mktemp -d /var/tmp/flotilla-images-bench.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
$F images --input $IN --synthetic 2000 --db sqlite:$OUT/warm.db --json > /dev/null
for i in 1 2 3; do
  $F images --input $IN --db sqlite:$OUT/f.db --threads 2 --json
  $F images --input $IN --db sqlite:$OUT/fc.db --workers 2 --json
  $PY benches/peers/images_pipeline.py $IN --db $OUT/pp.db --system processpool
  $PY benches/peers/images_pipeline.py $IN --db $OUT/dask.db --system dask 2>/dev/null
done
for i in 1 2; do
  rm -rf $OUT/ckpt
  $F images --input $IN --db sqlite:$OUT/k.db --threads 2 --checkpoint $OUT/ckpt --json
  $F images --input $IN --db sqlite:$OUT/k.db --threads 2 --checkpoint $OUT/ckpt --json
done
