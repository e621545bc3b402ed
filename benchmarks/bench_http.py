"""Queries per second through privaudit's HTTP target against a bare httpx loop, same server, same batches.

Run from the repository root::

    .venv/bin/python benchmarks/bench_http.py                          # ~1 min on 2 cores
    .venv/bin/python benchmarks/bench_http.py --write BENCHMARKS.md    # and replace its "http-target" section

A local prediction server (:mod:`privaudit.testing`, uvicorn, one process of its own so that it does not
share the client's interpreter lock) serves a logistic regression on synthetic records in all three
protocols. For each protocol, in the same run and alternating, the same N records are sent with the
same batch size and concurrency:

* **privaudit**: :meth:`privaudit.targets.HTTPTarget.predict` on a fresh target each time (no cache,
  so every batch goes over the wire; budget and per-record counting, retries armed, answers checked);
* **bare httpx**: one ``httpx.Client``, a thread pool of the same size, the same request bodies built
  with ``json.dumps``, ``response.json()`` and ``np.asarray`` of the predictions — nothing else.

Throughput = records answered per wall second (median of ``--repeats``); the client's CPU seconds per
1,000 records show privaudit's own overhead, which the wall-clock figure hides when the server is the
bottleneck. ``--write PATH`` replaces the part of PATH between the ``http-target`` markers (or appends it).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from _sections import replace_section  # noqa: E402  (benchmarks/ is the script folder)

BEGIN = "<!-- http-target: written by benchmarks/bench_http.py; edits between these markers are replaced -->"
END = "<!-- /http-target -->"
GOAL = 0.9


def build_data(n: int, seed: int):
    from privaudit.data import audit_data_from_frame
    from privaudit.datasets import make_synthetic_tabular

    frame = make_synthetic_tabular(n, seed=seed)
    frame["role"] = "member"
    frame.loc[frame.index[n // 2:], "role"] = "nonmember"
    return audit_data_from_frame(frame, label="label", id_column="record_id", membership_column="role")


def serve(port: int, n: int, seed: int) -> None:
    """The server process: fit the model and serve it until terminated."""
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    from privaudit.testing import bind_socket, build_app, uvicorn_server
    from privaudit.targets import SklearnTarget

    data = build_data(n, seed)
    records = data.records
    model = make_pipeline(make_column_transformer((OneHotEncoder(), ["colour"]), remainder="passthrough"), LogisticRegression(max_iter=500))
    model.fit(records.features, np.array(records.classes)[records.labels])
    app = build_app(SklearnTarget(model), classes=records.classes, features=list(records.features.columns), model_name="model")
    uvicorn_server(app, "critical").run(sockets=[bind_socket("127.0.0.1", port)])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, process, timeout_s: float = 120.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server process exited")
        try:
            if httpx.get(f"{url}/v2/health/ready", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"no server at {url}")


def endpoint_and_options(url: str, protocol: str) -> tuple[str, dict]:
    return {
        "json": (f"{url}/predict", {"response": "$.predictions[*].probabilities"}),
        "mlflow": (url, {}),
        "kserve_v2": (url, {"model_name": "model"}),
    }[protocol]


def run_privaudit(url: str, protocol: str, records, batch_size: int, concurrency: int) -> np.ndarray:
    from privaudit.targets import HTTPTarget

    endpoint, options = endpoint_and_options(url, protocol)
    return HTTPTarget(endpoint, protocol=protocol, batch_size=batch_size, concurrency=concurrency, **options).predict(records)


def run_bare(url: str, protocol: str, records, batch_size: int, concurrency: int) -> np.ndarray:
    """The baseline: the same bodies through httpx and a thread pool, answers read with response.json()."""
    import json

    import httpx

    from privaudit.targets.http_protocols import HTTP_PROTOCOLS, json_rows

    endpoint, options = endpoint_and_options(url, protocol)
    wire = HTTP_PROTOCOLS.get(protocol)(**{k: v for k, v in options.items() if k == "model_name"})
    post_to = wire.endpoint(endpoint)
    columns, rows = json_rows(records.features)
    starts = range(0, len(rows), batch_size)

    def one(start: int) -> np.ndarray:
        body = json.dumps(wire.body(columns, rows[start:start + batch_size]), separators=(",", ":")).encode()
        document = client.post(post_to, content=body, headers={"Content-Type": "application/json"}).json()
        if protocol == "kserve_v2":
            tensor = document["outputs"][0]
            return np.asarray(tensor["data"], dtype=np.float64).reshape(tensor["shape"])
        if protocol == "json":
            return np.asarray([p["probabilities"] for p in document["predictions"]], dtype=np.float64)
        return np.asarray(document["predictions"], dtype=np.float64)

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    with httpx.Client(timeout=30.0, limits=limits) as client, ThreadPoolExecutor(max_workers=concurrency) as pool:
        return np.concatenate(list(pool.map(one, starts)))


def measure(function, *args) -> tuple[float, float, np.ndarray]:
    wall, cpu = time.perf_counter(), time.process_time()
    outputs = function(*args)
    return time.perf_counter() - wall, time.process_time() - cpu, outputs


def render(args, rows: list[dict], n: int) -> str:
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    command = ".venv/bin/python benchmarks/bench_http.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        BEGIN,
        "# Benchmarks: HTTP target",
        "",
        f"Measured {when} with",
        "",
        "```",
        command.strip(),
        "```",
        "",
        f"on {platform.machine()} with {os.cpu_count()} CPU cores, Python {platform.python_version()} (load average {load:.1f} at the end). "
        f"{n:,} records per run, batch size {args.batch_size}, concurrency {args.concurrency}, median of {args.repeats} alternating runs; "
        "the server (privaudit.testing: FastAPI + uvicorn, one process, a logistic regression) runs in its own process on 127.0.0.1.",
        "",
        "| protocol | privaudit records/s | bare httpx records/s | ratio (goal ≥ 0.9) | privaudit client CPU s / 1k records | bare client CPU s / 1k records | same outputs |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in rows:
        lines.append(
            f"| {row['protocol']} | {row['ours_qps']:,.0f} | {row['bare_qps']:,.0f} | {row['ratio']:.2f} {'✓' if row['ratio'] >= GOAL else '✗'} "
            f"| {row['ours_cpu']:.3f} | {row['bare_cpu']:.3f} | {'yes' if row['same'] else 'NO'} |"
        )
    lines += [
        "",
        "- **Throughput** counts records answered per wall second; both clients send identical request bodies in the",
        "  same batches, so the server does the same work for each. When the server is the bottleneck the two",
        "  converge; the client CPU columns show what privaudit adds on top of httpx (cache keys: a SHA-256 per",
        "  body; budget and per-record counts; path extraction and shape checks of every answer).",
        "- **Same outputs**: privaudit's answers equal the bare loop's exactly (both parse the same JSON).",
        "- The machine is shared: other jobs may run alongside (see the load average), which slows both columns alike;",
        "  the runs alternate so that drifts in load hit both.",
        END,
    ]
    return "\n".join(lines)


def write_section(path: Path, section: str) -> None:
    """Replace this benchmark's marked section of ``path`` with ``section`` (or append it)."""
    replace_section(path, section, BEGIN, END)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--protocols", nargs="+", default=["json", "mlflow", "kserve_v2"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", metavar="PATH", help="replace the http-target section of PATH (e.g. BENCHMARKS.md)")
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)  # internal: be the server process
    args = parser.parse_args(argv)
    if args.serve is not None:
        serve(args.serve, args.records, args.seed)
        return

    say = lambda message: print(message, file=sys.stderr)  # noqa: E731
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, __file__, "--serve", str(port), "--records", str(args.records), "--seed", str(args.seed)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    try:
        say(f"server on {url} …")
        wait_ready(url, server)
        records = build_data(args.records, args.seed).records
        rows = []
        for protocol in args.protocols:
            say(f"{protocol} …")
            run_privaudit(url, protocol, records, args.batch_size, args.concurrency)  # warm-up: connections, imports
            run_bare(url, protocol, records, args.batch_size, args.concurrency)
            ours, bare, same = [], [], True
            for repeat in range(args.repeats):
                order = [("ours", run_privaudit), ("bare", run_bare)]
                for label, function in order if repeat % 2 == 0 else order[::-1]:
                    wall, cpu, outputs = measure(function, url, protocol, records, args.batch_size, args.concurrency)
                    (ours if label == "ours" else bare).append((wall, cpu, outputs))
            same = all(np.array_equal(o[2], b[2]) for o, b in zip(ours, bare))
            ours_wall, bare_wall = statistics.median(o[0] for o in ours), statistics.median(b[0] for b in bare)
            rows.append({
                "protocol": protocol, "ours_qps": args.records / ours_wall, "bare_qps": args.records / bare_wall, "ratio": bare_wall / ours_wall,
                "ours_cpu": statistics.median(o[1] for o in ours) / args.records * 1000, "bare_cpu": statistics.median(b[1] for b in bare) / args.records * 1000,
                "same": same,
            })
            say(f"  privaudit {rows[-1]['ours_qps']:,.0f} records/s, bare {rows[-1]['bare_qps']:,.0f} records/s, ratio {rows[-1]['ratio']:.2f}")
    finally:
        server.terminate()
        server.wait(timeout=30)
    text = render(args, rows, args.records)
    print(text)
    if args.write:
        write_section(Path(args.write), text)


if __name__ == "__main__":
    main()
