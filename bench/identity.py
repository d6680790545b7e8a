"""What a signed identity costs a customer's hello (docs/identity.md).

    python -m bench.identity                # 100 hellos of each kind
    python -m bench.identity --hellos 30    # a quick look

One bridge process over its own Redis (no Rasa: a hello does not ask it). One at a time, from
opening the socket to the ``status`` that ends the greeting: an anonymous customer starting a
conversation (as before), a signed-in customer starting one (the signature checked, the contact's
list read, the conversation started and linked), and a signed-in customer on a second device
resuming the contact's open conversation (checked, found, linked again, replayed). Results: a
Markdown table and .run/bench/identity.json.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from typing import Dict, List

from bench.common import latency_summary, machine, markdown_table, percentile, write_result
from handoff.identity import sign
from handoff_client import Customer
from harness.servers import IDENTITY_SECRET, running_bridge, running_redis

__all__ = ["main"]

NO_RASA = "http://127.0.0.1:9"  # a hello never reaches Rasa


def identity(contact_id: str) -> str:
    return sign(IDENTITY_SECRET, {"id": contact_id, "name": "Bench Customer", "email": "bench@example.com",
                                  "issued_at": int(time.time())})


async def greeted(address: str, signed: str = "") -> float:
    """Milliseconds from opening the socket to the status that ends the greeting."""
    started = time.perf_counter()
    customer = await Customer.connect(address, identity=signed)
    await customer.expect("status")
    elapsed = (time.perf_counter() - started) * 1000
    await customer.close()
    return elapsed


async def measure(address: str, hellos: int) -> Dict[str, List[float]]:
    for _ in range(5):  # connections, scripts loaded, before the clock runs
        await greeted(address, identity(f"warm-{uuid.uuid4().hex}"))
    resumed = identity(f"bench-{uuid.uuid4().hex}")
    await greeted(address, resumed)  # the contact's open conversation, which every later device resumes
    times: Dict[str, List[float]] = {"anonymous, new": [], "signed in, new": [], "signed in, second device": []}
    for _ in range(hellos):
        times["anonymous, new"].append(await greeted(address))
        times["signed in, new"].append(await greeted(address, identity(f"bench-{uuid.uuid4().hex}")))
        times["signed in, second device"].append(await greeted(address, resumed))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hellos", type=int, default=100, help="hellos of each kind")
    arguments = parser.parse_args()
    with running_redis("redis-bench-identity") as redis_server, \
            running_bridge(redis_server.url, NO_RASA, "bridge-identity", "hbbenchid") as address:
        times = asyncio.run(measure(address, arguments.hellos))
    rows = [{"hello": kind, **latency_summary(values), "p90_ms": percentile(values, 0.9)}
            for kind, values in times.items()]
    print(markdown_table(rows, ["hello", "count", "p50_ms", "p90_ms", "p99_ms", "max_ms"]))
    path = write_result("identity", {"hellos": arguments.hellos, "rows": rows, "machine": machine()})
    print(f"\n(also in {path})")


if __name__ == "__main__":
    main()
