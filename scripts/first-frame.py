#!/usr/bin/env python3
"""Time from start to the console's first frame, in a pseudo-terminal.

Runs the release binary N times (default 20) with the given arguments
(default: a Redis URL nobody answers, so the sources are still failing when
the frame must appear) and prints the median and worst time until the
header text has been written. Usage: scripts/first-frame.py [N] [-- ARGS...]
"""
import fcntl, os, pty, select, signal, statistics, struct, sys, termios, time

args = sys.argv[1:]
runs = int(args.pop(0)) if args and args[0].isdigit() else 20
if args and args[0] == "--":
    args = args[1:]
if not args:
    args = ["--redis", "redis://127.0.0.1:9", "--request-timeout", "5s"]
binary = os.path.join(os.path.dirname(__file__), "..", "target", "release", "clusterdeck")

def once():
    start = time.monotonic()
    pid, fd = pty.fork()
    if pid == 0:
        # A pty starts at 0x0, where nothing can be drawn: give it 120x36.
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 36, 120, 0, 0))
        os.environ["CLUSTERDECK_STATE_DIR"] = "/tmp/clusterdeck-first-frame"
        os.execv(binary, [binary] + args)
    seen = b""
    try:
        while b"clusterdeck" not in seen:
            ready, _, _ = select.select([fd], [], [], 5)
            if not ready:
                raise RuntimeError("no frame within 5 s")
            seen += os.read(fd, 65536)
        return time.monotonic() - start
    finally:
        os.kill(pid, signal.SIGTERM)
        # Keep reading: a console whose terminal stops reading blocks on its
        # next write and cannot act on the signal.
        try:
            while os.read(fd, 65536):
                pass
        except OSError:
            pass
        os.waitpid(pid, 0)
        os.close(fd)

times = sorted(once() for _ in range(runs))
print(f"first frame over {runs} runs: median {statistics.median(times)*1000:.1f} ms, "
      f"worst {times[-1]*1000:.1f} ms")
