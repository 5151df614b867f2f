#!/usr/bin/python3
"""The reporting half of bench/e2e.sh: it reads what the shell script measured and writes the results.

    e2e_report.py iperf3 FILE
        Reads one iperf3 client's JSON (-J) output and prints "GBITS BYTES CPU_SECONDS":
        the receiver's rate (end.sum_received), the bytes the receiver got, and the CPU seconds
        both iperf3 processes used (iperf3's own cpu_utilization_percent, host plus remote, times
        the test's duration). Exits 1 with a one-line reason if the file is not a finished test.

    e2e_report.py report RAW OUT_DIR [KEY=VALUE ...]
        RAW holds one measurement a line, "metric side rep value" separated by tabs (side is
        "stack", "kernel" or "lwip"). Writes OUT_DIR/results.json (every repetition, medians,
        ratios, the KEY=VALUE machine information), OUT_DIR/results.csv (one row per metric) and
        OUT_DIR/results.png (the chart), then prints the table.

Ratios are always of the medians of the same run: stack / kernel ("ratio") and stack / lwip
("stack_lwip_ratio"). The TAP floor rows (rr_floor_*: bench/tap-floor, a reflector that swaps
headers and has no stack) hold the floor's figures in the stack column (their "subject" says so) and
the kernel's of the same runs, so their "ratio" is floor / kernel; their "stack_floor_ratio" is our
stack's figure of those runs over the floor's. So for the latency and CPU rows a ratio below 1 is the good direction. Matplotlib is imported only to draw the chart (Debian's
python3-matplotlib; bench/e2e.sh installs it when missing), with the Agg backend: no display.
"""
import csv
import json
import statistics
import sys
from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Metric:
    key: str  # as written in RAW
    label: str  # for the table and the chart
    unit: str
    target: Optional[float] = None  # the stack/kernel ratio the stack should reach, if there is one
    higher_is_better: bool = True
    kernel_note: str = ""  # what the kernel column is, when it is not the plain kernel figure
    lwip: bool = True  # whether lwIP (bench/lwip-server) is measured on this row
    target_on_stack: bool = False  # the target is for the stack's own figure (a ratio itself), not stack/kernel
    optional: bool = False  # may be absent (scale_*: left out on a machine with one CPU)
    # What the first column holds: "stack" (our stack), or "floor" (bench/tap-floor, recorded as
    # side "floor"); a floor row takes its kernel figures from the row `beside` (the same runs),
    # and compares our stack's figure of that row with the floor's.
    subject: str = "stack"
    beside: Optional[str] = None


FLOOR_NOTE = "bench/tap-floor: header-swapping reflector, no stack"


