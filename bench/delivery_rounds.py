"""Medians of bench/run.sh's delivery rounds, as "name value" lines for its table.

Each round is a wrk run with the reference body, a wrk run sending the SDK's own request,
then `c_track deliver` (memory mode) and `c_track spool_deliver`, one after the other on one
server. A share is a client's events/s over the wrk of its own round: the machine's speed
moves between rounds, the ratio within a round much less. Usage: delivery_rounds.py FILE
"""
import statistics
import sys

REFERENCE, SDK = "round_devserver-track", "round_devserver-track-sdk"
NEEDED = (REFERENCE, SDK, "c_deliver_events_per_s", "spool_deliver_events_per_s")

rounds = []
for line in open(sys.argv[1]):
    parts = line.split()
    if parts and parts[0] == REFERENCE:
        rounds.append({})
    if len(parts) >= 2 and rounds:
        try:
            rounds[-1][parts[0]] = float(parts[1])
        except ValueError:
            pass
complete = [r for r in rounds if all(r.get(key, 0) > 0 for key in NEEDED)]


def median(value):
    return statistics.median(value(r) for r in complete) if complete else float("nan")


print("delivery_rounds", len(complete))
print("wrk_rps", median(lambda r: r[REFERENCE]))
print("wrk_sdk_rps", median(lambda r: r[SDK]))
for key in ("c_deliver_events_per_s", "c_cpu_per_event", "spool_deliver_events_per_s", "spool_cpu_per_event"):
    print(key, median(lambda r: r.get(key, float("nan"))))
for mode in ("c", "spool"):
    print(f"{mode}_deliver_share", median(lambda r: r[f"{mode}_deliver_events_per_s"] / r[REFERENCE]))
    print(f"{mode}_deliver_share_sdk", median(lambda r: r[f"{mode}_deliver_events_per_s"] / r[SDK]))
