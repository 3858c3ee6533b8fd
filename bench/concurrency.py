"""How long a daily SP-API run takes against how long Amazon takes to make one report.

The fake SP-API (``ipi.testing.FakeSpApi``) generates every report in T seconds and
enforces Amazon's published rate limits, answering 429 to any request over
them. ipi's SP-API source, with its default settings, fetches 3 report types x
3 marketplaces. Target: the whole run within 1.3 x T, and no 429 caused by our
own rate.

    .venv/bin/python -m bench.concurrency              # T = 60 s, about 75 s
    .venv/bin/python -m bench.concurrency --T 20 --poll-interval 5
    .venv/bin/python -m bench.concurrency --T 1 --poll-interval 2 --max-ratio 10  # smallest

At a T of a few seconds the run is mostly the fixed pacing of status checks under
Amazon's rate limits, so the 1.3 x T target means something only from T = 20 s or
so. The fake server and ipi's spool run in a temporary folder; the result goes to
``--out-dir``/concurrency.json (default ``bench/out/``, git-ignored).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from sp_api.auth import access_token_client

from ipi.demo import simulate
from ipi.settings import settings_from_dict
from ipi.sources.sp_api import SpApiSource, resolve_credentials
from ipi.testing import FakeSpApi, serve_day

ROOT = Path(__file__).resolve().parents[1]
MARKETPLACES = ["US", "CA", "MX"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--T", type=float, default=60.0, help="seconds Amazon takes per report")
    p.add_argument("--poll-interval", type=float, default=None,
                   help="first wait between status checks (default: the product's, 15 s)")
    p.add_argument("--max-ratio", type=float, default=1.3)
    p.add_argument("--out-dir", type=Path, default=ROOT / "bench" / "out",
                   help="where concurrency.json goes (default bench/out)")
    args = p.parse_args(argv)

    access_token_client.cache.clear()
    sim = simulate(date(2026, 6, 1), 20, n_skus=150)
    with tempfile.TemporaryDirectory() as tmp, FakeSpApi() as fake:
        fake.generation_seconds = args.T
        fake.enforce_rate_limits = True  # Amazon's published buckets, 429 beyond them
        serve_day(fake, sim, 10, Path(tmp) / "docs", MARKETPLACES)
        sp = {"endpoint": fake.url, "token_url": fake.token_url}
        if args.poll_interval is not None:
            sp["poll_interval"] = args.poll_interval
        settings = settings_from_dict(
            {"accounts": [{"name": "bench", "marketplaces": MARKETPLACES,
                           "source": "sp-api", "sp_api": sp}]}, base_dir=Path(tmp), env={})
        account = settings.accounts[0]
        env = {"IPI_LWA_CLIENT_ID": "id", "IPI_LWA_CLIENT_SECRET": "secret",
               "IPI_BENCH_REFRESH_TOKEN": "refresh"}
        source = SpApiSource(account, resolve_credentials(account, env), settings.spool_dir)
        start = time.monotonic()
        fetched = list(source.fetch(account, sim.day(10)))
        elapsed = time.monotonic() - start
        source.close()
        ours = [r for r in fake.requests if r.status == 429]
        result = {
            "reports": len(fetched), "problems": [p.reason for p in source.problems],
            "T_seconds": args.T, "elapsed_seconds": round(elapsed, 2),
            "ratio": round(elapsed / args.T, 3), "self_caused_429": fake.self_throttled,
            "all_429": len(ours),
            "calls": {op: len(fake.calls(op)) for op in
                      ("token", "getReports", "createReport", "getReport",
                       "getReportDocument", "download")},
        }
    print(json.dumps(result, indent=2))
    out = args.out_dir
    out.mkdir(parents=True, exist_ok=True)
    (out / "concurrency.json").write_text(json.dumps(result, indent=2))
    ok = (result["reports"] == 9 and result["ratio"] <= args.max_ratio
          and result["self_caused_429"] == 0)
    print(f"ratio {result['ratio']:.2f} x T (limit {args.max_ratio}), "
          f"{result['self_caused_429']} self-caused 429: {'ok' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
