#!/usr/bin/python3
"""Load steering under DNS caching: a discrete-time simulation (issue 14, part 4).

Compares three ways of answering clients when one region's demand surges past
its capacity, with every resolver caching its answer for the TTL and the load
figures arriving late (and, for a while, not at all):

  1. plain geo: the nearest region, always;
  2. naive least-loaded: the region with the lowest utilisation last seen;
  3. shedding, as gslbd does it (gslbd/engine/shed.c, README "Load shedding"):
     per region a shed share moved in bounded steps no faster than once per
     control period, with hysteresis, the networks to shed chosen by a hash of
     the network and the region (uniform, as gslbd's select_shed_rank), and sent
     only to a region that is below the low watermark.

It is a model, not gslbd: nothing here talks to the daemons (the end-to-end
test with real balancers is tests/e2e/test_shedding.py). It exists to check
the design's claims: it asserts them and exits 1 when one fails.

Writes docs/steering-sim.png and docs/steering-sim.md (or --out DIR) and prints
the summary. Deterministic: a fixed seed, integer one-second steps, bounded.
Needs numpy and matplotlib (Debian python3-matplotlib; tools/deps.sh sim).
"""

import argparse
import math
import os
import sys

import numpy as np

SEED = 14
STEPS = 1800  # simulated seconds, one step each
TTL = 30  # the service TTL resolvers cache answers for
PERIOD = 2 * TTL  # control period: a step's effect has landed before the next
# Bounded change of a shed share per period. Two limits size it (the sweep in
# the summary measures both): it must not take a region from above HIGH to
# below LOW in one step, or the share swings (under 1 - LOW/HIGH = 0.22 of the
# region's load, less the lumps big resolvers make), and STEP per PERIOD must
# keep up with the surge: 0.05 falls behind this one for minutes.
STEP = 0.15
HIGH, LOW = 0.9, 0.7  # shed.high, shed.low
REPORT_EVERY = 2  # healthd's interval: figures are sampled this often...
REPORT_DELAY = 2  # ...and reach gslbd this much later
STALE = (1100, 1280)  # figures stop arriving in this window (as the surge recedes)
STALE_AFTER = 3 * REPORT_EVERY  # older figures than this count as stale

# name, position on a plane (km), capacity (req/s), share of all networks and
# of the base demand. Base utilisation about 0.5 everywhere.
REGIONS = [
    ("eu-west", (0.0, 0.0), 2000.0, 0.28, 1000.0),
    ("us-east", (-5600.0, 600.0), 5000.0, 0.55, 2500.0),
    ("ap-south", (6400.0, -2600.0), 800.0, 0.17, 400.0),
]
SPREAD_KM = 1300.0  # how far networks lie from the centre they cluster round
NETWORKS = 10000
SURGED = 0  # eu-west's clients surge
SURGE_RAMP = (300, 480)  # demand rises linearly over this...
SURGE_HOLD = 1080  # ...stays up until here...
SURGE_END = 1200  # ...and is back to base here
SURGE_FACTOR = 2.3  # peak demand of the surged region's clients / base


# --- The hash: the same functions as gslbd/engine/select.c ---------------------

M64 = (1 << 64) - 1


def mix64(x):
    """splitmix64's finaliser, as select.c's mix64()."""
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & M64
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def region_key(name):
    """select_region_key(): FNV-1a of the name, then mixed."""
    h = 14695981039346656037
    for c in name.encode():
        h = ((h ^ c) * 1099511628211) & M64
    return mix64(h)


def client_key(net):
    """select_client_key() for the IPv4 /24 numbered `net` (10.x.y.0/24)."""
    addr = (10 << 24) | (net << 8)
    hi = addr << 32  # the address as big-endian words, v4 in the high word
    lo = 0
    return mix64(hi ^ mix64(lo ^ (24 << 1 | 0)))


def hrw_score(client, region, weight=1):
    """select_hrw_score(): weight / -ln(u), u in (0, 1) from the hash."""
    u = ((mix64(client ^ region) >> 11) + 0.5) * 2.0**-53
    return weight / -math.log(u)


