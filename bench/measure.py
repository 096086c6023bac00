"""measure: the benchmark's measurements, one function per part of the brief.

0 agreement: both servers asked the same questions for a sample of client subnets.
a instructions per query under callgrind: I(N2) - I(N1) over N2 - N1 queries,
  from two consecutive callgrind dumps of one run, so start-up and per-batch
  costs cancel.
b CPU time (utime + stime from /proc) per answered query at a fixed dnsperf rate.
c the highest rate without loss, by bisection, and latency percentiles there.
d memory, load time and reload under load with a large zone.
e gslbd's CPU per query and latency at a fixed rate, without and with an
  HTTP scrape of /metrics every second (its --http listener).
f the GeoIP database: start-up to the first geo answer, memory, and a reload
  of the mmdb (a copy renamed over it) under load, with the answers checked.

Every loop here is bounded in count and time; traffic goes to 127.0.0.1 only.
Servers are started and stopped by the caller (bench/run), except where a
phase needs its own run (callgrind, the large zone).
"""

import http.client
import json
import math
import os
import re
import subprocess
import threading
import time

import dnsclient
import servers
from zonegen import ZONE, REGIONS, V4ONLY, pool_of

CLIENT_CPU = "1"  # dnsperf and the benchmark's own clients
SERVER_CPU = 0
# dnsperf -b: its socket buffers in KiB. The kernel caps the request at
# net.core.rmem_max (4 MiB on the machines this was written on).
CLIENT_SOCKBUF_KIB = 4096


def _set_cpu(cpu):
    try:
        os.sched_setaffinity(0, {int(cpu)})
    except OSError:
        pass


# ---- 0. agreement -----------------------------------------------------------

def compare(gs, gd, subnets):
    """Ask both servers www A, www AAAA and api A for every subnet (ECS), and
    www A without ECS. Returns (checks, disagreements, scope counts)."""
    questions = [(s, name, qt) for s in subnets for name, qt in
                 (("www", "A"), ("www", "AAAA"), ("api", "A"))]
    questions.append((None, "www", "A"))
    for name, qt, _ in STATIC_CHECKS:
        questions.append((None, name, qt))
    checks, bad = 0, []
    scopes = {"same": 0, "gslbd narrower": 0, "gslbd wider": 0}
    for subnet, name, qt in questions:
        fq = "%s.%s" % (name, ZONE)
        a = dnsclient.ask(gs.addr, fq, qt, subnet=subnet)
        b = dnsclient.ask(gd.addr, fq, qt, subnet=subnet)
        checks += 1
        ga = (a.rcode_name, a.addrs) if a else ("no reply", [])
        gb = (b.rcode_name, b.addrs) if b else ("no reply", [])
        if ga != gb:
            bad.append({"subnet": subnet, "name": name, "qtype": qt, "gslbd": ga, "gdnsd": gb})
        if subnet and a and b and a.scope is not None and b.scope is not None:
            key = "same" if a.scope == b.scope else (
                "gslbd narrower" if a.scope > b.scope else "gslbd wider")
            scopes[key] += 1
    return checks, bad, scopes


STATIC_CHECKS = [("static", "A", "NOERROR"), ("static6", "AAAA", "NOERROR"),
                 ("mail", "A", "NOERROR"), ("ns1", "AAAA", "NOERROR"),
                 ("nothere", "A", "NXDOMAIN"), ("static", "AAAA", "NOERROR")]


# Clients in Asia and Europe asking `legacy` (regions sg-v4only, eu-west).
SEMANTICS = [("1.0.16.0/24", "AAAA"), ("1.0.16.0/24", "A"), ("81.2.69.0/24", "AAAA")]


def semantics(gs, gd):
    """What each server answers for `legacy`, whose nearest region to Asia has
    no IPv6 address: [(subnet, qtype, gslbd answer, gdnsd answer)]."""
    out = []
    for subnet, qt in SEMANTICS:
        row = [subnet, qt]
        for s in (gs, gd):
            r = dnsclient.ask(s.addr, "legacy.%s" % ZONE, qt, subnet=subnet)
            row.append("%s %s" % (r.rcode_name, "/".join(_region_of(a) for a in r.addrs) or
                                  "(no records)") if r else "no reply")
        out.append(tuple(row))
    return out


