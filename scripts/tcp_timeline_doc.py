#!/usr/bin/python3
"""Writes docs/timeline.md (to stdout) from the TCP event log of one transfer (scripts/tcp_timeline.sh).

    tcp_timeline_doc.py FILE.csv IMAGE_DIR FAULTS

Finds the data connection (the one that sent the most), cuts its log into recoveries (a SACK
recovery that RACK began, a tail loss probe, a retransmission timeout, or without SACK a fast
retransmit; each up to the ACK that covers everything sent before the loss), draws a zoom on the
first recovery of each kind with scripts/plot_tcp.py, and explains each one with the numbers of the
log: what was lost, what the sender did, by which rule (RFC 8985 RACK-TLP, RFC 6675, RFC 9438
CUBIC, RFC 6298), and how it ended.
"""
import csv
import os
import subprocess
import sys

NO_SSTHRESH = 2 ** 31 - 1

# The log's decision events (stack/tcp/tcp_log.h) and the kinds of recovery they begin.
DECISIONS = {"rack_loss": "rack", "tlp": "tlp", "timeout": "rto", "fast_retransmit": "fast"}
TITLES = {"rack": "SACK recovery (RACK)", "tlp": "Tail loss probe", "rto": "Retransmission timeout",
          "fast": "Fast retransmit"}


def beta(ep):
    """The reduction factor the log shows (CUBIC's 0.7, NewReno's 0.5), as ssthresh over the flight."""
    return ep["ssthresh"] / ep["in_flight"] if ep["in_flight"] else 0


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
    last_ssthresh = rows[0]["ssthresh"]
    last_sack = ""        # the SACK blocks of the latest ACK that had any
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
        if r["event"] == "receive" and r.get("sack"):
            last_sack = r["sack"]
        if r["event"] in DECISIONS:
            if current and not current.get("end"):
                current["interrupted"] = r["time_s"]
            current = {
                "kind": DECISIONS[r["event"]],
                "start": r["time_s"], "hole": acked, "recover": highest, "in_flight": r["in_flight"],
                "cwnd_before": last_cwnd, "ssthresh_before": last_ssthresh, "cwnd": r["cwnd"],
                "ssthresh": r["ssthresh"], "rto": r["rto_ms"], "srtt": r["srtt_ms"], "dup_acks": dup_acks,
                "sack": last_sack, "resent": [], "probe": None,
                "earlier": [e for ep in episodes for e in ep["resent"]],
            }
            episodes.append(current)
        elif current is not None and current["kind"] == "tlp" and current["probe"] is None and \
                r["event"] in ("send", "retransmit") and r["time_s"] == current["start"]:
            # The probe itself: new data (a send) or the last segment again (a retransmit).
            current["probe"] = ("new" if r["event"] == "send" else "again", r["seq"], r["len"])
        if r["event"] == "retransmit" and current is not None and not current.get("end"):
            current["resent"].append((r["time_s"], r["seq"], r["len"], r["cause"], r["cwnd"], r["ssthresh"]))
        last_cwnd = r["cwnd"]
        last_ssthresh = r["ssthresh"]
    return episodes


