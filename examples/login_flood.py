#!/usr/bin/env python3
# Logins under a flood: N wrong logins (random names, so the throttle never short-cuts them),
# C at once, against a running meshdeck on 127.0.0.1:PORT, while /healthz is timed every
# 10 ms. Usage: python3 examples/login_flood.py PORT N C
import http.client, threading, time, sys, statistics, urllib.parse, random
port = int(sys.argv[1]); n = int(sys.argv[2]); conc = int(sys.argv[3])
lat = []; stop = False
def health():
    while not stop:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        t = time.perf_counter(); c.request("GET", "/healthz"); c.getresponse().read(); lat.append((time.perf_counter()-t)*1000); c.close()
        time.sleep(0.01)
codes = {}
lock = threading.Lock()
def flood(k):
    for i in range(k):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        body = urllib.parse.urlencode({"name": f"u{random.randrange(10**9)}", "password": "wrong password"})
        c.request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded"})
        r = c.getresponse(); r.read(); c.close()
        with lock: codes[r.status] = codes.get(r.status, 0) + 1
base = []
h = threading.Thread(target=health); h.start(); time.sleep(2); base = list(lat); lat.clear()
t0 = time.perf_counter()
ts = [threading.Thread(target=flood, args=(n//conc,)) for _ in range(conc)]
[t.start() for t in ts]; [t.join() for t in ts]
dt = time.perf_counter() - t0
stop = True; h.join()
q = lambda xs, p: sorted(xs)[min(len(xs)-1, int(len(xs)*p))]
print(f"idle /healthz p50 {q(base,.5):.2f} ms p99 {q(base,.99):.2f} ms")
print(f"{n} logins ({conc} at once) in {dt:.1f} s = {n/dt:.0f}/s, codes {codes}")
print(f"/healthz during: p50 {q(lat,.5):.2f} ms p99 {q(lat,.99):.2f} ms max {max(lat):.2f} ms ({len(lat)} samples)")
