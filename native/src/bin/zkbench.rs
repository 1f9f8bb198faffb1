//! `zkbench`: benchmarks for any ZooKeeper-compatible server.
//!
//! ```text
//! zkbench --server 127.0.0.1:2181 --reads 90        load: 32 sessions, 90% getData, 10 s
//! zkbench --mix create:10,get:70,set:10,delete:5,exists:5 --ops 100000 --json
//! zkbench failover --zkserver                        kill -9 the leader of a local ensemble, 10 times
//! zkbench failover --apache --znodes 1000000         the same with Apache ZooKeeper and data
//! zkbench failover --mixed 1                         one ensemble of both kinds (server 1 Apache)
//! zkbench lifecycle --zkserver --znodes 1000000      start-up, memory, recovery
//! zkbench fsync --dir /var/lib/zookeeper             what the disk can fsync per second
//! zkbench serve --apache --servers 3 --dir /tmp/zk   run servers for the side-by-side script
//! zkbench report results/                            ratios of two servers' results
//! zkbench attack --server 127.0.0.1:2181 --pid 1234  adversarial load; a probe must get through
//! ```
//!
//! Exit status: 0 when every reply was right; 3 when a server gave a wrong answer; 1 when requests
//! failed or the benchmark could not run; 2 for a command line clap refused.

use clap::{Args, Parser, Subcommand};
use indicatif::ProgressBar;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use zk_native::bench::cluster::{Cluster, Flavor, Settings};
use zk_native::bench::load::{self, LoadOptions};
use zk_native::bench::populate::{populate, Populate, DATA_PREFIX};
use zk_native::bench::report::LoadReport;
use zk_native::bench::workload::{Mix, VALUE_HEADER};
use zk_native::bench::{compare, failover, lifecycle, parse_duration};

#[derive(Parser)]
#[command(
    name = "zkbench",
    version,
    about = "Benchmarks for any ZooKeeper-compatible server: load with correctness spot checks, failover, lifecycle",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Command {
    /// A load run (the default when no subcommand is given).
    Run(RunArgs),
    /// Kill -9 the leader of a local 3-server ensemble, again and again, and time how long until
    /// a new leader acknowledges a write.
    Failover(FailoverArgs),
    /// On one standalone server: start-up time, memory empty and with N znodes, recovery time
    /// after kill -9.
    Lifecycle(LifecycleArgs),
    /// How many fsyncs per second the disk under a directory can do.
    Fsync(FsyncArgs),
    /// Create N znodes under a prefix (and leave them).
    Populate(PopulateArgs),
    /// Run servers (standalone or an ensemble) until SIGINT/SIGTERM, for scripts.
    Serve(ServeArgs),
    /// Apache ZooKeeper and zkserver side by side, from the JSON results in a directory.
    Report(ReportArgs),
    /// Attack one server (connections, garbage, floods, slow readers, bad peers) while a probe
    /// client measures whether it still gets served.
    Attack(zk_native::bench::attack::AttackArgs),
}

/// Which server to start, and how.
#[derive(Args, Clone)]
#[group(required = true, multiple = false)]
struct Which {
    /// This project's zkserver (the binary beside zkbench, or --zkserver-bin).
    #[arg(long)]
    zkserver: bool,
    /// Apache ZooKeeper from Debian's zookeeper package (--apache-bin), java on PATH.
    #[arg(long)]
    apache: bool,
    /// One ensemble of both kinds: servers 1 to K Apache ZooKeeper, the rest zkserver.
    #[arg(long, value_name = "K")]
    mixed: Option<usize>,
}

#[derive(Args, Clone)]
struct ServerArgs {
    #[command(flatten)]
    which: Which,
    /// tickTime in ms.
    #[arg(long, default_value_t = 2000)]
    tick_time: u32,
    /// snapCount: transactions between snapshots (randomised as ZooKeeper does).
    #[arg(long, default_value_t = 100_000)]
    snap_count: u32,
    /// Apache ZooKeeper's maximum Java heap (-Xmx).
    #[arg(long, default_value = "2g")]
    heap: String,
    /// The zkserver binary. Default: beside zkbench.
    #[arg(long)]
    zkserver_bin: Option<PathBuf>,
    /// Apache ZooKeeper's bin directory (with zkServer.sh).
    #[arg(long, default_value = "/usr/share/zookeeper/bin")]
    apache_bin: PathBuf,
    /// Where configuration, data and logs go. Default: a temporary directory, removed after.
    #[arg(long)]
    dir: Option<PathBuf>,
}