# In the order of the table. The targets come from the issue that asked for this benchmark.
METRICS = [
    Metric("tput_k2s", "throughput kernel->stack", "Gbit/s", target=0.35),
    Metric("tput_s2k", "throughput stack->kernel", "Gbit/s", target=0.35),
    # Stock iperf3 under tcpip-run (the LD_PRELOAD shim) instead of tcpip-perf, against the same
    # kernel figure: beside the rows above, what the shim costs.
    Metric("run_k2s", "tcpip-run iperf3, kernel->stack", "Gbit/s", lwip=False),
    Metric("run_s2k", "tcpip-run iperf3, stack->kernel", "Gbit/s", lwip=False),
    Metric("rr_pinned", "1-byte req/resp, pinned to cpu 0", "trans/s", target=1.0),
    Metric("rr_pinned_p50", "  latency p50, pinned", "us", higher_is_better=False),
    Metric("rr_pinned_p99", "  latency p99, pinned", "us", higher_is_better=False),
    # The TAP floor beside them: nothing any stack on a TAP can beat (bench/tap_floor.cpp).
    Metric("rr_floor_pinned", "  TAP floor, pinned", "trans/s", lwip=False, subject="floor",
           beside="rr_pinned"),
    Metric("rr_floor_epoll_pinned", "  TAP floor (epoll_wait), pinned", "trans/s", lwip=False,
           subject="floor", beside="rr_pinned"),
    Metric("rr_floor_uring_pinned", "  TAP floor (io_uring), pinned", "trans/s", lwip=False,
           subject="floor", beside="rr_pinned", optional=True),
    Metric("rr", "1-byte req/resp, unpinned", "trans/s"),
    Metric("rr_p50", "  latency p50, unpinned", "us", higher_is_better=False),
    Metric("rr_p99", "  latency p99, unpinned", "us", higher_is_better=False),
    Metric("rr_floor_unpinned", "  TAP floor, unpinned", "trans/s", lwip=False, subject="floor",
           beside="rr"),
    Metric("rr_floor_epoll_unpinned", "  TAP floor (epoll_wait), unpinned", "trans/s", lwip=False,
           subject="floor", beside="rr"),
    Metric("rr_floor_uring_unpinned", "  TAP floor (io_uring), unpinned", "trans/s", lwip=False,
           subject="floor", beside="rr", optional=True),
    Metric("crr", "connect+req/resp+close", "conn/s"),
    Metric("cpu_k2s", "CPU per GB, kernel->stack", "cpu s/GB", higher_is_better=False,
           kernel_note="iperf3 processes, both ends (reference only)"),
    Metric("cpu_s2k", "CPU per GB, stack->kernel", "cpu s/GB", higher_is_better=False,
           kernel_note="iperf3 processes, both ends (reference only)"),
    Metric("run_cpu_k2s", "CPU per GB, tcpip-run iperf3, kernel->stack", "cpu s/GB", higher_is_better=False,
           lwip=False, kernel_note="iperf3 processes, both ends (reference only)"),
    Metric("run_cpu_s2k", "CPU per GB, tcpip-run iperf3, stack->kernel", "cpu s/GB", higher_is_better=False,
           lwip=False, kernel_note="iperf3 processes, both ends (reference only)"),
] + [
    # What idling and each request cost (issue 15). Idle: the share of one core an app uses with no
    # traffic; the kernel column is 0 by definition (its stack runs only when a packet or a call
    # comes). Per transaction: tcpip-echo's heap allocations and system calls per 1-byte
    # request/response, beside the kernel baseline's echo server (tcp-rr server) counted the same way.
    Metric("idle_cpu", "idle CPU, tcpip-echo", "% core", higher_is_better=False, lwip=False),
    Metric("idle_cpu_perf", "idle CPU, tcpip-perf -s", "% core", higher_is_better=False, lwip=False),
    Metric("idle_cpu_httpd", "idle CPU, tcpip-httpd", "% core", higher_is_better=False, lwip=False),
    Metric("allocs_per_txn", "heap allocations per req/resp", "allocs", higher_is_better=False, lwip=False),
    Metric("syscalls_per_txn", "system calls per req/resp", "calls", higher_is_better=False, lwip=False),
    # Issue 15's scaling (bench/e2e.sh scale_phase): two queues/shards against one, same clients.
    # The kernel column is the kernel's own figure with its server on one core / on two.
    Metric("scale_tput_1q", "iperf3 -P 4, 1 queue (cpu 0)", "Gbit/s", optional=True, lwip=False,
           kernel_note="iperf3 -s on cpu 0"),
    Metric("scale_tput_2q", "iperf3 -P 4, 2 queues (cpus 0,1)", "Gbit/s", optional=True, lwip=False,
           kernel_note="iperf3 -s on cpus 0-1"),
    Metric("scale_rr8_1q", "8-conn HTTP req/resp, 1 queue", "req/s", optional=True, lwip=False,
           kernel_note="nginx, 1 worker on cpu 0"),
    Metric("scale_rr8_2q", "8-conn HTTP req/resp, 2 queues", "req/s", optional=True, lwip=False,
           kernel_note="nginx, 2 workers on cpus 0, 1"),
    Metric("scale_2q", "scale_2q: iperf3 -P 4, 2q / 1q", "x", target=1.5, target_on_stack=True,
           optional=True, lwip=False, kernel_note="the kernel's 2 cores / 1 core"),
    Metric("scale_2q_rr8", "scale_2q: 8-conn req/resp, 2q / 1q", "x", target=1.5, target_on_stack=True,
           optional=True, lwip=False, kernel_note="the kernel's 2 cores / 1 core"),
]


