//! `vrouter`: the router process. See docs/CONFIG.md.

use clap::Parser;
use std::path::PathBuf;
use std::time::Duration;
use vrouter::control::router::{run, Options};

/// DPDK poll-mode overlay virtual router (VXLAN, MPLSoUDP, MPLSoGRE → per-VRF routing → vhost-user).
#[derive(Parser, Debug)]
#[command(
    version,
    about,
    after_help = "Arguments after `--` go to DPDK's EAL, e.g.: vrouter -c vrouter.toml -- -l 0-1 --in-memory"
)]
struct Cli {
    /// TOML configuration file (see docs/CONFIG.md).
    #[arg(short, long)]
    config: PathBuf,
    /// Stop by itself after this many seconds.
    #[arg(long, value_name = "SECS")]
    run_for: Option<f64>,
    /// At exit, write the final counters as JSON to this file.
    #[arg(long, value_name = "FILE")]
    stats_json: Option<PathBuf>,
    /// Print counters every SECS seconds (SIGUSR1 prints them any time).
    #[arg(long, value_name = "SECS")]
    stats_interval: Option<f64>,
    /// An idle worker sleeps this many microseconds (0: pure busy polling).
    #[arg(long, default_value_t = 0, value_name = "US")]
    idle_sleep_us: u64,
    /// The API's Unix socket (root-only), for vrouterctl.
    #[arg(long, value_name = "PATH", default_value = vrouter::control::router::DEFAULT_API_SOCKET)]
    api_socket: PathBuf,
    /// Pin the control thread to this CPU.
    #[arg(long, value_name = "CPU")]
    control_core: Option<usize>,
    /// DPDK EAL arguments.
    #[arg(last = true)]
    eal: Vec<String>,
}

fn secs(s: Option<f64>) -> Option<Duration> {
    s.filter(|s| *s > 0.0).map(Duration::from_secs_f64)
}

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let cli = Cli::parse();
    let opts = Options {
        config: cli.config,
        run_for: secs(cli.run_for),
        stats_json: cli.stats_json,
        stats_interval: secs(cli.stats_interval),
        idle_sleep_us: cli.idle_sleep_us,
        control_core: cli.control_core,
        api_socket: cli.api_socket,
        eal_args: cli.eal,
    };
    if let Err(e) = run(&opts) {
        eprintln!("vrouter: error: {e:#}");
        std::process::exit(1);
    }
}
