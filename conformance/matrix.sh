#!/usr/bin/env bash
# The compatibility matrix: runs surql's whole conformance suite (every test binary of
# `surql-conformance`: both drivers x both transports) against each SurrealDB version given,
# and writes the support table.
#
# It runs OUTSIDE CI: each server version not yet cached is built from crates.io first
# (`surql-server build --version X`, ~25 minutes per version on 2 cores). CI only checks that
# this script parses, prints its usage and turns a recorded log into the right table
# (`--table-from`).
set -euo pipefail

usage() {
    cat <<'EOF'
usage: conformance/matrix.sh [options] VERSION...
       conformance/matrix.sh --table-from LOG VERSION

Runs the conformance suite against each server VERSION (e.g. 3.3.5 4.0.0-beta.1), building
and caching the server first when needed (in ${SURQL_CACHE:-~/.cache/surql}/surreal-VERSION),
then writes a Markdown support table.

options:
  --out FILE         write the table to FILE (default: target/matrix/support-table.md)
  --readme           also replace the table between the support-table markers of README.md
  --reuse            reuse target/matrix/VERSION.log of an earlier finished run (no rerun)
  --timeout SECONDS  bound each version's whole run (default 5400); a hung run is killed
  --table-from LOG VERSION [row]
                     print the table section (or summary row) for VERSION from a recorded
                     run log, run nothing
  -h, --help         this text

Each version's log is kept in target/matrix/VERSION.log. Scenarios a server version cannot
run are reported by the suite as "version-gated skip" lines and listed with their reason.
EOF
}

cd "$(dirname "$0")/.."

# Summarises one run log: "passed failed ignored" counts, then failures and skips, as
# Markdown for one version.
table_for() {
    local log=$1 version=$2 mode=${3:-section}
    awk -v version="$version" -v mode="$mode" '
        # Table cells: a "|" is escaped (split/join: portable across awks), long text cut.
        function cell(s,   n, parts, i, out) {
            if (length(s) > 300) s = substr(s, 1, 300) "..."
            n = split(s, parts, "|"); out = parts[1]
            for (i = 2; i <= n; i++) out = out "\\|" parts[i]
            return out
        }
        /^ *Running .*\(/ {
            bin = ($2 == "unittests") ? "unit" : $2
            sub(/^tests\//, "", bin); sub(/\.rs$/, "", bin)
        }
        /^test .* \.\.\. (ok|FAILED|ignored)/ {
            name = bin "::" $2; res = $NF
            # Unit tests and the fake-server suite do not talk to the server under test.
            if (bin == "unit" || bin == "hostile_ws") {
                offline_total++
                if (res == "ok") offline_passed++
                else if (res == "FAILED") { failed_offline++; failures[name] = "(no reason recorded)"; order[++nf] = name }
                next
            }
            if (res == "ok") passed++
            else if (res == "FAILED") { failed++; failures[name] = "(no reason recorded)"; order[++nf] = name }
            else ignored++
        }
        /^---- .* stdout ----$/ { current = bin "::" $2; next }
        /panicked at/ { want_reason = current; next }
        want_reason != "" {
            if (want_reason in failures && failures[want_reason] == "(no reason recorded)") {
                failures[want_reason] = cell($0)
            }
            want_reason = ""
        }
        /surql-conformance: version-gated skip: / {
            r = $0; sub(/.*version-gated skip: /, "", r)
            if (!(current in skips)) { skips[current] = cell(r); sorder[++ns] = current }
        }
        /^ *Running .*\(/ { next }
        /^matrix\.sh: / { notes[++nn] = $0 }
        END {
            total = passed + failed
            if (mode == "row") {
                status = (total > 0 && failed == 0 && nf == 0) ? "all pass" : "see below"
                printf "| %s | %d / %d | %d | %d | %s |\n", version, passed, total, nf, ns, status
                exit
            }
            printf "### SurrealDB %s\n\n", version
            printf "%d of %d real-server instances passed", passed, total
            if (ns > 0) printf " (%d of them version-gated skips, listed below)", ns
            if (ignored > 0) printf "; %d ignored", ignored
            printf "; server-independent tests (unit, fake servers): %d of %d passed.\n\n", offline_passed, offline_total
            if (total == 0) printf "No test ran: see the log (a build failure or a timeout).\n\n"
            for (i = 1; i <= nn; i++) printf "%s.\n\n", notes[i]
            if (nf > 0) {
                printf "| failing instance | reason |\n|---|---|\n"
                for (i = 1; i <= nf; i++) printf "| `%s` | %s |\n", order[i], failures[order[i]]
                printf "\n"
            }
            if (ns > 0) {
                printf "| version-gated skip | reason |\n|---|---|\n"
                for (i = 1; i <= ns; i++) printf "| `%s` | %s |\n", sorder[i], skips[sorder[i]]
                printf "\n"
            }
        }
    ' "$log"
}

out=target/matrix/support-table.md
readme=false
reuse=false
timeout_s=5400
versions=()
while [ $# -gt 0 ]; do
    case $1 in
        -h|--help) usage; exit 0 ;;
        --out) out=${2:?--out needs a file}; shift 2 ;;
        --readme) readme=true; shift ;;
        --reuse) reuse=true; shift ;;
        --timeout) timeout_s=${2:?--timeout needs seconds}; shift 2 ;;
        --table-from)
            [ $# -eq 3 ] || [ $# -eq 4 ] || { usage >&2; exit 2; }
            table_for "$2" "$3" "${4:-section}"; exit 0 ;;
        -*) echo "matrix.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
        *) versions+=("$1"); shift ;;
    esac
