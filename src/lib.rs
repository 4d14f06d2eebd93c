//! vrouter: a DPDK poll-mode overlay virtual router.
pub mod wire;
pub mod tables;
pub mod datapath;
pub mod dpdk;
pub mod control;
pub mod worker;
