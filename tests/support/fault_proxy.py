#!/usr/bin/env python3
"""A small HTTP proxy for tests: forwards to a target (or, as a forward proxy, to the absolute URL a
client asks for), counts requests, and can answer the first N requests with a canned failure.

    fault_proxy.py --target http://127.0.0.1:5055 --port-file P --count-file C [--fail N]
                   [--fail-status 400] [--fail-body JSON] [--fail-header 'Name: value']
                   [--fail-match SUBSTRING] [--drop N] [--tls-cert C --tls-key K]

--fail-match limits the failures to requests whose "METHOD path" contains SUBSTRING. --drop N cuts the
connection half-way through the body of the first N uploads larger than 1 MiB. With --tls-cert/--tls-key
it listens with TLS (e.g. the rig registry's own certificate) and the target may be https.

It prints nothing; it writes its port to --port-file once listening and the running request count to
--count-file after every request. It serves until killed.
"""
import argparse
import http.client
import http.server
import ssl
import threading
import urllib.parse

parser = argparse.ArgumentParser()
parser.add_argument("--target", required=True)
parser.add_argument("--port-file", required=True)
parser.add_argument("--count-file", required=True)
parser.add_argument("--fail", type=int, default=0, help="answer this many requests with the failure (-1: all)")
parser.add_argument("--fail-status", type=int, default=400)
parser.add_argument("--fail-body", default='{"__type":"ThrottlingException","message":"Rate exceeded"}')
parser.add_argument("--fail-header", action="append", default=[])
parser.add_argument("--fail-match", default="")
parser.add_argument("--drop", type=int, default=0)
parser.add_argument("--tls-cert")
parser.add_argument("--tls-key")
args = parser.parse_args()

lock = threading.Lock()
state = {"count": 0, "failed": 0, "dropped": 0, "bytes": 0}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def _read_chunked(self, limit=None):
        body = bytearray()
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                self.rfile.readline()
                return bytes(body), True
            body += self.rfile.read(size)
            self.rfile.readline()
            if limit is not None and len(body) >= limit:
                return bytes(body), False

    def _any(self):
        chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        length = int(self.headers.get("Content-Length") or 0)
        with lock:
            drop = (chunked or length > (1 << 20)) and state["dropped"] < args.drop
            if drop:
                state["dropped"] += 1
        if drop:
            if chunked:
                self._read_chunked(limit=1 << 20)
            else:
                self.rfile.read(length // 2)
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if chunked:
            body, _ = self._read_chunked()
        else:
            body = self.rfile.read(length) if length else b""
        matched = args.fail_match in f"{self.command} {self.path}"
        with lock:
            state["count"] += 1
            state["bytes"] += len(body)
            fail = matched and (args.fail < 0 or state["failed"] < args.fail)
            if fail:
                state["failed"] += 1
            with open(args.count_file, "w") as f:
                f.write(f"{state['count']} {state['bytes']}")
        if fail:
            payload = args.fail_body.encode()
            self.send_response(args.fail_status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            for h in args.fail_header:
                k, v = h.split(":", 1)
                self.send_header(k.strip(), v.strip())
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        if self.path.startswith(("http://", "https://")):
            url = urllib.parse.urlsplit(self.path)
        else:
            url = urllib.parse.urlsplit(args.target.rstrip("/") + self.path)
        if url.scheme == "https":
            conn = http.client.HTTPSConnection(url.hostname, url.port or 443, timeout=60, context=ssl.create_default_context())
        else:
            conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=60)
        path = url.path + ("?" + url.query if url.query else "")
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("proxy-connection", "connection", "transfer-encoding", "content-length")}
        if body or self.command in ("PUT", "POST", "PATCH"):
            headers["Content-Length"] = str(len(body))
        conn.request(self.command, path or "/", body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        conn.close()

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = do_PATCH = _any


class Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # dropped connections are the point of --drop


server = Server(("127.0.0.1", 0), Handler)
if args.tls_cert:
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(args.tls_cert, args.tls_key)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
with open(args.count_file, "w") as f:
    f.write("0 0")
with open(args.port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.replace(args.port_file + ".tmp", args.port_file)
server.serve_forever()
