"""gslbtest.netns: run a whole script in a network namespace of its own (unshare -n).

Some checks need what a shared machine cannot give a test: port 53 (Zonemaster talks to
nothing else), or several loopback addresses that tools chase on their own. Inside a new
network namespace only a loopback device exists, nothing can leave the machine, and any
port is free. private_network() re-runs the script there, before its Test exists:

    reason = g.private_network()          # re-runs the script inside, or says why not
    with g.Test(__file__) as t:
        if reason:
            t.skip("conformance checkers", reason)
        ...                               # inside: `ip link set lo up`, then port 53

It needs the right to create a network namespace (root, or a user namespace the system
allows); it never changes the namespace the script was started in.
"""

import os
import subprocess
import sys

# Set in the environment of the re-run script: it is inside its own namespace.
ENV = "GSLB_E2E_NETNS"


def private_network(argv=None):
    """Inside the private namespace (ENV set): return None. Outside: when `unshare -n`
    works, replace this process with `unshare -n PYTHON SCRIPT ARGS...` (same process id,
    so a runner's timeout still reaches it; this call does not return); otherwise return
    the reason, for a skip."""
    if os.environ.get(ENV):
        return None
    argv = list(sys.argv if argv is None else argv)
    try:
        probe = subprocess.run(["unshare", "-n", "true"], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "cannot run unshare: %s" % e
    if probe.returncode != 0:
        return "cannot create a network namespace (needs root)"
    sys.stdout.flush()
    sys.stderr.flush()
    env = dict(os.environ, **{ENV: "1"})
    os.execvpe("unshare", ["unshare", "-n", sys.executable] + argv, env)
    return "exec unshare failed"  # not reached: execvpe raises on failure
