//! In-process DPDK test of the safe layer (`vrouter::dpdk`) against real vdev ports.
//!
//! EAL can be initialised once per process, so everything runs in one `#[test]`, step by
//! step, each step a function with its own assertions. Needs root (EAL), no hugepages
//! (`--no-huge`) and no NIC (`--no-pci`): `net_ring` loops TX back to RX within the process,
//! `net_pcap` writes what it sends to a file we read back.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use vrouter::datapath::Packet;
use vrouter::dpdk::{
    self, Burst, Eal, Mbuf, Mempool, Port, PortConf, TxBuffer, BURST_SIZE, DEFAULT_DATA_ROOM,
    MBUF_HEADROOM, SOCKET_ID_ANY,
};

/// A recognisable frame: Ethernet header (locally administered MACs, an experimental
/// ethertype) then `len - 14` bytes of a pattern seeded by `seed`.
fn frame(seed: u8, len: usize) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02, 0x88, 0xb5];
    f.extend((0..len.saturating_sub(14)).map(|i| seed.wrapping_add(i as u8)));
    f.truncate(len);
    f
}

/// An mbuf holding a copy of `bytes`.
fn mbuf_from(pool: &Mempool, bytes: &[u8]) -> Mbuf {
    let mut m = pool.alloc().expect("mempool exhausted");
    assert!(
        m.extend_from_slice(bytes),
        "frame of {} bytes does not fit",
        bytes.len()
    );
    m
}

/// Receives from `rxq` until `want` packets came or the source stays dry for a while
/// (net_ring is synchronous, so a few empty polls mean nothing more will come).
fn receive(rxq: &mut dpdk::RxQueue, want: usize) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    let mut burst = Burst::new();
    let mut idle = 0;
    while got.len() < want && idle < 100 {
        if rxq.rx_burst(&mut burst) == 0 {
            idle += 1;
            continue;
        }
        idle = 0;
        for m in burst.drain() {
            assert!(m.is_contiguous());
            assert_eq!(
                m.pkt_len() as usize,
                m.len(),
                "single segment: pkt_len == data_len"
            );
            got.push(m.data().to_vec());
        }
    }
    got
}