def haversine_km(lat1, lon1, lat2, lon2):
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(min(1.0, h)))


def _region_of(addr):
    if addr == V4ONLY[3]:
        return V4ONLY[0]
    for i, (name, _, _) in enumerate(REGIONS):
        if addr in pool_of(i):
            return name
    return addr


def explain(bad, gslbd_bin, zone_yaml, geoip, gdnsd_conf):
    """Add to each disagreement where each server placed the client and why."""
    svc_map = {"www": "map0", "api": "map1"}
    lines = "".join("%s %s\n" % (svc_map[d["name"]], d["subnet"].split("/")[0])
                    for d in bad if d["subnet"])
    gd_lists = []
    if lines:
        p = subprocess.run(["gdnsd_geoip_test", "-c", gdnsd_conf], input=lines, text=True,
                           capture_output=True, timeout=120)
        gd_lists = [l for l in p.stdout.splitlines() if "=>" in l]
    k = 0
    for d in bad:
        d["gslbd_region"] = [_region_of(a) for a in d["gslbd"][1]]
        d["gdnsd_region"] = [_region_of(a) for a in d["gdnsd"][1]]
        if not d["subnet"]:
            continue
        if k < len(gd_lists):
            d["gdnsd_list"] = gd_lists[k].split("=>")[-1].strip()
            k += 1
        p = subprocess.run([gslbd_bin, "--zones", zone_yaml, "--geoip", geoip, "--explain",
                            d["subnet"], "%s.%s" % (d["name"], ZONE), d["qtype"]],
                           capture_output=True, text=True, timeout=120)
        loc = re.search(r"^location:\s+(.*)$", p.stdout, re.M)
        d["location"] = loc.group(1) if loc else "?"
        m = re.search(r"(-?\d+\.\d+) (-?\d+\.\d+) \(coordinates from ([^)]*)\)", d["location"])
        coords = {n: (la, lo) for n, la, lo in REGIONS}
        if m:
            lat, lon = float(m.group(1)), float(m.group(2))
            d["km"] = {r: round(haversine_km(lat, lon, *coords[r]))
                       for r in set(d["gslbd_region"] + d["gdnsd_region"]) if r in coords}
    return bad


# ---- a. callgrind -------------------------------------------------------------

def _check(replies, want_rcode):
    """Every query answered with the expected rcode (and, for NOERROR, an answer)."""
    for r in replies:
        if r is None or r.rcode_name != want_rcode or (want_rcode == "NOERROR" and not r.addrs):
            return False
    return True


def send(server, queries, transport, window, deadline):
    if transport == "tcp":
        return dnsclient.tcp_each(server.addr, queries, timeout=10, deadline=deadline)
    return dnsclient.udp_window(server.addr, queries, window, timeout=10, deadline=deadline)


def instructions(server, workloads, n1, n2, budget_s):
    """For each workload (label, queries, transport, window, rcode), the
    instructions per query and the dump files of the N2 batch. The server
    runs under callgrind already."""
    out = {}
    server.callgrind_dump()  # start-up and everything before
    deadline = time.monotonic() + budget_s
    for label, queries, transport, window, rcode in workloads:
        got = []
        for n in (n1, n2):
            replies = send(server, queries[:n], transport, window, deadline)
            ok = _check(replies, rcode)
            total, path = server.callgrind_dump()
            got.append((total, path, ok))
        (i1, _, ok1), (i2, path2, ok2) = got
        out[label] = {"per_query": (i2 - i1) / (n2 - n1), "i1": i1, "i2": i2,
                      "ok": ok1 and ok2, "dump": path2}
    return out


