#!/usr/bin/env python3
"""Mixed load against running portal instances: page views, token issuance
and API calls from CONNECTIONS threads for DURATION seconds, spread over the
instances given. Prints what each kind got and exits non-zero on any answer
other than 200 and the expected 429, or a connection error. Writes the
client's counts as JSON for the caller to compare with the usage counters.

usage: load_mixed.py COUNTS_JSON CLIENT_ID CLIENT_SECRET EMAIL PASSWORD BASE_URL...
"""
import base64
import http.client
import json
import os
import random
import re
import sys
import threading
import time
import urllib.parse

counts_file, client_id, client_secret, email, password, *bases = sys.argv[1:]
DURATION = float(os.environ.get("DURATION", "60"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "128"))
BASIC = "Basic " + base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()

lock = threading.Lock()
totals = {"page": {}, "token": {}, "api": {}, "errors": []}


def record(kind, status):
    with lock:
        totals[kind][status] = totals[kind].get(status, 0) + 1


def connect(base):
    u = urllib.parse.urlparse(base)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=30)


def sign_in(base):
    conn = connect(base)
    body = urllib.parse.urlencode({"email": email, "password": password, "next": "/analytics"})
    conn.request("POST", "/login", body, {
        "Content-Type": "application/x-www-form-urlencoded", "Origin": base})
    res = conn.getresponse()
    res.read()
    cookie = res.getheader("Set-Cookie", "")
    if res.status != 303 or not cookie:
        raise SystemExit(f"sign-in at {base} failed: {res.status}")
    return cookie.split(";")[0]


def token(conn):
    conn.request("POST", "/api/v1/token", "grant_type=client_credentials", {
        "Content-Type": "application/x-www-form-urlencoded", "Authorization": BASIC})
    res = conn.getresponse()
    body = res.read()
    record("token", res.status)
    return json.loads(body).get("access_token") if res.status == 200 else None


def worker(n, cookies, deadline):
    base = bases[n % len(bases)]
    conn = connect(base)
    rng = random.Random(n)
    bearer = None
    while time.time() < deadline:
        try:
            pick = rng.random()
            if pick < 0.4:
                path = rng.choice(["/analytics", "/analytics?days=7", "/agents", "/settings/tier"])
                conn.request("GET", path, headers={"Cookie": cookies[base]})
                res = conn.getresponse()
                res.read()
                record("page", res.status)
                ok = {200}
            elif pick < 0.7 or bearer is None:
                bearer = token(conn) or bearer
                continue
            else:
                conn.request("GET", "/api/v1/agents/me", headers={"Authorization": f"Bearer {bearer}"})
                res = conn.getresponse()
                res.read()
                record("api", res.status)
                ok = {200, 429}
            if res.status not in ok:
                with lock:
                    totals["errors"].append(f"{path if pick < 0.4 else 'api'}: {res.status}")
        except Exception as e:  # a broken connection is an error too
            with lock:
                totals["errors"].append(f"{type(e).__name__}: {e}")
            conn = connect(base)


def main():
    cookies = {base: sign_in(base) for base in bases}
    deadline = time.time() + DURATION
    threads = [threading.Thread(target=worker, args=(n, cookies, deadline)) for n in range(CONNECTIONS)]
    started = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.time() - started
    bad_tokens = {s: c for s, c in totals["token"].items() if s not in (200, 429)}
    if bad_tokens:
        totals["errors"].append(f"token endpoint: {bad_tokens}")
    n = sum(sum(v.values()) for k, v in totals.items() if k != "errors")
    print(f"{n} requests in {elapsed:.1f} s ({n / elapsed:.0f}/s) over {len(bases)} instance(s), {CONNECTIONS} connections")
    for kind in ("page", "token", "api"):
        print(f"  {kind:6} {dict(sorted(totals[kind].items()))}")
    print(f"  errors {len(totals['errors'])} {totals['errors'][:5]}")
    with open(counts_file, "w") as f:
        json.dump({
            "tokens_issued": totals["token"].get(200, 0),
            "api_calls": totals["api"].get(200, 0),
            "refused": totals["token"].get(429, 0) + totals["api"].get(429, 0),
            "errors": len(totals["errors"]),
        }, f)
    sys.exit(1 if totals["errors"] else 0)


main()
