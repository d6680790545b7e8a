"""Attachments: what checking a file by its content costs, and an upload and a read through the bridge.

    python -m bench.attachments                 # files near the 10 MB cap, 5 rounds each
    python -m bench.attachments --rounds 2      # a quick look

The costliest files to check (handoff/filecheck.py), each of the default cap's size or the largest
picture allowed: pictures of noise (nothing compresses, so every byte is walked and every PNG byte
inflated), a blank PNG of 40 megapixels (a small upload that inflates the most: the decompression-bomb
shape, at the limit), a PDF with a 10 MB page stream and a compressed object stream, and a PDF of a
kilobyte whose object stream inflates, through two Flate passes, to 60 MB (trial 16's memory bomb). Each
is checked ``--rounds`` times on the bridge's own runtime (its environment, in a subprocess: the check
runs there, in a worker thread per upload), then once more under tracemalloc for the most memory the
check held at once (``peak_MB``). Then one bridge process over its own Redis (no Rasa: files never reach
it) takes each file as a customer's upload and serves it back: the time of the POST (read, checked,
stored, announced) and of the GET. Results: a Markdown table and .run/bench/attachments.json.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import statistics
import subprocess
import tempfile
import zlib
from pathlib import Path
from typing import Any, Dict, List

import redis as redis_sync
import requests

from bench.common import markdown_table, write_result
from handoff_client import Customer
from harness.servers import BRIDGE_VENV_BIN, ROOT, running_bridge, running_redis

__all__ = ["main"]

NO_RASA = "http://127.0.0.1:9"
PREFIX = "benchfiles"
# Timed on the bridge's runtime: every file given, checked ``rounds`` times; the milliseconds of each.
TIMER = """
import json, sys, time, tracemalloc
from pathlib import Path
from handoff.filecheck import check_file
rounds, files = int(sys.argv[1]), sys.argv[2:]
times, peaks = {}, {}
for name in files:
    content = Path(name).read_bytes()
    times[name] = []
    for _ in range(rounds):
        start = time.perf_counter()
        check_file(content)
        times[name].append((time.perf_counter() - start) * 1000)
    tracemalloc.start()
    check_file(content)
    peaks[name] = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
