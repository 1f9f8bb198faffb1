//! zkcli: ZooKeeper's command-line shell, `zkCli.sh`, on a real connection.
//!
//! `zkcli -server host:port[,host:port...][/chroot]` starts the interactive shell (prompt
//! `[zk: host:port(CONNECTED) 0] `, history in `~/.zkcli_history`, tab completion of commands and
//! znode paths); `zkcli -server host:port ls /` runs one command and exits with zkCli's exit code
//! (0, 1 for a failed command, 127 for an unknown one).
//!
//! What the commands mean and print is `zk_cli`, zkCli.sh as a library with no IO (the
//! browser playground's console runs the same code). This binary is its driver: it reads lines,
//! hands them to a [`cli::Shell`], sends the requests a command's [`cli::Exec`] asks for through
//! [`zk_native::client`] and hands back the answers, and prints. Watch events are printed as they
//! arrive — and before the output of a command whose last answer came after them, so events and
//! output come out in the order the server sent them.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Parser;
use rustyline::completion::Completer;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::FileHistory;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, ExternalPrinter, Helper};

use zk_cli as cli;
use zk_cli::{Action, Exec, Printed, Shell, Step, Stream};
use zk_native::client::{Client, ClientError, ErrorCode, EventStream};

// ---------------------------------------------------------------------------------------------
// Command line

