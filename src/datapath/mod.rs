pub mod packet;
pub use packet::{Packet, VecPacket};
pub mod stats;
pub use stats::{CoreStats, DropReason, Event};
pub mod icmp;
pub mod mss;
pub mod nd;
pub mod pipeline;
