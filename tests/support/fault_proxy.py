#!/usr/bin/env python3
"""A small HTTP proxy for tests: forwards to a target (or, as a forward proxy, to the absolute URL a
client asks for), counts requests, and can answer the first N requests with a canned failure, or answer
chosen AWS JSON-protocol operations from a script.

    fault_proxy.py --target http://127.0.0.1:5055 --port-file P --count-file C [--fail N]
                   [--fail-status 400] [--fail-body JSON] [--fail-header 'Name: value']
                   [--fail-match SUBSTRING] [--drop N] [--tls-cert C --tls-key K]
                   [--script FILE] [--log-file PATH]

--fail-match limits the failures to requests whose "METHOD path" contains SUBSTRING. --drop N cuts the
connection half-way through the body of the first N uploads larger than 1 MiB. With --tls-cert/--tls-key
it listens with TLS (e.g. the rig registry's own certificate) and the target may be https.

--script FILE answers some requests from the proxy itself instead of forwarding them. FILE is JSON, a
list of rules:

    [
      {"target": "DescribeImageScanFindings", "match": "sha256:aaaa",
       "responses": [
         {"status": 200, "body": {"imageScanStatus": {"status": "IN_PROGRESS"}}, "delay_ms": 100},
         {"status": 200, "body": {"imageScanStatus": {"status": "COMPLETE"}, "imageScanFindings": {}}}
       ]},
      {"target": "DescribeImages", "responses": [{"status": 500, "body": "not even JSON"}]}
    ]

AWS JSON-protocol requests carry a header like "X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.
DescribeImages"; a rule matches when the operation name after the dot equals its "target" and, if the
rule has "match", the request body contains that substring (e.g. an image digest or a nextToken). Rules
are tried in file order; the first match wins. Each request a rule matches gets that rule's next
response; once the list is used up the last response is repeated forever. A response has "status"
(default 200), "body" (default {}; a string is sent as-is, anything else as JSON) and optionally
"delay_ms" (wait before answering). Scripted answers carry Content-Type: application/x-amz-json-1.1.
Requests no rule matches are forwarded as usual. --fail is applied first: a request it fails does not
use up a scripted response.

--log-file PATH (emptied at start) gets one line per scripted request: the operation name, a space and
the request body as compact JSON (e.g. `DescribeImageScanFindings {"nextToken":"tok-2",...}`); a body
that is not JSON is written as a JSON string.

--header-log PATH (emptied at start) gets one line per request, written as it arrives: "METHOD path", a
tab, and the names of the request's headers, lowercased and comma-separated (no values: a test asks
whether a request carried "authorization", never what it was).

--set-header 'Name: value' (repeatable) sets a header on every forwarded request, replacing the
client's (e.g. the credentials a storage service's presigned URL would not need from the client).

--rewrite-location BASE points the Location header of every forwarded response at BASE (scheme, host
and port; the path and query kept); BASE "self" is this proxy's own address. With it, a registry's
upload URLs send the client to another host.

--redirect-match SUBSTRING answers the requests whose "METHOD path" contains SUBSTRING with a 307
redirect to --redirect-to BASE (BASE + the request's path). It is applied before --fail and --script,
and the request is counted.

It prints nothing; it writes its port to --port-file once listening and the running request count
(scripted requests included) to --count-file after every request. It serves until killed.
"""
import argparse
import http.client
import http.server
import json
import ssl
import threading
import time
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
parser.add_argument("--script", help="JSON file of scripted responses per X-Amz-Target operation")
parser.add_argument("--log-file", help="append one line per scripted request: OPERATION BODY-JSON")
parser.add_argument("--header-log", help="append one line per request: METHOD PATH, a tab, the header names")
parser.add_argument("--set-header", action="append", default=[], help="'Name: value' set on forwarded requests")
parser.add_argument("--rewrite-location", help="BASE (or 'self') that forwarded responses' Location headers point at")
parser.add_argument("--redirect-match", help="answer requests whose 'METHOD path' contains this with a 307")
parser.add_argument("--redirect-to", help="BASE that --redirect-match requests are redirected to")
args = parser.parse_args()
if args.redirect_match and not args.redirect_to:
    parser.error("--redirect-match needs --redirect-to")