def shed_quantile(client, region, weight=1):
    """Where this network's score ranks among all networks' for the region.

    The score's distribution is P(score <= x) = exp(-weight / x), so this is the
    network's rank as a fraction, computed from the network alone: gslbd can
    decide per query, without a list of networks, that a network is shed iff
    its quantile is below the region's shed share. The same networks (the
    lowest scores) move first, and raising the share only adds to them.
    """
    return math.exp(-weight / hrw_score(client, region, weight))


# --- The world --------------------------------------------------------------------


def make_world(rng):
    """Networks on a plane round the region centres, each with its regions in
    order of distance and a heavy-tailed request rate (a few big resolvers)."""
    names = [r[0] for r in REGIONS]
    centres = np.array([r[1] for r in REGIONS])
    k = len(REGIONS)
    cluster = rng.choice(k, size=NETWORKS, p=[r[3] for r in REGIONS])
    pos = centres[cluster] + rng.normal(0.0, SPREAD_KM, size=(NETWORKS, 2))
    dist = np.linalg.norm(pos[:, None, :] - centres[None, :, :], axis=2)
    order = np.argsort(dist, axis=1)
    home = order[:, 0]
    # Pareto (alpha 1.3): the largest network carries a few per cent of its
    # region's load, as a big public resolver does.
    rate = rng.pareto(1.3, size=NETWORKS) + 1.0
    for r in range(k):  # scale each region's base demand to its target
        mine = home == r
        rate[mine] *= REGIONS[r][4] / rate[mine].sum()
    rkeys = [region_key(n) for n in names]
    ckeys = [client_key(i) for i in range(NETWORKS)]
    quant = np.array([[shed_quantile(c, rk) for rk in rkeys] for c in ckeys])
    offset = rng.integers(0, TTL, size=NETWORKS)  # staggered cache expiry
    return {
        "names": names,
        "cap": np.array([r[2] for r in REGIONS]),
        "order": order,
        "home": home,
        "rate": rate,
        "quant": quant,
        "offset": offset,
    }


def surge(t, peak=SURGE_FACTOR):
    """Demand factor of the surged region's clients at second t."""
    a, b = SURGE_RAMP
    if t < a or t >= SURGE_END:
        return 1.0
    if t < b:
        return 1.0 + (peak - 1.0) * (t - a) / (b - a)
    if t < SURGE_HOLD:
        return peak
    return peak - (peak - 1.0) * (t - SURGE_HOLD) / (SURGE_END - SURGE_HOLD)


# --- Policies: each answers the networks whose cache expired at second t -------


def answer_geo(world, nets, seen, stale, state):
    return world["home"][nets]


def answer_least_loaded(world, nets, seen, stale, state):
    # Everyone re-resolving now gets the same region: the herd.
    return np.full(len(nets), int(np.argmin(seen)))


def answer_shed(world, nets, seen, stale, state):
    home = world["home"][nets]
    out = home.copy()
    shed = world["quant"][nets, home] < state["s"][home]
    for i in np.nonzero(shed)[0]:
        for r in world["order"][nets[i], 1:]:
            if seen[r] < LOW:  # never into a region above low
                out[i] = r
                break  # none below low: it stays home
    return out


def control_shed(t, seen, stale, state):
    """Move each region's shed share by at most one step once per PERIOD."""
    s, last, step = state["s"], state["last"], state["step"]
    for r in range(len(s)):
        if t - last[r] < PERIOD:
            continue
        if stale:
            delta = -step if s[r] > 0 else 0.0  # blind: stop shedding, gradually
        elif seen[r] > HIGH and s[r] < 1:
            delta = step
        elif seen[r] < LOW and s[r] > 0:
            delta = -step
        else:
            delta = 0.0  # hysteresis: hold between low and high
        if delta != 0.0:
            s[r] = min(1.0, max(0.0, round(s[r] + delta, 10)))
            last[r] = t
            state["changes"][r].append((t, delta))