def fail(message):
    print(f"e2e_report: {message}", file=sys.stderr)
    sys.exit(1)


# ---- iperf3 ----

def iperf3(path):
    try:
        with open(path) as f:
            result = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"{path}: no iperf3 JSON ({e})")
    if "error" in result:
        fail(f"{path}: iperf3 reported: {result['error']}")
    try:
        received = result["end"]["sum_received"]
        cpu = result["end"]["cpu_utilization_percent"]
        seconds = result["end"]["sum_sent"]["seconds"]
        gbits = received["bits_per_second"] / 1e9
        cpu_seconds = (cpu["host_total"] + cpu["remote_total"]) / 100.0 * seconds
        nbytes = received["bytes"]
    except (KeyError, TypeError) as e:
        fail(f"{path}: iperf3 JSON without {e}")
    if nbytes <= 0:
        fail(f"{path}: the receiver got no bytes")
    print(f"{gbits:.6f} {nbytes} {cpu_seconds:.6f}")


# ---- report ----

def load_raw(path):
    """{metric: {side: [value per repetition, in order]}}"""
    raw = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                metric, side, rep, value = line.rstrip("\n").split("\t")
                raw.setdefault(metric, {}).setdefault(side, []).append((int(rep), float(value)))
            except ValueError:
                fail(f"{path}:{n}: not 'metric side rep value': {line!r}")
    return {m: {s: [v for _, v in sorted(reps)] for s, reps in sides.items()} for m, sides in raw.items()}


def summarize(raw):
    rows = []
    for m in METRICS:
        sides = raw.get(m.key, {})
        stack = sides.get(m.subject, [])
        kernel = sides.get("kernel", [])
        lwip = sides.get("lwip", [])
        if m.beside is not None and stack:  # (a row left out shows no borrowed kernel figure either)
            kernel = raw.get(m.beside, {}).get("kernel", [])
        row = {
            "metric": m.key, "label": m.label, "unit": m.unit, "subject": m.subject,
            "higher_is_better": m.higher_is_better, "target": m.target,
            "stack": stack, "kernel": kernel, "lwip": lwip,
            "stack_median": statistics.median(stack) if stack else None,
            "kernel_median": statistics.median(kernel) if kernel else None,
            "lwip_median": statistics.median(lwip) if lwip else None,
            "kernel_note": m.kernel_note or None,
            "lwip_measured": m.lwip,
        }
        if m.subject == "floor":
            ours = raw.get(m.beside, {}).get("stack", [])
            row["beside"] = m.beside
            row["stack_floor_ratio"] = (statistics.median(ours) / row["stack_median"]
                                        if ours and row["stack_median"] else None)
        ratio = None
        if row["stack_median"] is not None and row["kernel_median"]:
            ratio = row["stack_median"] / row["kernel_median"]
        row["ratio"] = ratio
        row["stack_lwip_ratio"] = None
        if row["stack_median"] is not None and row["lwip_median"]:
            row["stack_lwip_ratio"] = row["stack_median"] / row["lwip_median"]
        row["met"] = None if m.target is None or ratio is None else ratio >= m.target
        if m.target is not None and m.target_on_stack:
            row["target_on"] = "stack"
            row["met"] = None if row["stack_median"] is None else row["stack_median"] >= m.target
        rows.append(row)
    return rows


def write_json(path, rows, info):
    with open(path, "w") as f:
        json.dump({"info": info, "metrics": rows}, f, indent=2)
        f.write("\n")


def fmt(value, digits=3):
    return "" if value is None else f"{value:.{digits}g}" if abs(value) < 1000 else f"{value:.0f}"


def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["metric", "unit", "stack_median", "kernel_median", "ratio", "target", "met",
                    "lwip_median", "stack_lwip_ratio", "subject"])
        for r in rows:
            met = "" if r["met"] is None else ("yes" if r["met"] else "no")
            w.writerow([r["metric"], r["unit"], fmt(r["stack_median"], 6), fmt(r["kernel_median"], 6),
                        fmt(r["ratio"], 4), "" if r["target"] is None else r["target"], met,
                        fmt(r["lwip_median"], 6), fmt(r["stack_lwip_ratio"], 4), r["subject"]])