def load_script(path):
    try:
        with open(path) as f:
            rules = json.load(f)
    except (OSError, ValueError) as e:
        parser.error(f"--script {path}: {e}")
    if not isinstance(rules, list):
        parser.error(f"--script {path}: expected a list of rules")
    for i, rule in enumerate(rules):
        where = f"--script {path}: rule {i}"
        if not isinstance(rule, dict) or not isinstance(rule.get("target"), str):
            parser.error(f"{where}: needs a string \"target\"")
        if not isinstance(rule.get("match", ""), str):
            parser.error(f"{where}: \"match\" must be a string")
        responses = rule.get("responses")
        if not isinstance(responses, list) or not responses:
            parser.error(f"{where}: needs a non-empty list \"responses\"")
        for j, r in enumerate(responses):
            if not isinstance(r, dict):
                parser.error(f"{where}: response {j} must be an object")
            if not isinstance(r.get("status", 200), int):
                parser.error(f"{where}: response {j}: \"status\" must be an integer")
            delay = r.get("delay_ms", 0)
            if not isinstance(delay, (int, float)) or delay < 0:
                parser.error(f"{where}: response {j}: \"delay_ms\" must be a number >= 0")
    return rules


rules = load_script(args.script) if args.script else []

lock = threading.Lock()
state = {"count": 0, "failed": 0, "dropped": 0, "bytes": 0, "served": [0] * len(rules)}


def scripted(operation, body):
    """The response of the first rule matching, advancing that rule (call with the lock held)."""
    if not operation:
        return None
    text = body.decode("utf-8", "replace")
    for i, rule in enumerate(rules):
        if rule["target"] == operation and rule.get("match", "") in text:
            responses = rule["responses"]
            response = responses[min(state["served"][i], len(responses) - 1)]
            state["served"][i] += 1
            return response
    return None


def log_line(operation, body):
    try:
        logged = json.dumps(json.loads(body), separators=(",", ":"))
    except ValueError:
        logged = json.dumps(body.decode("utf-8", "replace"))
    with open(args.log_file, "a") as f:
        f.write(f"{operation} {logged}\n")


def own_base():
    scheme = "https" if args.tls_cert else "http"
    return f"{scheme}://127.0.0.1:{server.server_address[1]}"


def rewrite_location(value):
    """A Location header's value pointed at --rewrite-location (its path and query kept)."""
    base = own_base() if args.rewrite_location == "self" else args.rewrite_location
    parts = urllib.parse.urlsplit(value)
    return base.rstrip("/") + parts.path + ("?" + parts.query if parts.query else "")


def log_headers(command, path, headers):
    names = ",".join(sorted(k.lower() for k in headers.keys()))
    with lock:
        with open(args.header_log, "a") as f:
            f.write(f"{command} {path}\t{names}\n")


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
        if args.header_log:
            log_headers(self.command, self.path, self.headers)
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
        if args.redirect_match and args.redirect_match in f"{self.command} {self.path}":
            with lock:
                state["count"] += 1
                with open(args.count_file, "w") as f:
                    f.write(f"{state['count']} {state['bytes']}")
            self.send_response(307)
            self.send_header("Location", args.redirect_to.rstrip("/") + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        matched = args.fail_match in f"{self.command} {self.path}"
        with lock:
            state["count"] += 1
            state["bytes"] += len(body)
            fail = matched and (args.fail < 0 or state["failed"] < args.fail)
            if fail:
                state["failed"] += 1
            operation = (self.headers.get("X-Amz-Target") or "").rpartition(".")[2]
            response = None if fail else scripted(operation, body)
            if response is not None and args.log_file:
                log_line(operation, body)
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
        if response is not None:
            if response.get("delay_ms"):
                time.sleep(response["delay_ms"] / 1000)
            reply = response.get("body", {})
            payload = (reply if isinstance(reply, str) else json.dumps(reply)).encode()
            self.send_response(response.get("status", 200))
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
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
        for h in args.set_header:
            k, v = h.split(":", 1)
            headers = {name: value for name, value in headers.items() if name.lower() != k.strip().lower()}
            headers[k.strip()] = v.strip()
        conn.request(self.command, path or "/", body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                if args.rewrite_location and k.lower() == "location":
                    v = rewrite_location(v)
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
if args.log_file:
    open(args.log_file, "w").close()
if args.header_log:
    open(args.header_log, "w").close()
with open(args.port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.replace(args.port_file + ".tmp", args.port_file)
server.serve_forever()
