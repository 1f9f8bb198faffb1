//! `zkserver`: a ZooKeeper server, driven like zkServer.sh.
//!
//! ```text
//! zkserver                              standalone on 127.0.0.1:2181, data in ./data
//! zkserver start-foreground [zoo.cfg]   run in this terminal
//! zkserver start [zoo.cfg]              run in the background (log: dataDir/zookeeper.out)
//! zkserver stop [zoo.cfg]
//! zkserver restart [zoo.cfg]
//! zkserver status [zoo.cfg]             ask the running server its mode
//! zkserver print-cmd [zoo.cfg]          the command that would run
//! zkserver ensemble 3 [--observers 1]   a local ensemble, one process per server
//!          [--apache 1]                 (servers 1..K run by Apache ZooKeeper: a mixed one)
//! zkserver tutorial S1 [--lang zh]      replay a tutorial on real processes, checking it
//! zkserver convert-datadir [zoo.cfg]    rewrite an earlier release's files in ZooKeeper's format
//! zkserver migrate-check [zoo.cfg]      may this server be swapped for Apache ZooKeeper (or back)?
//! ```

use clap::{Parser, Subcommand};

/// jemalloc: glibc's malloc took a fifth of a write-heavy server's CPU, much of it in the arena
/// lock that the connection tasks (which allocate requests) and the peer loop (which frees them)
/// contend for.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings (its `malloc_conf`): a background thread hands freed pages back to the
/// kernel within a second, so resident memory follows the tree, not its busiest moment.
#[export_name = "_rjem_malloc_conf"]
#[used]
static MALLOC_CONF: &[u8; 60] = b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0";
use std::path::PathBuf;
use std::process::ExitCode;
use zk_native::cli;

