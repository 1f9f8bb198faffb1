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
//! ```

use clap::{Parser, Subcommand};
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
            let l = match load(&config) {
                Ok(l) => l,
                Err(c) => return c,
            };
            eprint!("Starting zookeeper ... ");
            match cli::start(&l, &exe) {
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
            eprint!("Starting zookeeper ... ");
            match cli::start(&l, &exe) {
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
        } => match zk_native::ensemble::run(&exe, &dir, servers, observers, tick_time) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("zkserver ensemble: {e}");
                ExitCode::FAILURE
            }
        },
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