def print_table(rows, info):
    reps = info.get("reps", "?")
    print(f"\nstack vs kernel and lwIP, medians of {reps} repetition(s); ratio = stack / kernel")
    header = (f"{'metric':<34} {'unit':<9} {'stack':>10} {'kernel':>10} {'ratio':>7} {'target':>7}  met "
              f"{'lwip':>10} {'stack/lwip':>10}")
    print(header)
    print("-" * len(header))
    for r in rows:
        target = "" if r["target"] is None else f">={r['target']:g}"
        met = "" if r["met"] is None else ("yes" if r["met"] else "NO")
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}"
        lwip_ratio = "" if r["stack_lwip_ratio"] is None else f"{r['stack_lwip_ratio']:.2f}"
        print(f"{r['label']:<34} {r['unit']:<9} {fmt(r['stack_median']):>10} {fmt(r['kernel_median']):>10} "
              f"{ratio:>7} {target:>7}  {met:<3} {fmt(r['lwip_median']):>10} {lwip_ratio:>10}")
    notes = sorted({r["kernel_note"] for r in rows if r["kernel_note"] and r["metric"].startswith("cpu_")})
    for note in notes:
        print(f"(CPU rows: the stack and lwip columns are the tcpip-perf and lwip-server processes; "
              f"the kernel column is {note})")
    print_floor_notes(rows)
    print_cost_notes(rows)


def print_floor_notes(rows):
    """What the TAP floor rows are, and our stack's figure over the floor's."""
    floors = [r for r in rows if r["subject"] == "floor" and r["stack_median"] is not None]
    if not floors:
        return
    print(f"(TAP floor rows: the stack column is {FLOOR_NOTE}, on a TAP of its own: the most any "
          f"user-space stack could do through a TAP; ratio = floor / kernel, the kernel's figure of the same runs)")
    for r in floors:
        if r["stack_floor_ratio"] is not None:
            print(f"({r['label'].strip()}: our stack / floor = {r['stack_floor_ratio']:.2f})")


def print_cost_notes(rows):
    """What the idle and per-transaction rows' columns are (their kernel figures are not the kernel's stack)."""
    keys = {r["metric"] for r in rows}
    if keys & {"idle_cpu", "idle_cpu_perf", "idle_cpu_httpd"}:
        print("(idle CPU: utime+stime of the app with no traffic; the kernel's is 0 by definition)")
    if keys & {"allocs_per_txn", "syscalls_per_txn"}:
        print("(per req/resp: tcpip-echo / tcp-rr server, LD_PRELOAD malloc counter and strace -c -f, "
              "(run of N2 - run of N1 transactions) / (N2 - N1))")
    for r in rows:
        if r["metric"].startswith("scale") and r["stack_median"] is not None:
            target = " (target: the stack column)" if r.get("target_on") == "stack" else ""
            print(f"({r['label'].strip()}: the kernel column is {r['kernel_note']}{target})")


