pub mod client;
pub mod proto;
pub mod server;
