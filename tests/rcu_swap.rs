//! Tables replaced thousands of times while worker threads forward: every packet goes where
//! the snapshot in force says, a change of several routes is seen all at once (never half),
//! and routes that did not change never miss.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use vrouter::control::config::Config;
use vrouter::datapath::pipeline::{process_burst, CoreCtx, Extra, Verdict};
use vrouter::datapath::{CoreStats, DropReason, VecPacket};
use vrouter::tables::rcu::Published;
use vrouter::tables::Tables;

fn config(moving_to: &str) -> String {
    // 198.51.100.52 moves too, but by pointing at another nexthop (index) rather than by the
    // nexthop changing: a cache of lookups that outlived its table would show here.
    let nh52 = if moving_to == "vm1" { 2 } else { 3 };
    format!(
        r#"
[fabric]
dev = "net_null0"
ip = "203.0.113.1/24"
mac = "02:00:00:00:00:01"
[[fabric.neighbor]]
ip = "203.0.113.2"
mac = "02:00:00:00:00:02"
[[vrf]]
id = 1
[[vif]]
name = "vm1"
dev = "a"
vrf = 1
mac = "02:00:00:00:01:02"
ip = ["198.51.100.2"]
[[vif]]
name = "vm2"
dev = "b"
vrf = 1
mac = "02:00:00:00:01:03"
ip = ["198.51.100.3"]
[[vif]]
name = "vm3"
dev = "c"
vrf = 1
mac = "02:00:00:00:01:04"
ip = ["198.51.100.4"]
[[nexthop]]
id = 1
type = "interface"
vif = "{moving_to}"
[[nexthop]]
id = 2
type = "interface"
vif = "vm1"
[[nexthop]]
id = 3
type = "interface"
vif = "vm2"
[[nexthop]]
id = 10
type = "tunnel"
encap = "vxlan"
dst = "203.0.113.2"
vni = 100
inner_mac = "02:00:00:00:02:01"
[[route]]
vrf = 1
prefix = "198.51.100.50/32"
nexthop = 1
[[route]]
vrf = 1
prefix = "198.51.100.51/32"
nexthop = 1
[[route]]
vrf = 1
prefix = "198.51.100.52/32"
nexthop = {nh52}
[[route]]
vrf = 1
prefix = "198.51.100.1/32"
nexthop = 10
"#
    )
}

fn frame(dst: [u8; 4], seq: u16) -> Vec<u8> {
    let mut f = Vec::new();
    etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 1, 4], [0, 0, 0x5e, 0, 1, 0])
        .ipv4([198, 51, 100, 4], dst, 64)
        .udp(seq, 9)
        .write(&mut f, &seq.to_be_bytes())
        .unwrap();
    f
}

#[test]
fn thousands_of_swaps_under_traffic() {
    let build = |to: &str| -> Tables {
        Config::from_toml(&config(to))
            .unwrap()
            .build_tables([9; 6])
            .unwrap()
    };
    let published = Arc::new(Published::new(build("vm1"), 2));
    let stop = Arc::new(AtomicBool::new(false));
    let bursts = Arc::new(AtomicU64::new(0));
    let ready = Arc::new(std::sync::Barrier::new(3));
    let mut workers = Vec::new();
    for w in 0..2 {
        let (published, stop, bursts, ready) = (
            published.clone(),
            stop.clone(),
            bursts.clone(),
            ready.clone(),
        );
        workers.push(std::thread::spawn(move || {
            let mut ctx = CoreCtx::new(Arc::new(CoreStats::default()), 1_000_000_000);
            // 32 packets: sequence-numbered, to the three moving routes and the stable one.
            let templates: Vec<Vec<u8>> = (0..32u16)
                .map(|i| {
                    frame(
                        [
                            [198, 51, 100, 50],
                            [198, 51, 100, 51],
                            [198, 51, 100, 1],
                            [198, 51, 100, 52],
                        ][usize::from(i % 4)],
                        i,
                    )
                })
                .collect();
            let mut pkts: Vec<VecPacket> =
                templates.iter().map(|t| VecPacket::from_bytes(t)).collect();
            let mut verdicts = [Verdict::Drop(DropReason::TxFull); 32];
            let mut seen = [0u64; 3];
            let mut extra = Extra::default();
            published.online(w);
            // A failed assertion unwinds through this guard, which takes the worker offline:
            // otherwise the publisher would wait forever for its quiescent state.
            struct Offline(Arc<Published<Tables>>, usize);
            impl Drop for Offline {
                fn drop(&mut self) {
                    self.0.offline(self.1);
                }
            }
            let _offline = Offline(published.clone(), w);
            ready.wait();
            while !stop.load(Ordering::Relaxed) {
                for (p, t) in pkts.iter_mut().zip(&templates) {
                    p.reset(t);
                }
                let t = published.read();
                process_burst(&mut ctx, t, 3, &mut pkts, &mut verdicts, &mut extra);
                assert!(extra.is_empty());
                let moving: Vec<Verdict> = (0..32)
                    .filter(|i| i % 4 != 2)
                    .map(|i| verdicts[i])
                    .collect();
                assert!(
                    moving.iter().all(|v| *v == moving[0]),
                    "a burst saw half a change: {moving:?}"
                );
                assert!(
                    matches!(moving[0], Verdict::Tx(1) | Verdict::Tx(2)),
                    "{:?}",
                    moving[0]
                );
                for i in (2..32).step_by(4) {
                    assert_eq!(
                        verdicts[i],
                        Verdict::Tx(0),
                        "stable route missed (packet {i})"
                    );
                    // The packet left intact: its sequence number is still there.
                    let d = vrouter::datapath::Packet::data(&pkts[i]);
                    assert_eq!(&d[d.len() - 2..], &(i as u16).to_be_bytes());
                }
                if let Verdict::Tx(p) = moving[0] {
                    seen[usize::from(p)] += 1;
                }
                bursts.fetch_add(1, Ordering::Relaxed);
                published.quiescent(w);
            }
            seen
        }));
    }
    ready.wait();
    let mut swaps = 0;
    // At least 4000 swaps, and on until the workers have forwarded a fair amount of bursts
    // (a loaded machine may starve them for a while).
    // A worker that failed an assertion has stopped: end here so that join reports it.
    while (swaps < 4000 || bursts.load(Ordering::Relaxed) < 2000)
        && !workers.iter().any(|w| w.is_finished())
    {
        published.publish(build(if swaps % 2 == 0 { "vm2" } else { "vm1" }));
        swaps += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let mut total = [0u64; 3];
    for w in workers {
        let seen = w.join().expect("worker panicked");
        for i in 0..3 {
            total[i] += seen[i];
        }
    }
    assert!(bursts.load(Ordering::Relaxed) > 0);
    assert!(
        total[1] > 0 && total[2] > 0,
        "workers saw both tables: {total:?}"
    );
}