#[derive(Parser)]
#[command(name = "zkserver", version, about = "A ZooKeeper server, rebuilt in Rust", long_about = None)]
struct Args {
    #[command(subcommand)]
    cmd: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run in the foreground (with no zoo.cfg: standalone on 127.0.0.1:2181, data in ./data).
    StartForeground { config: Option<PathBuf> },
    /// Run in the background; the log goes to dataDir/zookeeper.out.
    Start { config: Option<PathBuf> },
    /// Stop a server started with `start`.
    Stop { config: Option<PathBuf> },
    /// Stop, then start.
    Restart { config: Option<PathBuf> },
    /// Print the running server's mode: standalone, leader, follower or observer.
    Status { config: Option<PathBuf> },
    /// Print the command `start` would run.
    PrintCmd { config: Option<PathBuf> },
    /// Start a local ensemble of N servers (conf/zooN.cfg, data/N/myid), print their modes,
    /// and stop them all on Ctrl-C.
    Ensemble {
        /// Voting servers.
        servers: u64,
        /// Observers, in addition.
        #[arg(long, default_value_t = 0)]
        observers: u64,
        /// Where conf/ and data/ go.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// tickTime in milliseconds.
        #[arg(long, default_value_t = 2000)]
        tick_time: u32,
        /// Run servers 1 to K with Apache ZooKeeper (Debian's zkServer.sh) instead: one mixed
        /// ensemble.
        #[arg(long, default_value_t = 0)]
        apache: u64,
    },
    /// Rewrite a data directory left by an earlier zkserver release (its own file formats) in
    /// Apache ZooKeeper's formats; the old files are kept in version-2/legacy-format/.
    ConvertDatadir { config: Option<PathBuf> },
    /// Before swapping this server for Apache ZooKeeper (or back) in a running ensemble: do
    /// its zoo.cfg, its data directory and its peers allow it? Exit status 1 when not.
    MigrateCheck { config: Option<PathBuf> },
    /// Replay a tutorial (tutorials/*.toml) against real zkserver processes on loopback,
    /// printing each step and its checks. `--list` shows them all.
    Tutorial {
        /// S1 … S18 (the ones marked real), or `all` for every one of them.
        id: Option<String>,
        /// List the tutorials.
        #[arg(long)]
        list: bool,
        /// Narration language: en or zh.
        #[arg(long, default_value = "en")]
        lang: String,
        /// Keep configs, data and logs here (default: a temporary directory).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

fn init_logging() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("ZK_LOG").unwrap_or_else(|_| "info".into());
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .init();
}

fn using(path: &Option<PathBuf>) {
    match path {
        Some(p) => eprintln!("Using config: {}", p.display()),
        None => eprintln!(
            "Using the embedded default: standalone on 127.0.0.1:2181, dataDir {}",
            cli::DEFAULT_DATA_DIR
        ),
    }
}

fn load(path: &Option<PathBuf>) -> Result<cli::Loaded, ExitCode> {
    cli::load(path.as_deref()).map_err(|e| {
        eprintln!("Invalid config, exiting abnormally: {e}");
        ExitCode::from(2)
    })
}

/// `start`, as zkServer.sh says it.
fn start(l: &cli::Loaded, exe: &std::path::Path) -> ExitCode {
    eprint!("Starting zookeeper ... ");
    match cli::start(l, exe) {
        Ok(()) => {
            eprintln!("STARTED");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("FAILED TO START\n{e}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("zkserver"));
    match args
        .cmd
        .unwrap_or(Command::StartForeground { config: None })
    {
        Command::StartForeground { config } => {
            init_logging();
            using(&config);
            let l = match load(&config) {
                Ok(l) => l,
                Err(c) => return c,
            };
            match cli::start_foreground(l) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("zkserver: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Start { config } => {
            using(&config);
            match load(&config) {
                Ok(l) => start(&l, &exe),
                Err(c) => c,
            }
        }
        Command::Stop { config } => {
            using(&config);
            let l = match load(&config) {
                Ok(l) => l,
                Err(c) => return c,
            };
            eprint!("Stopping zookeeper ... ");
            match cli::stop(&l) {
                Ok(()) => {
                    eprintln!("STOPPED");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Restart { config } => {
            using(&config);
            let l = match load(&config) {
                Ok(l) => l,
                Err(c) => return c,
            };
            let _ = cli::stop(&l);
            start(&l, &exe)
        }
        Command::Status { config } => {
            using(&config);
            let l = match load(&config) {
                Ok(l) => l,
                Err(c) => return c,
            };
            match cli::status(&l) {
                Ok(s) => {
                    print!("{s}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    println!("{e}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Ensemble {
            servers,
            observers,
            dir,
            tick_time,
            apache,
        } => match zk_native::ensemble::run(&exe, &dir, servers, observers, tick_time, apache) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("zkserver ensemble: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Tutorial {
            id,
            list,
            lang,
            dir,
        } => tutorial(id, list, lang, dir, exe),
        Command::ConvertDatadir { config } => {
            using(&config);
            let l = match load(&config) {
                Ok(l) => l,
                Err(c) => return c,
            };
            convert_datadir(&l)
        }
        Command::MigrateCheck { config } => {
            using(&config);
            let l = match load(&config) {
                Ok(l) => l,
                Err(c) => return c,
            };
            let findings = zk_native::migrate::check(&l);
            for f in &findings {
                println!("{f}");
            }
            let blockers = findings
                .iter()
                .filter(|f| f.level == zk_native::migrate::Level::Blocker)
                .count();
            if blockers == 0 {
                println!("ready: server.{} may be swapped now", l.my_id);
                ExitCode::SUCCESS
            } else {
                println!("not ready: {blockers} blocker(s) above");
                ExitCode::from(1)
            }
        }
        Command::PrintCmd { config } => {
            let mut line = format!("\"{}\" start-foreground", exe.display());
            if let Some(c) = config {
                line.push_str(&format!(" \"{}\"", c.display()));
            }
            println!("{line}");
            ExitCode::SUCCESS
        }
    }
}

fn convert_datadir(l: &cli::Loaded) -> ExitCode {
    use zk_native::storage::convert;
    let data = PathBuf::from(&l.config.data_dir);
    let logs = PathBuf::from(&l.config.data_log_dir);
    match convert::convert(&data, &logs) {
        Ok(r) if r.nothing_to_do => {
            println!(
                "{} holds no files of the earlier format: nothing to convert",
                data.display()
            );
            ExitCode::SUCCESS
        }
        Ok(r) => {
            if let Some((z, nodes)) = r.snapshot {
                println!("snapshot at {z}: {nodes} znodes");
            }
            println!("transactions after it: {}", r.transactions);
            if let Some(t) = &r.torn_tail {
                println!("cut a torn tail off the last log (a crash while writing it): {t}");
            }
            for p in &r.written {
                println!("wrote {}", p.display());
            }
            println!(
                "{} old files moved into {}",
                r.moved.len(),
                convert::LEGACY_DIR
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("zkserver convert-datadir: {e}");
            ExitCode::FAILURE
        }
    }
}

fn tutorial(
    id: Option<String>,
    list: bool,
    lang: String,
    dir: Option<PathBuf>,
    exe: PathBuf,
) -> ExitCode {
    use zk_native::tutorial as t;
    if list || id.is_none() {
        return match t::list(&lang) {
            Ok(s) => {
                print!("{s}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("zkserver tutorial: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let id = id.unwrap_or_default();
    let tutorials = if id.eq_ignore_ascii_case("all") {
        match zk_sim::tutorial::all() {
            Ok(all) => all
                .into_iter()
                .filter(|x| t::unsupported(x).is_none())
                .collect(),
            Err(e) => {
                eprintln!("zkserver tutorial: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        match t::find(&id) {
            Ok(x) => vec![x],
            Err(e) => {
                eprintln!("zkserver tutorial: {e}");
                return ExitCode::FAILURE;
            }
        }
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("zkserver tutorial: {e}");
            return ExitCode::FAILURE;
        }
    };
    for tut in tutorials {
        let opts = t::Options {
            lang: lang.clone(),
            dir: dir.as_ref().map(|d| d.join(&tut.id)),
            exe: exe.clone(),
        };
        let mut out = std::io::stdout();
        if let Err(e) = rt.block_on(t::run(&tut, &opts, &mut out)) {
            eprintln!("zkserver tutorial: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
