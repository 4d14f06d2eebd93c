pub mod packet;
pub use packet::{Packet, VecPacket};
pub mod stats;
pub use stats::{CoreStats, DropReason, Event};
pub mod pipeline;
