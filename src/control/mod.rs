pub mod config;
pub mod report;
//TMP pub mod router;
