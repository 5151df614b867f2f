#!/usr/bin/python3
"""Draws the TCP event log that `tcpip-perf --tcp-log FILE.csv` writes (stack/tcp/tcp_log.h).

    scripts/plot_tcp.py FILE.csv [--out PREFIX] [--conn ID] [--from SECONDS] [--to SECONDS]

For each connection in the file (or only --conn ID), two PNGs:

    PREFIX-ID-window.png   the congestion window, the bytes in flight, the peer's receive window
                           (what limits our sending) and ssthresh against time, with each
                           retransmission marked by its cause; SRTT and RTO below
    PREFIX-ID-tseq.png     the time-sequence graph, as tcptrace draws it: each segment we sent as a
                           vertical bar from seq to seq+len (retransmissions in red), the ACKs we
                           received as a step line, the peer's window as the line above it
                           (ack + window) and SACK blocks as short green bars

PREFIX defaults to FILE without its .csv. --from and --to draw only that stretch of time (a zoom on
one recovery, say). Prints the name of each file it writes. Exits 1 with a
one-line message when the file is not such a CSV.
"""
import argparse
import csv
import os
import sys

EXPECTED = ["conn", "time_s", "event", "state", "seq", "len", "ack", "win", "flags", "cause", "sack", "cwnd",
            "ssthresh", "in_flight", "snd_wnd", "rcv_wnd", "srtt_ms", "rttvar_ms", "rto_ms"]
NO_SSTHRESH = 2 ** 31 - 1  # the initial "infinite" ssthresh: not drawn
CAUSE_COLOURS = {"rto": "tab:red", "fast_retransmit": "tab:orange", "partial_ack": "tab:purple",
                 "rack_loss": "tab:pink", "tlp": "tab:olive", "other": "tab:gray"}


def fail(message):
    print(f"plot_tcp.py: {message}", file=sys.stderr)
    sys.exit(1)


def read(path):
    """Rows grouped by connection id, each row a dict with numbers parsed."""
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames != EXPECTED:
                fail(f"{path}: not a tcp log (header {reader.fieldnames})")
            conns = {}
            for row in reader:
                for key in ("time_s", "srtt_ms", "rttvar_ms", "rto_ms"):
                    row[key] = float(row[key])
                for key in ("cwnd", "ssthresh", "in_flight", "snd_wnd", "rcv_wnd", "len"):
                    row[key] = int(row[key]) if row[key] != "" else 0
                for key in ("seq", "ack", "win"):
                    row[key] = int(row[key]) if row[key] != "" else None
                row["sack_blocks"] = [tuple(int(x) for x in b.split("-")) for b in row["sack"].split()]
                conns.setdefault(row["conn"], []).append(row)
            return conns
    except OSError as e:
        fail(f"{path}: {e.strerror}")
    except ValueError as e:
        fail(f"{path}: bad value: {e}")


