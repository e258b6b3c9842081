"""The benchmark's report: every figure of every run of `scripts/bench`, as median [min - max]
over the runs, with its baseline, ratio, target and how it was measured (bench/README.md defines
each). Reads the runs' figures.jsonl files; prints the table."""

import argparse
import json
import statistics

parser = argparse.ArgumentParser()
parser.add_argument("--seconds", type=float, default=0.0, help="how long the whole bench took")
parser.add_argument("runs", nargs="+", help="each run's figures.jsonl")
args = parser.parse_args()

runs = []
for path in args.runs:
    with open(path) as lines:
        runs.append({record["phase"]: record for record in map(json.loads, filter(str.strip, lines))})


def spread(values, form):
    """median, with [min - max] when there is more than one run."""
    values = [v for v in values if v is not None]
    if not values:
        return "?"
    median = form(statistics.median(values))
    if len(values) == 1:
        return median
    return f"{median} [{form(min(values))} - {form(max(values))}]"


def count(value):
    return f"{value:,.0f}"


def one(value):
    return f"{value:,.1f}"


def two(value):
    return f"{value:.2f}"


def ratio(value):
    return f"{value:.2f}x"


def per_second(events, seconds):
    return events / seconds if seconds else None


def of(phase, *path):
    """The value at `path` of `phase` in every run (None where a run lacks it)."""
    values = []
    for run in runs:
        value = run.get(phase)
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        values.append(value)
    return values


def each(phase, compute):
    """`compute(record)` for every run that has `phase`."""
    return [compute(run[phase]) if phase in run else None for run in runs]


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


lines = []
failed = []


def figure(name, value, target=None, meets=None, how="", also=""):
    verdict = "" if meets is None else ("meets" if meets else "BELOW")
    if meets is False:
        failed.append(name)
    lines.append(f"{name:<38} {value:<58} {target or '':<10} {verdict}")
    if how:
        lines.append(f"    how:  {how}")
    if also:
        lines.append(f"    also: {also}")


def counts_text(phase, key, unit):
    counted = lambda field: of(phase, *key, "counts", field)
    text = [
        f"{spread(counted('statements_per_unit'), one)} statements/{unit}",
        f"{spread(counted('wal_bytes_per_event'), count)} WAL bytes/event",
    ]
    server, postgres = counted("server_cpu_s_per_1k"), counted("postgres_cpu_s_per_1k")
    if any(v is not None for v in server):
        text.append(f"CPU s per 1,000 {unit}s: server {spread(server, two)}, PostgreSQL {spread(postgres, two)}")
    return "; ".join(text)


