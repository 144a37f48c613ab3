"""The image case study written as a Python user would: Pillow + NumPy +
SciPy, the same steps as `flotilla images` (decode, shrink the longest side
to 256 — by block means for a whole factor, else bilinear — grey by ITU-R 601 weights, 3x3 box filter,
Otsu threshold with the same minimum contrast of 50, 8-connected components
of at least 8 pixels, boxes scaled back, features: colour means, 16-bin
brightness histogram, Sobel edge density, green-red vegetation index), rows
upserted into SQLite in batches of 500, a failed row per unreadable image.

    python images_pipeline.py DIR --db out.db --system processpool|dask [--workers 2]

Prints one JSON line: images, objects, seconds, images_per_second.
"""
import argparse
import json
import math
import os
import sqlite3
import sys
import time

import numpy as np
from PIL import Image
from scipy import ndimage

WORKING = 256
MIN_AREA = 8
MIN_CONTRAST = 50.0
EIGHT = np.ones((3, 3), dtype=bool)


def otsu(gray):
    hist = np.bincount(gray.ravel(), minlength=256).astype(np.float64)
    total = hist.sum()
    levels = np.arange(256, dtype=np.float64)
    w_b = np.cumsum(hist)
    sum_b = np.cumsum(hist * levels)
    w_f = total - w_b
    sum_all = sum_b[-1]
    valid = (w_b > 0) & (w_f > 0)
    m_b = np.where(valid, sum_b / np.where(w_b > 0, w_b, 1), 0)
    m_f = np.where(valid, (sum_all - sum_b) / np.where(w_f > 0, w_f, 1), 0)
    between = np.where(valid, w_b * w_f * (m_b - m_f) ** 2, -1)
    t = int(np.argmax(between))
    return t, m_b[t], m_f[t]