POLICIES = [
    ("plain geo", answer_geo, None),
    ("naive least-loaded", answer_least_loaded, None),
    ("shedding (issue 14 part 3)", answer_shed, control_shed),
]


# --- The run ----------------------------------------------------------------------


def run(world, answer, control, step=STEP, peak=SURGE_FACTOR, stale_win=STALE):
    k = len(world["cap"])
    util = np.zeros((STEPS, k))
    shares = np.zeros((STEPS, k))
    assign = world["home"].copy()  # steady state before t = 0: everyone at home
    moved = np.zeros(NETWORKS, dtype=bool)
    flips = 0
    state = {"s": np.zeros(k), "last": np.full(k, -PERIOD), "changes": [[] for _ in range(k)],
             "step": step}
    home_factor = np.ones(k)
    last_seen = np.zeros(k)
    for t in range(STEPS):
        # Figures: sampled every REPORT_EVERY s, REPORT_DELAY s old on arrival,
        # none while the stale window lasts (the last ones stay and age).
        sample = (t - REPORT_DELAY) // REPORT_EVERY * REPORT_EVERY
        in_stale = stale_win[0] <= t < stale_win[1]
        if not in_stale and sample >= 0:
            last_seen = util[sample].copy()
        seen = last_seen
        stale = in_stale and t - stale_win[0] + REPORT_DELAY > STALE_AFTER
        if control is not None:
            control(t, seen, stale, state)
        nets = np.nonzero(world["offset"] == t % TTL)[0]
        new = answer(world, nets, seen, stale, state)
        flips += int(np.count_nonzero(new != assign[nets]))
        assign[nets] = new
        moved[nets] |= new != world["home"][nets]
        home_factor[:] = 1.0
        home_factor[SURGED] = surge(t, peak)
        demand = world["rate"] * home_factor[world["home"]]
        load = np.bincount(assign, weights=demand, minlength=k)
        util[t] = load / world["cap"]
        shares[t] = state["s"]
    return {
        "util": util,
        "shares": shares,
        "changes": state["changes"],
        "moved": moved.mean(),
        "moved_mask": moved,
        "flips": flips,
    }


def reversals(changes):
    """How often a shed share turned round (a raise after a lower or back)."""
    signs = [d > 0 for _, d in changes]
    return sum(1 for a, b in zip(signs, signs[1:]) if a != b)


def crossings(u, level=1.0, rearm=0.95):
    """Separate excursions above `level`: counted on the way up, re-armed only
    after falling below `rearm`, so noise at the line counts once."""
    n, armed = 0, True
    for x in u:
        if armed and x > level:
            n, armed = n + 1, False
        elif x < rearm:
            armed = True
    return n


def first_over(u, level):
    idx = np.nonzero(u > level)[0]
    return int(idx[0]) if len(idx) else None


SWEEP_STEPS = (0.05, 0.10, 0.15, 0.20, 0.25)
SWEEP_PEAKS = (1.8, 2.3, 3.0)
STALE_MID = (700, 880)  # a variant: the figures stop in the middle of the surge


def sweep(world):
    """The shedding policy alone over steps and surge peaks: where the claims
    hold and where they break. Rows of (label, step, peak, result)."""
    rows = []
    for peak in SWEEP_PEAKS:
        for step in SWEEP_STEPS:
            rows.append(("", step, peak, run(world, answer_shed, control_shed, step, peak)))
    res = run(world, answer_shed, control_shed, STEP, SURGE_FACTOR, STALE_MID)
    rows.append((f"figures stale t={STALE_MID[0]}-{STALE_MID[1]} s", STEP, SURGE_FACTOR, res))
    return rows


# --- Output -----------------------------------------------------------------------