/// ZooKeeper's command-line shell. Options take one dash, as zkCli.sh's do.
#[derive(Parser, Debug)]
#[command(
    name = "zkcli",
    version,
    override_usage = "zkcli [-server host:port[,host:port...][/chroot]] [-timeout ms] [-r] [-waitforconnection] [command args...]"
)]
struct Args {
    /// The servers to connect to, and an optional chroot.
    #[arg(long, default_value = "localhost:2181")]
    server: String,
    /// Session timeout, in milliseconds.
    #[arg(long, default_value_t = 30000)]
    timeout: u64,
    /// Accept a read-only server.
    #[arg(short = 'r')]
    readonly: bool,
    /// Wait (up to the timeout) for the session before running anything.
    #[arg(long)]
    waitforconnection: bool,
    /// A client configuration file, as zkCli.sh's: `zookeeper.client.secure=true` and the
    /// `zookeeper.ssl.*` keys connect with TLS. `-D` properties in `CLIENT_JVMFLAGS` count too.
    #[arg(long = "client-configuration", value_name = "FILE")]
    client_configuration: Option<String>,
    /// A command to run instead of the interactive shell, e.g. `ls /`.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

/// Turns zkCli.sh's single-dash options (`-server h:p`) into clap's (`--server h:p`). As
/// `ZooKeeperMain.MyCommandOptions.parseOptions` does, other dash words before the command are
/// ignored, and the first word without a dash starts the command, which takes the rest verbatim.
fn java_style_args(raw: impl Iterator<Item = String>) -> Vec<String> {
    let mut out = vec!["zkcli".to_string()];
    let mut it = raw.peekable();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-server" | "--server" => out.push("--server".into()),
            "-timeout" | "--timeout" => out.push("--timeout".into()),
            "-client-configuration" | "--client-configuration" => {
                out.push("--client-configuration".into())
            }
            "-waitforconnection" | "--waitforconnection" => {
                out.push("--waitforconnection".into());
                continue;
            }
            "-r" => {
                out.push("-r".into());
                continue;
            }
            "-h" | "--help" | "-V" | "--version" => {
                out.push(a);
                continue;
            }
            s if s.starts_with('-') => continue,
            _ => {
                out.push("--".into());
                out.push(a);
                out.extend(it);
                return out;
            }
        }
        if let Some(v) = it.next() {
            out.push(v);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The driver

/// One zkCli session: the shell's state and the connection it runs commands on.
struct Driver {
    shell: Shell,
    zk: Option<Client>,
    events: Option<EventStream>,
    host: String,
    timeout: Duration,
    read_only: bool,
    /// The last command's exit code: zkcli's when it ends (quit, end of input, one command).
    exit_code: i32,
    /// The client, for the completer on the line editor's thread.
    shared_zk: Arc<Mutex<Option<Client>>>,
    /// TLS, when the client configuration asks for it.
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl Driver {
    fn new(host: String, timeout: Duration, read_only: bool) -> Driver {
        Driver {
            shell: Shell::new(),
            zk: None,
            events: None,
            host,
            timeout,
            read_only,
            exit_code: 0,
            shared_zk: Arc::new(Mutex::new(None)),
            tls: None,
        }
    }

    fn alive(&self) -> bool {
        self.zk.as_ref().is_some_and(|z| z.state().is_alive())
    }

    fn prompt(&self) -> String {
        let state = self
            .zk
            .as_ref()
            .map_or("CLOSED".to_string(), |z| z.state().to_string());
        self.shell.prompt(&self.host, &state)
    }

    /// `connectToZK`: closes the current session, starts a new one without waiting for it (a
    /// command sent meanwhile waits for the connection, as in zkCli).
    async fn connect(&mut self, host: &str) -> Result<(), ClientError> {
        self.close().await;
        self.host = host.to_string();
        let mut b = Client::builder(host, self.timeout).read_only(self.read_only);
        if let Some(t) = &self.tls {
            b = b.tls(t.clone());
        }
        let zk = b.spawn()?;
        self.events = Some(zk.events());
        *self.shared_zk.lock().unwrap() = Some(zk.clone());
        self.zk = Some(zk);
        Ok(())
    }

    async fn close(&mut self) {
        if let Some(zk) = &self.zk {
            if zk.state().is_alive() {
                zk.close().await.ok();
            }
        }
        self.pump();
    }

    /// Prints the watch events that have arrived (unless `printwatches off`).
    fn pump(&mut self) {
        let mut stdout = std::io::stdout().lock();
        while let Some(ev) = self.events.as_mut().and_then(EventStream::try_next) {
            if let Some(text) = self.shell.event(&ev) {
                let _ = stdout.write_all(text.as_bytes());
            }
        }
        let _ = stdout.flush();
    }

    /// Prints what a command printed, each piece on its stream, after the events before it.
    fn print(&mut self, printed: &Printed) {
        self.pump();
        for c in &printed.chunks {
            let _ = match c.stream {
                Stream::Out => {
                    let mut o = std::io::stdout().lock();
                    o.write_all(c.text.as_bytes()).and_then(|_| o.flush())
                }
                Stream::Err => {
                    let mut e = std::io::stderr().lock();
                    e.write_all(c.text.as_bytes()).and_then(|_| e.flush())
                }
            };
        }
    }

    /// The next watch event, whenever it comes.
    async fn next_event(&mut self) -> zk_native::client::WatchedEvent {
        loop {
            let Some(events) = self.events.as_mut() else {
                return std::future::pending().await;
            };
            match events.next().await {
                Some(ev) => return ev,
                None => self.events = None,
            }
        }
    }

    /// Runs a command on the session (with none, every request fails with ConnectionLoss).
    async fn run(&mut self, mut exec: Exec) -> Exec {
        match self.zk.clone() {
            Some(zk) => zk.run_command(exec).await,
            None => {
                let mut step = exec.start();
                while let Step::Send(_) = step {
                    step = exec.resume(Err(ErrorCode::ConnectionLoss));
                }
                exec
            }
        }
    }

    /// One line, as zkCli's `executeLine` runs it (`one_shot`: a command given on the command
    /// line, which stays out of the history).
    async fn line(&mut self, line: &str, one_shot: bool) {
        let alive = self.alive();
        let r = if one_shot {
            self.shell.one_shot(line, alive)
        } else {
            self.shell.line(line, alive)
        };
        self.print(&r.printed);
        let mut code = r.exit_code;
        match r.action {
            Action::None => {}
            Action::Run(exec) => {
                let exec = self.run(*exec).await;
                code = exec.exit_code;
                self.print(&exec.finish());
            }
            Action::Connect(host) => {
                let host = host.unwrap_or_else(|| self.host.clone());
                if let Err(e) = self.connect(&host).await {
                    eprintln!("{e}");
                    code = 1;
                }
            }
            Action::Close => self.close().await,
            Action::Quit => {
                self.close().await;
                std::process::exit(self.exit_code);
            }
        }
        self.exit_code = code;
        self.pump();
    }
}

/// Joins a one-shot command's words into a line that `cli::split_words` gives back unchanged:
/// zkCli takes them from the shell as they are, quotes included.
fn words_to_line(words: &[String]) -> String {
    words
        .iter()
        .map(|w| {
            let plain =
                !w.is_empty() && !w.starts_with(['"', '\'']) && !w.chars().any(char::is_whitespace);
            if plain {
                w.clone()
            } else if !w.contains('\'') {
                format!("'{w}'")
            } else if !w.contains('"') {
                format!("\"{w}\"")
            } else {
                // Both quotes and a blank: no way to say it on one zkCli line.
                w.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------------------------------------
// Line editing

/// Completes command names, and znode paths from the server (`JLineZNodeCompleter`).
struct ZkHelper {
    zk: Arc<Mutex<Option<Client>>>,
    rt: tokio::runtime::Handle,
}

impl Completer for ZkHelper {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        let start = line[..pos].rfind(' ').map_or(0, |i| i + 1);
        let word = &line[start..pos];
        if start == 0 {
            let mut c: Vec<String> = cli::COMMANDS
                .iter()
                .map(|(c, _)| c.to_string())
                .filter(|c| c.starts_with(word))
                .collect();
            c.sort();
            return Ok((start, c));
        }
        if !word.starts_with('/') {
            return Ok((pos, Vec::new()));
        }
        let Some(zk) = self.zk.lock().unwrap().clone() else {
            return Ok((pos, Vec::new()));
        };
        let slash = word.rfind('/').unwrap_or(0);
        let dir = if slash == 0 { "/" } else { &word[..slash] };
        let prefix = &word[slash + 1..];
        let children = self.rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(2), zk.get_children(dir, false)).await
        });
        let mut out: Vec<String> = match children {
            Ok(Ok(c)) => c
                .into_iter()
                .filter(|c| c.starts_with(prefix))
                .map(|c| format!("{}/{c}", &word[..slash]))
                .collect(),
            _ => Vec::new(),
        };
        out.sort();
        Ok((start, out))
    }
}

impl Hinter for ZkHelper {
    type Hint = String;
}
impl Highlighter for ZkHelper {}
impl Validator for ZkHelper {}
impl Helper for ZkHelper {}

fn history_file() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".zkcli_history"))
}

