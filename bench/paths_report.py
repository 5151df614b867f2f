#!/usr/bin/python3
"""The reporting half of bench/paths.sh: it reads what the shell script measured and writes the results.

    paths_report.py iperf3 FILE
        Reads one iperf3 (or tcpip-perf) client's JSON (-J) document and prints "MBITS BYTES": the
        receiver's goodput (end.sum_received) in Mbit/s and the bytes it got. Exits 1 with a
        one-line reason if the file is not a finished test.

    paths_report.py report RAW OUT_DIR SIM_JSON|- [KEY=VALUE ...]
        RAW holds one transfer a line, "loss_pct delay_ms variant run mbits" separated by tabs.
        Variants: a (kernel -> kernel, the reference), b (our stack -> kernel), c (kernel -> our
        stack), b_cubic / b_reno / b_nosack (b with tcpip-perf's -C cubic, -C reno, --no-sack).
        SIM_JSON is bench/paths_sim's output (or "-" for none). Writes OUT_DIR/results.json (every
        run, medians, ratios, the simulation, the KEY=VALUE information), OUT_DIR/results.csv (one
        row per cell), OUT_DIR/simulation.csv and OUT_DIR/results.png, then prints the tables.

The ratios are medians over medians of the same cell in the same run: b/a and c/a say how our
stack does against the kernel on the same path. The issue's targets are printed as checks (b/a
at least 0.9 in every cell; SACK on beating SACK off at 1 % and 5 % loss), not enforced.
Matplotlib (Debian's python3-matplotlib) draws the chart with the Agg backend: no display.
"""
import csv
import json
import statistics
import sys

VARIANTS = [
    ("a", "kernel -> kernel (reference)"),
    ("b", "our stack -> kernel"),
    ("c", "kernel -> our stack"),
    ("b_cubic", "our stack -> kernel, -C cubic"),
    ("b_reno", "our stack -> kernel, -C reno"),
    ("b_nosack", "our stack -> kernel, --no-sack"),
]
LABELS = dict(VARIANTS)
SENDER_TARGET = 0.9  # the issue's: our stack as sender at least 0.9x the kernel in every cell


def fail(message):
    print(f"paths_report: {message}", file=sys.stderr)
    sys.exit(1)


def iperf3(path):
    try:
        with open(path) as f:
            result = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"{path}: no iperf3 JSON ({e})")
    if "error" in result:
        fail(f"{path}: the client reported: {result['error']}")
    try:
        received = result["end"]["sum_received"]
        mbits = received["bits_per_second"] / 1e6
        nbytes = received["bytes"]
    except (KeyError, TypeError) as e:
        fail(f"{path}: JSON without {e}")
    print(f"{mbits:.6f} {nbytes}")


def load_raw(path):
    """{(loss, delay): {variant: [mbits per run, in run order]}}"""
    cells = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                loss, delay, variant, run, mbits = line.rstrip("\n").split("\t")
                key = (float(loss), float(delay))
                cells.setdefault(key, {}).setdefault(variant, []).append((int(run), float(mbits)))
            except ValueError:
                fail(f"{path}:{n}: not 'loss delay variant run mbits': {line!r}")
    return {k: {v: [m for _, m in sorted(runs)] for v, runs in vs.items()} for k, vs in cells.items()}


def summarize(cells):
    rows = []
    for (loss, delay) in sorted(cells, key=lambda k: (k[1], k[0])):
        runs = cells[(loss, delay)]
        medians = {v: statistics.median(r) for v, r in runs.items() if r}
        ref = medians.get("a")
        ratios = {v: (m / ref if ref else None) for v, m in medians.items() if v != "a"}
        rows.append({"loss_pct": loss, "delay_ms": delay, "rtt_ms": 2 * delay, "runs": runs,
                     "median_mbits": medians, "ratio_to_kernel": ratios})
    return rows


def checks(rows):
    """The issue's targets, as (description, passed or None when not measured)."""
    out = []
    ratios = [r["ratio_to_kernel"].get("b") for r in rows]
    if ratios and all(x is not None for x in ratios):
        worst = min(ratios)
        out.append((f"our stack as sender >= {SENDER_TARGET}x the kernel in every cell (worst {worst:.2f})",
                    worst >= SENDER_TARGET))
    for loss in (1.0, 5.0):
        cell = [r for r in rows if r["loss_pct"] == loss]
        if not cell:
            continue
        if not all("b_nosack" in r["median_mbits"] for r in cell):
            out.append((f"SACK on beats SACK off at {loss:g} % loss", None))
            continue
        ok = all(r["median_mbits"]["b"] > r["median_mbits"]["b_nosack"] for r in cell)
        out.append((f"SACK on beats SACK off at {loss:g} % loss (every delay)", ok))
    return out


