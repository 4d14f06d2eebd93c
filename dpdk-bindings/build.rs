//! Builds the raw DPDK bindings: links the system libdpdk (shared, so EAL can load the PMD
//! plugins from Debian's plugin directory), runs bindgen over `csrc/wrapper.h` and compiles
//! the C shim for DPDK's static-inline fast-path functions.

use std::env;
use std::path::PathBuf;
use std::process::Command;

/// DPDK functions the safe layer calls (bindgen pulls in the types they need).
const FUNCTIONS: &[&str] = &[
    // EAL, lcores, launch, time, errors
    "rte_eal_init",
    "rte_eal_cleanup",
    "rte_strerror",
    "rte_get_main_lcore",
    "rte_lcore_count",
    "rte_get_next_lcore",
    "rte_lcore_is_enabled",
    "rte_lcore_to_socket_id",
    "rte_lcore_to_cpu_id",
    "rte_socket_id",
    "rte_eal_remote_launch",
    "rte_eal_wait_lcore",
    "rte_get_tsc_hz",
    // devices
    "rte_dev_probe",
    "rte_dev_remove",
    "rte_eal_hotplug_remove",
    // mempool / mbuf
    "rte_pktmbuf_pool_create",
    "rte_mempool_avail_count",
    "rte_mempool_in_use_count",
    "rte_mempool_free",
    "rte_mempool_lookup",
    "rte_pktmbuf_free_bulk",
    // ethdev control path
    "rte_eth_dev_count_avail",
    "rte_eth_dev_is_valid_port",
    "rte_eth_dev_get_port_by_name",
    "rte_eth_dev_get_name_by_port",
    "rte_eth_dev_info_get",
    "rte_eth_dev_configure",
    "rte_eth_dev_adjust_nb_rx_tx_desc",
    "rte_eth_dev_set_mtu",
    "rte_eth_dev_get_mtu",
    "rte_eth_dev_socket_id",
    "rte_eth_rx_queue_setup",
    "rte_eth_tx_queue_setup",
    "rte_eth_dev_start",
    "rte_eth_dev_stop",
    "rte_eth_dev_close",
    "rte_eth_macaddr_get",
    "rte_eth_stats_get",
    "rte_eth_stats_reset",
    "rte_eth_promiscuous_enable",
    "rte_eth_promiscuous_disable",
    "rte_eth_link_get_nowait",
    // the shim
    "vr_.*",
];

/// Constants (object-like macros) the safe layer uses.
const VARS: &[&str] = &[
    "VR_.*",
    "RTE_PKTMBUF_HEADROOM",
    "RTE_MBUF_DEFAULT_BUF_SIZE",
    "RTE_MBUF_DEFAULT_DATAROOM",
    "RTE_ETH_NAME_MAX_LEN",
    "RTE_DEV_NAME_MAX_LEN",
    "RTE_MAX_LCORE",
    "RTE_MAX_ETHPORTS",
    "RTE_ETHER_HDR_LEN",
    "RTE_ETHER_CRC_LEN",
    "RTE_ETH_LINK_UP",
    "LCORE_ID_ANY",
    "SOCKET_ID_ANY",
    // errno values the safe layer reports or recognises
    "EINVAL",
    "ENODEV",
    "ENOTSUP",
    "EALREADY",
    "EBUSY",
    "ENOMEM",
    "ENOENT",
    "EEXIST",
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=csrc");

    // Link flags. `probe` emits the -L/-l lines for every librte_* (dynamic by default).
    let lib = pkg_config::Config::new()
        .atleast_version("22.11")
        .probe("libdpdk")
        .expect("libdpdk not found by pkg-config (install libdpdk-dev)");

    // The raw cflags matter beyond include paths: `-include rte_config.h` defines the build
    // configuration every DPDK header assumes, and `-march=corei7` makes the headers pick
    // the same SSE code paths DPDK itself was built with.
    let out = Command::new("pkg-config")
        .args(["--cflags", "libdpdk"])
        .output()
        .expect("running pkg-config --cflags libdpdk");
    assert!(out.status.success(), "pkg-config --cflags libdpdk failed");
    let cflags: Vec<String> = String::from_utf8(out.stdout)
        .expect("pkg-config output is not UTF-8")
        .split_whitespace()
        .map(str::to_owned)
        .collect();

    for p in &lib.include_paths {
        println!("cargo:include={}", p.display());
    }

    // The shim: a handful of one-line wrappers, compiled with DPDK's flags.
    let mut cc = cc::Build::new();
    cc.file("csrc/shim.c")
        .include("csrc")
        .warnings(true)
        .extra_warnings(true);
    for f in &cflags {
        cc.flag(f);
    }
    cc.compile("vrdpdkshim");

    let mut builder = bindgen::Builder::default()
        .header("csrc/wrapper.h")
        .clang_arg("-Icsrc")
        .clang_args(&cflags)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .use_core()
        .default_enum_style(bindgen::EnumVariation::Consts)
        .prepend_enum_name(false)
        .derive_default(true)
        .derive_debug(false)
        .layout_tests(true)
        .generate_comments(false)
        .allowlist_type("rte_mbuf")
        .allowlist_type("rte_mempool")
        .allowlist_type("rte_eth_conf")
        .allowlist_type("rte_eth_dev_info")
        .allowlist_type("rte_eth_rxconf")
        .allowlist_type("rte_eth_txconf")
        .allowlist_type("rte_eth_stats")
        .allowlist_type("rte_eth_link")
        .allowlist_type("rte_ether_addr")
        .allowlist_type("rte_eth_rx_mq_mode")
        .allowlist_type("rte_eth_tx_mq_mode")
        .allowlist_type("rte_lcore_state_t")
        .allowlist_type("lcore_function_t")
        .allowlist_type("vr_dpdk_flags");
    for f in FUNCTIONS {
        builder = builder.allowlist_function(f);
    }
    for v in VARS {
        builder = builder.allowlist_var(v);
    }
    let bindings = builder
        .generate()
        .expect("bindgen failed on csrc/wrapper.h");

    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    bindings
        .write_to_file(out_dir.join("bindings.rs"))
        .expect("writing bindings.rs");
}