/// The line reader's thread: prompts when told to, and hands each line (None at the end) to the
/// shell. On a terminal it is rustyline; otherwise plain lines with no prompt, as zkCli without
/// JLine reads them.
fn read_lines(
    tty: bool,
    prompts: std::sync::mpsc::Receiver<String>,
    lines: tokio::sync::mpsc::UnboundedSender<Option<String>>,
    printer: std::sync::mpsc::Sender<Option<Box<dyn ExternalPrinter + Send>>>,
    helper: ZkHelper,
) {
    if !tty {
        let _ = printer.send(None);
        let stdin = std::io::stdin();
        let mut it = stdin.lock().lines();
        while prompts.recv().is_ok() {
            let line = it.next().and_then(Result::ok);
            let end = line.is_none();
            if lines.send(line).is_err() || end {
                return;
            }
        }
        return;
    }
    let mut rl: Editor<ZkHelper, FileHistory> = match Editor::new() {
        Ok(rl) => rl,
        Err(e) => {
            eprintln!("cannot start the line editor: {e}");
            let _ = printer.send(None);
            let _ = lines.send(None);
            return;
        }
    };
    rl.set_helper(Some(helper));
    let history = history_file();
    if let Some(h) = &history {
        let _ = rl.load_history(h);
    }
    let p = rl
        .create_external_printer()
        .ok()
        .map(|p| Box::new(p) as Box<dyn ExternalPrinter + Send>);
    let _ = printer.send(p);
    while let Ok(prompt) = prompts.recv() {
        let line = match rl.readline(&prompt) {
            Ok(l) => {
                if !l.trim().is_empty() {
                    let _ = rl.add_history_entry(l.as_str());
                    if let Some(h) = &history {
                        let _ = rl.save_history(h);
                    }
                }
                Some(l)
            }
            Err(_) => None,
        };
        let end = line.is_none();
        if lines.send(line).is_err() || end {
            return;
        }
    }
}