pgbench = of("pgbench", "rows_per_s")
if median(pgbench) is not None:
    baseline = f"pgbench {spread(pgbench, count)} rows/s (32 clients, one row per transaction)"
    rate = of("throughput", "result", "rate")
    ratios = [r / p if r and p else None for r, p in zip(rate, pgbench)]
    figure("command throughput", f"{spread(rate, count)} commands/s; {spread(ratios, ratio)}", ">= 2.0x",
           median(ratios) is not None and median(ratios) >= 2.0,
           f"32 HTTP clients POST CreateWorkspace back to back for {spread(of('throughput', 'result', 'seconds'), count)} s "
           "to the write API alone, every setting "
           f"at its default; against {baseline} into a scratch table shaped like the log, same server, same run",
           f"errors {spread(of('throughput', 'result', 'errors'), count)}; p50 {spread(of('throughput', 'result', 'p50_ms'), one)} ms, "
           f"p99 {spread(of('throughput', 'result', 'p99_ms'), one)} ms; " + counts_text("throughput", ["result"], "command"))

    p99 = of("latency", "result", "p99_ms")
    achieved = each("latency", lambda r: r["result"]["commands"] / r["result"]["seconds"])
    figure("command latency at 1,000/s", f"p99 {spread(p99, one)} ms", "<= 10 ms",
           median(p99) is not None and median(p99) <= 10,
           "open loop: CreateWorkspace due every 1 ms for 10 s from 64 callers, each timed from when it was due "
           "(a client that falls behind shows as latency), write API alone",
           f"p50 {spread(of('latency', 'result', 'p50_ms'), one)} ms; achieved {spread(achieved, count)}/s of 1,000 due; "
           f"errors {spread(of('latency', 'result', 'errors'), count)}")

    rss = [max(a or 0, b or 0) / 1024 for a, b in zip(of("throughput", "rss_kb"), of("runs", "rss_kb"))]
    figure("server memory, peak RSS", f"{spread(rss, count)} MB", "<= 200 MB", median(rss) <= 200,
           "VmHWM of the server process: the write API under the throughput load, and the all-roles process under the runs",
           f"commands {spread([v / 1024 if v else None for v in of('throughput', 'rss_kb')], count)} MB, "
           f"runs {spread([v / 1024 if v else None for v in of('runs', 'rss_kb')], count)} MB")

    cold = of("long_stream", "result", "cold_max_ms")
    figure("command on a 10,000-event stream", f"cold max {spread(cold, one)} ms", "<= 5 ms",
           median(cold) is not None and median(cold) <= 5,
           "ten billing accounts of 10,000 events, written by 32 callers; then a new write API process, warmed up by "
           "100 commands on a fresh account; each long account's first command starts from its snapshot (cold), "
           "50 more follow (warm)",
           f"cold p50 {spread(of('long_stream', 'result', 'cold_p50_ms'), one)} ms (10 samples); warm p99 "
           f"{spread(of('long_stream', 'result', 'warm_p99_ms'), one)} ms (500); a one-event account p99 "
           f"{spread(of('long_stream', 'result', 'short_p99_ms'), one)} ms (100)")

    both = each("catch_up", lambda r: r["events"] / max(r["readers"]["projector_s"], r["readers"]["relay_s"]))
    copy = each("catch_up", lambda r: r["events"] / min(r["copy_before_s"], r["copy_after_s"]))
    ratios = [b / c if b and c else None for b, c in zip(both, copy)]
    figure("catch-up, the commands' backlog", f"{spread(both, count)} events/s; {spread(ratios, ' {:.3f}x'.format)}",
           ">= 0.3x", median(ratios) is not None and median(ratios) >= 0.3,
           "the write API's backlog (mostly CreateWorkspace); relay and projector started cold, until both reach its "
           "head; against COPY of the same events in log order, the faster of before and after; the log frozen, "
           "analyzed and read once before either",
           f"{spread(of('catch_up', 'events'), count)} events; projector alone "
           f"{spread(each('catch_up', lambda r: r['events'] / r['readers']['projector_s']), count)} events/s, relay "
           f"{spread(each('catch_up', lambda r: r['events'] / r['readers']['relay_s']), count)} events/s; COPY before "
           f"{spread(each('catch_up', lambda r: r['events'] / r['copy_before_s']), count)}, after "
           f"{spread(each('catch_up', lambda r: r['events'] / r['copy_after_s']), count)} events/s")

    for label, key, target in (("runs, 16 in flight over 16 workspaces", "spread", 0.5),
                               ("runs, 16 in flight in one workspace", "loaded", 0.25)):
        events = of("runs", key, "events_per_second")
        ratios = [e / p if e and p else None for e, p in zip(events, pgbench)]
        statements = of("runs", key, "counts", "statements_per_unit")
        figure(label, f"{spread(of('runs', key, 'rate'), one)} runs/s; {spread(ratios, ratio)} (events)",
               f">= {target}x", median(ratios) is not None and median(ratios) >= target,
               "five-step runs of built-in echo agents, every role in one process at its defaults, closed loop for "
               f"{spread(of('runs', key, 'seconds'), count)} s; "
               f"events appended per second (every run started counts) against {baseline}",
               f"{spread(events, count)} events/s, {spread(of('runs', key, 'counts', 'events_per_unit'), one)} events/run; "
               f"StartRun answered -> RunSucceeded committed p50 {spread(of('runs', key, 'p50_ms'), count)} ms, "
               f"p99 {spread(of('runs', key, 'p99_ms'), count)} ms; failures {spread(of('runs', key, 'failures'), count)}; "
               + counts_text("runs", [key], "run") + " (target: <= 25 statements/run)")

    templated = of("runs", "templated", "rate")
    ratios = [t / s if t and s else None for t, s in zip(templated, of("runs", "spread", "rate"))]
    figure("runs passing data along", f"{spread(templated, one)} runs/s; {spread(ratios, ratio)} of plain", ">= 0.9x",
           median(ratios) is not None and median(ratios) >= 0.9,
           "as 'runs, 16 in flight over 16 workspaces', each step's input a template over the run's input and its "
           "dependencies' outputs (whole values and text); against the plain runs of the same run",
           f"{spread(of('runs', 'templated', 'counts', 'statements_per_unit'), one)} statements/run "
           f"(plain {spread(of('runs', 'spread', 'counts', 'statements_per_unit'), one)}); "
           f"p50 {spread(of('runs', 'templated', 'p50_ms'), count)} ms, p99 {spread(of('runs', 'templated', 'p99_ms'), count)} ms; "
           f"failures {spread(of('runs', 'templated', 'failures'), count)}; " + counts_text("runs", ["templated"], "run"))

    p50, p99 = of("runs", "alone", "p50_ms"), of("runs", "alone", "p99_ms")
    figure("one run at a time", f"p50 {spread(p50, one)} ms, p99 {spread(p99, one)} ms", "<= 30/60 ms",
           median(p50) is not None and median(p50) <= 30 and median(p99) <= 60,
           "one five-step run after another for 10 s on the idle all-roles process; StartRun's answer to "
           "RunSucceeded committed (a follower of the log woken by the append notification sees it)",
           f"{spread(of('runs', 'alone', 'rate'), one)} runs/s; failures {spread(of('runs', 'alone', 'failures'), count)}; "
           + counts_text("runs", ["alone"], "run")
           + f" (idle, the process runs {spread(of('runs', 'alone', 'idle_statements_per_second'), count)} statements/s of its own)")

    flooded = of("runs", "flooded", "p99_ms")
    ratios = [f / a if f and a else None for f, a in zip(flooded, of("runs", "alone", "p99_ms"))]
    figure("one run at a time beside a flood", f"p99 {spread(flooded, one)} ms; {spread(ratios, ratio)} of alone",
           "<= 1.5x", median(ratios) is not None and median(ratios) <= 1.5 and not any(of("runs", "flooded", "failures")),
           "as 'one run at a time', while another creator's eight workspaces hold 16 runs each whose webhook never "
           "answers (two-minute step timeouts); against the p99 of one run at a time without the flood, same run",
           f"p50 {spread(of('runs', 'flooded', 'p50_ms'), one)} ms; failures {spread(of('runs', 'flooded', 'failures'), count)}; "
           f"the flood's calls held by the sagas {spread(of('runs', 'flooded', 'flood', 'calls_held'), count)} "
           f"of {spread(of('runs', 'flooded', 'flood', 'runs'), count)} runs")

    p99 = of("freshness", "result", "p99_ms")
    missing = of("freshness", "result", "missing")
    meets = median(p99) is not None and median(p99) <= 50 and not any(missing)
    figure("freshness at 1,000/s", f"p99 {spread(p99, one)} ms", "<= 50 ms", meets,
           "a probe renames its workspace every 20 ms and times its answer to the matching workspaceActivity message "
           "(graphql-transport-ws); beside it CreateWorkspace due at 1,000/s from 64 callers; every role in one "
           "process, one poisoned event parked; a probe never heard of counts as late as it waited",
           f"p50 {spread(of('freshness', 'result', 'p50_ms'), one)} ms; {spread(of('freshness', 'result', 'probes'), count)} probes, "
           f"missing {spread(missing, count)}; load achieved {spread(of('freshness', 'result', 'load_rate'), count)}/s of "
           f"{spread(of('freshness', 'result', 'load_due_rate'), count)} due, errors {spread(of('freshness', 'result', 'load_errors'), count)}; "
           f"the poisoned event parked {spread(of('freshness', 'poison', 'parked_after_s'), one)} s after it was written")

    p99 = of("sustained", "lag", "p99_s")
    figure("sustained: projection lag", f"p99 {spread(p99, two)} s", "<= 1 s", median(p99) is not None and median(p99) <= 1,
           f"the command path at full throughput (32 clients, {spread(of('sustained', 'result', 'seconds'), count)} s) "
           "with every role in one process; the age of the oldest "
           "event the projection has not applied, sampled ten times a second",
           f"max {spread(of('sustained', 'lag', 'max_s'), two)} s, {spread(of('sustained', 'lag', 'events_behind_p99'), count)} "
           f"events behind at p99; the command path at {spread(of('sustained', 'result', 'rate'), count)} commands/s, "
           f"errors {spread(of('sustained', 'result', 'errors'), count)}, p99 {spread(of('sustained', 'result', 'p99_ms'), one)} ms; "
           + counts_text("sustained", ["result"], "command"))

