#!/usr/bin/python3
"""The load and the bookkeeping of scripts/soak.sh, one subcommand each. Every load runs for a given
number of seconds and stops by itself; each touches a heartbeat file whenever it makes progress (so
the monitor can tell a stuck client from a slow one) and exits 1 with a one-line reason on a byte
that differs or a wait longer than its timeout.

    soak.py rr HOST PORT SECONDS BEAT           1-byte request/response on one TCP connection (echo);
                                                a new connection every 1,000 round trips
    soak.py short HOST PORT SECONDS BEAT PATH SHA256 [PATH SHA256 ...]
                                                short HTTP connections: GET each file in turn on a new
                                                connection, compare its sha256
    soak.py iperf HOST SECONDS BEAT [-R]        one iperf3 -c run against tcpip-perf -s for the whole time
    soak.py echo HOST PORT SECONDS BEAT         TCP echo of random 1..64 KiB blocks, compared
    soak.py udp HOST PORT SECONDS BEAT          UDP echo of random datagrams (1..1472 bytes and some
                                                that need fragments); lost ones are allowed, a wrong
                                                one is not, and one must come back every 30 s
    soak.py malformed IFACE DST_MAC SECONDS RATE  a bounded stream of broken frames written to IFACE
                                                (AF_PACKET), RATE frames per second
    soak.py monitor CSV SECONDS STATS_URL NAME=PID... BEAT...
                                                every second: RSS of each app, the stack's counters
                                                from tcpip-httpd's /stats; fails when an app is gone or
                                                a heartbeat is older than 30 s
    soak.py report CSV PNG                      the chart, and the RSS check (the mean over the last tenth
                                                of the run vs the mean over a tenth around its fifth)
"""
import csv
import hashlib
import http.client
import os
import random
import re
import socket
import struct
import subprocess
import sys
import time

STUCK_SECONDS = 30  # a client that makes no progress for this long is stuck


FAIL_FILE = None  # set by Beat: where a load writes why it failed, for the monitor to see at once


def fail(message):
    print(f"soak: {message}", file=sys.stderr, flush=True)
    if FAIL_FILE:
        with open(FAIL_FILE, "w") as f:
            f.write(message + "\n")
    sys.exit(1)


class Beat:
    """A heartbeat file: its mtime is the last time the load made progress. Touched at most 4 times a second."""

    def __init__(self, path):
        global FAIL_FILE
        FAIL_FILE = path + ".fail"
        self.path = path
        self.last = 0.0
        self.count = 0
        self.touch(force=True)

    def touch(self, force=False, n=1):
        self.count += n
        now = time.monotonic()
        if force or now - self.last >= 0.25:
            self.last = now
            with open(self.path, "w") as f:
                f.write(f"{self.count}\n")


def recv_exact(sock, n):
    chunks = []
    while n > 0:
        chunk = sock.recv(min(n, 65536))
        if not chunk:
            raise ConnectionError("the peer closed the connection")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def connect(host, port):
    deadline = time.monotonic() + STUCK_SECONDS
    while True:
        try:
            return socket.create_connection((host, port), timeout=STUCK_SECONDS)
        except OSError as e:
            if time.monotonic() > deadline:
                raise ConnectionError(f"cannot connect to {host}:{port} for {STUCK_SECONDS} s: {e}")
            time.sleep(0.5)


def rr(host, port, seconds, beat_path):
    beat = Beat(beat_path)
    end = time.monotonic() + seconds
    rng = random.Random(1)
    trips = 0
    try:
        while time.monotonic() < end:
            with connect(host, port) as s:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                for _ in range(1000):
                    if time.monotonic() >= end:
                        break
                    byte = bytes([rng.randrange(256)])
                    s.sendall(byte)
                    got = recv_exact(s, 1)
                    if got != byte:
                        fail(f"rr: round trip {trips}: sent {byte.hex()}, echoed {got.hex()}")
                    trips += 1
                    beat.touch()
    except (OSError, ConnectionError) as e:
        fail(f"rr: after {trips} round trips: {e}")
    print(f"rr: {trips} round trips")


