#!/usr/bin/env python3
"""Measurements and report for scripts/bench.sh (Python 3 standard library; the plot needs
matplotlib). Subcommands:

  router  --a A.json --b B.json --ta T --tb T --final F.json --mode M --encap E --workers W
          --out POINT.json
      Rates of a router run between two counter snapshots (vrouterctl --json stats, taken at
      wall-clock times ta and tb), checks that the traffic was really forwarded, prints the
      drop counters (window and whole run), writes POINT.json. Exit 1 when the run is not a
      valid measurement (nothing decapsulated, datapath drops above 1 %, ...).
  testpmd --log LOG --port P --ta T --tb T --workers W --encap E --role ROLE [--mode M]
          --out POINT.json
      Rate of dpdk-testpmd's port P between the first two "show port stats P" answers in LOG
      (asked at wall-clock times ta and tb). Exit 1 when they are missing or the rate is 0.
  report  POINT.json... --csv F --txt F [--png F] [--title T]
      Joins router and ceiling points into the table (stdout and --txt), the CSV, the plot;
      with repetitions (--rep), medians, each router point paired with its own ceiling.
"""
import argparse
import glob
import json
import re
import sys

# Encapsulation -> the event that counts its decapsulations / encapsulations.
DECAP_EVENT = {"vxlan": "vxlan_decap", "mpls-udp": "mpls_udp_decap", "mpls-gre": "mpls_gre_decap"}
ENCAP_EVENT = {"vxlan": "vxlan_encap", "mpls-udp": "mpls_udp_encap", "mpls-gre": "mpls_gre_encap"}
# A datapath drop rate above this (fraction of what the fabric received) voids a measurement.
MAX_DATAPATH_DROPS = 0.01
# Above this fraction refused by a vif's TX queue, the consumer (the VM) set the rate.
SINK_LIMITED = 0.05


def load(path):
    with open(path) as f:
        return json.load(f)


def delta(a, b):
    """b - a for every integer leaf of two snapshots of the same shape."""
    if isinstance(b, dict):
        return {k: delta(a.get(k, 0) if isinstance(a, dict) else 0, v) for k, v in b.items()}
    if isinstance(b, list):
        a = a if isinstance(a, list) else []
        return [delta(a[i] if i < len(a) else 0, v) for i, v in enumerate(b)]
    if isinstance(b, bool) or not isinstance(b, int):
        return b
    return b - (a if isinstance(a, int) and not isinstance(a, bool) else 0)


def nonzero(d):
    return {k: v for k, v in sorted(d.items()) if v}


