#!/usr/bin/env python3
"""Enforcement benchmarks (issue 9): /enforce/nginx decisions per second and latency with
10,000 active blocks (wrk, Rampart pinned to one core), and action-created-to-enforced latency
through a real nginx running the shipped deploy/nginx/rampart.conf.

usage: scripts/bench/enforce.py target/release/rampart [--blocks 10000] [--duration 10]
Needs nginx, wrk and taskset. Prints the figures BENCHMARKS.md quotes.
"""
import argparse, http.client, json, os, re, shutil, socket, statistics, subprocess, sys, tempfile, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def run(*a):
    return subprocess.run(a, check=True, capture_output=True, text=True).stdout.strip()

def wait_port(port, what):
    deadline = time.time() + 15
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close(); return
        except OSError:
            time.sleep(0.02)
    sys.exit(f"{what} did not listen on {port}")

def wrk(port, key, ip, secs, conns):
    out = run("taskset", "-c", "1", "wrk", "-t1", f"-c{conns}", f"-d{secs}s", "--latency",
              "-H", f"X-Rampart-Enforcer-Key: {key}", "-H", f"X-Real-IP: {ip}",
              "-H", "X-Original-Method: GET", "-H", "X-Original-URI: /api/orders/1",
              f"http://127.0.0.1:{port}/enforce/nginx")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, lat.get("50"), lat.get("99"), int(non2xx.group(1)) if non2xx else 0

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin"); ap.add_argument("--blocks", type=int, default=10000)
    ap.add_argument("--duration", type=int, default=10); ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--samples", type=int, default=101)
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix="rampart-enforce-bench-")
    data = os.path.join(d, "data")
    rb = os.path.abspath(a.bin)
    admin = run(rb, "token", "create", "--data", data, "--name", "admin", "--role", "admin")
    key = run(rb, "enforcer", "create", "--data", data, "--name", "nginx1")
    port = free_port()
    env = dict(os.environ, TOKIO_WORKER_THREADS="1")  # one core: one worker thread
    srv = subprocess.Popen(["taskset", "-c", "0", rb, "serve", "--data", data, "--listen", f"127.0.0.1:{port}",
                            "--log", "warn"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        wait_port(port, "rampart")
        c = http.client.HTTPConnection("127.0.0.1", port)
        def post(path, body):
            c.request("POST", path, json.dumps(body), {"Authorization": f"Bearer {admin}", "Content-Type": "application/json"})
            r = c.getresponse(); v = json.loads(r.read())
            if r.status != 201: sys.exit(f"{path}: {r.status} {v}")
            return v
        t0 = time.time()
        for i in range(a.blocks):
            post("/api/v1/actions", {"kind": "block_ip", "target": f"10.{i // 65536 + 100}.{(i // 256) % 256}.{i % 256}",
                                     "duration": "7d", "reason": "bench"})
        print(f"created {a.blocks} blocks in {time.time() - t0:.1f} s")
        results = {"allow": [], "deny": []}
        for _ in range(a.runs):
            for name, ip in (("allow", "198.51.100.1"), ("deny", "10.100.0.7")):
                results[name].append(wrk(port, key, ip, a.duration, 16))
        for name, rs in results.items():
            rps = statistics.median(r[0] for r in rs)
            print(f"/enforce/nginx {name}: median {rps:,.0f} decisions/s over {a.runs} runs; "
                  f"p50 {[r[1] for r in rs]}, p99 {[r[2] for r in rs]}, non-2xx {[r[3] for r in rs]}")

        # Through real nginx: action created -> nginx answers 403. (A new API connection: the
        # old one sat idle through wrk and was closed.)
        c = http.client.HTTPConnection("127.0.0.1", port)
        if shutil.which("nginx") is None:
            print("nginx not installed: no action-to-enforced figure"); return
        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def do_GET(self):
                self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
            def log_message(self, *x): pass
        backend = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=backend.serve_forever, daemon=True).start()
        ngx_port = free_port()
        snippet = open(os.path.join(REPO, "deploy/nginx/rampart.conf")).read()
        snippet = (snippet.replace("server 127.0.0.1:8080;", f"server 127.0.0.1:{port};")
                   .replace("server 127.0.0.1:3000;", f"server 127.0.0.1:{backend.server_address[1]};")
                   .replace("listen 80;", f"listen 127.0.0.1:{ngx_port};").replace('"CHANGE-ME"', f'"{key}"'))
        nd = os.path.join(d, "nginx"); os.makedirs(nd)
        conf = os.path.join(nd, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"user root;\nworker_processes 1;\nerror_log {nd}/error.log warn;\npid {nd}/nginx.pid;\n"
                    f"events {{ worker_connections 512; }}\nhttp {{ access_log off; client_body_temp_path {nd}/b; proxy_temp_path {nd}/p;"
                    f" fastcgi_temp_path {nd}/f; uwsgi_temp_path {nd}/u; scgi_temp_path {nd}/s;\n"
                    f"set_real_ip_from 127.0.0.1; real_ip_header X-Forwarded-For;\n{snippet}\n}}\n")
        ngx = subprocess.Popen(["nginx", "-p", nd, "-c", conf, "-g", "daemon off; master_process off;"],
                               stderr=subprocess.DEVNULL)
        try:
            wait_port(ngx_port, "nginx")
            n = http.client.HTTPConnection("127.0.0.1", ngx_port)
            def through(ip):
                n.request("GET", "/api/orders/1", headers={"X-Forwarded-For": ip}); r = n.getresponse(); r.read(); return r.status
            lat, first = [], 0
            for i in range(a.samples):
                ip = f"192.0.2.{i % 250 + 1}" if i < 250 else f"198.18.{i // 250}.{i % 250}"
                assert through(ip) == 200, ip
                t0 = time.perf_counter()
                post("/api/v1/actions", {"kind": "block_ip", "target": ip, "duration": "1h", "reason": "bench"})
                tries = 0
                while through(ip) != 403:
                    tries += 1
                    if time.perf_counter() - t0 > 5: sys.exit("never enforced")
                first += tries == 0
                lat.append((time.perf_counter() - t0) * 1000)
            lat.sort()
            print(f"action created -> nginx 403 ({a.samples} actions, {a.blocks}+ active): median {statistics.median(lat):.2f} ms, "
                  f"p99 {lat[int(len(lat) * 0.99) - 1]:.2f} ms, max {lat[-1]:.2f} ms; denied on the first request after the 201: {first}/{a.samples}")
        finally:
            ngx.terminate(); ngx.wait()
    finally:
        srv.terminate(); srv.wait(); shutil.rmtree(d, ignore_errors=True)

if __name__ == "__main__":
    main()