def echo(host, port, seconds, beat_path):
    beat = Beat(beat_path)
    end = time.monotonic() + seconds
    rng = random.Random(2)
    total = blocks = 0
    try:
        while time.monotonic() < end:
            with connect(host, port) as s:
                for _ in range(200):
                    if time.monotonic() >= end:
                        break
                    block = rng.randbytes(rng.randrange(1, 65537))
                    s.sendall(block)
                    got = recv_exact(s, len(block))
                    if got != block:
                        at = next(i for i in range(len(block)) if block[i] != got[i])
                        fail(f"echo: block {blocks}: byte {at} of {len(block)} differs")
                    total += len(block)
                    blocks += 1
                    beat.touch()
    except (OSError, ConnectionError) as e:
        fail(f"echo: after {blocks} blocks: {e}")
    print(f"echo: {blocks} blocks, {total} bytes compared")


def short(host, port, seconds, beat_path, files):
    beat = Beat(beat_path)
    end = time.monotonic() + seconds
    done = 0
    while time.monotonic() < end:
        path, want = files[done % len(files)]
        deadline = time.monotonic() + STUCK_SECONDS
        while True:
            try:
                conn = http.client.HTTPConnection(host, port, timeout=STUCK_SECONDS)
                conn.request("GET", "/" + path)
                response = conn.getresponse()
                body = response.read()
                status = response.status
                conn.close()
                break
            except (OSError, http.client.HTTPException) as e:
                # A connection may be reset by the faults (a lost final ACK...): retry, within bounds.
                if time.monotonic() > deadline:
                    fail(f"short: GET /{path} (request {done}) failed for {STUCK_SECONDS} s: {e}")
                time.sleep(0.2)
        if status != 200:
            fail(f"short: GET /{path}: status {status}")
        got = hashlib.sha256(body).hexdigest()
        if got != want:
            fail(f"short: GET /{path}: {len(body)} bytes with sha256 {got}, expected {want}")
        done += 1
        beat.touch()
    print(f"short: {done} connections, every body checked")


def iperf(host, seconds, beat_path, reverse):
    """One stock iperf3 run against tcpip-perf -s for the whole duration: the kernel sends, or with
    reverse (-R) our stack sends. A report line a second; each that shows bytes moved is progress.
    The run must end cleanly (iperf3's exit status 0, both summary lines)."""
    import signal
    beat = Beat(beat_path)
    length = max(1, int(seconds) - 2)
    # A fixed window (-w: SO_RCVBUF and SO_SNDBUF on both sides), so that our buffers do not
    # auto-tune: auto-tuning may still grow a buffer late in the run, up to tcp_rmem_max (6 MiB),
    # whenever a round trip delivers more than any before (bounded, not a leak, but in a short
    # run it can come after the fifth of the run that the memory check starts from).
    args = ["iperf3", "-c", host, "-t", str(length), "-i", "1", "--forceflush", "-f", "g", "-w", "4M"]
    # No progress for STUCK_SECONDS ends the run with an error, whichever way the data flows.
    args += ["-R", "--rcv-timeout", str(STUCK_SECONDS * 1000)] if reverse else ["--snd-timeout", str(STUCK_SECONDS * 1000)]
    child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def on_term(signum, frame):
        if child.poll() is None:
            child.terminate()
        sys.exit(143)
    signal.signal(signal.SIGTERM, on_term)
    interval = re.compile(r"^\[\s*\d+\]\s+[\d.]+-[\d.]+\s+sec\s+([\d.]+) [KMGT]?Bytes\s+([\d.]+) [KMGT]?bits/sec")
    lines, summary = [], []
    for line in child.stdout:
        lines.append(line.rstrip())
        m = interval.match(line)
        if m and ("sender" in line or "receiver" in line):
            summary.append(line.strip())
        elif m and float(m.group(1)) > 0:
            beat.touch()
    status = child.wait()
    if status != 0 or len(summary) < 2:
        fail(f"iperf{' -R' if reverse else ''}: {lines[-1] if lines else 'no output'} (exit {status})")
    received = [s for s in summary if "receiver" in s][0]
    print(f"iperf{' -R' if reverse else ''}: {' '.join(received.split()[2:8])} received")


