pub mod api;
pub mod config;
pub mod model;
pub mod report;
pub mod router;