async fn interactive(mut d: Driver) -> ! {
    println!("Welcome to ZooKeeper!");
    let tty = std::io::stdin().is_terminal();
    println!(
        "JLine support is {}",
        if tty { "enabled" } else { "disabled" }
    );
    let (line_tx, mut line_rx) = tokio::sync::mpsc::unbounded_channel();
    let (prompt_tx, prompt_rx) = std::sync::mpsc::channel();
    let (printer_tx, printer_rx) = std::sync::mpsc::channel();
    let helper = ZkHelper {
        zk: d.shared_zk.clone(),
        rt: tokio::runtime::Handle::current(),
    };
    std::thread::spawn(move || read_lines(tty, prompt_rx, line_tx, printer_tx, helper));
    let mut printer = printer_rx.recv().ok().flatten();
    loop {
        let _ = prompt_tx.send(d.prompt());
        // While the prompt waits, events are printed as they come (above the prompt, on a tty).
        let line = loop {
            tokio::select! {
                l = line_rx.recv() => break l.flatten(),
                ev = d.next_event() => {
                    let Some(text) = d.shell.event(&ev) else { continue };
                    match printer.as_mut() {
                        Some(p) => {
                            let _ = p.print(text);
                        }
                        None => {
                            print!("{text}");
                            let _ = std::io::stdout().flush();
                        }
                    }
                }
            }
        };
        match line {
            Some(l) => d.line(&l, false).await,
            None => std::process::exit(d.exit_code),
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = Args::parse_from(java_style_args(std::env::args().skip(1)));
    let mut d = Driver::new(
        args.server.clone(),
        Duration::from_millis(args.timeout),
        args.readonly,
    );
    let security = zk_native::tls::client_security(args.client_configuration.as_deref())
        .and_then(|s| zk_native::tls::client_tls(&s));
    match security {
        Ok(tls) => d.tls = tls,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
    println!("Connecting to {}", args.server);
    if let Err(e) = d.connect(&args.server).await {
        eprintln!("{e}");
        std::process::exit(1);
    }
    if args.waitforconnection {
        let zk = d.zk.clone().expect("just connected");
        let connected = tokio::time::timeout(d.timeout, async {
            while !zk.state().is_connected() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .is_ok();
        if !connected {
            eprintln!("KeeperErrorCode = ConnectionLoss");
            std::process::exit(1);
        }
    }
    if args.command.is_empty() {
        interactive(d).await;
    }
    // One command, as zkCli.sh runs it; the session is not closed but left to time out (its
    // ephemeral nodes stay until then), as zkCli's System.exit leaves it.
    d.line(&words_to_line(&args.command), true).await;
    std::process::exit(d.exit_code);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &[&str]) -> Vec<String> {
        s.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn one_shot_words_survive_the_line_splitter() {
        for w in [
            &["create", "/laogong", "\"laogong\""][..],
            &["create", "/q", "hello world", "a'b", "a\"b", ""],
            &["set", "/x", "'quoted'"],
        ] {
            let w = words(w);
            assert_eq!(cli::split_words(&words_to_line(&w)), w);
        }
    }

    #[test]
    fn java_style_options() {
        assert_eq!(
            java_style_args(words(&["-server", "h:1", "-foo", "ls", "-s", "/"]).into_iter()),
            words(&["zkcli", "--server", "h:1", "--", "ls", "-s", "/"])
        );
        assert_eq!(
            java_style_args(words(&["-r", "-timeout", "5", "-waitforconnection"]).into_iter()),
            words(&["zkcli", "-r", "--timeout", "5", "--waitforconnection"])
        );
    }

    #[test]
    fn exit_codes() {
        let mut shell = Shell::new();
        assert_eq!(shell.line("bogus", true).exit_code, 127);
        assert_eq!(shell.line("redo 99", true).exit_code, 1);
        assert_eq!(shell.line("history", true).exit_code, 0);
        // A one-shot command keeps no history: zkCli.sh prints Java's null.
        let mut fresh = Shell::new();
        assert_eq!(fresh.one_shot("history", true).printed.text(), "0 - null\n");
    }
}