def udp(host, port, seconds, beat_path):
    beat = Beat(beat_path)
    end = time.monotonic() + seconds
    rng = random.Random(3)
    sent = answered = 0
    last_answer = time.monotonic()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect((host, port))
        s.settimeout(0.5)
        while time.monotonic() < end:
            size = rng.randrange(1, 1473) if sent % 20 else rng.randrange(1473, 8001)  # 1 in 20 fragmented
            payload = struct.pack("!Q", sent) + rng.randbytes(size)
            try:
                s.send(payload)
            except OSError:
                pass  # ICMP errors from a lost datagram show up here; the check below decides
            sent += 1
            try:
                while True:
                    got = s.recv(65536)
                    if len(got) >= 8 and struct.unpack("!Q", got[:8])[0] == sent - 1:
                        if got != payload:
                            fail(f"udp: datagram {sent - 1} of {len(payload)} bytes came back different")
                        answered += 1
                        last_answer = time.monotonic()
                        beat.touch()
                        break
                    # An answer to an earlier datagram (late, or duplicated by the faults): skip it.
            except socket.timeout:
                pass
            except OSError:
                pass
            if time.monotonic() - last_answer > STUCK_SECONDS:
                fail(f"udp: no answer for {STUCK_SECONDS} s ({answered} of {sent} answered)")
    if answered < sent // 2:
        fail(f"udp: only {answered} of {sent} datagrams answered")
    print(f"udp: {answered} of {sent} datagrams answered, every answer checked")


# ---- malformed frames ---------------------------------------------------------------------------

def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return (~total) & 0xFFFF


def ipv4(src, dst, proto, payload, ident=0, flags_frag=0, ttl=64, ihl=5, total=None, good_sum=True, version=4):
    total = 20 + len(payload) if total is None else total
    header = struct.pack("!BBHHHBBH4s4s", (version << 4) | ihl, 0, total & 0xFFFF, ident, flags_frag, ttl, proto, 0,
                         socket.inet_aton(src), socket.inet_aton(dst))
    s = checksum(header)
    if not good_sum:
        s ^= 0x5A5A
    return header[:10] + struct.pack("!H", s) + header[12:] + payload


def transport_sum(src, dst, proto, segment):
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, proto, len(segment))
    return checksum(pseudo + segment)


