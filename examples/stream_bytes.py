#!/usr/bin/env python3
"""Bytes per packet row of a packet-log stream on the wire, with and without gzip.

Start a server with demo radios (`meshdeck --demo --bind 127.0.0.1:5078`), then
`python3 examples/stream_bytes.py http://127.0.0.1:5078 60`: one session connects to the
first demo radio and reads `/events?port=all&bar=line` twice at once for the given seconds,
once plainly and once with Chromium's Accept-Encoding, counting the bytes read."""
import http.client, sys, time, zlib, re, urllib.parse, threading
base = urllib.parse.urlparse(sys.argv[1]); secs = float(sys.argv[2])
def conn(): return http.client.HTTPConnection(base.hostname, base.port, timeout=10)
c = conn(); c.request("GET", "/"); r = c.getresponse(); body = r.read().decode()
cookie = "; ".join(h.split(";")[0] for k, h in r.getheaders() if k.lower() == "set-cookie")
port = re.search(r'type="hidden" name="port" value="(\d+)"', body).group(1)
c = conn(); c.request("POST", "/connect", body=f"host=127.0.0.1&port={port}", headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded", "Origin": sys.argv[1]}); r = c.getresponse(); r.read()
for k, h in r.getheaders():
    if k.lower() == "set-cookie": cookie += "; " + h.split(";")[0]
res = {}
def run(enc):
    c = conn(); c.request("GET", "/events?port=all&bar=line", headers={"Cookie": cookie, "Accept-Encoding": enc} if enc else {"Cookie": cookie})
    r = c.getresponse(); assert r.status == 200, r.status
    wire = 0; raw = b""; d = zlib.decompressobj(16 + 15) if r.getheader("content-encoding") == "gzip" else None
    end = time.time() + secs; c.sock.settimeout(1)
    while time.time() < end:
        try: chunk = r.read1(65536)
        except Exception: continue
        if not chunk: break
        wire += len(chunk); raw += d.decompress(chunk) if d else chunk
    rows = raw.count(b"event: packet")
    res[enc or "identity"] = (r.getheader("content-encoding"), wire, len(raw), rows)
ts = [threading.Thread(target=run, args=(e,)) for e in ["", "gzip, deflate, br, zstd"]]
[t.start() for t in ts]; [t.join() for t in ts]
for k, (ce, wire, raw, rows) in res.items():
    print(f"{k}: coding {ce}, {wire} B on the wire, {raw} B of events, {rows} packet rows, {wire/max(rows,1):.0f} B/row on the wire, {wire*60/secs/1000:.1f} kB/min")