impl ServerArgs {
    fn flavor(&self) -> Flavor {
        if self.which.apache {
            Flavor::Apache
        } else if let Some(k) = self.which.mixed {
            Flavor::Mixed(k)
        } else {
            Flavor::ZkServer
        }
    }

    fn settings(&self) -> Result<Settings, String> {
        let heap_ok = {
            let digits = self.heap.trim_end_matches(['k', 'K', 'm', 'M', 'g', 'G']);
            !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
        };
        if !heap_ok {
            return Err(format!(
                "--heap {:?}: expected a size such as 512m or 2g",
                self.heap
            ));
        }
        if self.tick_time == 0 {
            return Err("--tick-time must be at least 1 ms".into());
        }
        let mut s = Settings::defaults();
        s.tick_time = self.tick_time;
        s.snap_count = self.snap_count.max(2);
        s.heap = self.heap.clone();
        s.apache_bin = self.apache_bin.clone();
        if let Some(b) = &self.zkserver_bin {
            s.zkserver = b.clone();
        }
        Ok(s)
    }
}

#[derive(Args)]
struct FailoverArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Leader kills.
    #[arg(long, default_value_t = 10)]
    runs: usize,
    /// znodes to create first (one transaction each), to show how failover depends on data size.
    #[arg(long, default_value_t = 0)]
    znodes: u64,
    /// Bytes per pre-created znode.
    #[arg(long, default_value_t = 100)]
    value_size: usize,
    /// Servers in the ensemble (at least 3).
    #[arg(long, default_value_t = 3)]
    servers: usize,
    /// How long an ensemble may take to become whole, and a write to be acknowledged.
    #[arg(long, value_parser = parse_duration, default_value = "180s")]
    patience: Duration,
    #[arg(long)]
    json: bool,
    #[arg(long)]
    no_progress: bool,
}

#[derive(Args)]
struct LifecycleArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// znodes to create (one transaction each).
    #[arg(long, default_value_t = 1_000_000)]
    znodes: u64,
    /// Bytes per znode.
    #[arg(long, default_value_t = 100)]
    value_size: usize,
    /// How long start-up and recovery may take.
    #[arg(long, value_parser = parse_duration, default_value = "300s")]
    patience: Duration,
    #[arg(long)]
    json: bool,
    #[arg(long)]
    no_progress: bool,
}