def annotate(dump, top=15):
    """Top functions of one callgrind dump by self cost, with inclusive cost:
    [(self Ir, inclusive Ir, function, object)]. Read directly (the dumps are
    written uncompressed): a cost line after `calls=` is the callee's
    inclusive cost, any other cost line is the current function's own."""
    self_ir, incl_ir, obj = {}, {}, {}
    fn, ob, after_call = None, "", False
    with open(dump) as f:
        for line in f:
            if line.startswith("ob="):
                ob = line[3:].strip()
            elif line.startswith("fn="):
                fn = line[3:].strip()
                obj.setdefault(fn, os.path.basename(ob))
            elif line.startswith("calls="):
                after_call = True
            elif line[:1].isdigit() or line[:1] in "+-*":
                parts = line.split()
                cost = int(parts[1]) if len(parts) > 1 else 0
                if fn is not None:
                    incl_ir[fn] = incl_ir.get(fn, 0) + cost
                    if not after_call:
                        self_ir[fn] = self_ir.get(fn, 0) + cost
                after_call = False
    rows = sorted(self_ir.items(), key=lambda kv: -kv[1])[:top]
    return [(ir, incl_ir.get(fn, ir), fn, obj.get(fn, "")) for fn, ir in rows]


def annotate_lines(dump, root, top=12):
    """Self cost by source line, for lines in files under `root`:
    [(Ir, "file:line", function)]. Inlined code counts at its own line."""
    cost = {}
    fl = fi = fn = None
    after_call = False
    with open(dump) as f:
        for line in f:
            if line.startswith("fl="):
                fl = fi = line[3:].strip()
            elif line.startswith(("fi=", "fe=")):
                fi = line[3:].strip()
            elif line.startswith("fn="):
                fn, fi = line[3:].strip(), fl
            elif line.startswith("calls="):
                after_call = True
            elif line[:1].isdigit():
                parts = line.split()
                path = os.path.normpath(os.path.join(root, fi or "???"))  # "./geo/x.h" too
                if not after_call and len(parts) > 1 and path.startswith(root + "/") and \
                        os.path.exists(path):
                    key = ("%s:%s" % (os.path.relpath(path, root), parts[0]), fn)
                    cost[key] = cost.get(key, 0) + int(parts[1])
                after_call = False
    rows = sorted(cost.items(), key=lambda kv: -kv[1])[:top]
    return [(ir, where, fn) for (where, fn), ir in rows]


# ---- b, c. dnsperf ------------------------------------------------------------

def dnsperf(server, qfile, rate=None, seconds=3, verbose=False, max_outstanding=500):
    """One dnsperf run on the client CPU. Returns a dict of its statistics,
    with latency percentiles when `verbose`."""
    argv = servers.nice_prefix() + [
        "taskset", "-c", CLIENT_CPU, "dnsperf", "-B", "-d", qfile, "-s", server.addr[0],
        "-p", str(server.addr[1]), "-l", str(seconds), "-t", "1", "-q", str(max_outstanding),
        # dnsperf's own socket buffer: with the kernel's default (208 KiB) the
        # replies, not the queries, were what the kernel dropped whenever
        # dnsperf was off its CPU for a few ms (see server_drops below).
        "-b", str(CLIENT_SOCKBUF_KIB)]
    if rate:
        argv += ["-Q", str(int(rate))]
    if verbose:
        argv.append("-v")
    drops0 = udp_rcvbuf_errors()
    sdrops0 = server_drops(server.addr[1])
    p = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30)
    out = p.stdout

    def num(pattern, cast=float):
        m = re.search(pattern, out)
        return cast(m.group(1)) if m else None

    res = {
        "sent": num(r"Queries sent:\s+(\d+)", int) or 0,
        "completed": num(r"Queries completed:\s+(\d+)", int) or 0,
        "lost": num(r"Queries lost:\s+(\d+)", int) or 0,
        "qps": num(r"Queries per second:\s+([\d.]+)") or 0.0,
        "avg_latency": num(r"Average Latency \(s\):\s+([\d.]+)"),
        "rcvbuf_drops": udp_rcvbuf_errors() - drops0,
        "server_drops": server_drops(server.addr[1]) - sdrops0,
        "resp_size": num(r"Average packet size:\s+request \d+, response (\d+)", int),
        "rcodes": dict(re.findall(r"(\w+) (\d+) \([\d.]+%\)",
                                  (re.search(r"Response codes:(.*)", out) or [None, ""])[1])),
    }
    if verbose:
        lat = sorted(float(l.rsplit(None, 1)[1]) for l in out.splitlines()
                     if l.startswith("> ") and l[-1].isdigit())  # "> T ..." is a timeout
        res["p50"] = _pct(lat, 50)
        res["p99"] = _pct(lat, 99)
    return res


