#!/usr/bin/env python3
"""A local stand-in for InfluxDB 2.x's v1-compatibility query API, for
tests/integration/test_report.sh (no InfluxDB 2 is packaged in Debian 12).

What it implements, as InfluxDB 2.x documents it (API reference, "InfluxDB
1.x compatibility API", "/query 1.x compatibility API", "Database and
retention policy mapping"):
- GET /query with db, rp, q, epoch: authenticated with the header
  "Authorization: Token TOKEN" (anything else: 401
  {"code":"unauthorized","message":"unauthorized access"});
- db and rp are mapped to a bucket through its virtual DBRP mapping: a
  bucket "B" is db B with retention policy autogen (the default), a bucket
  "D/R" is db D, rp R; a db/rp without a bucket: 404
  {"code":"not found","message":"no dbrp mapping found"};
- the InfluxQL itself runs on a real influxd 1.6 (BACKEND), in the database
  that stands for the bucket, and its JSON answer is passed back as is.
- GET /ping: 204.
Usage: influx2_standin.py PORT TOKEN BACKEND_URL BUCKET=BACKEND_DB...
Listens on 127.0.0.1 only.
"""
import http.server
import json
import sys
import urllib.parse
import urllib.request

PORT, TOKEN, BACKEND = int(sys.argv[1]), sys.argv[2], sys.argv[3].rstrip("/")
BUCKETS = dict(a.split("=", 1) for a in sys.argv[4:])


def dbrp(bucket):
    if "/" in bucket:
        db, rp = bucket.split("/", 1)
        return db, rp
    return bucket, "autogen"


MAPPING = {dbrp(b): backend for b, backend in BUCKETS.items()}


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        sys.stderr.write("standin: " + fmt % args + "\n")

    def answer(self, status, body):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/ping":
            self.send_response(204)
            self.end_headers()
            return
        if url.path != "/query":
            self.answer(404, {"code": "not found", "message": "path not found"})
            return
        if self.headers.get("Authorization") != "Token " + TOKEN:
            self.answer(401, {"code": "unauthorized", "message": "unauthorized access"})
            return
        params = urllib.parse.parse_qs(url.query)
        db = params.get("db", [""])[0]
        rp = params.get("rp", ["autogen"])[0]
        backend_db = MAPPING.get((db, rp))
        if backend_db is None:
            self.answer(404, {"code": "not found", "message": "no dbrp mapping found"})
            return
        query = {"db": backend_db, "q": params.get("q", [""])[0]}
        if "epoch" in params:
            query["epoch"] = params["epoch"][0]
        req = BACKEND + "/query?" + urllib.parse.urlencode(query)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                self.answer(r.status, r.read())
        except urllib.error.HTTPError as e:
            self.answer(e.code, e.read())


http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
