#!/usr/bin/env bash
# Print the highest `rust-version` among the packages this workspace builds on
# Linux. That is the lowest Rust the workspace can claim; Cargo.toml's
# `rust-version` must not be lower. Run it after `cargo update`. Needs cargo,
# rustc and python3, on Linux or macOS.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo metadata --format-version 1 --filter-platform "$(rustc -vV | sed -n 's/^host: //p')" |
python3 -c '
import json, sys
meta = json.load(sys.stdin)
used = {n["id"] for n in meta["resolve"]["nodes"]}
rows = sorted(((tuple(int(x) for x in p["rust_version"].split(".")), p["name"], p["rust_version"])
               for p in meta["packages"] if p["id"] in used and p.get("rust_version")
               and p["source"] is not None), reverse=True)
for v, name, text in rows[:5]:
    print(f"{text:8} {name}")
'