def malformed_frames(rng, dst_mac, src_mac, src_ip, dst_ip):
    """One broken frame of a random kind. The source address is not the kernel's own, so nothing
    here can teach the stack a wrong MAC for a real peer; ports avoid those the load uses."""
    eth = dst_mac + src_mac
    kind = rng.randrange(14)
    port = rng.randrange(20000, 40000)
    if kind == 0:  # runt: shorter than an Ethernet header
        return "runt", eth[: rng.randrange(1, 14)]
    if kind == 1:  # unknown EtherType
        return "ethertype", eth + struct.pack("!H", rng.choice([0x86DD, 0x88CC, 0x1234])) + rng.randbytes(46)
    if kind == 2:  # ARP truncated or with wrong lengths (sender address not a real peer's)
        arp = struct.pack("!HHBBH", 1, 0x0800, rng.choice([6, 5, 0]), rng.choice([4, 16]), 1) + rng.randbytes(rng.randrange(0, 20))
        return "arp", eth + b"\x08\x06" + arp
    if kind == 3:  # IPv4 truncated header
        return "ip-truncated", eth + b"\x08\x00" + ipv4(src_ip, dst_ip, 17, b"")[: rng.randrange(1, 20)]
    if kind == 4:  # IPv4 bad header checksum
        return "ip-checksum", eth + b"\x08\x00" + ipv4(src_ip, dst_ip, 17, rng.randbytes(30), good_sum=False)
    if kind == 5:  # IPv4 bad version or IHL
        return "ip-version", eth + b"\x08\x00" + ipv4(src_ip, dst_ip, 17, rng.randbytes(30), ihl=rng.choice([0, 3, 15]),
                                                       version=rng.choice([4, 6, 0]))
    if kind == 6:  # IPv4 total length larger than the frame
        return "ip-length", eth + b"\x08\x00" + ipv4(src_ip, dst_ip, 17, rng.randbytes(30), total=rng.randrange(60, 65536))
    if kind == 7:  # unknown protocol
        return "ip-protocol", eth + b"\x08\x00" + ipv4(src_ip, dst_ip, rng.choice([2, 41, 47, 132, 253]), rng.randbytes(40))
    if kind == 8:  # a lone fragment (never completed: reassembly must let it time out)
        frag = rng.randrange(0, 8000) // 8 | (0x2000 if rng.random() < 0.7 else 0)
        return "fragment", eth + b"\x08\x00" + ipv4(src_ip, dst_ip, 17, rng.randbytes(rng.randrange(8, 1400) // 8 * 8),
                                                     ident=rng.randrange(65536), flags_frag=frag)
    if kind == 9:  # UDP bad checksum
        seg = struct.pack("!HHHH", port, 7, 8 + 20, 0) + rng.randbytes(20)
        seg = seg[:6] + struct.pack("!H", transport_sum(src_ip, dst_ip, 17, seg) ^ 0x1111) + seg[8:]
        return "udp-checksum", eth + b"\x08\x00" + ipv4(src_ip, dst_ip, 17, seg)
    if kind == 10:  # UDP length field wrong
        seg = struct.pack("!HHHH", port, 7, rng.choice([0, 3, 200]), 0) + rng.randbytes(20)
        return "udp-length", eth + b"\x08\x00" + ipv4(src_ip, dst_ip, 17, seg)
    if kind == 11:  # TCP bad checksum
        seg = struct.pack("!HHIIBBHHH", port, rng.choice([7, 80, 5201]), rng.getrandbits(32), 0, 5 << 4, 0x02, 65535, 0, 0)
        seg = seg[:16] + struct.pack("!H", transport_sum(src_ip, dst_ip, 6, seg) ^ 0x2222) + seg[18:]
        return "tcp-checksum", eth + b"\x08\x00" + ipv4(src_ip, dst_ip, 6, seg)
    if kind == 12:  # TCP with a bad data offset or garbage options, valid checksum
        offset = rng.choice([0, 2, 15, 8])
        seg = struct.pack("!HHIIBBHHH", port, rng.choice([7, 80, 5201, 9]), rng.getrandbits(32), rng.getrandbits(32),
                          offset << 4, rng.randrange(256), rng.randrange(65536), 0, 0) + rng.randbytes(rng.randrange(0, 40))
        seg = seg[:16] + struct.pack("!H", transport_sum(src_ip, dst_ip, 6, seg)) + seg[18:]
        return "tcp-header", eth + b"\x08\x00" + ipv4(src_ip, dst_ip, 6, seg)
    # random garbage after a valid Ethernet header
    return "garbage", eth + rng.randbytes(rng.randrange(0, 1500))


def malformed(iface, dst_mac_text, seconds, rate):
    dst_mac = bytes.fromhex(dst_mac_text.replace(":", ""))
    src_mac = bytes.fromhex("02feedfacade")
    # The kernel side of iface is x.y.z.1, our stack x.y.z.2: use another source in the subnet.
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", "dev", iface], capture_output=True, text=True).stdout
    m = re.search(r"inet (\d+\.\d+\.\d+)\.\d+/", out)
    if not m:
        fail(f"malformed: no IPv4 address on {iface}")
    src_ip, dst_ip = m.group(1) + ".200", m.group(1) + ".2"
    rng = random.Random(4)
    kinds = {}
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
        s.bind((iface, 0))
        end = time.monotonic() + seconds
        interval = 1.0 / rate
        next_at = time.monotonic()
        while time.monotonic() < end:
            kind, frame = malformed_frames(rng, dst_mac, src_mac, src_ip, dst_ip)
            try:
                s.send(frame)
                kinds[kind] = kinds.get(kind, 0) + 1
            except OSError:
                pass  # the kernel refuses some (a runt on some drivers): fine, the next one goes
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
    print(f"malformed ({iface}): " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))