def cmd_router(a):
    A, B = load(a.a), load(a.b)
    secs = a.tb - a.ta
    if secs <= 0:
        sys.exit(f"bad window: {a.ta} .. {a.tb}")
    d = delta(A, B)
    ports = d["ports"]
    fabric = ports[0]
    vifs = ports[1:]
    rx = fabric["rx_packets"]
    decap = d["events"].get(DECAP_EVENT[a.encap], 0)
    encap = d["events"].get(ENCAP_EVENT[a.encap], 0)
    vif_tx = sum(p["tx_packets"] for p in vifs)
    vif_rx = sum(p["rx_packets"] for p in vifs)
    fab_tx = fabric["tx_packets"]
    drops = nonzero(d["drops"])
    tx_full = drops.get("tx_full", 0)
    datapath_drops = sum(v for k, v in drops.items() if k != "tx_full")
    # What counts as forwarded: delivered to the VMs' ports, or (PVP) sent back to the fabric.
    fwd = fab_tx if a.mode == "pvp" else vif_tx
    per_worker = []
    for c in d["per_core"]:
        per_worker.append((c["tx_packets"][0] if a.mode == "pvp" else sum(c["tx_packets"][1:])) /
                          secs / 1e6)
    final = load(a.final) if a.final else None

    problems, warnings = [], []
    if rx == 0:
        problems.append("the fabric received nothing in the window")
    if decap == 0:
        problems.append(f"no {DECAP_EVENT[a.encap]} in the window")
    elif decap < 0.99 * rx:
        problems.append(f"only {decap} of {rx} received packets were decapsulated ({DECAP_EVENT[a.encap]})")
    if rx and datapath_drops > MAX_DATAPATH_DROPS * rx:
        problems.append(f"datapath drops {datapath_drops} = {100 * datapath_drops / rx:.1f} % of the "
                        f"received packets (more than {100 * MAX_DATAPATH_DROPS:.0f} %)")
    if fwd == 0:
        problems.append("nothing forwarded in the window")
    if a.mode == "null" and tx_full:
        problems.append(f"net_null refused {tx_full} packets (tx_full): impossible for net_null")
    if a.mode == "pvp" and vif_rx and encap < 0.99 * vif_rx:
        problems.append(f"only {encap} of {vif_rx} packets back from the VM were encapsulated")
    sink_limited = bool(rx) and tx_full > SINK_LIMITED * rx
    if sink_limited:
        warnings.append(f"{tx_full} packets ({100 * tx_full / rx:.0f} % of the received) refused by "
                        "the vhost-user queue (tx_full): the VM side, not the router, set this rate")
    if final:
        mp = final.get("mempool", {})
        # in_use_at_start is read once the workers run: a burst in flight may be in it.
        if mp.get("in_use_at_exit", 0) > mp.get("in_use_at_start", 0):
            warnings.append(f"mbufs in use at exit {mp.get('in_use_at_exit')} > at start "
                            f"{mp.get('in_use_at_start')}: a leak?")

    tag = f"{a.mode}/{a.encap}/{a.workers}w"
    print(f"  [{tag}] window {secs:.2f} s: fabric rx {rx} ({rx / secs / 1e6:.2f} Mpps), "
          f"{DECAP_EVENT[a.encap]} {decap}, vif tx {vif_tx}, vif rx {vif_rx}, fabric tx {fab_tx}, "
          f"{ENCAP_EVENT[a.encap]} {encap}")
    print(f"  [{tag}] drops in the window: {json.dumps(drops) if drops else 'none'}")
    if final:
        fd = nonzero(final.get("drops", {}))
        print(f"  [{tag}] drops over the whole run (--stats-json, start-up included): "
              f"{json.dumps(fd) if fd else 'none'}")
    print(f"  [{tag}] per worker Mpps: " + " ".join(f"{x:.2f}" for x in per_worker))
    for w in warnings:
        print(f"  [{tag}] WARNING: {w}")
    for p in problems:
        print(f"  [{tag}] FAIL: {p}")

    point = {
        "kind": "router", "mode": a.mode, "encap": a.encap, "workers": a.workers, "rep": a.rep,
        "window_s": round(secs, 4), "mpps": fwd / secs / 1e6,
        "rx_mpps": rx / secs / 1e6, "per_worker_mpps": per_worker,
        "drops": drops, "datapath_drops": datapath_drops, "tx_full": tx_full,
        "loss_pct": max(0.0, 100.0 * (rx - fwd) / rx) if rx else None,
        "sink_limited": sink_limited, "valid": not problems, "problems": problems,
        "warnings": warnings,
    }
    with open(a.out, "w") as f:
        json.dump(point, f, indent=1)
    return 0 if not problems else 1


STAT_HDR = re.compile(r"NIC statistics for port (\d+)")
TX_PACKETS = re.compile(r"^\s*TX-packets:\s*(\d+)\s+TX-errors")
RX_PACKETS = re.compile(r"^\s*RX-packets:\s*(\d+)\s+RX-missed")


def testpmd_counters(log, port):
    """(rx, tx) cumulative packets of each "show port stats PORT" block in LOG, in order."""
    out, cur, rx = [], None, None
    with open(log, errors="replace") as f:
        for line in f:
            m = STAT_HDR.search(line)
            if m:
                cur, rx = int(m.group(1)), None
                continue
            if cur != port:
                continue
            m = RX_PACKETS.search(line)
            if m:
                rx = int(m.group(1))
            m = TX_PACKETS.search(line)
            if m:
                out.append((rx, int(m.group(1))))
                cur = None
    return out


def cmd_testpmd(a):
    c = testpmd_counters(a.log, a.port)
    tag = f"{a.role}{'/' + a.mode if a.mode else ''}/{a.encap}/{a.workers}w"
    secs = a.tb - a.ta
    if len(c) < 2 or secs <= 0:
        print(f"  [{tag}] FAIL: {len(c)} 'show port stats {a.port}' answers in {a.log} (2 wanted)")
        return 1
    tx = c[1][1] - c[0][1]
    mpps = tx / secs / 1e6
    print(f"  [{tag}] testpmd port {a.port}: {tx} packets sent in {secs:.2f} s -> {mpps:.2f} Mpps")
    point = {"kind": a.role, "mode": a.mode, "encap": a.encap, "workers": a.workers, "rep": a.rep,
             "mpps": mpps, "window_s": round(secs, 4), "valid": mpps > 0}
    with open(a.out, "w") as f:
        json.dump(point, f, indent=1)
    if mpps <= 0:
        print(f"  [{tag}] FAIL: testpmd forwarded nothing")
        return 1
    return 0