def udp_rcvbuf_errors():
    """The kernel's count of UDP datagrams dropped for a full receive buffer
    (all sockets of this network namespace)."""
    with open("/proc/net/snmp") as f:
        rows = [l.split() for l in f if l.startswith("Udp:")]
    return int(rows[1][rows[0].index("RcvbufErrors")])


def server_drops(port):
    """Datagrams the kernel dropped at the server's own UDP sockets (every
    socket bound to its port: the SO_REUSEPORT group), from the `drops`
    column of /proc/net/udp and udp6. Unlike RcvbufErrors this leaves out
    the load generator's socket."""
    total = 0
    for name in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    cols = line.split()
                    if int(cols[1].rsplit(":", 1)[1], 16) == port:
                        total += int(cols[-1])
        except OSError:
            continue
    return total


def _pct(sorted_vals, p):
    if not sorted_vals:
        return None
    k = min(len(sorted_vals) - 1, max(0, int(math.ceil(p / 100 * len(sorted_vals))) - 1))
    return sorted_vals[k]


def cpu_per_query(server, qfile, rate, seconds):
    """Server CPU seconds per answered query at a fixed offered rate."""
    c0 = server.cpu_seconds()
    r = dnsperf(server, qfile, rate, seconds, verbose=True)
    c1 = server.cpu_seconds()
    r["cpu_s"] = c1 - c0
    r["cpu_us_per_q"] = 1e6 * (c1 - c0) / r["completed"] if r["completed"] else None
    return r


def max_rate(server, qfile, seconds, steps, hi, lo=2000):
    """Bisection for the highest offered rate with no lost query. Starts from
    `hi` (too fast) and `lo` (slow enough); `steps` rates at most, a rate that
    loses queries being tried once more before it counts as too fast (other
    processes share the machine); then one verbose run at the rate found, for
    latency. Returns (rate, final run, trace)."""
    trace = []
    hi = max(lo * 2, hi)
    for _ in range(steps):
        mid = (lo + hi) / 2
        for _ in range(2):  # a failure gets one more try: neighbours' load
            r = dnsperf(server, qfile, mid, seconds)
            trace.append((int(mid), r["qps"], r["lost"], r["rcvbuf_drops"], r["server_drops"]))
            ok = r["lost"] == 0 and r["qps"] >= 0.97 * mid
            if ok:
                break
        if ok:
            lo = mid
        else:
            hi = mid
        if hi - lo < 0.02 * hi:
            break
    final = dnsperf(server, qfile, lo, seconds, verbose=True)
    trace.append(("final %d" % lo, final["qps"], final["lost"], final["rcvbuf_drops"],
                  final["server_drops"]))
    return int(lo), final, trace


# ---- d. large zone, reload under load ------------------------------------------

class Prober(threading.Thread):
    """Checks answers during a reload: static names must give their address,
    services one address of their regions' pools. Bounded by count and time."""

    def __init__(self, server, n_static, n_services, subnets, rate=200, seconds=20):
        super().__init__(daemon=True)
        self.server, self.n_static, self.n_services = server, n_static, n_services
        self.subnets, self.rate, self.seconds = subnets, rate, seconds
        self.sent = self.lost = self.wrong = 0
        self.stop_flag = threading.Event()
        self.pools = {a for i in range(len(REGIONS)) for a in pool_of(i)}

    def run(self):
        _set_cpu(CLIENT_CPU)
        end = time.monotonic() + self.seconds
        i = 0
        limit = self.rate * self.seconds
        while not self.stop_flag.is_set() and time.monotonic() < end and i < limit:
            if i % 4 == 3:
                name, want = "s%04d.%s" % (i % self.n_services, ZONE), None
                subnet = self.subnets[i % len(self.subnets)]
            else:
                k = (i * 7919) % self.n_static
                name, subnet = "h%06d.%s" % (k, ZONE), None
                want = ["10.%d.%d.%d" % (k >> 16, (k >> 8) & 255, k & 255)]
            r = dnsclient.ask(self.server.addr, name, "A", subnet=subnet, timeout=0.5, tries=1)
            self.sent += 1
            if r is None:
                self.lost += 1
            elif r.rcode_name != "NOERROR" or (want is not None and r.addrs != want) or (
                    want is None and (len(r.addrs) != 1 or r.addrs[0] not in self.pools)):
                self.wrong += 1
            i += 1
            time.sleep(1.0 / self.rate)


