//! The thin safe layer over DPDK: EAL, lcores, mempools, mbufs, ports and their queues.
//!
//! Only this module (and the `dpdk-sys` crate below it) knows about `rte_*`. The datapath sees
//! packets through [`crate::datapath::Packet`], which [`Mbuf`] implements.
//!
//! Ownership model, l3fwd-style:
//! - [`Eal`] is initialised once per process by the main thread and cleaned up when dropped
//!   (after every worker has been joined with [`wait_lcore`] and every DPDK object dropped).
//! - [`Mempool`] and [`Port`] are shared handles (the control plane keeps them; a mempool is
//!   MT-safe, port control calls are not meant for the hot path).
//! - [`RxQueue`], [`TxQueue`] and [`TxBuffer`] are each owned by exactly one worker: a DPDK
//!   queue is not MT-safe, so [`Port`] hands each queue out once.
//! - [`Mbuf`] owns one packet; dropping it frees it. [`Burst`] is a fixed array of up to
//!   [`BURST_SIZE`] of them.
//!
//! Hot-path functions ([`RxQueue::rx_burst`], [`TxBuffer::push`], [`TxBuffer::flush`], the
//! [`Packet`](crate::datapath::Packet) methods of [`Mbuf`], [`tsc`]) never allocate, lock, log,
//! make a syscall or panic.

mod burst;
mod eal;
mod error;
mod lcore;
mod mbuf;
mod mempool;
mod port;

pub use burst::{Burst, Drain, BURST_SIZE};
pub use eal::Eal;
pub use error::{DpdkError, Result};
pub use lcore::{
    current_lcore, launch, lcore_cpu, lcore_socket, main_lcore, socket_id, tsc, tsc_hz, wait_lcore,
    worker_lcores, LAUNCH_PANICKED,
};
pub use mbuf::{check_flags, flags as mbuf_flags, Mbuf};
pub use mempool::{Mempool, DEFAULT_DATA_ROOM, MBUF_HEADROOM};
pub use port::{
    port_by_name, probe, remove_vdev, Port, PortConf, PortHwStats, RxQueue, TxBuffer, TxQueue,
    TxResult,
};

/// "Any NUMA socket", for [`Mempool::pktmbuf`] and friends.
pub const SOCKET_ID_ANY: i32 = dpdk_sys::SOCKET_ID_ANY;