events = of("log", "events")
if median(events) is not None:
    copy = each("log", lambda r: r["events"] / min(r["copy_before_s"], r["copy_after_s"]))
    prepared = ("the mixed run workload (workspaces, billing, agents, workflows and revisions, five-step runs) "
                "generated over 90 days, frozen, analyzed and read once; against COPY of the whole log in "
                "log order, the faster of before and after")
    copies = (f"{spread(events, count)} events; COPY before "
              f"{spread(each('log', lambda r: r['events'] / r['copy_before_s']), count)}, after "
              f"{spread(each('log', lambda r: r['events'] / r['copy_after_s']), count)} events/s")
    for name, rate, target, how, also in (
        ("log verify", each("log", lambda r: r["events"] / r["verify_s"]), 0.5, "`oxbow log verify`, the whole log", copies),
        ("catch-up, the generated log",
         each("log", lambda r: r["events"] / max(r["catch_up"]["projector_s"], r["catch_up"]["relay_s"])), 0.3,
         "relay and projector started cold on the whole log, until both reach its head",
         f"projector alone {spread(each('log', lambda r: r['events'] / r['catch_up']['projector_s']), count)} events/s, "
         f"relay {spread(each('log', lambda r: r['events'] / r['catch_up']['relay_s']), count)} events/s"),
        ("projections rebuild (catalog)", each("log", lambda r: r["events"] / r["rebuild_s"]), 0.5,
         "`oxbow projections rebuild catalog --fresh`, replacing the live projection and Redis",
         f"Redis: {spread(of('log', 'redis', 'keys'), count)} keys in {spread(of('log', 'redis', 'steps'), count)} steps; "
         f"readers waited {spread(of('log', 'redis', 'longest_ms'), one)} ms at most"),
    ):
        ratios = [r / c if r and c else None for r, c in zip(rate, copy)]
        figure(name, f"{spread(rate, count)} events/s; {spread(ratios, ratio)}", f">= {target}x",
               median(ratios) is not None and median(ratios) >= target, f"{how}; {prepared}", also)

print()
print(f"{len(runs)} run(s) of scripts/bench on fresh services, {args.seconds / 60:.1f} minutes in all; "
      "median [min - max] over the runs")
print(f"{'figure':<38} {'oxbow (and ratio to its baseline)':<58} {'target':<10}")
for line in lines:
    print(line)
if failed:
    print(f"\nbelow target: {', '.join(failed)}")