# ---- monitor and report -------------------------------------------------------------------------

def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


# Counters from /stats (section.name) that go into the CSV.
COUNTERS = ["tcp.passive_opens", "tcp.retransmitted_segments", "tcp.rx_bad_checksum", "tcp.tx_resets",
            "ipv4.rx_bad_checksum", "ipv4.reasm_ok", "ipv4.reasm_timeout", "ethernet.rx_frames",
            "faults_rx.dropped", "faults_rx.corrupted", "httpd.requests",
            "state.tcp_buffer_bytes", "state.tcp_buffer_cache_bytes"]
# The app whose /stats are sampled: its RSS is checked less the TCP buffer memory those report.
STATS_APP = "tcpip-httpd"


def fetch_stats(host_port, path="/stats"):
    """The stack's counters and its TCP connections (the lines of the connection table)."""
    conn = http.client.HTTPConnection(*host_port, timeout=5)
    conn.request("GET", path)
    text = conn.getresponse().read().decode("utf-8", "replace")
    conn.close()
    counters, section, sockets = {}, None, ""
    for line in text.splitlines():
        if m := re.match(r"^(\w+):$", line):
            section = m.group(1)
        elif m := re.match(r"^\s+(\w+): (\d+)$", line):
            counters[f"{section}.{m.group(1)}"] = int(m.group(2))
        elif m := re.match(r"^tcp_connections: (\d+)$", line):
            sockets = int(m.group(1))  # every TCP socket of the stack: listeners, connections, TIME-WAIT
    return counters, sockets


def monitor(csv_path, seconds, stats_url, rest):
    apps = {}
    beats = []
    for item in rest:
        if "=" in item:
            name, pid = item.split("=", 1)
            apps[name] = int(pid)
        else:
            beats.append(item)
    host, _, port = stats_url.partition(":")
    host_port = (host, int(port or 80))
    start = time.monotonic()
    end = start + seconds
    stats_failures = 0
    with open(csv_path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["seconds"] + [f"rss_kib_{n}" for n in apps] + ["sockets"] + COUNTERS)
        tick = start
        while True:
            now = time.monotonic()
            row = [f"{now - start:.1f}"]
            for name, pid in apps.items():
                rss = rss_kib(pid)
                if rss is None or not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split(") ")[1][0] == "Z":
                    fail(f"{name} (pid {pid}) exited during the run, at {now - start:.0f} s")
                row.append(rss)
            try:
                counters, sockets = fetch_stats(host_port)
                stats_failures = 0
            except (OSError, http.client.HTTPException):
                counters, sockets = {}, ""
                stats_failures += 1
                if stats_failures * 1.0 > STUCK_SECONDS:
                    fail(f"tcpip-httpd's /stats did not answer for {STUCK_SECONDS} s")
            row.append(sockets)
            row += [counters.get(c, "") for c in COUNTERS]
            out.writerow(row)
            f.flush()
            for beat in beats:
                if os.path.exists(beat + ".fail"):
                    with open(beat + ".fail") as failed:
                        fail(failed.read().strip())
                try:
                    age = time.time() - os.stat(beat).st_mtime
                except OSError:
                    continue
                if age > STUCK_SECONDS:
                    fail(f"{os.path.basename(beat).removesuffix('.beat')}: no progress for {age:.0f} s (stuck)")
            if now >= end:
                break
            tick += 1.0
            time.sleep(max(0.0, tick - time.monotonic()))