def draw_chart(path, rows, info):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_key = {r["metric"]: r for r in rows}
    colors = {"stack": "#1f77b4", "kernel": "#7f7f7f", "lwip": "#2ca02c"}
    legend_labels = {"stack": "our stack (TAP)", "kernel": "Linux kernel (veth)", "lwip": "lwIP (TAP)",
                     "reference": "kernel: iperf3 processes' CPU (reference only)"}
    panels = [("tput_k2s", "kernel → stack"), ("tput_s2k", "stack → kernel"),
              ("rr_pinned", "1-byte req/resp, cpu 0"), ("rr", "1-byte req/resp, unpinned"),
              ("crr", "connection rate")]
    fig, axes = plt.subplots(2, 3, figsize=(13, 7.5))
    fig.suptitle(f"tcpip stack vs Linux kernel (veth) and lwIP (TAP), medians of {info.get('reps', '?')}; "
                 f"{info.get('date', '')} {info.get('commit', '')}", fontsize=11)

    def bars(ax, groups, title, unit):
        """groups: [(group label, row)]: three bars per group (stack, kernel, lwIP) with their medians
        written on them, the repetitions as black dots, the ratios above the group and the target as a
        red line."""
        width = 0.27
        top = 0.0
        for g, (glabel, r) in enumerate(groups):
            group_top = 0.0
            for i, side in enumerate(("stack", "kernel", "lwip")):
                median = r[f"{side}_median"]
                if median is None:
                    continue
                x = g + (i - 1) * width
                reference = side == "kernel" and r["kernel_note"]
                ax.bar(x, median, width * 0.95, color=colors[side], hatch="//" if reference else None,
                       edgecolor="white", label=legend_labels["reference" if reference else side])
                ax.plot([x] * len(r[side]), r[side], "k.", markersize=4)
                ax.text(x, median / 2, fmt(median), ha="center", va="center", fontsize=7, color="white",
                        rotation=90)
                group_top = max([group_top, median] + r[side])
            if r["target"] is not None and r["kernel_median"]:
                level = r["target"] * r["kernel_median"]
                ax.hlines(level, g - 1.5 * width, g + 1.5 * width, colors="#d62728", linestyles="--",
                          label="target (a fraction of the kernel's figure)")
                group_top = max(group_top, level)
            ratios = []
            if r["ratio"] is not None:
                ratios.append(f"stack = {r['ratio']:.2f}× kernel")
            if r["stack_lwip_ratio"] is not None:
                ratios.append(f"{r['stack_lwip_ratio']:.2f}× lwIP")
            if ratios:
                ax.text(g, group_top * 1.03, ",\n".join(ratios), ha="center", va="bottom",
                        fontsize=8, fontweight="bold")
            top = max(top, group_top)
        ax.set_xlim(-0.8, len(groups) - 0.2)
        ax.set_ylim(0, top * 1.15 if top > 0 else 1)
        ax.set_xticks(range(len(groups)), [g for g, _ in groups])
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(unit)

    floors = {r["beside"]: r for r in rows if r["metric"] in ("rr_floor_pinned", "rr_floor_unpinned")}
    for ax, (key, title) in zip(axes.flat, panels):
        r = by_key[key]
        if r["target"] is not None:
            title += f" (target: ≥ {r['target']:g}× kernel)"
        bars(ax, [("", r)], title, r["unit"])
        floor = floors.get(key)
        if floor is not None and floor["stack_median"] is not None:  # the TAP floor as a dotted line
            level = floor["stack_median"]
            ax.axhline(level, color="black", linestyle=":", label="TAP floor (bench/tap-floor, no stack)")
            ax.text(0.8, level, f"floor {fmt(level)}", ha="right", va="bottom", fontsize=7)
            ax.set_ylim(0, max(ax.get_ylim()[1], level * 1.1))
    bars(axes.flat[5], [("kernel → stack", by_key["cpu_k2s"]), ("stack → kernel", by_key["cpu_s2k"])],
         "CPU seconds per GB moved", "cpu s/GB")
    # One legend for all panels: the labels repeat from panel to panel, so keep the first of each.
    entries = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    fig.legend(entries.values(), entries.keys(), loc="lower center", ncol=(len(entries) + 1) // 2, fontsize=9,
               frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report(raw_path, out_dir, pairs):
    info = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        info[key] = int(value) if value.isdigit() else value
    rows = summarize(load_raw(raw_path))
    optional = {m.key for m in METRICS if m.optional}
    missing = [r["metric"] for r in rows if (r["stack_median"] is None or r["kernel_median"] is None
                                             or (r["lwip_measured"] and r["lwip_median"] is None))
               and not (r["metric"] in optional and r["stack_median"] is None and r["kernel_median"] is None)]
    write_json(f"{out_dir}/results.json", rows, info)
    write_csv(f"{out_dir}/results.csv", rows)
    draw_chart(f"{out_dir}/results.png", rows, info)
    print_table(rows, info)
    if missing:
        fail(f"no measurement for: {', '.join(missing)}")


def main(argv):
    if len(argv) == 3 and argv[1] == "iperf3":
        iperf3(argv[2])
    elif len(argv) >= 4 and argv[1] == "report":
        report(argv[2], argv[3], argv[4:])
    else:
        print("e2e_report: usage: e2e_report.py iperf3 FILE | e2e_report.py report RAW OUT_DIR [KEY=VALUE ...]",
              file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv)
