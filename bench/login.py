"""Login answers: does a wrong password take as long as an unknown account, and what does the throttle cost?

    python -m bench.login                   # 60 attempts of each kind
    python -m bench.login --attempts 20     # a quick look

One bridge process over its own Redis (no Rasa: logins do not ask it). Attempts at a known
account with a wrong password and at unknown accounts alternate, one at a time, with the
throttle lifted (so that every attempt checks a password); then, with the shipped limits, the
same wrong password at one account until it is held back: how many were heard, and what a held
attempt costs. A difference between the two kinds that the spread does not cover would tell an
attacker which names exist. Results: a Markdown table and .run/bench/login.json.
"""

from __future__ import annotations

import argparse
import time
from typing import Any, Dict, List, Tuple

import requests

from bench.common import latency_summary, markdown_table, percentile, write_result
from harness.servers import add_agent, running_bridge, running_redis

__all__ = ["main"]

NO_RASA = "http://127.0.0.1:9"  # logins never reach Rasa


def attempt(session: requests.Session, address: str, name: str, password: str) -> Tuple[float, int]:
    """Milliseconds from sending the login to its answer, and the answer's status."""
    started = time.perf_counter()
    reply = session.post(f"http://{address}/api/agents/login", json={"name": name, "password": password}, timeout=30)
    return (time.perf_counter() - started) * 1000, reply.status_code


def compare(redis_url: str, attempts: int) -> Dict[str, List[float]]:
    add_agent(redis_url, "hbbench", "ann")
    unthrottled = {"HANDOFF_LOGIN_FREE_PER_ACCOUNT": "1000000", "HANDOFF_LOGIN_FREE_PER_ADDRESS": "1000000"}
    with running_bridge(redis_url, NO_RASA, "bridge-login", "hbbench", **unthrottled) as address, \
            requests.Session() as session:
        for number in range(5):  # connections and the executor's threads, before the clock runs
            attempt(session, address, "ann", f"warm-up-{number}")
        times: Dict[str, List[float]] = {"wrong password": [], "unknown account": []}
        for number in range(attempts):
            for kind, name in (("wrong password", "ann"), ("unknown account", f"nobody{number}")):
                milliseconds, status = attempt(session, address, name, f"guess-{number}")
                if status != 401:
                    raise RuntimeError(f"{kind}: the bridge answered HTTP {status}, not 401")
                times[kind].append(milliseconds)
    return times


def throttled(redis_url: str) -> Dict[str, Any]:
    add_agent(redis_url, "hbbenchheld", "ann")
    with running_bridge(redis_url, NO_RASA, "bridge-login-held", "hbbenchheld") as address, \
            requests.Session() as session:
        heard, held = 0, []  # type: int, List[float]
        while len(held) < 20:
            milliseconds, status = attempt(session, address, "ann", "guess-guess")
            if status == 401:
                heard += 1
            elif status == 429:
                held.append(milliseconds)
            else:
                raise RuntimeError(f"the bridge answered HTTP {status}, not 401 or 429")
    return {"heard_before_hold": heard, "held_p50_ms": percentile(held, 0.5)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attempts", type=int, default=60, help="attempts of each kind")
    arguments = parser.parse_args()
    with running_redis("redis-bench-login") as redis_server:
        times = compare(redis_server.url, arguments.attempts)
        hold = throttled(redis_server.url)
    rows = [{"attempt": kind, **latency_summary(values), "p10_ms": percentile(values, 0.1),
             "p90_ms": percentile(values, 0.9)} for kind, values in times.items()]
    print(markdown_table(rows, ["attempt", "count", "p10_ms", "p50_ms", "p90_ms", "p99_ms"]))
    print(f"\nshipped limits: {hold['heard_before_hold']} wrong passwords heard in a row, then held back "
          f"(429 in {hold['held_p50_ms']:.1f} ms, p50)")
    path = write_result("login", {"attempts": arguments.attempts, "rows": rows, **hold})
    print(f"\n(also in {path})")


if __name__ == "__main__":
    main()