def reload_under_load(server, qfile, rate, seconds, rewrite, new_serial, prober):
    """Offer `rate` qps for `seconds`; a third of the way in, rewrite the zone
    and ask for a reload. Returns reload time (until the new SOA serial is
    served) and what dnsperf and the prober saw."""
    result = {}

    def load():
        result["dnsperf"] = dnsperf(server, qfile, rate, seconds)

    t = threading.Thread(target=load, daemon=True)
    t.start()
    prober.start()
    time.sleep(seconds / 3)
    rewrite()
    hwm_before = server.memory_kib()[1]
    c0 = server.cpu_seconds()
    t0 = time.monotonic()
    waiter = server.reload()
    got = server.wait_serial(new_serial, timeout=seconds, step=0.005)
    result["reload_s"] = time.monotonic() - t0 if got == new_serial else None
    result["reload_cpu_s"] = server.cpu_seconds() - c0  # includes the queries meanwhile
    if waiter is not None:
        waiter.join(150)
        result["ctl_s"] = time.monotonic() - t0
    t.join(seconds + 40)
    prober.stop_flag.set()
    prober.join(5)
    result["hwm_before_kib"] = hwm_before
    result["rss_kib"], result["hwm_kib"] = server.memory_kib()
    result["prober"] = {"sent": prober.sent, "lost": prober.lost, "wrong": prober.wrong}
    return result


# ---- e. metrics under load ------------------------------------------------------

METRICS, STATUS = "/metrics", "/api/v1/status"