def load_sim(path):
    if path == "-":
        return None
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        fail(f"{path}: no simulation JSON ({e})")


def fmt(x):
    if x is None:
        return "-"
    return f"{x:.3g}" if abs(x) < 100 else f"{x:.0f}"


def print_tables(rows, info, sim, found_checks):
    variants = [v for v, _ in VARIANTS if any(v in r["median_mbits"] for r in rows)]
    print(f"\nGoodput in Mbit/s, medians of {info.get('runs', '?')} run(s) of {info.get('seconds', '?')} s "
          f"(at least 100 round trips) through tcpip-relay; ratio = ours / kernel->kernel (a)")
    print("  a = kernel->kernel, b = stack->kernel, c = kernel->stack" +
          "".join(f", {v} = {LABELS[v].split(', ')[1]}" for v in variants if v.startswith("b_")))
    header = f"{'loss %':>6} {'delay ms':>8} " + " ".join(f"{v:>9}" for v in variants) + \
        "".join(f" {v + '/a':>9}" for v in variants if v != "a")
    print(header)
    print("-" * len(header))
    for r in rows:
        line = f"{r['loss_pct']:>6g} {r['delay_ms']:>8g} " + " ".join(f"{fmt(r['median_mbits'].get(v)):>9}" for v in variants)
        line += "".join(f" {fmt(r['ratio_to_kernel'].get(v)):>9}" for v in variants if v != "a")
        print(line)
    if info.get("skipped"):
        print(f"skipped: {info['skipped']}")
    for text, ok in found_checks:
        print(f"check: {text}: {'not measured' if ok is None else 'PASS' if ok else 'FAIL'}")
    if sim:
        print(f"\nSimulation (two of our stacks, virtual time): {sim['rate_mbit']:g} Mbit/s link, "
              f"{sim['delay_ms']:g} ms one way (RTT {sim['rtt_ms']:g} ms), MSS {sim['mss']}, "
              f"{sim['seconds']:g} s of virtual time per cell")
        print(f"{'loss %':>6} {'goodput Mbit/s':>15} {'Mathis Mbit/s':>14} {'ratio':>6} {'retransmits':>11} {'wall s':>7}")
        for c in sim["cells"]:
            print(f"{c['loss_pct']:>6g} {fmt(c['goodput_mbit']):>15} {fmt(c['mathis_mbit']):>14} "
                  f"{fmt(c['ratio_to_mathis']):>6} {c['retransmits']:>11} {c['wall_seconds']:>7.2f}")
        print("(Mathis bound: MSS / RTT x 1.22 / sqrt(p), p the loss per frame each way; none at 0 % loss)")


def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["loss_pct", "delay_ms", "rtt_ms", "variant", "label", "median_mbits", "ratio_to_kernel", "runs_mbits"])
        for r in rows:
            for v, label in VARIANTS:
                if v not in r["median_mbits"]:
                    continue
                ratio = r["ratio_to_kernel"].get(v)
                w.writerow([f"{r['loss_pct']:g}", f"{r['delay_ms']:g}", f"{r['rtt_ms']:g}", v, label,
                            f"{r['median_mbits'][v]:.3f}", "" if ratio is None else f"{ratio:.4f}",
                            " ".join(f"{x:.3f}" for x in r["runs"][v])])


def write_sim_csv(path, sim):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["loss_pct", "rate_mbit", "delay_ms", "rtt_ms", "goodput_mbit", "mathis_mbit", "ratio_to_mathis",
                    "retransmits", "timeouts", "virtual_seconds", "wall_seconds", "seed"])
        for c in sim["cells"]:
            w.writerow([f"{c['loss_pct']:g}", sim["rate_mbit"], sim["delay_ms"], sim["rtt_ms"],
                        f"{c['goodput_mbit']:.4f}", "" if c["mathis_mbit"] is None else f"{c['mathis_mbit']:.4f}",
                        "" if c["ratio_to_mathis"] is None else f"{c['ratio_to_mathis']:.4f}",
                        c["retransmits"], c["timeouts"], sim["seconds"], f"{c['wall_seconds']:.3f}", c["seed"]])


