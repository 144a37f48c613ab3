#!/usr/bin/env python3
"""W9 join on Dask distributed: a LocalCluster of 2 worker processes x 1
thread (as flotilla's `bench W9 --runtime cluster`), the ratings joined with
the items table on item_id, then the mean rating per genre, with
dask.dataframe. Start-up of the cluster is not timed.

  python benches/peers/w9_distributed.py RATINGS ITEMS

Prints one JSON line like the peers of ../shared/peers (run with their
common.py on PYTHONPATH).
"""
import common  # noqa: F401  (must be first: thread env + stdout handling)
import argparse
import os

from common import dask_local_cluster, emit, now

COLS = ["user_id", "item_id", "rating", "timestamp"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ratings")
    ap.add_argument("items")
    a = ap.parse_args()
    r, it = os.path.abspath(a.ratings), os.path.abspath(a.items)
    cluster, client, startup = dask_local_cluster(n_workers=2)
    try:
        import dask.dataframe as dd
        t = now()
        rt = dd.read_csv(r, sep="\t", names=COLS, usecols=["item_id", "rating"], blocksize="32MB")
        items = dd.read_csv(it)
        m = rt.merge(items, on="item_id").groupby("genre")["rating"].mean().compute()
        secs = now() - t
        parts = rt.npartitions
    finally:
        client.close()
        cluster.close()
    res = [[g, round(float(v), 6)] for g, v in sorted(m.items())]
    emit("W9", "dask-distributed", secs, res, startup_seconds=startup, npartitions=parts,
         workers=2)


if __name__ == "__main__":
    main()