def http_get(addr, path, timeout):
    """One GET over a new connection, as a Prometheus server does it with
    keep-alive off: (status or None when the request failed, body, seconds
    from connect to the last byte of the body)."""
    t0 = time.monotonic()
    conn = http.client.HTTPConnection(addr[0], addr[1], timeout=timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        r = conn.getresponse()
        body = r.read()
        return r.status, body, time.monotonic() - t0
    except (OSError, http.client.HTTPException):
        return None, b"", time.monotonic() - t0
    finally:
        conn.close()


def _body_ok(path, body):
    """A whole page: /metrics ends with gslb_up among its samples, the
    status is JSON."""
    if path == METRICS:
        return b"\ngslb_up " in body and body.endswith(b"\n")
    try:
        json.loads(body)
        return True
    except ValueError:
        return False


def queries_counted(addr, timeout=5.0):
    """The sum of every gslb_queries_total series, or None when the page
    has no such family (a build without query counters) or failed."""
    status, body, _ = http_get(addr, METRICS, timeout)
    if status != 200:
        return None
    total, seen = 0.0, False
    for line in body.decode("utf-8", "replace").splitlines():
        if line.startswith(("gslb_queries_total{", "gslb_queries_total ")):
            total += float(line.rsplit("}", 1)[-1].split()[-1])
            seen = True
    return int(total) if seen else None


def wait_http(addr, timeout):
    """Poll /metrics until it answers 200; False at the deadline."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        status, body, _ = http_get(addr, METRICS, 1.0)
        if status == 200 and _body_ok(METRICS, body):
            return True
        time.sleep(0.05)
    return False


class Scraper(threading.Thread):
    """GET /metrics every `period` seconds, and /api/v1/status with every
    `status_every`-th of them, each on a new connection, on the client CPU.
    The first round is half a period in, so that every round falls inside a
    load run as long as `seconds`; at most seconds / period rounds, none
    started after the deadline, each request bounded by `timeout`.
    Records (ok, seconds, bytes) per request and path."""

    def __init__(self, addr, seconds, period=1.0, status_every=5, timeout=2.0):
        super().__init__(daemon=True)
        self.addr, self.seconds, self.period = addr, seconds, period
        self.status_every, self.timeout = status_every, timeout
        self.got = {METRICS: [], STATUS: []}
        self.stop_flag = threading.Event()

    def run(self):
        _set_cpu(CLIENT_CPU)
        t0 = time.monotonic()
        for i in range(int(self.seconds / self.period)):
            due = t0 + (i + 0.5) * self.period
            if self.stop_flag.wait(max(0.0, due - time.monotonic())):
                return
            if time.monotonic() >= t0 + self.seconds:
                return
            paths = [METRICS] + ([STATUS] if i % self.status_every == 0 else [])
            for path in paths:
                status, body, dt = http_get(self.addr, path, self.timeout)
                self.got[path].append((status == 200 and _body_ok(path, body), dt, len(body)))


def scrape_summary(rows):
    """Requests done (complete pages), failed, latency p50 and max (s), and
    the median page size (bytes), over (ok, seconds, bytes) rows."""
    good = [r for r in rows if r[0]]
    lat = sorted(r[1] for r in good)
    sizes = sorted(r[2] for r in good)
    return {"done": len(good), "failed": len(rows) - len(good),
            "p50": _pct(lat, 50), "max": lat[-1] if lat else None,
            "bytes": sizes[len(sizes) // 2] if sizes else None}


def scrape_cost(server, n):
    """n back-to-back scrapes of /metrics with no DNS load: the main
    thread's CPU per scrape (it alone serves HTTP) and the latencies."""
    c0 = server.main_thread_cpu_ns()
    rows = []
    for _ in range(n):
        status, body, dt = http_get(server.http, METRICS, 2.0)
        rows.append((status == 200 and _body_ok(METRICS, body), dt, len(body)))
    c1 = server.main_thread_cpu_ns()
    out = scrape_summary(rows)
    out["cpu_ms"] = (c1 - c0) / 1e6 / n
    return out


def metrics_under_load(server, qfile, rate, seconds, scrape):
    """cpu_per_query at a fixed rate, with a Scraper alongside when `scrape`.
    Adds the CPU of the main thread and of the others (per answered query
    too) over the run, each scrape's (ok, seconds,
    bytes) by path, and how far gslb_queries_total rose (read before and
    after, outside the run)."""
    q0 = queries_counted(server.http)
    t0 = server.thread_cpu_ns()
    scraper = Scraper(server.http, seconds) if scrape else None
    if scraper:
        scraper.start()
    try:
        r = cpu_per_query(server, qfile, rate, seconds)
    finally:
        if scraper:
            scraper.stop_flag.set()
            scraper.join(10)
    t1 = server.thread_cpu_ns()
    spent = {tid: ns - t0.get(tid, 0) for tid, ns in t1.items()}
    r["main_cpu_s"] = spent.pop(server.pid, 0) / 1e9
    r["other_cpu_s"] = sum(spent.values()) / 1e9
    for k in ("main", "other"):
        r[k + "_us_per_q"] = 1e6 * r[k + "_cpu_s"] / r["completed"] if r["completed"] else None
    q1 = queries_counted(server.http)
    r["counted"] = q1 - q0 if q0 is not None and q1 is not None else None
    r["scrape_rows"] = scraper.got if scraper else None
    return r


# ---- f. the GeoIP database: start-up, memory, reload ----------------------------

GEO_NAME = "www." + ZONE


def geo_ready(server, subnet):
    """A ready() for Server.start: one ECS question for www, true once it is
    answered with an address (gdnsd and gslbd both answer only once the
    database is loaded). At most 20 ms per try."""
    def ready():
        r = dnsclient.ask(server.addr, GEO_NAME, "A", subnet=subnet, timeout=0.02, tries=1)
        return r is not None and r.rcode_name == "NOERROR" and bool(r.addrs)
    return ready


def geo_answers(server, subnets, timeout=1.0):
    """{subnet: sorted addresses, or None when unanswered} for www A."""
    out = {}
    for s in subnets:
        r = dnsclient.ask(server.addr, GEO_NAME, "A", subnet=s, timeout=timeout, tries=3)
        out[s] = r.addrs if r is not None and r.rcode_name == "NOERROR" else None
    return out


class Checker(threading.Thread):
    """Asks www A for the sample subnets in turn during a reload and compares
    each answer with the reference taken before it. Bounded by count and time."""

    def __init__(self, server, reference, rate=200, seconds=20):
        super().__init__(daemon=True)
        self.server, self.reference, self.rate, self.seconds = server, reference, rate, seconds
        self.sent = self.lost = self.wrong = 0
        self.examples = []
        self.stop_flag = threading.Event()

    def run(self):
        _set_cpu(CLIENT_CPU)
        subnets = [s for s, a in self.reference.items() if a is not None]
        end = time.monotonic() + self.seconds
        i = 0
        while (subnets and not self.stop_flag.is_set() and time.monotonic() < end
               and i < self.rate * self.seconds):
            s = subnets[i % len(subnets)]
            r = dnsclient.ask(self.server.addr, GEO_NAME, "A", subnet=s, timeout=0.5, tries=1)
            self.sent += 1
            if r is None:
                self.lost += 1
            elif r.rcode_name != "NOERROR" or r.addrs != self.reference[s]:
                self.wrong += 1
                if len(self.examples) < 5:
                    self.examples.append((s, self.reference[s], r.rcode_name, r.addrs))
            i += 1
            time.sleep(1.0 / self.rate)


def geodb_reload(server, qfile, rate, seconds, rename_at, db_path, new_copy, done_line, sample):
    """Under dnsperf load at `rate` qps for `seconds` and a Checker on the
    `sample` subnets, rename `new_copy` (the same database) over `db_path`
    `rename_at` s in; the reload time is from the rename to the next
    `done_line` in the server's log. The peak RSS is VmHWM reset just before
    the rename and read when the load ends. Then every sample subnet is asked
    again: the data is the same, so no answer may change."""
    reference = geo_answers(server, sample)
    result = {}

    def load():
        result["dnsperf"] = dnsperf(server, qfile, rate, seconds)

    t = threading.Thread(target=load, daemon=True)
    checker = Checker(server, reference, rate=200, seconds=seconds + 5)
    t.start()
    checker.start()
    time.sleep(rename_at)
    server.reset_peak()
    c0 = server.cpu_seconds()
    os.utime(new_copy)  # a new database is newer than the one in use
    log_at = os.path.getsize(server.logpath)
    # Each line the server logs from here on, with when it was first seen
    # (within the 5 ms of a poll): gdnsd's lines carry no time of their own.
    lines, partial = [], b""
    t0 = time.monotonic()
    os.rename(new_copy, db_path)
    result["reload_s"] = None
    with open(server.logpath, "rb") as logf:
        logf.seek(log_at)
        while time.monotonic() < t0 + seconds + 30:
            partial += logf.read()
            now = time.monotonic() - t0
            *done, partial = partial.split(b"\n")
            lines += [(now, l.decode(errors="replace")) for l in done]
            if any(done_line in l for _, l in lines):
                result["reload_s"] = next(t for t, l in lines if done_line in l)
                break
            if not server.alive():
                break
            time.sleep(0.005)
    result["log_lines"] = lines
    result["reload_cpu_s"] = server.cpu_seconds() - c0  # includes the queries meanwhile
    result["under_load"] = (result["reload_s"] is not None
                            and rename_at + result["reload_s"] < seconds)
    t.join(seconds + 40)
    checker.stop_flag.set()
    checker.join(5)
    mem = server.memory_detail_kib()
    result["hwm_kib"], result["rss_after_kib"] = mem["VmHWM"], mem["VmRSS"]
    after = geo_answers(server, sample)
    result["changed_after"] = [(s, reference[s], after[s]) for s in sample
                               if after[s] != reference[s]]
    result["unplaced"] = sum(1 for s in sample if reference[s] is None)
    result["checker"] = {"sent": checker.sent, "lost": checker.lost, "wrong": checker.wrong,
                         "examples": checker.examples}
    result["regions"] = sorted({a for v in reference.values() if v for a in v})
    return result
