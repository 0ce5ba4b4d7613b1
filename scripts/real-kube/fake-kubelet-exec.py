#!/usr/bin/env python3
"""A stand-in for the kubelet's exec endpoint on https://127.0.0.1:$KUBELET_PORT (test helper).

Environment: KUBELET_PORT, KUBELET_CERT and KUBELET_KEY (its serving certificate).

The real kube-apiserver proxies `pods/<name>/exec` (a WebSocket upgrade with
subprotocol v4.channel.k8s.io) to the node's kubelet at /exec/<ns>/<pod>/<container>.
This server answers that upgrade by hand (RFC 6455 handshake and frames), logs the
command, writes "ran: <command>" on stdout (channel 1), and ends with a v4 status
on channel 3: Success, or NonZeroExitCode with the exit code when the command
contains "exit=N" (N != 0), then closes.
"""
import base64
import hashlib
import json
import os
import socket
import ssl
import sys
import threading
import time
import urllib.parse

PORT = int(os.environ.get("KUBELET_PORT", "10250"))
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def frame(opcode, payload):
    n = len(payload)
    if n < 126:
        head = bytes([0x80 | opcode, n])
    elif n < 65536:
        head = bytes([0x80 | opcode, 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 127]) + n.to_bytes(8, "big")
    return head + payload


def handle(conn, addr):
    try:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        lines = head.split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for l in lines[1:]:
            k, _, v = l.partition(":")
            headers.setdefault(k.strip().lower(), []).append(v.strip())
        url = urllib.parse.urlsplit(target)
        q = urllib.parse.parse_qs(url.query)
        command = q.get("command", [])
        protos = [p.strip() for v in headers.get("sec-websocket-protocol", []) for p in v.split(",")]
        log("request", method, url.path, "command", command, "protocols", protos,
            "upgrade", headers.get("upgrade"))
        key = headers.get("sec-websocket-key", [""])[0]
        if not key:
            body = b"fake kubelet: only WebSocket exec is supported"
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            return
        proto = "v4.channel.k8s.io" if "v4.channel.k8s.io" in protos else (protos[0] if protos else "")
        accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        resp = ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept}\r\n")
        if proto:
            resp += f"Sec-WebSocket-Protocol: {proto}\r\n"
        conn.sendall((resp + "\r\n").encode())
        code = 0
        for part in command:
            if "exit=" in part:
                try:
                    code = int(part.split("exit=", 1)[1].split()[0])
                except ValueError:
                    pass
        out = ("ran: " + " ".join(command) + "\n").encode()
        conn.sendall(frame(0x2, b"\x01" + out))
        if code:
            conn.sendall(frame(0x2, b"\x02" + f"failing with {code} as asked\n".encode()))
            status = {"metadata": {}, "status": "Failure",
                      "message": f"command terminated with non-zero exit code: exit status {code}",
                      "reason": "NonZeroExitCode",
                      "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}
        else:
            status = {"metadata": {}, "status": "Success"}
        conn.sendall(frame(0x2, b"\x03" + json.dumps(status).encode()))
        conn.sendall(frame(0x8, (1000).to_bytes(2, "big")))
        log("answered exit", code, "via", proto)
        conn.settimeout(2)
        try:
            conn.recv(1024)
        except Exception:
            pass
    except Exception as e:
        log("error", type(e).__name__, e)
    finally:
        conn.close()


def main():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.environ["KUBELET_CERT"], os.environ["KUBELET_KEY"])
    ctx.set_alpn_protocols(["http/1.1"])
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", PORT))
    srv.listen(16)
    log(f"fake kubelet exec endpoint on https://127.0.0.1:{PORT}")
    while True:
        conn, addr = srv.accept()
        try:
            tls = ctx.wrap_socket(conn, server_side=True)
        except Exception as e:
            log("tls error", e)
            conn.close()
            continue
        threading.Thread(target=handle, args=(tls, addr), daemon=True).start()


if __name__ == "__main__":
    main()