print(json.dumps({"times": times, "peaks": peaks}))
"""


def samples() -> Dict[str, bytes]:
    """The costliest files to check, near the 10 MB cap or at the pixel limit."""
    from PIL import Image  # the tests' and benchmarks' environment has it; the bridge's has not

    def noise(kind: str, width: int, height: int, **options: Any) -> bytes:
        buffer = io.BytesIO()
        Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(buffer, kind, **options)
        return buffer.getvalue()

    blank = io.BytesIO()
    Image.new("RGB", (8000, 5000), "white").save(blank, "PNG")
    page = os.urandom(10 * 1024 * 1024 - 4096)
    packed = zlib.compress(b"6 0 << /Type /Annot /Subtype /Text /Contents (note) >>" * 2000)
    pdf = b"".join([
        b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n",
        b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n",
        b"3 0 obj\n<< /Length " + str(len(page)).encode() + b" >>\nstream\n", page, b"\nendstream\nendobj\n",
        b"4 0 obj\n<< /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length " + str(len(packed)).encode()
        + b" >>\nstream\n", packed, b"\nendstream\nendobj\n",
        b"xref\n0 1\n0000000000 65535 f \ntrailer\n<< /Root 1 0 R >>\nstartxref\n0\n%%EOF\n",
    ])
    spaces = zlib.compressobj(9)
    once = b"".join(spaces.compress(b" " * 2**20) for _ in range(60)) + spaces.flush()
    twice = zlib.compress(once, 9)
    bomb = b"".join([
        b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n",
        b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n",
        b"3 0 obj\n<< /Type /ObjStm /N 1 /First 4 /Filter [/FlateDecode /FlateDecode] /Length "
        + str(len(twice)).encode() + b" >>\nstream\n", twice, b"\nendstream\nendobj\n",
        b"xref\n0 1\n0000000000 65535 f \ntrailer\n<< /Root 1 0 R >>\nstartxref\n0\n%%EOF\n",
    ])
    return {
        "PNG, noise 1800 x 1800": noise("PNG", 1800, 1800),
        "JPEG, noise 2950 x 2950, quality 95": noise("JPEG", 2950, 2950, quality=95),
        "WebP, noise 1800 x 1800, lossless": noise("WEBP", 1800, 1800, lossless=True),
        "GIF, noise 2700 x 2700": noise("GIF", 2700, 2700),
        "PNG, blank 8000 x 5000 (40 MP)": blank.getvalue(),
        "PDF, 10 MB page stream + object stream": pdf,
        "PDF, object stream inflating to 60 MB (2 Flate passes)": bomb,
    }


def check_times(files: Dict[str, Path], rounds: int) -> Dict[str, Dict[str, Any]]:
    """Per file: ``times`` (ms of each round) and ``peak_MB`` (the most the check held at once)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([str(BRIDGE_VENV_BIN / "python"), "-c", TIMER, str(rounds), *map(str, files.values())],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode:
        raise RuntimeError(f"timing on the bridge's runtime failed: {done.stderr[-2000:]}")
    measured = json.loads(done.stdout)
    return {label: {"times": measured["times"][str(path)], "peak_MB": measured["peaks"][str(path)]}
            for label, path in files.items()}


def through_the_bridge(contents: Dict[str, bytes], rounds: int) -> Dict[str, Dict[str, float]]:
    with running_redis("redis-bench-attachments") as redis_server, \
            running_bridge(redis_server.url, NO_RASA, "bench-attachments", PREFIX,
                           HANDOFF_MAX_UPLOADS_PER_SENDER="1000000", HANDOFF_MAX_FILE_BYTES_PER_DAY=str(2**40),
                           HANDOFF_MAX_FILE_BYTES_PER_ADDRESS_PER_DAY=str(2**40)) as address:
        return asyncio.run(_uploads(address, redis_server.url, contents, rounds))


async def _uploads(address: str, redis_url: str, contents: Dict[str, bytes], rounds: int) -> Dict[str, Dict[str, float]]:
    """Each file uploaded by a new customer and read back, ``rounds`` times: the median of each (blocking HTTP
    calls, one at a time: nothing else runs meanwhile). Each file is deleted after it is read: the test
    Redis holds 256 MB, fewer than all the rounds' files."""
    redis = redis_sync.Redis.from_url(redis_url)
    timings: Dict[str, Dict[str, float]] = {}
    for label, content in contents.items():
        posts, gets = [], []
        for _ in range(rounds):
            customer = await Customer.connect(address)
            url = f"http://{address}/api/conversations/{customer.conversation_id}/attachments"
            auth = {"Authorization": f"Conversation {customer.token}"}
            stored = requests.post(url, data=content, headers=auth, timeout=60)
            assert stored.status_code == 201, stored.text
            posts.append(stored.elapsed.total_seconds() * 1000)
            served = requests.get(f"{url}/{stored.json()['attachment']['id']}", headers=auth, timeout=60)
            assert served.content == content
            gets.append(served.elapsed.total_seconds() * 1000)
            redis.delete(f"{PREFIX}:files:{customer.conversation_id}")
            await customer.close()
        timings[label] = {"post_ms": statistics.median(posts), "get_ms": statistics.median(gets)}
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    contents = samples()
    with tempfile.TemporaryDirectory() as folder:
        files = {label: Path(folder) / f"{number}.bin" for number, label in enumerate(contents)}
        for label, path in files.items():
            path.write_bytes(contents[label])
        checks = check_times(files, args.rounds)
    bridge = through_the_bridge(contents, args.rounds)
    rows = []
    for label, content in contents.items():
        median = statistics.median(checks[label]["times"])
        rows.append({"file": label, "MB": len(content) / 2**20, "check_ms": median, "check_MB_per_s": len(content) / 2**20 / (median / 1000),
                     "check_max_ms": max(checks[label]["times"]), "peak_MB": checks[label]["peak_MB"], **bridge[label]})
    print(markdown_table(rows, ["file", "MB", "check_ms", "check_MB_per_s", "check_max_ms", "peak_MB", "post_ms", "get_ms"]))
    print(f"(also in {write_result('attachments', {'rounds': args.rounds, 'rows': rows})})")


if __name__ == "__main__":
    main()