def report(csv_path, png_path):
    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    if len(rows) < 5:
        fail(f"report: only {len(rows)} samples in {csv_path}")
    t = [float(r["seconds"]) for r in rows]
    apps = [k.removeprefix("rss_kib_") for k in rows[0] if k.startswith("rss_kib_")]
    duration = t[-1]
    # RSS breathes by a connection's buffers (256 KiB, 5 % of a small app) as connections come and
    # go, so a single sample decides nothing. The value "at" a time is the mean over a tenth of the
    # run (at least 5 samples): around the fifth, and the last tenth for the end. A leak still
    # shows (it moves the mean); the coming and going of one buffer does not.
    half = max(duration / 20, 2.5)
    fifth_window = [i for i in range(len(t)) if abs(t[i] - duration / 5) <= half]
    end_window = [i for i in range(len(t)) if t[i] >= duration - 2 * half]
    fifth = fifth_window[len(fifth_window) // 2]
    failures = []
    summary = []
    for app in apps:
        rss = [int(r[f"rss_kib_{app}"]) for r in rows]
        what = "RSS"
        if app == STATS_APP and all(r.get("state.tcp_buffer_cache_bytes", "") != "" for r in rows):
            # Its TCP buffers, in use and kept for reuse (at most tcp_buffer_cache, 8 MiB), are
            # bounded and reported: RSS less them is what must not grow. A connection whose window
            # reaches a new high late in the run (a 1 MiB GET through 1 % loss) leaves a larger
            # block in the cache, a step of hundreds of KiB that is not a leak.
            rss = [x - (int(r["state.tcp_buffer_bytes"]) + int(r["state.tcp_buffer_cache_bytes"])) // 1024
                   for x, r in zip(rss, rows)]
            what = "RSS less TCP buffers"
        start = rss[0]
        at_fifth = round(sum(rss[i] for i in fifth_window) / len(fifth_window))
        end = round(sum(rss[i] for i in end_window) / len(end_window))
        growth = (end - at_fifth) / at_fifth * 100
        summary.append(f"{app} {what} start {start} KiB, around {t[fifth]:.0f} s {at_fifth} KiB, end {end} KiB ({growth:+.1f} %)")
        if end > at_fifth * 1.05:
            failures.append(f"{app}'s {what} grew {growth:.1f} % from a fifth of the run ({at_fifth} KiB) to the end ({end} KiB)")
    for line in summary:
        print(f"soak: {line}")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7), sharex=True, gridspec_kw={"height_ratios": [2, 1]})
        for app in apps:
            top.plot(t, [int(r[f"rss_kib_{app}"]) / 1024 for r in rows], label=app)
        top.axvspan(t[fifth_window[0]], t[fifth_window[-1]], color="grey", alpha=0.2, label="compared: around a fifth...")
        top.axvspan(t[end_window[0]], t[end_window[-1]], color="tab:olive", alpha=0.2, label="...and the end")
        top.set_ylabel("RSS (MiB)")
        top.set_ylim(bottom=0)
        top.legend(loc="lower right")
        top.set_title(f"soak: RSS of each app over {duration / 60:.1f} min")
        sockets = [int(r["sockets"]) if r["sockets"] else None for r in rows]
        bottom.plot(t, [s if s is not None else float("nan") for s in sockets], color="tab:purple")
        bottom.set_ylabel("TCP sockets\n(tcpip-httpd)")
        bottom.set_xlabel("seconds")
        bottom.set_ylim(bottom=0)
        fig.tight_layout()
        fig.savefig(png_path, dpi=100)
    except ImportError:
        failures.append("python3-matplotlib is missing: no chart")
    if failures:
        fail("; ".join(failures))


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    cmd, args = argv[1], argv[2:]
    if cmd == "rr":
        rr(args[0], int(args[1]), float(args[2]), args[3])
    elif cmd == "iperf":
        iperf(args[0], float(args[1]), args[2], len(args) > 3 and args[3] == "-R")
    elif cmd == "echo":
        echo(args[0], int(args[1]), float(args[2]), args[3])
    elif cmd == "short":
        files = list(zip(args[4::2], args[5::2]))
        short(args[0], int(args[1]), float(args[2]), args[3], files)
    elif cmd == "udp":
        udp(args[0], int(args[1]), float(args[2]), args[3])
    elif cmd == "malformed":
        malformed(args[0], args[1], float(args[2]), float(args[3]))
    elif cmd == "monitor":
        monitor(args[0], float(args[1]), args[2], args[3:])
    elif cmd == "report":
        report(args[0], args[1])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv)
