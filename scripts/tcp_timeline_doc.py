#!/usr/bin/python3
"""Writes docs/timeline.md (to stdout) from the TCP event log of one transfer (scripts/tcp_timeline.sh).

    tcp_timeline_doc.py FILE.csv IMAGE_DIR FAULTS

Finds the data connection (the one that sent the most), cuts its log into recoveries (a fast
retransmit or a retransmission timeout, up to the ACK that covers everything sent before the loss),
draws a zoom on the first recovery of each kind with scripts/plot_tcp.py, and explains each one
with the numbers of the log: what was lost, what the sender did, by which rule, and how it ended.
"""
import csv
import os
import subprocess
import sys

NO_SSTHRESH = 2 ** 31 - 1


def load(path):
    conns = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            for key in ("time_s", "srtt_ms", "rto_ms"):
                row[key] = float(row[key])
            for key in ("cwnd", "ssthresh", "in_flight", "snd_wnd", "len"):
                row[key] = int(row[key] or 0)
            for key in ("seq", "ack"):
                row[key] = int(row[key]) if row[key] else None
            conns.setdefault(row["conn"], []).append(row)
    return conns


def kib(n):
    return f"{n / 1024:.1f} KiB"


def recoveries(rows):
    """The recoveries, in order: dicts with what happened and the numbers."""
    episodes = []
    current = None
    highest = 0           # highest sequence number sent + 1
    acked = 0             # highest ACK received
    dup_acks = 0          # duplicate ACKs in a row
    last_cwnd = rows[0]["cwnd"]
    for r in rows:
        if r["event"] in ("send", "retransmit") and r["seq"] is not None:
            highest = max(highest, r["seq"] + r["len"])
        if r["event"] == "receive" and r["ack"] is not None and "." in r["flags"]:
            if r["ack"] > acked:
                acked = r["ack"]
                dup_acks = 0
                if current and not current.get("end") and r["ack"] >= current["recover"]:
                    current["end"] = r["time_s"]
                    current["end_ack"] = r["ack"]
                    current["end_row"] = r
            elif r["len"] == 0:
                dup_acks += 1
        if current and current.get("end_row") is not None and r is not current["end_row"] and "cwnd_end" not in current:
            current["cwnd_end"] = r["cwnd"]
            current["ssthresh_end"] = r["ssthresh"]
        if r["event"] in ("fast_retransmit", "timeout"):
            if current and not current.get("end"):
                current["interrupted"] = r["time_s"]
            current = {
                "kind": "fast" if r["event"] == "fast_retransmit" else "rto",
                "start": r["time_s"], "hole": acked, "recover": highest, "in_flight": r["in_flight"],
                "cwnd_before": last_cwnd, "cwnd": r["cwnd"], "ssthresh": r["ssthresh"], "rto": r["rto_ms"],
                "srtt": r["srtt_ms"], "dup_acks": dup_acks, "resent": [],
                "earlier": [e for ep in episodes for e in ep["resent"]],
            }
            episodes.append(current)
        if r["event"] == "retransmit" and current is not None and not current.get("end"):
            current["resent"].append((r["time_s"], r["seq"], r["len"], r["cause"], r["cwnd"], r["ssthresh"]))
        last_cwnd = r["cwnd"]
    return episodes


def ending(ep):
    """How the recovery ended, in one sentence or two."""
    if ep.get("end") is not None:
        rtts = (ep["end"] - ep["start"]) * 1000 / ep["srtt"] if ep["srtt"] > 0 else 0
        text = (f"The ACK at {ep['end']:.3f} s covered byte {ep['recover']}, all that was in flight when the loss was "
                f"detected: the recovery took {(ep['end'] - ep['start']) * 1000:.0f} ms, about {rtts:.1f} round trips "
                f"(SRTT {ep['srtt']:.1f} ms).")
        if "cwnd_end" in ep:
            if ep["kind"] == "fast":
                text += (f" cwnd left recovery at {kib(ep['cwnd_end'])}, min(ssthresh, flight + MSS) (RFC 6582 "
                         f"3.2 step 3), and congestion avoidance took over: one more MSS per round trip.")
            else:
                text += f" cwnd was back to {kib(ep['cwnd_end'])}, growing in slow start up to ssthresh."
        return text
    if ep.get("interrupted") is not None:
        return f"Before it was over, at {ep['interrupted']:.3f} s, the next event below took over."
    return "The transfer ended before every byte sent before the loss was acknowledged."