#[test]
fn dpdk_ports_end_to_end() {
    let _ = env_logger::builder().is_test(true).try_init();
    let pid = std::process::id();
    let prefix = format!("vrtest-{pid}");
    let args: Vec<String> = [
        "-l",
        "0-1",
        "--no-huge",
        "-m",
        "256",
        "--no-pci",
        "--file-prefix",
        &prefix,
        "--log-level=warning",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let eal = Eal::init(&args).unwrap_or_else(|e| panic!("EAL init failed (run as root): {e}"));
    let again = Eal::init(&args).expect_err("a second EAL init must fail");
    assert_eq!(again.call(), "rte_eal_init");
    assert_eq!(
        vrouter::dpdk::check_flags(),
        Vec::<&str>::new(),
        "64-bit mbuf flag constants match the linked DPDK"
    );

    clock_and_lcores();
    let pool = Mempool::pktmbuf("vrtest_pool", 2047, 32, DEFAULT_DATA_ROOM, SOCKET_ID_ANY)
        .unwrap_or_else(|e| panic!("mempool: {e}"));
    assert_eq!(pool.capacity(), 2047);
    assert_eq!(pool.data_room(), DEFAULT_DATA_ROOM);
    assert_eq!(pool.name(), "vrtest_pool");
    let baseline = pool.in_use();
    assert_eq!(baseline, 0);
    assert_eq!(pool.available(), 2047);

    packet_trait_on_mbufs(&pool);
    assert_eq!(pool.in_use(), baseline, "mbufs leaked by the Packet checks");
    bursts(&pool);
    assert_eq!(pool.in_use(), baseline, "mbufs leaked by the Burst checks");
    ring_loopback(&pool);
    assert_eq!(pool.in_use(), baseline, "mbufs leaked by the ring loopback");
    config_errors(&pool);
    pcap_tx(&pool, pid);
    assert_eq!(pool.in_use(), baseline, "mbufs leaked by the pcap port");
    launch_on_worker(&pool);
    assert_eq!(pool.in_use(), baseline, "mbufs leaked by the worker lcore");

    drop(eal);
    // EAL leaves its runtime directory (config, sockets) behind; remove this run's.
    let _ = std::fs::remove_dir_all(Path::new("/var/run/dpdk").join(&prefix));
}

fn clock_and_lcores() {
    let hz = dpdk::tsc_hz();
    assert!(hz > 100_000_000, "implausible TSC frequency {hz}");
    let t0 = dpdk::tsc();
    std::thread::sleep(std::time::Duration::from_millis(10));
    let dt = dpdk::tsc() - t0;
    assert!(
        dt > hz / 200 && dt < hz,
        "10 ms measured as {dt} ticks at {hz} Hz"
    );

    assert_eq!(dpdk::main_lcore(), 0);
    assert_eq!(
        dpdk::current_lcore(),
        0,
        "the test thread is EAL's main lcore"
    );
    assert_eq!(
        dpdk::worker_lcores(),
        vec![1],
        "-l 0-1 gives one worker lcore"
    );
    assert_eq!(dpdk::lcore_cpu(1), Some(1));
    assert!(dpdk::lcore_socket(1) >= 0);
    assert_eq!(dpdk::lcore_socket(100_000), SOCKET_ID_ANY);
}

fn packet_trait_on_mbufs(pool: &Mempool) {
    let mut m = pool.alloc().expect("alloc");
    assert_eq!(m.len(), 0);
    assert!(m.is_empty());
    assert_eq!(m.headroom(), usize::from(MBUF_HEADROOM));
    let room = usize::from(DEFAULT_DATA_ROOM - MBUF_HEADROOM);
    assert_eq!(m.tailroom(), room);
    assert_eq!(m.nb_segs(), 1);

    let payload = frame(7, 100);
    assert!(m.extend_from_slice(&payload));
    assert_eq!(m.data(), &payload[..]);
    assert_eq!(m.pkt_len(), 100);

    // Encap-style: prepend an outer header, write it, strip it again.
    assert!(m.prepend(50));
    assert_eq!(m.len(), 150);
    assert_eq!(m.headroom(), usize::from(MBUF_HEADROOM) - 50);
    m.data_mut()[..50].fill(0xee);
    assert_eq!(&m.data()[50..], &payload[..]);
    assert!(m.adj(50));
    assert_eq!(m.data(), &payload[..]);

    // Impossible requests fail and change nothing.
    assert!(!m.prepend(usize::from(MBUF_HEADROOM) + 1));
    assert!(!m.prepend(1 << 20));
    assert!(!m.adj(101));
    assert!(!m.set_len(room + 1));
    assert!(!m.extend_from_slice(&vec![0; room]));
    assert_eq!(m.data(), &payload[..]);
    assert_eq!(m.pkt_len(), 100);

    // set_len trims and grows within the tailroom.
    assert!(m.set_len(20));
    assert_eq!(m.data(), &payload[..20]);
    assert!(m.set_len(room));
    assert_eq!(m.len(), room);
    assert_eq!(m.tailroom(), 0);
    assert!(m.adj(room));
    assert!(m.is_empty());

    // into_raw / from_raw hand ownership through a raw pointer without freeing.
    let before = pool.in_use();
    let raw = m.into_raw();
    assert_eq!(pool.in_use(), before);
    // SAFETY: raw came from into_raw just above and nothing else owns it.
    let m = unsafe { Mbuf::from_raw(raw) };
    drop(m);
    assert_eq!(pool.in_use(), before - 1);
}

fn bursts(pool: &Mempool) {
    let base = pool.in_use();
    let mut b = Burst::new();
    assert!(pool.alloc_bulk(&mut b, 20));
    assert_eq!(b.len(), 20);
    assert!(!pool.alloc_bulk(&mut b, 13), "only 12 slots free");
    assert_eq!(b.len(), 20);
    assert!(pool.alloc_bulk(&mut b, 12));
    assert!(b.is_full());
    assert_eq!(pool.in_use(), base + BURST_SIZE as u32);
    let extra = pool.alloc().expect("alloc");
    let extra = b.push(extra).expect_err("a full burst gives the mbuf back");
    drop(extra);

    for (i, m) in b.as_mut_slice().iter_mut().enumerate() {
        assert!(m.extend_from_slice(&[i as u8; 4]));
    }
    let m = b.swap_remove(3).expect("index 3 exists");
    assert_eq!(m.data(), &[3; 4]);
    assert_eq!(b.as_slice()[3].data(), &[31; 4], "last moved into the hole");
    drop(m);
    let last = b.pop().expect("not empty");
    assert_eq!(last.data(), &[30; 4]);
    drop(last);
    assert_eq!(b.len(), 30);

    // Take some out by value, drop the Drain early: the rest are freed.
    let taken: Vec<Mbuf> = b.drain().take(5).collect();
    assert!(b.is_empty());
    assert_eq!(taken.len(), 5);
    assert_eq!(pool.in_use(), base + 5);
    drop(taken);
    assert_eq!(pool.in_use(), base);

    // Dropping a non-empty burst frees its mbufs.
    let mut b = Burst::new();
    assert!(pool.alloc_bulk(&mut b, 7));
    drop(b);
    assert_eq!(pool.in_use(), base);
}

fn ring_loopback(pool: &Mempool) {
    let id = dpdk::probe("net_ring0").unwrap_or_else(|e| panic!("probe net_ring0: {e}"));
    assert_eq!(dpdk::port_by_name("net_ring0"), Some(id));
    assert_eq!(
        dpdk::probe("net_ring0").expect("re-probe"),
        id,
        "existing port reused"
    );
    let conf = PortConf {
        rx_queues: 1,
        tx_queues: 1,
        rx_desc: 256,
        tx_desc: 256,
        mtu: Some(1500),
        rss: true,
    };
    let port = Port::configure(id, &conf, pool).unwrap_or_else(|e| panic!("configure: {e}"));
    assert_eq!(port.id(), id);
    assert_eq!(port.name(), "net_ring0");
    assert_eq!(port.mtu(), 1500);
    port.promiscuous(true).expect("promiscuous");
    port.start().expect("start");
    assert!(port.link_up(), "net_ring's link is up once started");
    let mut rxq = port.rx_queue(0).expect("RX queue 0");
    assert!(port.rx_queue(0).is_none(), "a queue is handed out once");
    assert!(port.rx_queue(1).is_none(), "only one RX queue");
    let mut txb = TxBuffer::new(port.tx_queue(0).expect("TX queue 0"));
    assert!(port.tx_queue(0).is_none());

    // Nothing was queued before: no stray packets.
    assert!(receive(&mut rxq, 1).is_empty());

    // Five frames, built through the Packet trait as an encap would build them.
    let inner: Vec<Vec<u8>> = (0..5u8)
        .map(|i| frame(i, 60 + 37 * usize::from(i)))
        .collect();
    let mut expect = Vec::new();
    for (i, f) in inner.iter().enumerate() {
        let mut m = mbuf_from(pool, &f[14..]);
        assert!(m.prepend(14));
        m.data_mut()[..14].copy_from_slice(&f[..14]);
        assert!(m.prepend(8));
        assert!(m.adj(8));
        assert!(m.set_len(f.len() + 2));
        let n = m.len();
        m.data_mut()[n - 2..].copy_from_slice(&[0xab, i as u8]);
        let mut want = f.clone();
        want.extend_from_slice(&[0xab, i as u8]);
        assert_eq!(m.data(), &want[..]);
        expect.push(want);
        assert_eq!(txb.push(m).dropped, 0, "no flush before the buffer is full");
        assert!(!txb.is_empty());
    }
    assert_eq!(txb.len(), 5);
    assert_eq!(pool.in_use(), 5);
    let r = txb.flush();
    assert_eq!((r.sent, r.dropped, r.dropped_bytes), (5, 0, 0));
    assert!(txb.is_empty());
    assert_eq!(txb.flush(), Default::default());
    let got = receive(&mut rxq, 5);
    assert_eq!(
        got, expect,
        "net_ring must loop TX back to RX, byte for byte, in order"
    );
    assert_eq!(pool.in_use(), 0);

    // A full buffer flushes itself on the push that fills it.
    for i in 0..BURST_SIZE {
        let r = txb.push(mbuf_from(pool, &frame(i as u8, 64)));
        let want = if i + 1 == BURST_SIZE {
            (BURST_SIZE, 0)
        } else {
            (0, 0)
        };
        assert_eq!((r.sent, r.dropped), want, "push {i}");
    }
    let got = receive(&mut rxq, BURST_SIZE);
    assert_eq!(got.len(), BURST_SIZE);
    for (i, g) in got.iter().enumerate() {
        assert_eq!(g, &frame(i as u8, 64));
    }

    // Overfill the ring (about 1024 slots) without receiving: the TX buffer frees what the
    // driver refuses and counts it as dropped.
    let (mut sent, mut dropped, mut dropped_bytes) = (0, 0, 0);
    for i in 0..40 * BURST_SIZE {
        let r = txb.push(mbuf_from(pool, &frame(i as u8, 60)));
        sent += r.sent;
        dropped += r.dropped;
        dropped_bytes += r.dropped_bytes;
    }
    assert_eq!(
        dropped_bytes,
        dropped as u64 * 60,
        "the refused packets' bytes"
    );
    assert_eq!(sent + dropped, 40 * BURST_SIZE);
    assert!(
        dropped > 0,
        "a 1024-slot ring cannot take {} packets",
        40 * BURST_SIZE
    );
    assert_eq!(
        pool.in_use() as usize,
        sent,
        "dropped mbufs were freed at once"
    );
    let got = receive(&mut rxq, sent);
    assert_eq!(got.len(), sent);
    assert_eq!(pool.in_use(), 0);

    let st = port.stats().expect("stats");
    let total_rx = (5 + BURST_SIZE + sent) as u64;
    assert_eq!(st.ipackets, total_rx, "{st:?}");
    assert_eq!(st.opackets, total_rx, "{st:?}");
    port.reset_stats().expect("reset stats");
    assert_eq!(port.stats().expect("stats").ipackets, 0);

    // Packets left in a TX buffer are freed when it is dropped.
    txb.push(mbuf_from(pool, &frame(1, 60)));
    assert_eq!(pool.in_use(), 1);
    drop(txb);
    assert_eq!(pool.in_use(), 0);

    // Queue handles pin the port: no stop or close while a worker could still poll.
    let e = port.stop().expect_err("stop with a live RX queue handle");
    assert_eq!(e.errno(), 16, "EBUSY: {e}");
    drop(rxq);
    assert!(
        port.rx_queue(0).is_some(),
        "a dropped handle can be taken again"
    );
    port.stop().expect("stop");
    port.close().expect("close");
    assert_eq!(
        dpdk::port_by_name("net_ring0"),
        None,
        "closed port is released"
    );
}

fn config_errors(pool: &Mempool) {
    let e = dpdk::probe("net_nosuchdriver0").expect_err("unknown driver");
    assert_eq!(e.call(), "rte_dev_probe");
    assert!(e.to_string().contains("net_nosuchdriver0"), "{e}");
    assert!(dpdk::probe(",iface=x").is_err());

    let id = dpdk::probe("net_ring1").expect("probe net_ring1");
    let too_many = PortConf {
        rx_queues: 1000,
        ..PortConf::default()
    };
    let e = Port::configure(id, &too_many, pool).expect_err("1000 queues");
    assert_eq!(e.errno(), 22, "{e}");
    assert!(e.to_string().contains("1000 RX"), "{e}");

    // Several RX queues with RSS asked on a device without RSS: configured, with a warning.
    let multi = PortConf {
        rx_queues: 2,
        tx_queues: 2,
        rss: true,
        ..PortConf::default()
    };
    let port = Port::configure(id, &multi, pool).unwrap_or_else(|e| panic!("2 queues: {e}"));
    assert_eq!(port.rx_queue_count(), 2);
    assert_eq!(port.tx_queue_count(), 2);
    assert!(port.rx_queue(1).is_some());
    port.close().expect("close net_ring1");
}

/// Reads a pcap file's record lengths (captured length), checking the header.
fn pcap_records(path: &Path) -> Vec<(u32, u32)> {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert!(b.len() >= 24, "pcap file too short");
    let magic = u32::from_le_bytes(b[0..4].try_into().unwrap());
    assert!(
        magic == 0xa1b2_c3d4 || magic == 0xa1b2_3c4d,
        "not a little-endian pcap: {magic:#x}"
    );
    let mut out = Vec::new();
    let mut off = 24;
    while off + 16 <= b.len() {
        let incl = u32::from_le_bytes(b[off + 8..off + 12].try_into().unwrap());
        let orig = u32::from_le_bytes(b[off + 12..off + 16].try_into().unwrap());
        off += 16 + incl as usize;
        out.push((incl, orig));
    }
    assert_eq!(off, b.len(), "pcap file ends mid-record");
    out
}

fn pcap_tx(pool: &Mempool, pid: u32) {
    let dir: PathBuf = std::env::temp_dir().join(format!("vrtest-pcap-{pid}"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let out = dir.join("tx.pcap");
    let devargs = format!("net_pcap0,tx_pcap={}", out.display());
    let id = dpdk::probe(&devargs).unwrap_or_else(|e| panic!("probe {devargs}: {e}"));
    let port = Port::configure(id, &PortConf::default(), pool)
        .unwrap_or_else(|e| panic!("configure pcap: {e}"));
    port.start().expect("start pcap");
    let mut txb = TxBuffer::new(port.tx_queue(0).expect("TX queue"));
    let lens = [60usize, 342, 1514];
    for (i, &len) in lens.iter().enumerate() {
        assert_eq!(
            txb.push(mbuf_from(pool, &frame(i as u8, len))),
            Default::default()
        );
    }
    let r = txb.flush();
    assert_eq!((r.sent, r.dropped), (3, 0));
    assert_eq!(pool.in_use(), 0, "pcap TX frees the mbufs it wrote");
    let st = port.stats().expect("stats");
    assert_eq!(st.opackets, 3);
    assert_eq!(st.obytes, lens.iter().sum::<usize>() as u64);
    drop(txb);
    port.close().expect("close pcap");

    let recs = pcap_records(&out);
    let want: Vec<(u32, u32)> = lens.iter().map(|&l| (l as u32, l as u32)).collect();
    assert_eq!(recs, want, "three records of the sent lengths");
    let _ = std::fs::remove_dir_all(&dir);
}

fn launch_on_worker(pool: &Mempool) {
    // The closure reports the lcore it ran on.
    dpdk::launch(1, || dpdk::current_lcore() as i32 + 1000).expect("launch");
    assert_eq!(dpdk::wait_lcore(1), 1001);

    // An mbuf moved to the worker is edited and freed there.
    let seen = Arc::new(AtomicU32::new(0));
    let mut m = mbuf_from(pool, &frame(9, 80));
    assert!(m.adj(14));
    let seen2 = Arc::clone(&seen);
    dpdk::launch(1, move || {
        seen2.store(m.len() as u32, Ordering::Release);
        drop(m);
        0
    })
    .expect("launch with mbuf");
    assert_eq!(dpdk::wait_lcore(1), 0);
    assert_eq!(seen.load(Ordering::Acquire), 66);

    // A panic stays on the worker and comes back as a value; the lcore is reusable.
    dpdk::launch(1, || panic!("deliberate panic on a worker lcore")).expect("launch panic");
    assert_eq!(dpdk::wait_lcore(1), dpdk::LAUNCH_PANICKED);
    dpdk::launch(1, || 7).expect("relaunch after panic");
    assert_eq!(dpdk::wait_lcore(1), 7);

    let e = dpdk::launch(0, || 0).expect_err("the main lcore cannot be launched on");
    assert_eq!(e.errno(), 22);
    assert!(dpdk::launch(5, || 0).is_err(), "lcore 5 is not enabled");
    assert_eq!(dpdk::wait_lcore(5), -1);
}
