#!/usr/bin/env bash
# A user's first hour, from the wheel: build it, install it into a fresh venv outside the
# checkout and run the README's commands from a directory outside the repository.
#   1. core install: --version, demo --margin-table, a cascade on a book with string account
#      ids, and the one-line messages for a missing extra (serve, liqcascade.testing);
#   2. the [all] extra: demo (replay and HTML report), then serve with every page answering 200
#      and every page's default example run in chromium (.ci/smoke_web.py).
# Versions come from uv.lock (as constraints), so the run is reproducible.
# Environment: UV (uv binary), PY (python for the venv, default python3.11), KEEP=1 keeps the
# temporary directory. Every check runs; the summary lists the failed ones and the exit code is 1.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
UV="${UV:-uv}"
PY="${PY:-python3.11}"
TMP="$(mktemp -d)"
if [ "${KEEP:-0}" != 1 ]; then trap 'rm -rf "$TMP"' EXIT; else echo "keeping $TMP"; fi

FAILED=()
step() { echo; echo "== $*"; }
check() {  # check NAME CMD...: run, report, remember failures
  local name="$1"; shift
  if "$@"; then echo "ok: $name"; else echo "FAILED: $name"; FAILED+=("$name"); fi
}

step "build the wheel"
(cd "$ROOT" && "$UV" build --wheel --out-dir "$TMP/dist" -q) || { echo "FAILED: build"; exit 1; }
WHEEL="$(ls "$TMP"/dist/liqcascade-*.whl)"
echo "$WHEEL"
(cd "$ROOT" && "$UV" export --frozen --no-hashes --all-extras --no-emit-project -q \
  -o "$TMP/constraints.txt") || { echo "FAILED: uv export"; exit 1; }

check "wheel holds LICENSE, py.typed, examples, sample data" "$PY" - "$WHEEL" <<'PYEOF'
import sys, zipfile
names = set(zipfile.ZipFile(sys.argv[1]).namelist())
need = ["liqcascade/py.typed", "liqcascade/examples/book_example.csv",
        "liqcascade/examples/policy_leverage_adl.toml", "liqcascade/sample_data/SOURCES.md",
        "liqcascade/market_params.toml", "liqcascade/web/templates/base.html"]
missing = [n for n in need if n not in names]
if not any(n.endswith(".dist-info/licenses/LICENSE") for n in names):
    missing.append("*.dist-info/licenses/LICENSE")
print("missing:", missing) if missing else None
sys.exit(1 if missing else 0)
PYEOF

step "core install (no extras) in a fresh venv"
"$UV" venv -q --python "$PY" "$TMP/venv" || { echo "FAILED: venv"; exit 1; }
VPY="$TMP/venv/bin/python"
LC="$TMP/venv/bin/liqcascade"
"$UV" pip install -q --python "$VPY" -c "$TMP/constraints.txt" "$WHEEL" \
  || { echo "FAILED: pip install wheel"; exit 1; }

# Run from an empty directory; user data (stores, web data) in the temporary directory too.
mkdir -p "$TMP/work" "$TMP/xdg"
cd "$TMP/work"
export XDG_DATA_HOME="$TMP/xdg" XDG_CACHE_HOME="$TMP/xdg-cache" LIQCASCADE_DB="$TMP/xdg/store.duckdb"
unset PYTHONPATH

check "liqcascade --version" "$LC" --version
check "liqcascade --help" "$LC" --help >/dev/null
check "liqcascade demo --margin-table" "$LC" demo --margin-table

cat > book_string_ids.csv <<'CSV'
account_id,venue,symbol,side,size_base,entry_price,margin_mode,leverage
alice,binance_usdm,BTCUSDT,long,0.5,121000,isolated,20
0xabc123,binance_usdm,BTCUSDT,long,2.0,120500,isolated,50
bob,binance_usdm,BTCUSDT,short,1.0,119000,isolated,10
0x9f8e7d6c5b4a39281706f5e4d3c2b1a098765432,binance_usdm,BTCUSDT,long,0.25,122000,isolated,100
CSV
cascade_string_ids() {
  "$LC" cascade --positions book_string_ids.csv --price 120000 --shock=-0.1 --impact linear:400 --json \
    > cascade.json || return 1
  "$VPY" -c 'import json,sys; r=json.load(open("cascade.json")); sys.exit(0 if r["liquidated_count"] >= 1 else 1)' \
    || { echo "no liquidation in:"; cat cascade.json; return 1; }
}
check "liqcascade cascade on a book with string account ids" cascade_string_ids

one_line() {  # one_line EXTRA CMD...: fails with exit 2 and one line naming pip install 'liqcascade[EXTRA]'
  local extra="$1"; shift
  local out rc
  out="$("$@" 2>&1)"; rc=$?
  echo "$out" | tail -n 3
  [ "$rc" -ne 0 ] && echo "$out" | tail -n 1 | grep -qF "pip install 'liqcascade[$extra]'"
}
check "serve without the web extra: one line" one_line web "$LC" serve --port 0
check "liqcascade.testing without hypothesis: one line" one_line testing "$VPY" -c "import liqcascade.testing"
check "import liqcascade and the API without extras" "$VPY" -c \
  "import liqcascade, liqcascade.book, liqcascade.engine, liqcascade.sweep, liqcascade.policy"

step "install the [all] extra"
"$UV" pip install -q --python "$VPY" -c "$TMP/constraints.txt" "$WHEEL[all]" playwright \
  || { echo "FAILED: pip install [all]"; exit 1; }
check "liqcascade demo (ingest, replay, HTML report)" "$LC" demo --db "$TMP/xdg/demo.duckdb"
check "serve: every page 200, every default example runs" \
  "$VPY" "$ROOT/.ci/smoke_web.py" --db "$TMP/xdg/demo.duckdb" --data-dir "$TMP/xdg/web"

echo
if [ "${#FAILED[@]}" -gt 0 ]; then
  echo "wheel smoke test: ${#FAILED[@]} check(s) failed:"; printf '  - %s\n' "${FAILED[@]}"
  exit 1
fi
echo "wheel smoke test: all checks passed"