def plot_window(rows, title, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [r["time_s"] for r in rows]
    fig, (ax, rtt) = plt.subplots(2, 1, figsize=(11, 7), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ax.step(t, [r["cwnd"] / 1024 for r in rows], where="post", label="cwnd", color="tab:blue")
    ax.step(t, [r["in_flight"] / 1024 for r in rows], where="post", label="bytes in flight", color="tab:green",
            linewidth=0.8)
    ax.step(t, [r["snd_wnd"] / 1024 for r in rows], where="post", label="peer's receive window (snd_wnd)",
            color="tab:cyan", linestyle="--")
    ss = [(r["time_s"], r["ssthresh"] / 1024) for r in rows if r["ssthresh"] < NO_SSTHRESH]
    if ss:
        ax.step([x for x, _ in ss], [y for _, y in ss], where="post", label="ssthresh", color="tab:brown",
                linestyle=":")
    marked = set()
    for r in rows:
        if r["event"] == "retransmit":
            cause = r["cause"] or "other"
            ax.axvline(r["time_s"], color=CAUSE_COLOURS.get(cause, "black"), alpha=0.35, linewidth=0.8,
                       label=None if cause in marked else f"retransmission ({cause})")
            marked.add(cause)
    # The peer's window is often far above cwnd (a receiver with a large buffer): the scale follows
    # cwnd and the bytes in flight, so that their saw-tooth shows; the window line leaves the top.
    top = max(max(r["cwnd"], r["in_flight"]) for r in rows) / 1024
    if top > 0 and max(r["snd_wnd"] for r in rows) / 1024 > 1.5 * top:
        ax.set_ylim(0, 1.5 * top)
    ax.set_ylabel("KiB")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize="small")
    ax.grid(alpha=0.3)
    rtt.plot(t, [r["srtt_ms"] for r in rows], label="SRTT", color="tab:blue")
    rtt.plot(t, [r["rto_ms"] for r in rows], label="RTO", color="tab:red", linewidth=0.8)
    rtt.set_ylabel("ms")
    rtt.set_xlabel("time (s)")
    rtt.legend(loc="upper left", fontsize="small")
    rtt.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def plot_tseq(rows, title, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    fig, ax = plt.subplots(figsize=(11, 7))
    sent, again, sacks = [], [], []
    ack_t, ack_v, win_v = [], [], []
    for r in rows:
        if r["event"] in ("send", "retransmit") and r["len"] > 0:
            bar = [(r["time_s"], r["seq"]), (r["time_s"], r["seq"] + r["len"])]
            (again if r["event"] == "retransmit" else sent).append(bar)
        elif r["event"] == "receive" and r["ack"] is not None and "." in r["flags"]:
            ack_t.append(r["time_s"])
            ack_v.append(r["ack"])
            win_v.append(r["ack"] + (r["win"] or 0))
            for left, right in r["sack_blocks"]:
                sacks.append([(r["time_s"], left), (r["time_s"], right)])
    ax.add_collection(LineCollection(sent, colors="black", linewidths=1.2, label="segment sent"))
    if again:
        ax.add_collection(LineCollection(again, colors="tab:red", linewidths=2.0, label="segment retransmitted"))
        # Marked too, so that they show when the whole transfer is on the page.
        ax.scatter([b[0][0] for b in again], [b[0][1] for b in again], marker="x", color="tab:red", s=40, zorder=3)
    if sacks:
        ax.add_collection(LineCollection(sacks, colors="tab:green", linewidths=3.0, alpha=0.7, label="SACK block"))
    if ack_t:
        ax.step(ack_t, ack_v, where="post", color="tab:blue", linewidth=0.9, label="ACK received")
        ax.step(ack_t, win_v, where="post", color="tab:olive", linewidth=0.8, linestyle="--",
                label="ACK + window (the peer's right edge)")
    ax.autoscale()
    # The peer's right edge may run far above the data (a large receive window), flattening the
    # segments into a line: then the scale follows the segments and ACKs, and the edge leaves the top.
    values = [y for bar in sent + again for _, y in bar] + ack_v
    if values and win_v:
        low, high = min(values), max(values)
        if max(win_v) - high > 0.5 * max(high - low, 1):
            margin = 0.05 * max(high - low, 1)
            ax.set_ylim(low - margin, high + margin)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("relative sequence number (bytes)")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize="small")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description="Plot a tcpip TCP event log (CSV).")
    parser.add_argument("csv")
    parser.add_argument("--out", help="prefix of the PNG files (default: the CSV's name without .csv)")
    parser.add_argument("--conn", help="only this connection id")
    parser.add_argument("--from", dest="start", type=float, help="draw from this time (s)")
    parser.add_argument("--to", dest="end", type=float, help="draw up to this time (s)")
    args = parser.parse_args()
    conns = read(args.csv)
    if args.start is not None or args.end is not None:
        low = args.start if args.start is not None else float("-inf")
        high = args.end if args.end is not None else float("inf")
        conns = {c: [r for r in rows if low <= r["time_s"] <= high] for c, rows in conns.items()}
        conns = {c: rows for c, rows in conns.items() if rows}
    if args.conn is not None:
        if args.conn not in conns:
            fail(f"{args.csv}: no connection {args.conn} (there are: {', '.join(conns) or 'none'})")
        conns = {args.conn: conns[args.conn]}
    if not conns:
        fail(f"{args.csv}: no rows")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        fail("matplotlib is missing (Debian: python3-matplotlib; scripts/packages.sh installs it)")
    prefix = args.out or (args.csv[:-4] if args.csv.endswith(".csv") else args.csv)
    for conn, rows in conns.items():
        sent = sum(1 for r in rows if r["event"] in ("send", "retransmit"))
        retrans = sum(1 for r in rows if r["event"] == "retransmit")
        title = f"{os.path.basename(args.csv)}, connection {conn}: {sent} segments sent, {retrans} retransmitted"
        window = f"{prefix}-{conn}-window.png"
        tseq = f"{prefix}-{conn}-tseq.png"
        plot_window(rows, title, window)
        plot_tseq(rows, title, tseq)
        print(window)
        print(tseq)


if __name__ == "__main__":
    main()
