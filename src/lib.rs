//! vrouter: a DPDK poll-mode overlay virtual router.
pub mod control;
pub mod datapath;
pub mod dpdk;
pub mod tables;
pub mod wire;
pub mod worker;
