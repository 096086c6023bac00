"""gslbtest: the end-to-end test harness of gslb, in Python with dnspython.

A test script (tests/e2e/test_NAME.py) starts the real daemons on loopback, asks them
questions with dnspython and checks the answers, one TAP line per assertion:

    #!/usr/bin/env python3
    import gslbtest as g

    with g.Test(__file__) as t:
        zones = g.write_example_zone(t)
        srv = g.Gslbd(t, "example", zones=zones)           # a free port, 127.0.0.1 and ::1
        t.start(srv, "gslbd starts and prints ready:", bail=True)
        for tr in g.TRANSPORTS:                             # udp4 tcp4 udp6 tcp6
            r = srv.query("www.gslb.example.com", "A", transport=tr)
            r.check("RFC 1035 4.1.1: AA set, RA clear (%s)" % tr,
                    rcode="NOERROR", flags="QR AA RD", noflags="RA TC")
            r.check_record("pool address, TTL 30 (%s)" % tr, rtype="A", ttl=30,
                           rdata="192.0.2.10")
        t.eq("SIGTERM stops gslbd with status 0", 0, srv.stop())

What is where:

  Test (gslbtest.tap)     one per script: TAP output (ok / not ok + "#   " details /
                          SKIP / "# SCRIPT: N passed, N failed"), assertions (ok, not_ok,
                          skip, check, eq, like, unlike, compare, report, group, bail),
                          the temporary directory (t.tmp, t.path, t.write; kept with
                          E2E_KEEP=1), t.run for commands, t.wait_for for bounded
                          polling, and clean-up: every process
                          stopped, logs scanned for sanitizer/valgrind reports.
  Daemon, Gslbd, Healthd, Nginx, Gslbctl (gslbtest.procs)
                          processes: start (bounded wait for the readiness line),
                          stop (exit status), reload (SIGHUP), stall (SIGSTOP for a
                          while), wait_log, mark, log; Gslbd.twin for restarts;
                          GSLBD_WRAPPER (e.g. valgrind) in front of gslbd and healthd.
                          Their logs come without the UTC time that starts each line
                          (log(raw=True) keeps it; untimed() strips it from a text).
  Backend, FakeGslbd, self_signed (gslbtest.procs, running gslbtest/stubs.py)
                          stand-ins for healthd's tests: an HTTP(S) server whose
                          behaviour a mode file sets, and a control socket that
                          records every line healthd sends.
  Browser, Page (gslbtest.devtools, imported on its own)
                          headless Chromium over the DevTools protocol on a pipe:
                          navigate, evaluate, bounded waits, events, screenshots.
  until (gslbtest.tap)    a bounded poll: the value and the time it took.
  private_network, Network, Host, netns_unavailable (gslbtest.netns)
                          re-run the script in a network namespace of its own
                          (unshare -n), for port 53 and tools that chase addresses;
                          or hosts on a private LAN of namespaces joined by a bridge,
                          daemons run inside, paths cut with nftables.
  query, make_query, send_raw, pipeline, keepopen, Response, dig (gslbtest.dnsq)
                          DNS over udp4/tcp4/udp6/tcp6 with dnspython; Response's
                          checks: check, check_question, check_count, check_record,
                          check_no_record, check_section, check_types, check_edns,
                          check_option, check_ecs, check_size, check_noreply,
                          check_reply, cmp; option_bytes (EDNS options as received).
  TcpConn, udp_exchange, tcp_exchange, idle_close, tcp_cap, load (gslbtest.net)
                          raw bytes over loopback sockets, TCP behaviour, bounded loads
                          (LoadResult.tally counts their answers).
  EXAMPLE_ZONE, write_example_zone, EXAMPLE_NEG_SOA, GSLBD_OPT (gslbtest.zones)

The contract with tools/run-tests.sh: it counts lines starting "ok " and "not ok ", a
script that exits non-zero without a "not ok" line counts as one failure, and so does
one that overruns E2E_TIMEOUT. An exception in the script becomes a "not ok" line with
the traceback; a signal ends it without one (run-tests.sh reports the timeout).

Rules the harness keeps: traffic goes to 127.0.0.1 and ::1 only (net.loopback refuses
anything else), or between the hosts of a test's own Network of namespaces; every wait is bounded in time and every loop in count; every process a
script starts is stopped when it ends. See tests/e2e/README.md for how to write a test.
"""

import sys

try:
    import dns.message  # noqa: F401  (dnspython: Debian python3-dnspython)
except ImportError:
    print("not ok - dnspython is importable by %s" % sys.executable, flush=True)
    print("#   apt-get install python3-dnspython (make deps), and run the tests with the "
          "system python3 (/usr/bin/python3)", flush=True)
    sys.exit(1)

# pylint: disable=wrong-import-position
from .dnsq import (TRANSPORTS, DigResult, Response, compression, dig, exchange,  # noqa: E402
                   keepopen, make_query, pipeline, query, send_raw)
from .net import (LoadResult, TcpCapResult, TcpConn, frame, host_of, idle_close,  # noqa: E402
                  load, loopback, tcp_cap, tcp_exchange, udp_exchange)
from .netns import Host, Network, netns_unavailable, private_network  # noqa: E402
from .perf import DnsperfLoad, DnsperfResult  # noqa: E402
from .procs import (AB, HAPROXY, Backend, Daemon, FakeGslbd, Gslbctl, Gslbd,  # noqa: E402
                    HAProxy, Healthd, HttpLoad, Nginx, free_port, self_signed, untimed,
                    wrapper)
from .tap import READY_TIMEOUT, ROOT, Result, Test, Waited, until  # noqa: E402
from .zones import EXAMPLE_NEG_SOA, EXAMPLE_ZONE, GSLBD_OPT, write_example_zone  # noqa: E402

__all__ = [
    "TRANSPORTS", "DigResult", "Response", "compression", "dig", "exchange", "keepopen",
    "make_query", "pipeline", "query", "send_raw", "LoadResult", "TcpCapResult", "TcpConn",
    "frame", "host_of", "idle_close", "load", "loopback", "tcp_cap", "tcp_exchange",
    "udp_exchange", "Host", "Network", "netns_unavailable", "private_network", "AB", "HAPROXY", "Backend", "Daemon", "FakeGslbd",
    "Gslbctl", "Gslbd", "HAProxy", "Healthd", "HttpLoad", "Nginx", "free_port", "self_signed",
    "wrapper", "READY_TIMEOUT", "ROOT",
    "Result", "Test", "Waited", "until", "EXAMPLE_NEG_SOA", "EXAMPLE_ZONE", "GSLBD_OPT",
    "write_example_zone",
]