done
[ ${#versions[@]} -gt 0 ] || { usage >&2; exit 2; }

mkdir -p target/matrix "$(dirname "$out")"
export CARGO_INCREMENTAL=0
# Build the harness and the test binaries once; the server version is chosen at run time.
nice -n 15 cargo build --quiet -p surql-conformance --bin surql-server
nice -n 15 cargo test --quiet -p surql-conformance --tests --no-run

sections=target/matrix/sections.md
: >"$sections"
rows=()
for v in "${versions[@]}"; do
    log=target/matrix/$v.log
    echo "== SurrealDB $v ==" >&2
    if $reuse && [ -f "$log" ] && grep -q "^test result:" "$log"; then
        echo "reusing $log" >&2
        table_for "$log" "$v" | tee -a "$sections" >&2
        rows+=("$(table_for "$log" "$v" row)")
        continue
    fi
    if ! bin=$(nice -n 15 target/debug/surql-server build --version "$v"); then
        echo "matrix.sh: the $v server could not be built" | tee "$log" >&2
        table_for "$log" "$v" >>"$sections"
        rows+=("$(table_for "$log" "$v" row)")
        continue
    fi
    echo "server: $bin; log: $log" >&2
    # Bounded: a server that will not stop cannot hang the matrix (timeout escalates to KILL).
    SURREAL_BIN=$bin timeout -k 60 "$timeout_s" nice -n 15 \
        cargo test -p surql-conformance --tests --no-fail-fast -- --show-output \
        >"$log" 2>&1 || echo "matrix.sh: the $v run ended with status $?" >>"$log"
    table_for "$log" "$v" | tee -a "$sections" >&2
    rows+=("$(table_for "$log" "$v" row)")
done
{
    echo "<!-- generated by conformance/matrix.sh $(date -u +%Y-%m-%d) from target/matrix/*.log -->"
    echo
    echo "| server | real-server instances passed | failing instances | version-gated skips | |"
    echo "|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
    echo
    cat "$sections"
} >"$out"

if $readme; then
    start='<!-- support-table:start -->'
    end='<!-- support-table:end -->'
    grep -qF "$start" README.md && grep -qF "$end" README.md ||
        { echo "matrix.sh: README.md has no $start ... $end block" >&2; exit 1; }
    awk -v start="$start" -v end="$end" -v table="$out" '
        $0 == start { print; while ((getline line < table) > 0) print line; skip = 1; next }
        $0 == end { skip = 0 }
        !skip { print }
    ' README.md >README.md.tmp && mv README.md.tmp README.md
    echo "README.md updated from $out" >&2
fi
echo "table: $out" >&2