COLS = ["mode", "encap", "workers", "router_mpps", "mpps_per_worker", "testpmd_mpps", "ratio",
        "rx_mpps", "loss_pct", "path_testpmd_mpps", "path_ratio", "reps", "ratio_min",
        "ratio_max", "note"]
HEAD = ["mode", "encap", "workers", "router Mpps", "Mpps/worker", "testpmd Mpps", "ratio",
        "fabric rx Mpps", "loss %", "same-path testpmd", "path ratio", "reps", "ratio min",
        "ratio max", "note"]


def fmt(v, nd=2):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return str(v)


def median(xs):
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return None
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def build_rows(pts):
    """One row per (mode, encap, workers): medians over repetitions; each repetition's router
    point is paired with the ceiling (and same-path) point of the same repetition."""
    ceil, path, router = {}, {}, {}
    for p in pts:
        rep = p.get("rep", 1)
        if p["kind"] == "ceiling":
            ceil[(p["encap"], p["workers"], rep)] = p
        elif p["kind"] == "path":
            path[(p["mode"], p["encap"], p["workers"], rep)] = p
        else:
            router.setdefault((p["mode"], p["encap"], p["workers"]), []).append(p)
    order = {"null": 0, "vhost": 1, "pvp": 2}
    enc_order = {"vxlan": 0, "mpls-udp": 1, "mpls-gre": 2}
    rows = []
    for key in sorted(router, key=lambda k: (order.get(k[0], 9), enc_order.get(k[1], 9), k[2])):
        mode, encap, w = key
        ps = router[key]
        ratios, pratios, cs, ts = [], [], [], []
        for p in ps:
            rep = p.get("rep", 1)
            c = ceil.get((encap, w, rep))
            t = path.get((mode, encap, w, rep))
            if c and c.get("valid") and c["mpps"]:
                cs.append(c["mpps"])
                ratios.append(p["mpps"] / c["mpps"])
            if t and t.get("valid") and t["mpps"]:
                ts.append(t["mpps"])
                pratios.append(p["mpps"] / t["mpps"])
        note = []
        if not all(p["valid"] for p in ps):
            note.append("INVALID")
        if any(p.get("sink_limited") for p in ps):
            note.append("vm-limited")
        if not cs:
            note.append("no-ceiling")
        mpps = median(p["mpps"] for p in ps)
        rows.append({
            "mode": mode, "encap": encap, "workers": w,
            "router_mpps": mpps, "mpps_per_worker": mpps / w,
            "testpmd_mpps": median(cs), "ratio": median(ratios),
            "rx_mpps": median(p["rx_mpps"] for p in ps),
            "loss_pct": median(p.get("loss_pct") for p in ps),
            "path_testpmd_mpps": median(ts), "path_ratio": median(pratios),
            "reps": len(ps), "ratio_min": min(ratios) if ratios else None,
            "ratio_max": max(ratios) if ratios else None,
            "note": ",".join(note),
        })
    ceil_med = {}
    for (encap, w, _), c in ceil.items():
        if c.get("valid"):
            ceil_med.setdefault((encap, w), []).append(c["mpps"])
    return rows, {k: median(v) for k, v in ceil_med.items()}


def cmd_report(a):
    files = []
    for p in a.points:
        files.extend(sorted(glob.glob(p)))
    pts = [load(f) for f in files]
    if not pts:
        print("!!! no measurement points: every run failed (see the log above)")
        return 1
    rows, ceil = build_rows(pts)
    with open(a.csv, "w") as f:
        f.write(",".join(COLS) + "\n")
        for r in rows:
            f.write(",".join("" if r[k] is None else (f"{r[k]:.4f}" if isinstance(r[k], float)
                                                     else str(r[k])) for k in COLS) + "\n")
    # The table: the repetition columns only when there were repetitions.
    cols = [k for k in COLS if k not in ("reps", "ratio_min", "ratio_max")
            or any(r["reps"] > 1 for r in rows)]
    head = [HEAD[COLS.index(k)] for k in cols]
    cells = [[fmt(r[k], 3 if "ratio" in k else 2) for k in cols] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h)
              for i, h in enumerate(head)]
    lines = ["  ".join(h.rjust(w) if i > 1 else h.ljust(w) for i, (h, w) in
                       enumerate(zip(head, widths)))]
    lines.append("  ".join("-" * w for w in widths))
    for c in cells:
        lines.append("  ".join(x.rjust(w) if i > 1 else x.ljust(w) for i, (x, w) in
                               enumerate(zip(c, widths))))
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    with open(a.txt, "w") as f:
        f.write(text)
    rc = 0 if all("INVALID" not in r["note"] for r in rows) else 1
    if a.png:
        try:
            plot(rows, ceil, a.png, a.title)
            print(f"plot: {a.png}")
        except ImportError as e:
            print(f"!!! NO PLOT: matplotlib is not available ({e}); the table above is complete",
                  file=sys.stderr)
            rc = rc or 3
    return rc


