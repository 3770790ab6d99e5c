"""Benchmark runner: `python -m bench.run [scenario ...]` (all when none given), `--list`.

Discovers bench/scenarios/*.py (each with NAME, DESCRIPTION and run(ctx) -> dict, see bench/lib.py),
runs them against DATABASE_URL / REDIS_URL from the environment, prints every table with its
baseline side by side, and writes bench/results/<name>.json.
"""
from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timezone
from types import ModuleType

from bench import lib


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    module: ModuleType


def discover() -> dict[str, Scenario]:
    import bench.scenarios as package

    found: dict[str, Scenario] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda item: item.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"bench.scenarios.{info.name}")
        missing = [attr for attr in ("NAME", "DESCRIPTION", "run") if not hasattr(module, attr)]
        if missing:
            raise lib.BenchError(f"bench/scenarios/{info.name}.py lacks {', '.join(missing)}")
        if module.NAME in found:
            raise lib.BenchError(f"two scenarios are named {module.NAME!r}")
        found[module.NAME] = Scenario(module.NAME, module.DESCRIPTION, module)
    return found


# --- Printing -------------------------------------------------------------------------------------
def _format_number(value, decimals: int) -> str:
    if value is None:
        return "—"
    if isinstance(value, (int, float)):
        return f"{value:,.{decimals}f}"
    return str(value)


def _ratio(value, base) -> str:
    if not isinstance(value, (int, float)) or not isinstance(base, (int, float)) or not base:
        return "—"
    return f"×{value / base:.2f}"


def render_table(table: dict) -> str:
    """Rows × columns; each column's figure followed by its ratio to the baseline row."""
    columns = table["columns"]
    baseline_name = table.get("baseline")
    base_row = next((row for row in table["rows"] if row["name"] == baseline_name), None)

    header = ["", *[part for col in columns
                    for part in (_column_title(col), "vs base" if col.get("ratio", True) else "")]]
    body = []
    for row in table["rows"]:
        label = row.get("label", row["name"]) + ("  [baseline]" if row is base_row else "")
        cells = [label]
        for col in columns:
            value = row.get(col["key"])
            cells.append(_format_number(value, col.get("decimals", 2)))
            compare = base_row is not None and col.get("ratio", True)
            cells.append(_ratio(value, base_row.get(col["key"])) if compare else "")
        body.append(cells)

    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    def fmt(line: list[str]) -> str:
        first = line[0].ljust(widths[0])
        rest = [cell.rjust(width) for cell, width in zip(line[1:], widths[1:])]
        return "  " + "  ".join([first, *rest]).rstrip()

    lines = [f"  {table['title']}", fmt(header), "  " + "-" * (sum(widths) + 2 * (len(widths) - 1))]
    lines += [fmt(cells) for cells in body]
    return "\n".join(lines)


def _column_title(column: dict) -> str:
    arrow = {"higher": " ↑", "lower": " ↓"}.get(column.get("better", ""), "")
    return column["label"] + arrow


def render_result(scenario: Scenario, result: dict) -> str:
    out = [f"\n== {scenario.name}: {scenario.description}"]
    params = result.get("parameters", {})
    if params:
        out.append("   parameters: " + ", ".join(f"{key}={value}" for key, value in params.items()))
    for table in result.get("tables", []):
        out.append("")
        out.append(render_table(table))
    notes = result.get("notes", [])
    if notes:
        out.append("")
        out += [f"  * {note}" for note in notes]
    out.append("\n  (↑ higher is better, ↓ lower is better; 'vs base' = row ÷ baseline row)")
    return "\n".join(out)


def _validate_result(name: str, result: object) -> dict:
    if not isinstance(result, dict) or not isinstance(result.get("tables"), list):
        raise lib.BenchError(f"scenario {name} must return a dict with a 'tables' list")
    for table in result["tables"]:
        for key in ("title", "columns", "rows"):
            if key not in table:
                raise lib.BenchError(f"scenario {name}: a table lacks {key!r}")
        if table.get("baseline") not in {row["name"] for row in table["rows"]}:
            raise lib.BenchError(f"scenario {name}: table {table['title']!r} has no row for its baseline")
    return result


# --- Running --------------------------------------------------------------------------------------
def run_one(scenario: Scenario, machine: dict) -> dict:
    ctx = lib.Context()
    started = time.perf_counter()
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    load_before = lib.load_average()
    result = _validate_result(scenario.name, scenario.module.run(ctx))
    record = {
        "scenario": scenario.name,
        "description": scenario.description,
        "machine": {**machine, "load_average_1_5_15": load_before},
        "started_at": started_at,
        "duration_s": round(time.perf_counter() - started, 2),
        "load_average_after": lib.load_average(),
        "knobs": {"BENCH_SECONDS": ctx.seconds, "BENCH_WARMUP_SECONDS": ctx.warmup_seconds,
                  "BENCH_WORKERS": ctx.workers, "BENCH_WRK_THREADS": ctx.wrk_threads,
                  "BENCH_WRK_CONNECTIONS": ctx.wrk_connections, "BENCH_ROUNDS": ctx.rounds},
        **result,
    }
    lib.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = lib.RESULTS_DIR / f"{scenario.name}.json"
    path.write_text(json.dumps(record, ensure_ascii=False, indent=2, default=str) + "\n")
    print(render_result(scenario, result))
    print(f"\n  written: {path.relative_to(lib.REPO_ROOT)}  ({record['duration_s']:.1f} s; "
          f"load average before {load_before}, after {record['load_average_after']})", flush=True)
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("scenarios", nargs="*", help="scenario names (default: all)")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    args = parser.parse_args(argv)

    lib.django_setup()
    lib.quiet_app_logs()
    scenarios = discover()
    if args.list:
        width = max((len(name) for name in scenarios), default=0)
        for scenario in scenarios.values():
            print(f"{scenario.name.ljust(width)}  {scenario.description}")
        return 0
    unknown = [name for name in args.scenarios if name not in scenarios]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}; known: {', '.join(scenarios)}")
    selected = [scenarios[name] for name in (args.scenarios or scenarios)]

    from django.conf import settings

    database = settings.DATABASES["default"]
    print(f"bench: database {database['NAME']} on {database.get('HOST') or 'local socket'}:"
          f"{database.get('PORT') or 5432}, cache {settings.CACHES['default']['LOCATION']}", file=sys.stderr)
    prepare_seconds = lib.database_prepare()
    print(f"bench: shared schema and tenant template current ({prepare_seconds:.1f} s)", file=sys.stderr)
    machine = lib.machine_info()
    print(f"bench: {machine['cpu_count']} CPUs ({machine['cpu_model']}), Python {machine['python']}, "
          f"Django {machine['django']}, PostgreSQL {machine['postgres']}, {machine['wrk'] or 'wrk missing'}, "
          f"load average {machine['load_average_1_5_15']}", flush=True)

    failed = []
    for scenario in selected:
        print(f"\nbench: running {scenario.name} ...", file=sys.stderr, flush=True)
        try:
            run_one(scenario, machine)
        except Exception:  # one broken scenario must not hide the others' figures
            traceback.print_exc()
            failed.append(scenario.name)
    if failed:
        print(f"\nbench: FAILED: {', '.join(failed)} (no results written for them)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