def brief(n, ep):
    """A recovery like one already explained: its numbers only."""
    partial = [r for r in ep["resent"] if r[3] == "partial_ack"]
    kind = "Fast retransmit" if ep["kind"] == "fast" else "Retransmission timeout"
    text = (f"### {n}. {kind} at {ep['start']:.3f} s\n\n"
            f"The same rule as above, for the segment at byte {ep['hole']}: {kib(ep['in_flight'])} in flight, "
            f"ssthresh {kib(ep['ssthresh'])}, cwnd {kib(ep['cwnd_before'])} to {kib(ep['cwnd'])}.")
    if partial:
        text += " A partial ACK showed a second hole, resent at once: " + ", ".join(
            f"byte {r[1]} at {r[0]:.3f} s" for r in partial) + "."
    return text + " " + ending(ep) + "\n"


def explain(n, ep, mss):
    t = ep["start"]
    lines = []
    resent = ep["resent"]
    first = resent[0] if resent else None
    if ep["kind"] == "fast":
        lines.append(f"### {n}. Fast retransmit at {t:.3f} s")
        lines.append("")
        lines.append(
            f"The receiver kept acknowledging byte {ep['hole']}: the segment that starts there was lost, and each "
            f"segment that arrived after it produced a duplicate ACK (RFC 5681 section 4.2 asks the receiver to "
            f"send one at once). The third duplicate ACK is the signal (RFC 5681 3.2): the sender resent "
            f"{first[2] if first else mss} bytes at {ep['hole']} at once, without waiting for the timer.")
        lines.append("")
        lines.append(
            f"It halved its estimate of the path: {kib(ep['in_flight'])} were in flight, so ssthresh became "
            f"{kib(ep['ssthresh'])} (max(flight/2, 2·MSS)), and cwnd went from {kib(ep['cwnd_before'])} to "
            f"ssthresh + 3·MSS = {kib(ep['cwnd'])}, the three segments the duplicate ACKs said had left the "
            f"network. Each further duplicate ACK inflated cwnd by one MSS (window inflation), so new data could "
            f"keep going out while the hole was being filled.")
        partial = [r for r in resent if r[3] == "partial_ack"]
        if partial:
            lines.append("")
            seqs = ", ".join(f"{r[1]} at {r[0]:.3f} s" for r in partial)
            lines.append(
                f"The ACK of the resent segment did not cover everything that had been sent before the loss (byte "
                f"{ep['recover']}): a partial ACK, the sign that another segment of the same window was lost too. "
                f"NewReno (RFC 6582 3.2 step 3) resends the next hole at once instead of waiting for three more "
                f"duplicate ACKs or the timer: {seqs}.")
    else:
        lines.append(f"### {n}. Retransmission timeout at {t:.3f} s")
        lines.append("")
        again = first is not None and any(first[1] == e[1] for e in ep["earlier"])
        if again:
            why = ("the segment at byte %d had already been resent once, and that retransmission was lost too: "
                   "duplicate ACKs cannot repair a lost retransmission, only the timer can" % first[1])
        elif ep["dup_acks"] == 0:
            why = ("no duplicate ACK came back, so fast retransmit could not start: nothing that was sent after the "
                   "lost segment reached the receiver (it was lost too, or there was none: the end of a burst, or a "
                   "small window)")
        elif ep["dup_acks"] < 3:
            why = (f"only {ep['dup_acks']} duplicate ACK{'s' if ep['dup_acks'] != 1 else ''} came back, fewer than the "
                   f"three that start a fast retransmit: too few segments were sent after the lost one (the end of "
                   f"the data, or a small window)")
        else:
            why = "the duplicate ACKs did not bring the missing data"
        # The timeout's own row holds the variables as the timer found them; the resent segment's
        # row, those the timer left.
        cwnd, ssthresh = (first[4], first[5]) if first else (ep["cwnd"], ep["ssthresh"])
        lines.append(
            f"Nothing acknowledged byte {ep['hole']} for a whole RTO: {why}. When the timer fired (RFC 6298 5.4-5.6) "
            f"the sender resent the segment at byte {first[1] if first else ep['hole']}, doubled the timeout to "
            f"{ep['rto']:.0f} ms (back-off), collapsed cwnd from {kib(ep['cwnd'])} to one segment ({kib(cwnd)}) and "
            f"set ssthresh to {kib(ssthresh)}, half of what was in flight (RFC 5681 3.1, equation 4). Everything after the hole counts as lost: the sender "
            f"goes back to it and sends again as the window reopens, in slow start (go-back-N).")
        if len(resent) > 1:
            lines.append("")
            lines.append(
                f"{len(resent)} segments were sent again in this recovery, the first ones after the timeout "
                f"one by one as each ACK doubled the window.")
    lines.append("")
    lines.append(ending(ep))
    lines.append("")
    return "\n".join(lines)


