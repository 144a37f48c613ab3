#!/usr/bin/env python3
"""W3 ratings on Dask distributed: a LocalCluster of 2 worker processes x 1
thread (as flotilla's `bench W3 --runtime cluster`), the ratings counted by
value with dask.dataframe (the fastest Dask way on this file) or dask.bag
(the MapReduce way). Start-up of the cluster is not timed.

  python benches/peers/w3_distributed.py DATA --system {dask-distributed-dataframe,dask-distributed-bag}

Prints one JSON line like the peers of ../shared/peers (run with their
common.py on PYTHONPATH).
"""
import common  # noqa: F401  (must be first: thread env + stdout handling)
import argparse
import os

from common import dask_local_cluster, emit, now

COLS = ["user_id", "item_id", "rating", "timestamp"]
SYSTEMS = ["dask-distributed-dataframe", "dask-distributed-bag"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--system", required=True, choices=SYSTEMS)
    a = ap.parse_args()
    path = os.path.abspath(a.data)
    cluster, client, startup = dask_local_cluster()
    try:
        t = now()
        if a.system == "dask-distributed-dataframe":
            import dask.dataframe as dd
            df = dd.read_csv(path, sep="\t", header=None, names=COLS, blocksize=32 * 2**20)
            res = df["rating"].value_counts().compute().to_dict()
            parts = df.npartitions
        else:
            import dask.bag as db
            b = db.read_text(path, blocksize=32 * 2**20)
            res = dict(b.map(lambda line: line.split("\t")[2]).frequencies().compute())
            parts = b.npartitions
        secs = now() - t
    finally:
        client.close()
        cluster.close()
    result = {str(int(k)): int(v) for k, v in sorted(res.items(), key=lambda kv: int(kv[0]))}
    emit("W3", a.system, secs, result, data=os.path.basename(path),
         startup_seconds=startup, npartitions=parts, workers=2)


if __name__ == "__main__":
    main()