def plot(path, world, results):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(results), 1, figsize=(10, 9.5), sharex=True)
    t = np.arange(STEPS)
    colours = ["tab:blue", "tab:orange", "tab:green"]
    for ax, (name, res) in zip(axes, results):
        for r, rn in enumerate(world["names"]):
            cap = int(world["cap"][r])
            ax.plot(t, res["util"][:, r], lw=0.9, color=colours[r], label=f"{rn} ({cap} req/s)")
        ax.axhline(1.0, color="red", lw=1.0, ls="--", label="capacity")
        ax.axhline(HIGH, color="grey", lw=0.6, ls=":", label="shed.high, shed.low")
        ax.axhline(LOW, color="grey", lw=0.6, ls=":")
        ax.axvspan(SURGE_RAMP[0], SURGE_END, color="red", alpha=0.06, label="eu-west surge")
        ax.axvspan(STALE[0], STALE[1], color="grey", alpha=0.15, label="figures stale")
        if res["changes"] and any(res["changes"]):
            ax2 = ax.twinx()
            ax2.step(t, res["shares"][:, SURGED], where="post", color="black", lw=0.8, ls="-.")
            ax2.set_ylim(0, 1)
            ax2.set_ylabel("eu-west shed share (dash-dot)", fontsize=8)
        ax.set_title(name, fontsize=10)
        ax.set_ylabel("utilisation")
        ax.set_ylim(0, 2.0)
        ax.grid(alpha=0.3)
    axes[0].legend(loc="upper right", fontsize=7, ncol=3)
    axes[-1].set_xlabel(
        f"simulated seconds (TTL {TTL} s, control period {PERIOD} s, step {STEP}, "
        f"figures {REPORT_DELAY}-{REPORT_DELAY + REPORT_EVERY} s late)"
    )
    fig.suptitle(
        f"{NETWORKS} client networks, resolvers caching for the TTL: utilisation per region",
        fontsize=11,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def sweep_lines(rows):
    grace = SURGE_RAMP[0] + 2 * PERIOD
    lines = [
        "",
        "Shedding alone, other steps and surges (same world; peak is the surged clients' "
        f"demand factor, {SURGE_FACTOR} above; eu-west's utilisation peaks at about half of it):",
        "",
        f"| step | surge peak | variant | worst utilisation from t={grace} s | seconds over "
        "capacity | reversals per region | largest eu-west share | networks moved |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, step, peak, res in rows:
        u = res["util"]
        revs = ", ".join(str(reversals(c)) for c in res["changes"])
        lines.append(
            f"| {step:.2f} | {peak} | {label or '-'} | {u[grace:].max():.2f} | "
            f"{int((u > 1.0).sum())} | {revs} | {res['shares'][:, SURGED].max():.2f} | "
            f"{100 * res['moved']:.1f} % |"
        )
    return lines


def summarise(world, results, checks, rows):
    names = world["names"]
    grace = SURGE_RAMP[0] + 2 * PERIOD
    lines = [
        "# Steering simulation: plain geo, naive least-loaded, shedding",
        "",
        "Written by `make sim` (sim/steering.py); do not edit by hand. A model of the",
        "load shedding gslbd does (README, Load shedding).",
        "",
        f"- {NETWORKS} client networks (IPv4 /24s) on a plane round {len(names)} regions, "
        "each with its regions in order of distance and a Pareto request rate "
        f"(largest network {world['rate'].max():.0f} req/s).",
        "- Regions and capacities: "
        + ", ".join(f"{n} {int(c)} req/s" for n, c in zip(names, world["cap"]))
        + "; base utilisation about 0.5.",
        f"- eu-west's clients surge from t={SURGE_RAMP[0]} s to {SURGE_FACTOR}x their demand "
        f"(reached at t={SURGE_RAMP[1]} s), hold until t={SURGE_HOLD} s and are back "
        f"to base at t={SURGE_END} s.",
        f"- Resolvers cache each answer for the TTL ({TTL} s), expiring at staggered times. "
        f"Figures are sampled every {REPORT_EVERY} s and arrive {REPORT_DELAY} s later; "
        f"none arrive from t={STALE[0]} s to t={STALE[1]} s.",
        f"- Shedding: high {HIGH}, low {LOW}, step {STEP} per control period of {PERIOD} s "
        "(2 x TTL); a network is shed iff its rendezvous-hash quantile for its nearest region "
        "is below that region's shed share, and goes to the next region in its order below low.",
        "",
        "| policy | region | peak utilisation | seconds over capacity | excursions over capacity "
        "| shed-share reversals |",
        "|---|---|---|---|---|---|",
    ]
    for (name, res), (_, _, control) in zip(results, POLICIES):
        for r, rn in enumerate(names):
            u = res["util"][:, r]
            rev = reversals(res["changes"][r]) if control is not None else None
            lines.append(
                f"| {name} | {rn} | {u.max():.2f} | {int((u > 1.0).sum())} | {crossings(u)} "
                f"| {'-' if rev is None else rev} |"
            )
    lines += [
        "",
        "| policy | networks ever answered other than their nearest | answer changes "
        "(all networks, whole run) |",
        "|---|---|---|",
    ]
    for name, res in results:
        lines.append(f"| {name} | {100 * res['moved']:.1f} % | {res['flips']} |")
    shed = results[2][1]
    lines += ["", "Shed share changes (t, region, new share):", ""]
    for r, rn in enumerate(names):
        s, text = 0.0, []
        for t, d in shed["changes"][r]:
            s = round(s + d, 10)
            text.append(f"{t} s: {s:.2f}")
        lines.append(f"- {rn}: " + (", ".join(text) if text else "never shed"))
    lines += ["", f"Claims checked (shedding under capacity from t={grace} s, two control "
              "periods after the surge begins):", ""]
    lines += [f"- {'holds' if ok else 'FAILS'}: {text}" for ok, text in checks]
    lines += sweep_lines(rows)
    return "\n".join(lines) + "\n"


def check(world, results):
    """The issue's claims, measured. Returns [(ok, text)]."""
    geo, naive, shed = (res for _, res in results)
    grace = SURGE_RAMP[0] + 2 * PERIOD
    out = []
    after = shed["util"][grace:]
    worst = after.max()
    out.append(
        (worst <= 1.0, f"shedding stays at or under capacity from t={grace} s: worst {worst:.3f}")
    )
    revs = [reversals(c) for c in shed["changes"]]
    out.append((max(revs) <= 1, f"each shed share reverses at most once: {revs}"))
    exc = [crossings(naive["util"][:, r]) for r in range(len(world["names"]))]
    out.append(
        (max(exc) >= 3, f"naive least-loaded swings over capacity repeatedly: excursions {exc}")
    )
    # Sticky: whoever moved away from eu-west had a quantile under its largest
    # share, so a second surge would move the same networks again.
    home = world["home"] == SURGED
    away = shed["moved_mask"] & home
    top = shed["shares"][:, SURGED].max()
    others = int(np.count_nonzero(shed["moved_mask"] & ~home))
    sticky = bool(np.all(world["quant"][away, SURGED] < top)) and others == 0
    out.append(
        (
            sticky,
            f"only eu-west networks ranked under its largest share ({top:.2f}) moved: "
            f"{int(away.sum())} of its {int(home.sum())}, and {others} of other regions",
        )
    )
    geo_over = int((geo["util"][:, SURGED] > 1.0).sum())
    out.append((geo_over > 0, f"plain geo overloads the surged region: {geo_over} s over"))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "docs"), help="output directory")
    args = ap.parse_args()
    rng = np.random.default_rng(SEED)
    world = make_world(rng)
    results = [(name, run(world, answer, control)) for name, answer, control in POLICIES]
    checks = check(world, results)
    text = summarise(world, results, checks, sweep(world))
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "steering-sim.md"), "w") as f:
        f.write(text)
    plot(os.path.join(args.out, "steering-sim.png"), world, results)
    sys.stdout.write(text)
    failed = [t for ok, t in checks if not ok]
    for t in failed:
        print(f"sim/steering.py: claim fails: {t}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