def draw_chart(path, rows, info, sim):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from matplotlib.ticker import FuncFormatter, LogLocator

    def plain_numbers(ax):
        # 0.5, 2, 300 rather than 5x10^-1: the log axis' labels as plain figures.
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))

    delays = sorted({r["delay_ms"] for r in rows})
    variants = [v for v, _ in VARIANTS if any(v in r["median_mbits"] for r in rows)]
    colors = {"a": "#7f7f7f", "b": "#1f77b4", "c": "#ff7f0e", "b_cubic": "#2ca02c", "b_reno": "#9467bd",
              "b_nosack": "#d62728"}
    panels = len(delays) + (1 if sim else 0)
    fig, axes = plt.subplots(1, panels, figsize=(4.6 * panels, 4.8), squeeze=False)
    fig.suptitle(f"TCP goodput through tcpip-relay, medians of {info.get('runs', '?')} run(s); "
                 f"{info.get('date', '')} {info.get('commit', '')}", fontsize=11)
    width = 0.8 / max(1, len(variants))
    for ax, delay in zip(axes[0], delays):
        cell_rows = [r for r in rows if r["delay_ms"] == delay]
        for i, v in enumerate(variants):
            xs, ys = [], []
            for g, r in enumerate(cell_rows):
                if v in r["median_mbits"]:
                    xs.append(g + (i - (len(variants) - 1) / 2) * width)
                    ys.append(max(r["median_mbits"][v], 1e-3))
            ax.bar(xs, ys, width * 0.95, color=colors.get(v, "#000000"), label=LABELS[v])
        top = 1e-3
        for g, r in enumerate(cell_rows):
            ratio = r["ratio_to_kernel"].get("b")
            cell_top = max([1e-3] + list(r["median_mbits"].values()))
            top = max(top, cell_top)
            if ratio is not None:
                ax.text(g, cell_top * 1.2, f"b/a {ratio:.2f}", ha="center", fontsize=8)
        ax.set_yscale("log")
        ax.set_ylim(top=top * 3)
        plain_numbers(ax)
        ax.set_xticks(range(len(cell_rows)), [f"{r['loss_pct']:g} %" for r in cell_rows])
        ax.set_xlabel("loss (each way)")
        ax.set_ylabel("Mbit/s (log)")
        ax.set_title(f"{delay:g} ms one way (RTT {2 * delay:g} ms)", fontsize=10)
    if sim:
        ax = axes[0][-1]
        cells = sim["cells"]
        ax.bar([i - 0.2 for i in range(len(cells))], [max(c["goodput_mbit"], 1e-3) for c in cells], 0.38,
               color="#17becf", label="simulation: our stack -> our stack")
        mathis = [(i + 0.2, c["mathis_mbit"]) for i, c in enumerate(cells) if c["mathis_mbit"] is not None]
        ax.bar([x for x, _ in mathis], [m for _, m in mathis], 0.38, color="#bcbd22", label="Mathis bound")
        ax.set_yscale("log")
        plain_numbers(ax)
        ax.set_xticks(range(len(cells)), [f"{c['loss_pct']:g} %" for c in cells])
        ax.set_xlabel("loss (each way)")
        ax.set_ylabel("Mbit/s (log)")
        ax.set_title(f"simulation: {sim['rate_mbit']:g} Mbit/s, {sim['delay_ms']:g} ms one way", fontsize=10)
    entries = {}
    for ax in axes[0]:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    fig.legend(entries.values(), entries.keys(), loc="lower center", ncol=min(4, len(entries)), fontsize=8,
               frameon=False)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report(raw_path, out_dir, sim_path, pairs):
    info = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        info[key] = int(value) if value.isdigit() else value
    rows = summarize(load_raw(raw_path))
    if not rows:
        fail(f"{raw_path}: no measurement")
    sim = load_sim(sim_path)
    found_checks = checks(rows)
    with open(f"{out_dir}/results.json", "w") as f:
        json.dump({"info": info, "variants": LABELS, "cells": rows, "simulation": sim,
                   "checks": [{"check": t, "passed": ok} for t, ok in found_checks]}, f, indent=2)
        f.write("\n")
    write_csv(f"{out_dir}/results.csv", rows)
    if sim:
        write_sim_csv(f"{out_dir}/simulation.csv", sim)
    draw_chart(f"{out_dir}/results.png", rows, info, sim)
    print_tables(rows, info, sim, found_checks)
    missing = [f"loss {r['loss_pct']:g} % delay {r['delay_ms']:g} ms: {v}" for r in rows for v in ("a", "b", "c")
               if v not in r["median_mbits"]]
    if missing:
        fail(f"no measurement for: {'; '.join(missing)}")


def main(argv):
    if len(argv) == 3 and argv[1] == "iperf3":
        iperf3(argv[2])
    elif len(argv) >= 5 and argv[1] == "report":
        report(argv[2], argv[3], argv[4], argv[5:])
    else:
        print("paths_report: usage: paths_report.py iperf3 FILE | paths_report.py report RAW OUT_DIR SIM_JSON|- "
              "[KEY=VALUE ...]", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv)