def zoom(csv_path, image_dir, name, start, end):
    prefix = os.path.join(image_dir, name)
    out = subprocess.run([os.path.join(os.path.dirname(__file__), "plot_tcp.py"), csv_path, "--out", prefix,
                          "--from", f"{start:.3f}", "--to", f"{end:.3f}"], check=True, capture_output=True, text=True)
    return [os.path.basename(p) for p in out.stdout.split()]


def main():
    csv_path, image_dir, faults = sys.argv[1], sys.argv[2], sys.argv[3]
    conns = load(csv_path)
    conn, rows = max(conns.items(), key=lambda c: sum(1 for r in c[1] if r["event"] == "send"))
    sent = [r for r in rows if r["event"] == "send" and r["len"] > 0]
    again = [r for r in rows if r["event"] == "retransmit"]
    mss = max(r["len"] for r in sent) if sent else 1460
    data = sum(r["len"] for r in sent)
    duration = rows[-1]["time_s"] - rows[0]["time_s"]
    episodes = recoveries(rows)
    causes = {}
    for r in again:
        causes[r["cause"]] = causes.get(r["cause"], 0) + 1
    srtts = [r["srtt_ms"] for r in rows if r["srtt_ms"] > 0]
    rel = os.path.relpath(image_dir, "docs")

    zooms = []
    for kind, title in (("fast", "the first fast retransmit"), ("rto", "the first retransmission timeout")):
        ep = next((e for e in episodes if e["kind"] == kind), None)
        if ep is None:
            continue
        end = ep.get("end") or ep.get("interrupted") or rows[-1]["time_s"]
        # From when the lost segment was first sent (the loss itself) to a little after the end.
        lost = next((r["time_s"] for r in rows if r["event"] == "send" and r["seq"] == ep["hole"]), ep["start"])
        span = max(end - lost, 0.05)
        images = zoom(csv_path, image_dir, f"zoom-{kind}", max(0.0, lost - 0.2 * span), end + 0.5 * span)
        zooms.append((title, ep, images))

    out = []
    w = out.append
    w("# Watching TCP recover: one transfer through the fault injector")
    w("")
    w("<!-- Generated by scripts/tcp_timeline.sh (with scripts/tcp_timeline_doc.py); run it again to remake this page"
      " and its pictures. -->")
    w("")
    w("This chapter follows one bulk transfer from our stack to the Linux kernel through a lossy, slow path, and "
      "explains every recovery the sender went through, with the numbers its own event log recorded. It is made by "
      "a script, so you can make it again, or change the faults and see what changes:")
    w("")
    w("```")
    w("sudo scripts/tcp_timeline.sh            # writes docs/timeline.md and docs/timeline/")
    w("```")
    w("")
    w("## The experiment")
    w("")
    w(f"`tcpip-perf -c` sends 2 MB to the kernel's `iperf3 -s` in a network namespace. Between our stack and the "
      f"TAP sits the fault injector (`--faults {faults}`): each frame, either way, is dropped with probability 1 %, "
      f"and every frame waits 20 ms, so a round trip takes at least 40 ms. `--tcp-log transfer.csv` asks the stack "
      f"to log every event of the connections (stack/tcp/tcp_log.h): each segment sent or received, each "
      f"retransmission with its cause, each state change, and beside each one the congestion window (cwnd), "
      f"ssthresh, the bytes in flight, both windows, SRTT and RTO. `scripts/plot_tcp.py` draws the log; the same "
      f"log is live at `/connections` in tcpip-httpd. The log is in [timeline/transfer.csv](timeline/transfer.csv); "
      f"add `--pcap transfer.pcap` to the script's tcpip-perf line to see the same segments in Wireshark. "
      f"tcpip-perf's own report is in [timeline/perf.txt](timeline/perf.txt).")
    w("")
    w(f"Connection {conn} carried the data: {len(sent)} segments of at most {mss} bytes ({data / 1e6:.2f} MB) in "
      f"{duration:.2f} s, {len(again)} of them sent again "
      f"({', '.join(f'{n} by {c.replace(chr(95), chr(32))}' for c, n in sorted(causes.items())) or 'none'}); "
      f"SRTT {min(srtts):.1f} to {max(srtts):.1f} ms." if srtts else "")
    w("")
    w("## The whole transfer")
    w("")
    w(f"![cwnd, bytes in flight and the peer's window against time]({rel}/transfer-{conn}-window.png)")
    w("")
    w("The top graph is the sender's state. cwnd (blue) climbs steeply at first: slow start adds one MSS per ACK, "
      "doubling it every round trip, from the initial window of 10 segments. Each loss cuts it: to about half at a "
      "fast retransmit (the saw-tooth of congestion avoidance, RFC 5681), to one segment at a timeout. Between losses "
      "it grows by one MSS per round trip, the slow slope. The bytes in flight (green) follow cwnd: the sender is "
      "limited by the congestion window, not by the receiver, whose window (dashed) stays far above. The vertical "
      "lines are retransmissions, coloured by cause. The lower graph shows SRTT settling at the 40 ms the injector "
      "adds, and the RTO at its 200 ms floor (Linux's minimum), doubled after a timeout.")
    w("")
    w(f"![time-sequence graph]({rel}/transfer-{conn}-tseq.png)")
    w("")
    w("The time-sequence graph (tcptrace's) shows the same transfer as sequence numbers: each black bar is a segment "
      "sent, from its first byte to its last; the blue step line is the highest byte the receiver acknowledged; the "
      "dashed line above it is that ACK plus the receiver's window, the right edge the sender may not pass. The "
      "slope is the throughput. Red crosses are retransmissions: each one sits at a flat stretch of the ACK line, "
      "the receiver waiting for the missing segment while the sender keeps going.")
    w("")
    for title, ep, images in zooms:
        w(f"## Zoom: {title} ({ep['start']:.3f} s)")
        w("")
        for image in images:
            w(f"![{title}]({rel}/{image})")
            w("")
    w("## Each recovery")
    w("")
    if not episodes:
        w("No segment was lost on this run.")
        w("")
    explained = set()
    for n, ep in enumerate(episodes, 1):
        # Each kind in full once (and again when NewReno's partial ACKs show up the first time).
        shape = (ep["kind"], any(r[3] == "partial_ack" for r in ep["resent"]))
        w(brief(n, ep) if shape in explained or (ep["kind"], True) in explained else explain(n, ep, mss))
        explained.add(shape)
    w("## Reading the log yourself")
    w("")
    w("Each row of the CSV is one event. `send` and `retransmit` rows give the segment (relative sequence number and "
      "length) and, for a retransmission, its cause: `fast_retransmit` (the third duplicate ACK), `partial_ack` "
      "(NewReno's next hole), `rto` (the timer, and the go-back-N resends after it). `receive` rows give the ACK "
      "and the window of each segment that arrived, and its SACK blocks if the peer sent any. The `timeout`, "
      "`fast_retransmit` and `partial_ack` rows mark the decision itself, and `state` rows the connection's state "
      "changes in RFC 9293's names. Filter it with any tool, for instance the retransmissions:")
    w("")
    w("```")
    w(f"grep -E ',(retransmit|timeout|fast_retransmit|partial_ack),' docs/timeline/transfer.csv")
    w("```")
    w("")
    w("See [layers/tcp.md](layers/tcp.md) for the code behind each rule, and [running.md](running.md) for the other "
      "ways of watching the stack.")
    w("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
