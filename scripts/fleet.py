#!/usr/bin/env python3
"""The console's cost per member: CPU, memory and key latency over a
simulated fleet, at several sizes (the growth curve of README "Performance").

For each size the release binary runs `--sim N` (roles and lag changing
every second) in a pseudo-terminal at 160x48 with a `/` filter set, as an
operator would have it. After a settling period it measures, from /proc:
CPU time over SECONDS (percent of one core), resident memory at the end and
its peak (VmHWM); then the latency of `j` (selection down): from writing
the key to the first byte of the redrawn frame, over 30 presses.

With --redis-groups G it watches real Redis instead: G replication
groups of one master and two replicas (3G `redis-server`s on 127.0.0.1,
started and stopped here; Debian's redis-server), each named by one
--redis flag, polled every second. Nothing is filtered there.

Usage: scripts/fleet.py [--sizes 1000,5000,10000,50000] [--seconds 20]
                        [--filter alpha] [-- EXTRA ARGS]
       scripts/fleet.py --redis-groups 30 [--seconds 20]
Builds nothing: run `cargo build --release` first.
"""
import argparse, fcntl, os, pty, select, shutil, signal, socket, statistics, struct, subprocess, sys, tempfile, termios, time

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


def measure(args, ready, seconds, needle):
    pid, fd = spawn(args)
    try:
        # At 100,000 members the first full report can take a while.
        wait_for(fd, ready, 60)
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


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_ready(port, want, deadline):
    """Polls `redis-cli INFO replication` until it holds `want`."""
    while time.monotonic() < deadline:
        out = subprocess.run(["redis-cli", "-p", str(port), "INFO", "replication"],
                             capture_output=True, text=True).stdout
        if want in out:
            return
        time.sleep(0.1)
    raise RuntimeError(f"redis on {port}: {want!r} not seen in time")


def start_redis_groups(groups, workdir):
    """3 * groups servers; returns (processes, master ports)."""
    if not shutil.which("redis-server"):
        raise SystemExit("redis-server not found: apt-get install redis-server redis-tools")
    procs, masters = [], []
    for g in range(groups):
        ports = [free_port() for _ in range(3)]
        for i, port in enumerate(ports):
            args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                    "--appendonly", "no", "--dir", workdir, "--dbfilename", f"g{g}-{i}.rdb"]
            if i > 0:
                args += ["--replicaof", "127.0.0.1", str(ports[0])]
            procs.append(subprocess.Popen(args, stdout=subprocess.DEVNULL))
        masters.append(ports[0])
        deadline = time.monotonic() + 30
        for port in ports[1:]:
            redis_ready(port, "master_link_status:up", deadline)
    return procs, masters


def measure_redis(groups, seconds, extra):
    workdir = tempfile.mkdtemp(prefix="clusterdeck-fleet-redis-")
    procs = []
    try:
        procs, masters = start_redis_groups(groups, workdir)
        args = [a for port in masters for a in ("--redis", f"redis://127.0.0.1:{port}")]
        print(f"{len(procs)} redis-servers in {groups} groups", file=sys.stderr)
        return measure(args + ["--interval", "1s"] + extra, b"copy", seconds, "")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,5000,10000,50000")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--filter", default="alpha")
    parser.add_argument("--redis-groups", type=int, default=0)
    parser.add_argument("extra", nargs="*")
    opts = parser.parse_args()
    if opts.redis_groups:
        cpu, rss, peak, median, worst = measure_redis(opts.redis_groups, opts.seconds, opts.extra)
        print("| Redis groups | CPU (% of a core) | RSS MiB | peak MiB | key median ms | key worst ms |")
        print("|---|---|---|---|---|---|")
        print(f"| {opts.redis_groups} | {cpu:.2f} | {rss:.1f} | {peak:.1f} | {median:.1f} | {worst:.1f} |")
        return
    print("| members | CPU (% of a core) | RSS MiB | peak MiB | KiB/member (peak) | key median ms | key worst ms |")
    print("|---|---|---|---|---|---|---|")
    for members in [int(s) for s in opts.sizes.split(",")]:
        cpu, rss, peak, median, worst = measure(
            ["--sim", str(members)] + opts.extra, b"SIMULATED", opts.seconds, opts.filter)
        print(f"| {members:,} | {cpu:.2f} | {rss:.1f} | {peak:.1f} | {peak * 1024 / members:.2f} "
              f"| {median:.1f} | {worst:.1f} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