def ending(ep):
    """How the recovery ended, in one sentence or two."""
    if ep.get("end") is not None:
        rtts = (ep["end"] - ep["start"]) * 1000 / ep["srtt"] if ep["srtt"] > 0 else 0
        when = "the probe went" if ep["kind"] == "tlp" else "the loss was detected"
        text = (f"The ACK at {ep['end']:.3f} s covered byte {ep['recover']}, all that was in flight when {when}: "
                f"the recovery took {(ep['end'] - ep['start']) * 1000:.0f} ms, about {rtts:.1f} round trips "
                f"(SRTT {ep['srtt']:.1f} ms).")
        if "cwnd_end" in ep:
            if ep["kind"] == "fast":
                text += (f" cwnd left recovery at {kib(ep['cwnd_end'])}, min(ssthresh, flight + MSS) (RFC 6582 "
                         f"3.2 step 3), and congestion avoidance took over.")
            elif ep["kind"] == "rack":
                text += (f" cwnd left recovery at {kib(ep['cwnd_end'])} (PRR brings it to ssthresh as the "
                         f"recovery point is acknowledged), and CUBIC's congestion avoidance took over, on a "
                         f"new curve from this instant.")
            elif ep["kind"] == "rto":
                text += f" cwnd was back to {kib(ep['cwnd_end'])}, growing in slow start up to ssthresh."
        return text
    if ep.get("interrupted") is not None:
        return f"Before it was over, at {ep['interrupted']:.3f} s, the next event below took over."
    return "The transfer ended before every byte sent before the loss was acknowledged."


def brief(n, ep):
    """A recovery like one already explained: its numbers only."""
    partial = [r for r in ep["resent"] if r[3] == "partial_ack"]
    text = f"### {n}. {TITLES[ep['kind']]} at {ep['start']:.3f} s\n\n"
    if ep["kind"] == "tlp":
        probe = ep["probe"]
        what = ("new data" if probe and probe[0] == "new" else "the last segment again") if probe else "nothing"
        text += (f"The same rule as above: no ACK for {2 * ep['srtt']:.0f} ms and more (2·SRTT), so a probe went, "
                 f"{what}; cwnd {kib(ep['cwnd'])}, untouched by the probe.")
    elif ep["kind"] == "rack" and ep["hole"] in [e[1] for e in ep["earlier"]]:
        text += (f"The same rule as above, for byte {ep['hole']}, which had been resent before: RACK found the "
                 f"retransmission lost too (it times each transmission). {kib(ep['in_flight'])} in flight, "
                 f"ssthresh {kib(ep['ssthresh'])}, cwnd {kib(ep['cwnd_before'])}, then down by PRR.")
    else:
        text += (f"The same rule as above, for the segment at byte {ep['hole']}: {kib(ep['in_flight'])} in flight, "
                 f"ssthresh {kib(ep['ssthresh'])}, cwnd {kib(ep['cwnd_before'])}, then down by PRR.")
        resent = len(ep["resent"])
        if ep["kind"] == "rack" and resent > 1:
            text += f" {resent} segments were resent in it."
    if partial:
        text += " A partial ACK showed a second hole, resent at once: " + ", ".join(
            f"byte {r[1]} at {r[0]:.3f} s" for r in partial) + "."
    return text + " " + ending(ep) + "\n"