def plot(rows, ceil, png, title):
    """Left: Mpps against cores (vrouter per mode and encap, testpmd's ceiling in grey).
    Right: vrouter / testpmd against cores."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"vxlan": "tab:blue", "mpls-udp": "tab:orange", "mpls-gre": "tab:green"}
    styles = {"null": ("-", "o"), "vhost": ("--", "s"), "pvp": (":", "^")}
    fig, (ax, ar) = plt.subplots(1, 2, figsize=(12, 5), dpi=110)
    series = {}
    for r in rows:
        series.setdefault((r["mode"], r["encap"]), []).append(r)
    for (mode, encap), rs in sorted(series.items()):
        rs.sort(key=lambda r: r["workers"])
        ls, mk = styles.get(mode, ("-", "o"))
        kw = dict(linestyle=ls, marker=mk, color=colors.get(encap), label=f"vrouter {mode} {encap}")
        ax.plot([r["workers"] for r in rs], [r["router_mpps"] for r in rs], **kw)
        pts = [(r["workers"], r["ratio"]) for r in rs if r["ratio"] is not None]
        if pts:
            ar.plot([p[0] for p in pts], [p[1] for p in pts], **kw)
    cs = {}
    for (encap, w), mpps in ceil.items():
        cs.setdefault(encap, []).append((w, mpps))
    for encap, pts in sorted(cs.items()):
        pts.sort()
        ax.plot([p[0] for p in pts], [p[1] for p in pts], linestyle="-", color=colors.get(encap),
                alpha=0.35, linewidth=3, marker="D", label=f"testpmd io (ceiling) {encap}")
    ws = sorted({r["workers"] for r in rows} | {w for (_, w) in ceil})
    ax.set_ylim(bottom=0)
    for a in (ax, ar):
        a.set_xticks(ws)
        a.set_xlabel("worker cores (testpmd: forwarding cores)")
        a.grid(True, alpha=0.3)
    ax.set_ylabel("Mpps (64-byte inner frames)")
    ax.set_title("forwarding rate")
    ax.legend(fontsize=7, loc="best")
    ar.axhline(0.5, color="grey", linewidth=1, linestyle="-.")
    top = max([r["ratio"] for r in rows if r["ratio"] is not None] + [0.5])
    ar.set_ylim(0, top * 1.15)
    ar.set_ylabel("vrouter Mpps / testpmd io Mpps")
    ar.set_title("ratio to the ceiling (target: single-core VXLAN null >= 0.5)")
    fig.suptitle(title or "vrouter forwarding rate against cores")
    fig.tight_layout()
    fig.savefig(png)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("router")
    r.add_argument("--a", required=True)
    r.add_argument("--b", required=True)
    r.add_argument("--ta", type=float, required=True)
    r.add_argument("--tb", type=float, required=True)
    r.add_argument("--final")
    r.add_argument("--mode", required=True, choices=["null", "vhost", "pvp"])
    r.add_argument("--encap", required=True, choices=sorted(DECAP_EVENT))
    r.add_argument("--workers", type=int, required=True)
    r.add_argument("--rep", type=int, default=1)
    r.add_argument("--out", required=True)
    t = sub.add_parser("testpmd")
    t.add_argument("--log", required=True)
    t.add_argument("--port", type=int, required=True)
    t.add_argument("--ta", type=float, required=True)
    t.add_argument("--tb", type=float, required=True)
    t.add_argument("--workers", type=int, required=True)
    t.add_argument("--encap", required=True)
    t.add_argument("--mode")
    t.add_argument("--role", default="ceiling", choices=["ceiling", "path"])
    t.add_argument("--rep", type=int, default=1)
    t.add_argument("--out", required=True)
    p = sub.add_parser("report")
    p.add_argument("points", nargs="+")
    p.add_argument("--csv", required=True)
    p.add_argument("--txt", required=True)
    p.add_argument("--png")
    p.add_argument("--title")
    a = ap.parse_args()
    return {"router": cmd_router, "testpmd": cmd_testpmd, "report": cmd_report}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