#[derive(Args)]
struct FsyncArgs {
    /// A directory on the disk to measure (a dataDir).
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    #[arg(long, value_parser = parse_duration, default_value = "3s")]
    duration: Duration,
    /// Bytes written before each fsync (a small transaction).
    #[arg(long, default_value_t = 512)]
    write_size: usize,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct PopulateArgs {
    /// Servers as host:port[,host:port...].
    #[arg(long, default_value = "127.0.0.1:2181")]
    server: String,
    /// The parent of the znodes (created; must not exist).
    #[arg(long, default_value = DATA_PREFIX)]
    prefix: String,
    #[arg(long)]
    znodes: u64,
    #[arg(long, default_value_t = 100)]
    value_size: usize,
    /// Creates per transaction (more than 1: in multis).
    #[arg(long, default_value_t = 1)]
    per_txn: usize,
    #[arg(long, default_value_t = 16)]
    sessions: usize,
    /// Requests in flight per session.
    #[arg(long, default_value_t = 64)]
    outstanding: usize,
    #[arg(long)]
    no_progress: bool,
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// 1 for standalone, 3 or more for an ensemble.
    #[arg(long, default_value_t = 1)]
    servers: usize,
    /// Written once the servers serve: connect string, pids, dataDirs, logs (key=value lines).
    #[arg(long)]
    ready_file: Option<PathBuf>,
    #[arg(long, value_parser = parse_duration, default_value = "180s")]
    patience: Duration,
}

#[derive(Args)]
struct ReportArgs {
    /// The directory of `<case>.<server>.<rep>.json` results.
    dir: PathBuf,
    /// The comparison as JSON rather than a Markdown table.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Clone)]
struct RunArgs {
    /// Servers as host:port[,host:port...]; session i talks to server i mod n.
    #[arg(long, default_value = "127.0.0.1:2181")]
    server: String,
    /// Client sessions, each its own connection.
    #[arg(long, default_value_t = 32)]
    sessions: u32,
    /// A client configuration file as zkCli.sh takes: `zookeeper.client.secure=true` and the
    /// `zookeeper.ssl.*` keys make every session use TLS (so do `-D`s in CLIENT_JVMFLAGS).
    #[arg(long = "client-configuration", value_name = "FILE")]
    client_configuration: Option<String>,
    /// Requests each session keeps in flight.
    #[arg(long, default_value_t = 16)]
    outstanding: u32,
    /// Percent getData; the rest setData.
    #[arg(long, conflicts_with = "mix")]
    reads: Option<u32>,
    /// Operation mix with relative weights, e.g. create:10,get:70,set:10,delete:5,exists:5,multi:0.
    #[arg(long)]
    mix: Option<Mix>,
    /// Bytes per value (at least 20: each value carries a check header).
    #[arg(long, default_value_t = 100)]
    value_size: usize,
    /// znodes in the key space that getData, setData and exists pick from.
    #[arg(long, default_value_t = 1000)]
    keys: u32,
    /// How long to measure (10, 10s, 500ms, 2m). Default 10 s unless --ops is given.
    #[arg(long, value_parser = parse_duration, conflicts_with = "ops")]
    duration: Option<Duration>,
    /// Measure this many operations instead of a duration.
    #[arg(long)]
    ops: Option<u64>,
    /// Load before measuring.
    #[arg(long, value_parser = parse_duration, default_value = "2s")]
    warmup: Duration,
    /// The znode under which the run creates everything (and removes it after). Default:
    /// /zkbench-<random>.
    #[arg(long)]
    prefix: Option<String>,
    /// Session timeout asked for, in ms.
    #[arg(long, default_value_t = 30_000)]
    session_timeout: i32,
    /// A session that gets no reply for this long gives up.
    #[arg(long, value_parser = parse_duration, default_value = "30s")]
    request_timeout: Duration,
    /// Print the results as JSON.
    #[arg(long)]
    json: bool,
    /// No progress display.
    #[arg(long)]
    no_progress: bool,
    /// A server's dataDir to watch for snapshots; latencies are then split into during a
    /// snapshot and steady state. Repeat for several servers.
    #[arg(long)]
    snapshot_dir: Vec<PathBuf>,
    /// Read the servers' fsync counts (four-letter word mntr) before and after, and report
    /// writes per fsync.
    #[arg(long)]
    disk_stats: bool,
    /// Leave the znodes in place after the run.
    #[arg(long)]
    keep: bool,
    /// Seed of the operation choices.
    #[arg(long)]
    seed: Option<u64>,
    /// Threads of the load generator (the server under test needs the others).
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

/// `host:port[,host:port...]`.
fn parse_servers(list: &str) -> Result<Vec<String>, String> {
    let servers: Vec<String> = list
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if servers.is_empty() {
        return Err("--server: no host:port given".into());
    }
    for s in &servers {
        let ok = s
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
        if !ok {
            return Err(format!("--server: {s:?} is not host:port"));
        }
    }
    Ok(servers)
}

impl RunArgs {
    fn options(&self) -> Result<LoadOptions, String> {
        let servers = parse_servers(&self.server)?;
        if self.sessions == 0 {
            return Err("--sessions must be at least 1".into());
        }
        if self.outstanding == 0 {
            return Err("--outstanding must be at least 1".into());
        }
        if self.keys == 0 {
            return Err("--keys must be at least 1".into());
        }
        if self.value_size < VALUE_HEADER {
            return Err(format!(
                "--value-size {}: at least {VALUE_HEADER} bytes (each value carries a check header)",
                self.value_size
            ));
        }
        if self.value_size > 1_000_000 {
            return Err(format!(
                "--value-size {}: over ZooKeeper's default jute.maxbuffer (1 MB)",
                self.value_size
            ));
        }
        if self.session_timeout <= 0 {
            return Err("--session-timeout must be positive (ms)".into());
        }
        if self.ops == Some(0) {
            return Err("--ops must be at least 1".into());
        }
        let mix = match (&self.mix, self.reads) {
            (Some(m), _) => m.clone(),
            (None, Some(r)) => Mix::reads(r)?,
            (None, None) => Mix::reads(90)?,
        };
        let prefix = match &self.prefix {
            Some(p) => p.clone(),
            None => format!("/zkbench-{:08x}", fastrand::u32(..)),
        };
        if zk_core::path::validate_path(&prefix).is_err() || prefix == "/" {
            return Err(format!(
                "--prefix {prefix:?} is not a znode path (e.g. /zkbench)"
            ));
        }
        let duration = match (self.duration, self.ops) {
            (Some(d), _) => Some(d),
            (None, Some(_)) => None,
            (None, None) => Some(Duration::from_secs(10)),
        };
        for d in &self.snapshot_dir {
            if !d.is_dir() {
                return Err(format!("--snapshot-dir {}: not a directory", d.display()));
            }
        }
        Ok(LoadOptions {
            servers,
            sessions: self.sessions,
            outstanding: self.outstanding,
            mix,
            value_size: self.value_size,
            keys: self.keys,
            duration,
            ops: self.ops,
            warmup: self.warmup,
            prefix,
            session_timeout_ms: self.session_timeout,
            request_timeout: self.request_timeout,
            progress: !self.no_progress,
            snapshot_dirs: self.snapshot_dir.clone(),
            disk_stats: self.disk_stats,
            keep: self.keep,
            seed: self.seed.unwrap_or_else(|| fastrand::u64(..)),
        })
    }
}

fn runtime(threads: usize) -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}

fn print_json<T: serde::Serialize>(v: &T) -> Result<(), String> {
    let s = serde_json::to_string_pretty(v).map_err(|e| e.to_string())?;
    println!("{s}");
    Ok(())
}

/// Prints results as JSON, or as the text `table` makes of them.
fn print_results<T: serde::Serialize>(
    json: bool,
    v: &T,
    table: impl FnOnce(&T) -> String,
) -> Result<(), String> {
    if json {
        print_json(v)
    } else {
        print!("{}", table(v));
        Ok(())
    }
}

/// Runs `f` on a two-thread runtime, then clears its progress bar `pb`.
fn block_on_with_progress<T>(
    pb: &ProgressBar,
    f: impl std::future::Future<Output = Result<T, String>>,
) -> Result<T, String> {
    let r = runtime(2).and_then(|rt| rt.block_on(f));
    pb.finish_and_clear();
    r
}

fn run_load(a: RunArgs) -> Result<ExitCode, String> {
    let opts = a.options()?;
    let sec = zk_native::tls::client_security(a.client_configuration.as_deref())?;
    if let Some(tls) = zk_native::tls::client_tls(&sec)? {
        zk_native::bench::wire::use_tls(tls);
    }
    let rt = runtime(a.threads)?;
    let report = rt.block_on(load::run(opts)).map_err(|e| e.to_string())?;
    print_results(a.json, &report, LoadReport::table)?;
    Ok(if report.wrong_answers > 0 {
        ExitCode::from(3)
    } else if report.errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn check_value_size(n: usize) -> Result<(), String> {
    if !(VALUE_HEADER..=1_000_000).contains(&n) {
        return Err(format!(
            "--value-size {n}: between {VALUE_HEADER} and 1000000 bytes"
        ));
    }
    Ok(())
}

fn run_failover(a: FailoverArgs) -> Result<ExitCode, String> {
    check_value_size(a.value_size)?;
    if a.runs == 0 {
        return Err("--runs must be at least 1".into());
    }
    let o = failover::FailoverOptions {
        flavor: a.server.flavor(),
        settings: a.server.settings()?,
        servers: a.servers,
        runs: a.runs,
        znodes: a.znodes,
        value_size: a.value_size,
        dir: a.server.dir.clone(),
        patience: a.patience,
    };
    let pb = load::progress_bar(!a.no_progress);
    let r = block_on_with_progress(&pb, failover::run(o, &pb))?;
    print_results(a.json, &r, failover::FailoverReport::table)?;
    Ok(ExitCode::SUCCESS)
}

fn run_lifecycle(a: LifecycleArgs) -> Result<ExitCode, String> {
    check_value_size(a.value_size)?;
    let o = lifecycle::LifecycleOptions {
        flavor: a.server.flavor(),
        settings: a.server.settings()?,
        znodes: a.znodes,
        value_size: a.value_size,
        dir: a.server.dir.clone(),
        patience: a.patience,
    };
    let pb = load::progress_bar(!a.no_progress);
    let r = block_on_with_progress(&pb, lifecycle::run(o, &pb))?;
    print_results(a.json, &r, lifecycle::LifecycleReport::table)?;
    Ok(if r.recovered_znodes == r.znodes {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "zkbench: WRONG: {} znodes after recovery, {} were created",
            r.recovered_znodes, r.znodes
        );
        ExitCode::from(3)
    })
}

fn run_fsync(a: FsyncArgs) -> Result<ExitCode, String> {
    if !a.dir.is_dir() {
        return Err(format!("--dir {}: not a directory", a.dir.display()));
    }
    let r = lifecycle::fsync_probe(&a.dir, a.duration, a.write_size)?;
    print_results(a.json, &r, |r| {
        format!(
            "{}: {:.0} fsyncs/s ({:.2} ms each) appending {} bytes at a time, {} in {:.1} s\n",
            r.dir, r.fsyncs_per_sec, r.mean_ms, r.write_bytes, r.fsyncs, r.seconds
        )
    })?;
    Ok(ExitCode::SUCCESS)
}

fn run_populate(a: PopulateArgs) -> Result<ExitCode, String> {
    check_value_size(a.value_size)?;
    let servers = parse_servers(&a.server)?;
    if zk_core::path::validate_path(&a.prefix).is_err() || a.prefix == "/" {
        return Err(format!("--prefix {:?} is not a znode path", a.prefix));
    }
    let p = Populate {
        servers,
        prefix: a.prefix.clone(),
        znodes: a.znodes,
        value_size: a.value_size,
        per_txn: a.per_txn.max(1),
        sessions: a.sessions.max(1),
        window: a.outstanding.max(1),
    };
    let pb = load::progress_bar(!a.no_progress);
    let took = block_on_with_progress(&pb, populate(p, &pb))?;
    println!(
        "created {} znodes under {} in {:.1} s ({:.0}/s)",
        a.znodes,
        a.prefix,
        took.as_secs_f64(),
        a.znodes as f64 / took.as_secs_f64().max(1e-9)
    );
    Ok(ExitCode::SUCCESS)
}

fn run_serve(a: ServeArgs) -> Result<ExitCode, String> {
    if a.servers == 2 || a.servers == 0 {
        return Err("--servers: 1 (standalone) or 3 and more (an ensemble)".into());
    }
    let mut c = Cluster::create(
        a.server.flavor(),
        a.servers,
        a.server.settings()?,
        a.server.dir.clone(),
    )?;
    c.start_all()?;
    let leader = match c.wait_whole(a.patience) {
        Ok(l) => l,
        Err(e) => {
            c.stop_all();
            return Err(e);
        }
    };
    let mut info = format!("connect={}\nleader={}\n", c.addrs().join(","), leader + 1);
    for i in 0..c.len() {
        info.push_str(&format!(
            "server.{n}.pid={}\nserver.{n}.dataDir={}\nserver.{n}.config={}\nserver.{n}.log={}\n",
            c.pid(i).unwrap_or(0),
            c.data_dir(i).display(),
            c.config(i).display(),
            c.log_path(i).display(),
            n = i + 1
        ));
    }
    print!("{info}");
    if let Some(f) = &a.ready_file {
        std::fs::write(f, &info).map_err(|e| format!("cannot write {}: {e}", f.display()))?;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    rt.block_on(async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    });
    c.stop_all();
    Ok(ExitCode::SUCCESS)
}

fn run_report(a: ReportArgs) -> Result<ExitCode, String> {
    let rows = compare::compare(&a.dir)?;
    print_results(a.json, &rows, |rows| compare::markdown(rows))?;
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd {
        None => run_load(cli.run),
        Some(Command::Run(a)) => run_load(a),
        Some(Command::Failover(a)) => run_failover(a),
        Some(Command::Lifecycle(a)) => run_lifecycle(a),
        Some(Command::Fsync(a)) => run_fsync(a),
        Some(Command::Populate(a)) => run_populate(a),
        Some(Command::Serve(a)) => run_serve(a),
        Some(Command::Report(a)) => run_report(a),
        Some(Command::Attack(a)) => zk_native::bench::attack::main(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("zkbench: {e}");
            ExitCode::from(1)
        }
    }
}