def analyze(path):
    try:
        with Image.open(path) as im:
            rgb = im.convert("RGB")
    except Exception as e:  # a corrupt or truncated file is a failed row
        return {"path": path, "error": "decoding: %s" % e}
    w, h = rgb.size
    longest = max(w, h)
    if longest > WORKING:
        k = longest // WORKING
        if longest % WORKING == 0 and w % k == 0 and h % k == 0:
            rgb = rgb.reduce(k)  # a whole factor: block means, as flotilla does
        else:
            s = WORKING / longest
            rgb = rgb.resize((max(1, round(w * s)), max(1, round(h * s))), Image.BILINEAR)
    a = np.asarray(rgb, dtype=np.uint32)
    gray = ((299 * a[..., 0] + 587 * a[..., 1] + 114 * a[..., 2]) // 1000).astype(np.uint8)
    smooth = np.rint(ndimage.uniform_filter(gray.astype(np.float64), size=3, mode="nearest")).astype(np.uint8)
    scale = w / rgb.size[0]
    objects = []
    t, m_b, m_f = otsu(smooth)
    if m_f - m_b >= MIN_CONTRAST:
        mask = smooth > t
        labels, n = ndimage.label(mask, structure=EIGHT)
        if n:
            counts = np.bincount(labels.ravel(), minlength=n + 1)
            sums = np.bincount(labels.ravel(), weights=smooth.ravel(), minlength=n + 1)
            bg = smooth[~mask].mean() if (~mask).any() else 0.0
            for i, sl in enumerate(ndimage.find_objects(labels), start=1):
                if counts[i] < MIN_AREA:
                    continue
                y0, y1, x0, x1 = sl[0].start, sl[0].stop, sl[1].start, sl[1].stop
                ox, oy = min(int(math.floor(x0 * scale)), w - 1), min(int(math.floor(y0 * scale)), h - 1)
                right, bottom = min(int(math.ceil(x1 * scale)), w), min(int(math.ceil(y1 * scale)), h)
                conf = min(1.0, max(0.0, (sums[i] / counts[i] - bg) / 255.0))
                objects.append((ox, oy, max(1, right - ox), max(1, bottom - oy),
                                int(round(counts[i] * scale * scale)), float(conf)))
    objects.sort(key=lambda o: (o[1], o[0]))
    r, g, b = a[..., 0].astype(np.float64), a[..., 1].astype(np.float64), a[..., 2]
    rg = r + g
    veg = np.where(rg > 0, (g - r) / np.where(rg > 0, rg, 1), 0).mean()
    hist = np.bincount((smooth.astype(np.uint32) * 16 // 256).ravel(), minlength=16) / smooth.size
    s = smooth.astype(np.int32)
    gx = ndimage.sobel(s, axis=1)[1:-1, 1:-1]
    gy = ndimage.sobel(s, axis=0)[1:-1, 1:-1]
    edges = float((np.abs(gx) + np.abs(gy) > 128).mean())
    return {
        "path": path, "error": None, "width": w, "height": h, "objects": objects,
        "mean": [float(a[..., c].mean()) for c in range(3)], "brightness": float(smooth.mean()),
        "edge_density": edges, "vegetation": float(veg), "histogram": ",".join("%.5f" % v for v in hist),
    }


class Writer:
    def __init__(self, db):
        self.conn = sqlite3.connect(db)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS images (path TEXT NOT NULL PRIMARY KEY, status TEXT, reason TEXT, "
            "width INTEGER, height INTEGER, objects INTEGER, mean_red REAL, mean_green REAL, mean_blue REAL, "
            "brightness REAL, edge_density REAL, vegetation REAL, histogram TEXT, detector TEXT)")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS objects (path TEXT NOT NULL, object INTEGER NOT NULL, x INTEGER, "
            "y INTEGER, width INTEGER, height INTEGER, area INTEGER, confidence REAL, PRIMARY KEY (path, object))")
        self.images, self.objects = [], []

    def add(self, o):
        if o["error"]:
            self.images.append((o["path"], "failed", o["error"], 0, 0, 0, None, None, None, None, None, None,
                                None, "threshold"))
        else:
            m = o["mean"]
            self.images.append((o["path"], "ok", None, o["width"], o["height"], len(o["objects"]), m[0], m[1],
                                m[2], o["brightness"], o["edge_density"], o["vegetation"], o["histogram"],
                                "threshold"))
            self.objects.extend((o["path"], i) + ob for i, ob in enumerate(o["objects"]))
        if len(self.images) >= 500:
            self.flush()

    def flush(self):
        with self.conn:
            self.conn.executemany(
                "INSERT INTO images VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (path) DO UPDATE SET "
                "status=excluded.status, reason=excluded.reason, width=excluded.width, height=excluded.height, "
                "objects=excluded.objects, mean_red=excluded.mean_red, mean_green=excluded.mean_green, "
                "mean_blue=excluded.mean_blue, brightness=excluded.brightness, "
                "edge_density=excluded.edge_density, vegetation=excluded.vegetation, "
                "histogram=excluded.histogram, detector=excluded.detector", self.images)
            self.conn.executemany(
                "INSERT INTO objects VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (path, object) DO UPDATE SET "
                "x=excluded.x, y=excluded.y, width=excluded.width, height=excluded.height, "
                "area=excluded.area, confidence=excluded.confidence", self.objects)
        self.images, self.objects = [], []


def list_images(folder):
    out = []
    for root, _, files in os.walk(folder):
        out.extend(os.path.join(root, f) for f in files if f.lower().endswith((".png", ".jpg", ".jpeg")))
    return sorted(os.path.abspath(p) for p in out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("input")
    ap.add_argument("--db", required=True)
    ap.add_argument("--system", choices=["processpool", "dask"], required=True)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    paths = list_images(args.input)
    start = time.perf_counter()
    writer = Writer(args.db)
    n_images = n_objects = 0
    if args.system == "processpool":
        from concurrent.futures import ProcessPoolExecutor, as_completed
        with ProcessPoolExecutor(max_workers=args.workers) as pool:
            for f in as_completed([pool.submit(analyze, p) for p in paths]):
                o = f.result()
                writer.add(o)
                n_images += 1
                n_objects += len(o.get("objects", ()))
    else:
        from dask.distributed import Client, LocalCluster, as_completed
        with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            start = time.perf_counter()  # the cluster's start-up is not the pipeline's
            for f in as_completed(client.map(analyze, paths, pure=False)):
                o = f.result()
                writer.add(o)
                n_images += 1
                n_objects += len(o.get("objects", ()))
    writer.flush()
    seconds = time.perf_counter() - start
    print(json.dumps({"command": "images", "system": args.system, "images": n_images, "objects": n_objects,
                      "seconds": round(seconds, 4), "images_per_second": round(n_images / seconds, 2)}))


if __name__ == "__main__":
    sys.exit(main())
