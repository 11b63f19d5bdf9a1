"""A seeded HubSpot sandbox in its own process, for the crash-safety test.

    python sandbox_proc.py --port 8123 --side a --records 20000

Side ``a`` holds ``records`` companies; side ``b`` holds one in twenty of them with
conflicting values (and a phone ``a`` lacks) plus ``records // 20`` companies of its own.
Seeding is deterministic, so two processes started alike hold the same data. Prints
``ready`` once seeded, then serves on 127.0.0.1 until killed. The rate limit is high: the
test measures crash safety, not throttling.
"""

from __future__ import annotations

import argparse


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--side", choices=("a", "b"), required=True)
    ap.add_argument("--records", type=int, required=True)
    args = ap.parse_args()

    import uvicorn

    from accord.sandbox.hubspot import HubSpotSandbox, SandboxSettings
    from accord.sandbox.hubspot.store import SEED

    sb = HubSpotSandbox(SandboxSettings(rate_limit=1_000_000, search_rate=1_000_000))
    n, now = args.records, sb.store.clock()
    with sb.store.lock:
        for i in range(n):
            if args.side == "a":
                props = {"name": f"Company {i}", "domain": f"company{i}.example", "city": "Berlin",
                         "industry": "RETAIL"}
            elif i % 20 == 0:
                props = {"name": f"Company {i}", "domain": f"company{i}.example", "city": "Paris",
                         "phone": f"+33 1 {i:06d}"}
            else:
                continue
            sb.store.create("companies", props, SEED, at=now - 86_400_000 + i, modified_at=now - 86_400_000 + i)
        if args.side == "b":
            for j in range(n // 20):
                sb.store.create("companies", {"name": f"Only B {j}", "domain": f"onlyb{j}.example", "city": "Lyon"},
                                SEED, at=now - 86_400_000 + j, modified_at=now - 86_400_000 + j)
    print("ready", flush=True)
    uvicorn.run(sb.app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
