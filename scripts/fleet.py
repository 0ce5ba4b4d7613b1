#!/usr/bin/env python3
"""The console's cost per member: CPU, memory and key latency over a
simulated fleet, at several sizes (the growth curve of README "Performance").

For each size the release binary runs `--sim N` (roles and lag changing
every second) in a pseudo-terminal at 160x48 with a `/` filter set, as an
operator would have it. After a settling period it measures, from /proc:
CPU time over SECONDS (percent of one core), resident memory at the end and
its peak (VmHWM); then the latency of `j` (selection down): from writing
the key to the first byte of the redrawn frame, over 30 presses.

Usage: scripts/fleet.py [--sizes 1000,5000,10000,50000] [--seconds 20]
                        [--filter alpha] [-- EXTRA ARGS]
Builds nothing: run `cargo build --release` first.
"""
import argparse, fcntl, os, pty, select, signal, statistics, struct, sys, tempfile, termios, time

BIN = os.environ.get("CLUSTERDECK_BIN") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "target", "release", "clusterdeck")
HZ = os.sysconf("SC_CLK_TCK")


def spawn(args):
    state = tempfile.mkdtemp(prefix="clusterdeck-fleet-")
    pid, fd = pty.fork()
    if pid == 0:
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 48, 160, 0, 0))
        os.environ["CLUSTERDECK_STATE_DIR"] = state
        os.environ["CLUSTERDECK_NO_MOUSE"] = "1"
        os.execv(BIN, [BIN] + args)
    return pid, fd


def drain(fd, seconds):
    """Reads whatever the console writes for `seconds` (it must never block
    on a full terminal); returns the bytes read."""
    end, got = time.monotonic() + seconds, b""
    while (left := end - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            got += os.read(fd, 1 << 20)
    return got


def wait_for(fd, text, seconds):
    end, seen = time.monotonic() + seconds, b""
    while text not in seen:
        left = end - time.monotonic()
        if left <= 0:
            raise RuntimeError(f"{text!r} not on screen within {seconds} s")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            seen = (seen + os.read(fd, 1 << 20))[-(1 << 16):]


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def memory_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def key_latency(fd, presses=30):
    times = []
    for _ in range(presses):
        drain(fd, 0.15)
        os.write(fd, b"j")
        start = time.monotonic()
        ready, _, _ = select.select([fd], [], [], 5)
        if not ready:
            raise RuntimeError("no frame within 5 s of a key")
        times.append(time.monotonic() - start)
        os.read(fd, 1 << 20)
    return statistics.median(times) * 1000, max(times) * 1000


def measure(members, seconds, needle, extra):
    pid, fd = spawn(["--sim", str(members)] + extra)
    try:
        # The badge is in the first frame; the first full report can take a
        # while at 100,000 members.
        wait_for(fd, b"SIMULATED", 60)
        if needle:
            os.write(fd, b"/" + needle.encode() + b"\r")
        drain(fd, 5)
        t0, w0 = cpu_ticks(pid), time.monotonic()
        drain(fd, seconds)
        t1, w1 = cpu_ticks(pid), time.monotonic()
        rss, peak = memory_kib(pid, "VmRSS"), memory_kib(pid, "VmHWM")
        median, worst = key_latency(fd)
        cpu = 100 * (t1 - t0) / HZ / (w1 - w0)
        return cpu, rss / 1024, peak / 1024, median, worst
    finally:
        os.kill(pid, signal.SIGTERM)
        try:
            drain(fd, 0.5)
        except OSError:
            pass
        os.waitpid(pid, 0)
        os.close(fd)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,5000,10000,50000")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--filter", default="alpha")
    parser.add_argument("extra", nargs="*")
    opts = parser.parse_args()
    print("| members | CPU (% of a core) | RSS MiB | peak MiB | KiB/member (peak) | key median ms | key worst ms |")
    print("|---|---|---|---|---|---|---|")
    for members in [int(s) for s in opts.sizes.split(",")]:
        cpu, rss, peak, median, worst = measure(members, opts.seconds, opts.filter, opts.extra)
        print(f"| {members:,} | {cpu:.2f} | {rss:.1f} | {peak:.1f} | {peak * 1024 / members:.2f} "
              f"| {median:.1f} | {worst:.1f} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
