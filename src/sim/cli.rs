//! `meshdeck sim`: simulated radios on their own, one per `--listen` address, each with its
//! own mesh (derived from the seed and the radio's index), until ctrl-c.

use std::time::Duration;

use super::{mesh_json, SimConfig, SimRadio};

/// `meshdeck sim`: simulated radios on their own.
#[derive(clap::Args, Debug, Clone)]
pub struct SimArgs {
    /// Address to listen on; repeat for several radios (each gets its own mesh).
    #[arg(long, default_value = "127.0.0.1:4403")]
    pub listen: Vec<String>,
    /// Node DB size of each radio.
    #[arg(long, default_value_t = 120)]
    pub nodes: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Live packets per second per radio.
    #[arg(long, default_value_t = 2.0)]
    pub rate: f64,
    #[arg(long, default_value_t = 30)]
    pub traceroute_interval_secs: u64,
    #[arg(long, default_value_t = 2)]
    pub text_interval_secs: u64,
    #[arg(long, default_value_t = 2000)]
    pub traceroute_delay_ms: u64,
    /// Nobody relays what the radios send: no implicit acks, broadcasts end MAX_RETRANSMIT.
    #[arg(long)]
    pub no_relay: bool,
    /// How long a packet nobody relays is retransmitted before MAX_RETRANSMIT, in ms.
    #[arg(long, default_value_t = 20_000)]
    pub retransmit_timeout_ms: u64,
    /// What a radio transmits comes back as SIMULATOR_APP packets (firmware's simulated mode).
    #[arg(long)]
    pub echo_transmissions: bool,
    /// Behave as firmware before 2.7.4: an older version, heartbeats left unanswered.
    #[arg(long)]
    pub old_firmware: bool,
    /// Seconds between two NeighborInfo reports of each node that sends them (0: none;
    /// firmware: hours). The first come within 20 s of a client's connect.
    #[arg(long, default_value_t = 600)]
    pub neighbor_interval_secs: u64,
    /// Print the first radio's node list as JSON and exit.
    #[arg(long)]
    pub dump_mesh: bool,
    /// Hostile names and texts (XSS payloads) for escaping checks.
    #[arg(long)]
    pub hostile_names: bool,
}

pub async fn run(args: SimArgs) -> anyhow::Result<()> {
    if args.dump_mesh {
        println!("{}", mesh_json(args.nodes, args.seed, 0));
        return Ok(());
    }
    let mut radios = Vec::new();
    for (i, addr) in args.listen.iter().enumerate() {
        let cfg = SimConfig {
            nodes: args.nodes,
            seed: args.seed,
            index: u32::try_from(i)?,
            rate: args.rate,
            traceroute_interval: Duration::from_secs(args.traceroute_interval_secs),
            text_interval: Duration::from_secs(args.text_interval_secs),
            traceroute_delay: Duration::from_millis(args.traceroute_delay_ms),
            hostile_names: args.hostile_names,
            relaying: !args.no_relay,
            echo_transmissions: args.echo_transmissions,
            old_firmware: args.old_firmware,
            neighbor_interval: Duration::from_secs(args.neighbor_interval_secs),
            retransmit_timeout: Duration::from_millis(args.retransmit_timeout_ms),
            ..SimConfig::default()
        };
        let r = SimRadio::bind(addr, cfg)
            .await
            .map_err(|e| anyhow::anyhow!("listening on {addr}: {e}"))?;
        println!(
            "sim radio {} listening on {} ({} nodes)",
            crate::proto::node_id(r.my_node_num()),
            r.addr(),
            args.nodes
        );
        radios.push(r);
    }
    tokio::signal::ctrl_c().await?;
    for r in &radios {
        r.shutdown();
    }
    Ok(())
}