def explain(n, ep, mss):
    t = ep["start"]
    lines = []
    resent = ep["resent"]
    first = resent[0] if resent else None
    if ep["kind"] == "rack":
        lines.append(f"### {n}. SACK recovery (RACK) at {t:.3f} s")
        lines.append("")
        blocks = ep["sack"].replace(" ", ", ") if ep["sack"] else ""
        lines.append(
            f"The receiver kept acknowledging byte {ep['hole']}, and its ACKs carried SACK blocks (RFC 2018)"
            + (f", the latest {blocks}" if blocks else "") +
            f": the bytes it did hold beyond the hole. The sender marks them on its scoreboard, and RACK (RFC 8985) "
            f"decides by time, not by counting duplicates: a segment is lost once a segment sent after it has been "
            f"delivered and more than an RTT plus a reordering window (a quarter of the smallest RTT, or none "
            f"before any reordering was seen) has passed since it was sent. The segment at {ep['hole']} passed that "
            f"test at {t:.3f} s, and the sender resent {first[2] if first else mss} bytes there at once "
            f"(RFC 6675 5 step 4.3: the first lost segment goes whatever the window says).")
        lines.append("")
        lines.append(
            f"Then the congestion controller answered the loss, once for the whole window of data (up to RFC "
            f"6675's RecoveryPoint, byte {ep['recover']}: all that was sent by then). CUBIC (RFC 9438 4.6) multiplies by "
            f"beta = 0.7, not Reno's half: {kib(ep['in_flight'])} were in flight, so ssthresh became "
            f"{kib(ep['ssthresh'])} ({beta(ep):.2f} of it). It remembers the window it had, W_max, as the "
            f"plateau its next curve will aim at (a little lower when the last W_max was not reached: fast "
            f"convergence, 4.7). cwnd does not drop to ssthresh at once: Proportional Rate Reduction (RFC 6937, "
            f"as Linux) lets it down over the recovery's round trip, sending about 0.7 segments for each one the "
            f"ACKs say was delivered (the SACK blocks say exactly what left the network), so that the flight "
            f"reaches ssthresh just as the recovery ends, without a pause and without a burst; cwnd was "
            f"{kib(ep['cwnd_before'])} before and {kib(ep['cwnd'])} at the first step. Lost segments go first, "
            f"then new data.")
        if len(resent) > 1:
            lines.append("")
            lines.append(
                f"{len(resent)} segments were resent in this recovery: "
                + ", ".join(f"byte {r[1]} at {r[0]:.3f} s" for r in resent[:6])
                + (", ..." if len(resent) > 6 else "") +
                ". Each was found lost by the same rule as the ACKs came in; a retransmission that is lost "
                "again is found the same way, since RACK times each transmission.")
    elif ep["kind"] == "tlp":
        lines.append(f"### {n}. Tail loss probe at {t:.3f} s")
        lines.append("")
        probe = ep["probe"]
        if probe and probe[0] == "new":
            sent = f"{probe[2]} bytes of new data at byte {probe[1]}"
        elif probe:
            sent = f"the last segment sent, {probe[2]} bytes at byte {probe[1]}, again"
        else:
            sent = "a probe"
        lines.append(
            f"No ACK had come for a probe timeout, PTO = 2·SRTT ({ep['srtt']:.1f} ms doubled, plus 2 ms), while "
            f"{kib(ep['in_flight'])} were in flight. When the last segments of a flight are lost, no later "
            f"segment arrives to bring back SACK blocks, so RACK has nothing to go on and only the RTO "
            f"({ep['rto']:.0f} ms) would end the wait. A tail loss probe (RFC 8985 7) asks instead: the sender "
            f"sent {sent} (new data when the windows allow it, else the last segment). Its ACK, with SACK blocks, "
            f"tells RACK what is missing, and an ordinary SACK recovery follows, instead of a timeout that would "
            f"have taken cwnd to one segment. The probe itself leaves cwnd alone ({kib(ep['cwnd'])}); only if the "
            f"resent segment turns out to be the one that repaired the loss is the window reduced, as in a "
            f"recovery (7.4).")
    elif ep["kind"] == "fast":
        lines.append(f"### {n}. Fast retransmit at {t:.3f} s")
        lines.append("")
        lines.append(
            f"The receiver kept acknowledging byte {ep['hole']}: the segment that starts there was lost, and each "
            f"segment that arrived after it produced a duplicate ACK (RFC 5681 section 4.2 asks the receiver to "
            f"send one at once). The third duplicate ACK is the signal (RFC 5681 3.2): the sender resent "
            f"{first[2] if first else mss} bytes at {ep['hole']} at once, without waiting for the timer.")
        lines.append("")
        lines.append(
            f"It cut its estimate of the path: {kib(ep['in_flight'])} were in flight, so ssthresh became "
            f"{kib(ep['ssthresh'])} ({beta(ep):.2f} of the flight: CUBIC's beta, 0.7; NewReno's is a half), and "
            f"cwnd came down from {kib(ep['cwnd_before'])} by Proportional Rate Reduction (RFC 6937): each "
            f"duplicate ACK says one segment left the network, and for each the sender may send about 0.7 "
            f"(CUBIC's beta), so new data keeps going out while the hole is being filled and the flight reaches "
            f"ssthresh as the recovery ends ({kib(ep['cwnd'])} at the first step). This replaces RFC 5681's "
            f"window inflation, which sent nothing for half a window and then a burst.")
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
            f"set ssthresh to {kib(ssthresh)}, 0.7 of what was in flight (CUBIC's beta, RFC 9438 4.8; RFC 5681's "
            f"equation 4 takes half). Everything after the hole not SACKed counts as lost: the sender goes back "
            f"to it and sends again as the window reopens, in slow start (go-back-N). F-RTO (RFC 5682) watches "
            f"the next two ACKs: if they acknowledge data sent only once, the timeout was spurious and its "
            f"reduction is undone.")
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
    for kind, title in (("rack", "the first SACK recovery"), ("tlp", "the first tail loss probe"),
                        ("rto", "the first retransmission timeout"), ("fast", "the first fast retransmit")):
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
      "doubling it every round trip, from the initial window of 10 segments (HyStart++, RFC 9406, would end it "
      "early if the RTT started to grow: queues building). The congestion controller is CUBIC (RFC 9438), Linux's "
      "default and ours: each loss cuts cwnd to 0.7 of what was in flight (let down over the recovery by PRR, RFC 6937; a timeout, to one segment at once), and between "
      "losses cwnd follows a cubic curve of the time since the last cut, not of the ACKs counted: it climbs quickly "
      "back towards W_max, the window where the last loss happened, flattens out around it, then climbs faster and "
      "faster beyond it. At 1 % loss the losses come every few round trips, before the curve reaches its plateau, "
      "so each W_max is a little lower than the last (fast convergence) and the window settles where the loss rate "
      "lets it. The bytes in flight (green) follow cwnd: the sender is limited by the congestion window, not by the "
      "receiver, whose window (dashed) stays far above. The vertical lines are retransmissions, coloured by cause. "
      "The lower graph shows SRTT settling at the 40 ms the injector adds, and the RTO at its 200 ms floor "
      "(Linux's minimum), doubled after a timeout.")
    w("")
    w(f"![time-sequence graph]({rel}/transfer-{conn}-tseq.png)")
    w("")
    w("The time-sequence graph (tcptrace's) shows the same transfer as sequence numbers: each black bar is a segment "
      "sent, from its first byte to its last; the blue step line is the highest byte the receiver acknowledged; the "
      "dashed line above it is that ACK plus the receiver's window, the right edge the sender may not pass; the "
      "SACK blocks the receiver reported are drawn above the ACK line, the data it holds beyond a hole. The slope "
      "is the throughput. Red crosses are retransmissions: each one sits at a flat stretch of the ACK line, the "
      "receiver waiting for the missing segment while its SACK blocks grow and the sender keeps going.")
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
      "length) and, for a retransmission, its cause: `rack_loss` (resent in a SACK recovery, RACK having found it "
      "lost, RFC 8985 6), `tlp` (a tail loss probe, RFC 8985 7), `rto` (the timer, and the go-back-N resends after "
      "it); without SACK (`--no-sack`), `fast_retransmit` (the third duplicate ACK) and `partial_ack` (NewReno's "
      "next hole). `receive` rows give the ACK and the window of each segment that arrived, and its SACK blocks. "
      "The `rack_loss`, `tlp`, `timeout`, `fast_retransmit` and `partial_ack` rows mark the decision itself, and "
      "`state` rows the connection's state changes in RFC 9293's names. Filter it with any tool, for instance the "
      "retransmissions:")
    w("")
    w("```")
    w(f"grep -E ',(retransmit|rack_loss|tlp|timeout|fast_retransmit|partial_ack),' docs/timeline/transfer.csv")
    w("```")
    w("")
    w("See [layers/tcp.md](layers/tcp.md) for the code behind each rule, and [running.md](running.md) for the other "
      "ways of watching the stack.")
    w("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
