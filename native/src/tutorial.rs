//! `zkserver tutorial <id>`: a tutorial file replayed against real `zkserver` processes on
//! loopback, each step printed with its checks — so that what the playground teaches is shown to
//! hold on the real server too.
//!
//! The same files drive the simulator (`zk_sim::tutorial`). Here a server is a process
//! (`start-foreground` of a generated zoo.cfg), a console is a [`Client`] session running
//! `zk_cli` commands, a recipe client runs `zk_sim::recipes` over a real session.
//! What a real server does not show — votes, vote boxes, messages on the wire, sync modes — is
//! reported as not observable rather than checked.

use crate::client::{Client, ClientError, EventStream, WatchedEvent};
use crate::ensemble::{write_configs, Member};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use zk_cli::{Action as ShellAction, Shell};
use zk_core::request::{KeeperState, Reply, Request, Response};
use zk_core::{ServerId, Zxid};
use zk_sim::client::ClientEvent;
use zk_sim::play::Action;
use zk_sim::play::CommandRecord;
use zk_sim::recipes::Recipe;
use zk_sim::tutorial::{self, observed, Expect, Kind, Tutorial};

/// How a real run is set up.
pub struct Options {
    /// Narration language: `en` or `zh`.
    pub lang: String,
    /// Where the configs, data and logs go (a temporary directory when None, removed at the end).
    pub dir: Option<PathBuf>,
    /// The `zkserver` executable to start.
    pub exe: PathBuf,
}

/// The outcome of a run.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub passed: usize,
    pub not_observable: usize,
}

/// Finds a tutorial by `S1`, `s01` or a file name prefix.
pub fn find(id: &str) -> Result<Tutorial, String> {
    let all = tutorial::all()?;
    let want = id.trim().to_ascii_lowercase();
    let norm = |s: &str| {
        let s = s.to_ascii_lowercase();
        match s.strip_prefix('s').and_then(|n| n.parse::<u32>().ok()) {
            Some(n) => format!("s{n}"),
            None => s,
        }
    };
    all.into_iter()
        .zip(tutorial::FILES)
        .find(|(t, (name, _))| norm(&t.id) == norm(&want) || name.starts_with(&want))
        .map(|(t, _)| t)
        .ok_or_else(|| {
            format!("no tutorial {id}: try one of S1 … S18 (`zkserver tutorial --list`)")
        })
}

/// One line per tutorial: id, whether it runs on real servers, title.
pub fn list(lang: &str) -> Result<String, String> {
    let mut s = String::new();
    for t in tutorial::all()? {
        s.push_str(&format!(
            "{:<4} {:<10} {}\n",
            t.id,
            if t.real { "real+sim" } else { "sim only" },
            t.title.get(lang)
        ));
    }
    Ok(s)
}

/// Why a tutorial cannot run on real processes, if it cannot.
pub fn unsupported(t: &Tutorial) -> Option<String> {
    if !t.real {
        return Some(format!(
            "{} is for the simulator (the playground and `cargo test`): it watches votes or messages a real server does not show",
            t.id
        ));
    }
    if !t.cluster.disk.is_empty() {
        return Some(format!(
            "{} presets disks, which only the simulator can",
            t.id
        ));
    }
    for (i, step) in t.steps.iter().enumerate() {
        for d in &step.actions {
            for a in d.actions().unwrap_or_default() {
                if matches!(
                    a,
                    Action::Partition(_)
                        | Action::Cut { .. }
                        | Action::Heal
                        | Action::Drop(_)
                        | Action::Network(_)
                        | Action::Disk(_)
                        | Action::Load { .. }
                        | Action::StopLoad
                ) {
                    return Some(format!(
                        "{} step {} needs control of the network, which only the simulator has",
                        t.id,
                        i + 1
                    ));
                }
            }
        }
    }
    None
}

/// A zkCli session on one server.
struct Console {
    server: u64,
    client: Client,
    shell: Shell,
    transcript: String,
    commands: Vec<CommandRecord>,
}

/// A recipe client: its state machine and the session it runs on.
struct RecipeRun {
    state: Arc<Mutex<Recipe>>,
    client: Client,
    task: tokio::task::JoinHandle<()>,
}

/// The servers, consoles and recipe clients of a run.
struct World {
    members: Vec<Member>,
    exe: PathBuf,
    procs: BTreeMap<u64, Child>,
    paused: BTreeSet<u64>,
    consoles: BTreeMap<u32, Arc<Mutex<Console>>>,
    recipes: BTreeMap<String, RecipeRun>,
    /// Sessions for reading znodes on a server no console is connected to.
    readers: BTreeMap<u64, Client>,
}

impl Drop for World {
    fn drop(&mut self) {
        for (_, r) in std::mem::take(&mut self.recipes) {
            r.task.abort();
        }
        for (id, mut p) in std::mem::take(&mut self.procs) {
            if self.paused.contains(&id) {
                signal(&p, libc::SIGCONT);
            }
            let _ = p.kill();
            let _ = p.wait();
        }
    }
}

fn signal(p: &Child, sig: libc::c_int) {
    // SAFETY: kill(2) on the pid of a child we own (and have not reaped).
    unsafe {
        libc::kill(p.id() as libc::pid_t, sig);
    }
}

/// Sends a four-letter word and returns the answer ("" when the server does not answer).
fn four(port: u16, word: &str) -> String {
    let Ok(mut s) = TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(500),
    ) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(1000)));
    let _ = s.write_all(word.as_bytes());
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

impl World {
    fn member(&self, id: u64) -> Result<&Member, String> {
        self.members
            .iter()
            .find(|m| m.id == id)
            .ok_or_else(|| format!("there is no server {id}"))
    }

    fn start(&mut self, id: u64) -> Result<(), String> {
        if self.procs.contains_key(&id) {
            return Ok(());
        }
        let m = self.member(id)?;
        let (log, err) = crate::cli::append_log(&m.data_dir.join("zookeeper.out"), |e| {
            format!("server {id}'s log: {e}")
        })?;
        let child = Command::new(&self.exe)
            .arg("start-foreground")
            .arg(&m.config)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.exe.display()))?;
        self.procs.insert(id, child);
        Ok(())
    }

    fn kill(&mut self, id: u64) {
        if let Some(mut p) = self.procs.remove(&id) {
            if self.paused.remove(&id) {
                signal(&p, libc::SIGCONT);
            }
            let _ = p.kill();
            let _ = p.wait();
        }
        self.readers.remove(&id);
    }

    async fn apply(&mut self, a: Action) -> Result<(), String> {
        match a {
            Action::Start(s) => self.start(s.0)?,
            Action::Kill(s) => self.kill(s.0),
            Action::Restart(s) => {
                self.kill(s.0);
                self.start(s.0)?;
            }
            Action::Pause(s) => {
                if let Some(p) = self.procs.get(&s.0) {
                    signal(p, libc::SIGSTOP);
                    self.paused.insert(s.0);
                }
            }
            Action::Resume(s) => {
                if let Some(p) = self.procs.get(&s.0) {
                    signal(p, libc::SIGCONT);
                    self.paused.remove(&s.0);
                }
            }
            Action::OpenConsole { server } => {
                let port = self.member(server.0)?.client_port;
                let client = Client::builder(&format!("127.0.0.1:{port}"), Duration::from_secs(30))
                    .spawn()
                    .map_err(|e| e.to_string())?;
                let id = self.consoles.len() as u32 + 1;
                let console = Arc::new(Mutex::new(Console {
                    server: server.0,
                    client: client.clone(),
                    shell: Shell::new(),
                    transcript: String::new(),
                    commands: Vec::new(),
                }));
                tokio::spawn(print_events(client.events(), console.clone()));
                self.consoles.insert(id, console);
            }
            Action::Console { console, line } => {
                let c = self
                    .consoles
                    .get(&console)
                    .ok_or_else(|| format!("there is no console {console}"))?
                    .clone();
                run_line(&c, &line).await;
            }
            Action::Recipe {
                name,
                kind,
                servers,
            } => {
                if let Some(old) = self.recipes.get(&name) {
                    if old.state.lock().unwrap().role != zk_sim::recipes::Role::Done {
                        return Ok(());
                    }
                }
                let ids: Vec<u64> = if servers.is_empty() {
                    self.members.iter().map(|m| m.id).collect()
                } else {
                    servers.iter().map(|s| s.0).collect()
                };
                let cs = ids
                    .iter()
                    .map(|id| {
                        self.member(*id)
                            .map(|m| format!("127.0.0.1:{}", m.client_port))
                    })
                    .collect::<Result<Vec<_>, _>>()?
                    .join(",");
                let client = Client::builder(&cs, Duration::from_secs(6))
                    .spawn()
                    .map_err(|e| e.to_string())?;
                let state = Arc::new(Mutex::new(Recipe::new(&name, kind)));
                let task = tokio::spawn(drive_recipe(client.clone(), state.clone()));
                if let Some(old) = self.recipes.insert(
                    name,
                    RecipeRun {
                        state,
                        client,
                        task,
                    },
                ) {
                    old.task.abort();
                }
            }
            Action::Crash { name } => {
                if let Some(r) = self.recipes.get_mut(&name) {
                    r.task.abort();
                    {
                        let mut s = r.state.lock().unwrap();
                        s.role = zk_sim::recipes::Role::Done;
                        s.log.push("crashed".into());
                    }
                    // The process dies: the connection drops, the session stays until it
                    // expires.
                    r.client.clone().abandon().await;
                }
            }
            Action::Release { name } => {
                if let Some(r) = self.recipes.get(&name) {
                    let req = r.state.lock().unwrap().release();
                    if let Some(req) = req {
                        let reply = r.client.request(req).await;
                        let mut s = r.state.lock().unwrap();
                        feed_reply(&mut s, reply);
                    }
                }
            }
            other => return Err(format!("{other:?} cannot be done on real servers")),
        }
        Ok(())
    }
}

/// Prints a console's watch events and state changes into its transcript, as zkCli does.
async fn print_events(mut events: EventStream, console: Arc<Mutex<Console>>) {
    while let Some(ev) = events.next().await {
        let mut c = console.lock().unwrap();
        if let Some(text) = c.shell.event(&ev) {
            c.transcript.push_str(&text);
        }
    }
}

/// One zkCli line on a console, to its end.
async fn run_line(console: &Arc<Mutex<Console>>, line: &str) {
    let (result, client) = {
        let mut c = console.lock().unwrap();
        let alive = c.client.state().is_alive();
        let prompt = c.shell.prompt(
            &format!("zk{}:2181", c.server),
            &c.client.state().to_string(),
        );
        c.transcript.push_str(&format!("{prompt}{line}\n"));
        c.commands.push(CommandRecord {
            line: line.to_string(),
            output: String::new(),
            done: false,
        });
        (c.shell.line(line, alive), c.client.clone())
    };
    let mut printed = result.printed;
    if let ShellAction::Run(exec) = result.action {
        let exec =
            match tokio::time::timeout(Duration::from_secs(60), client.run_command(*exec)).await {
                Ok(exec) => exec.finish(),
                Err(_) => {
                    let mut p = zk_cli::Printed::default();
                    p.extend(zk_cli::Printed {
                        chunks: vec![zk_cli::Chunk {
                            stream: zk_cli::Stream::Err,
                            text: "(no answer within 60 s)\n".into(),
                        }],
                    });
                    p
                }
            };
        printed.extend(exec);
    } else if let ShellAction::Close | ShellAction::Quit = result.action {
        // zkCli's close and quit both end the session (zk.close()) before going on.
        let _ = tokio::time::timeout(Duration::from_secs(10), client.close()).await;
    }
    let mut c = console.lock().unwrap();
    let text = printed.text();
    c.transcript.push_str(&text);
    if let Some(r) = c.commands.last_mut() {
        r.output.push_str(&text);
        r.done = true;
    }
}

fn feed_reply(r: &mut Recipe, reply: Result<Response, ClientError>) -> Option<Request> {
    // The state machine matches replies by xid; a real session's xids are its own, so each
    // reply gets the next number here.
    let xid = r.log.len() as i32 + 1_000_000;
    r.sent(xid);
    let (err, body) = match reply {
        Ok(body) => (zk_core::ErrorCode::Ok, body),
        Err(e) if e.is_connection_loss() => {
            return r.on_event(&ClientEvent::Lost {
                xid,
                request: Request::Ping,
            });
        }
        Err(e) => (e.zk_code(), Response::Empty),
    };
    r.on_event(&ClientEvent::Reply {
        server: ServerId(0),
        request: Request::Ping,
        reply: Reply {
            xid,
            zxid: Zxid(0),
            err,
            body,
        },
        sent_at: 0,
    })
}

/// Runs a recipe's state machine on a real session: its requests go out one at a time, the
/// answers and watch events come back to it.
async fn drive_recipe(client: Client, state: Arc<Mutex<Recipe>>) {
    let mut events = client.events();
    while let Some(ev) = events.next().await {
        let first = {
            let mut r = state.lock().unwrap();
            r.on_event(&event_of(&ev))
        };
        let mut next = first;
        while let Some(req) = next {
            let reply = client.request(req).await;
            let mut r = state.lock().unwrap();
            next = feed_reply(&mut r, reply);
        }
    }
}

fn event_of(ev: &WatchedEvent) -> ClientEvent {
    match (ev.state, ev.path.is_empty()) {
        (KeeperState::SyncConnected, true) => ClientEvent::Connected {
            server: ServerId(0),
            session: zk_core::SessionId(0),
            timeout: 0,
        },
        (KeeperState::Expired, _) => ClientEvent::Expired {
            server: ServerId(0),
        },
        (KeeperState::Disconnected, _) => ClientEvent::Disconnected {
            server: ServerId(0),
            why: "disconnected".into(),
        },
        _ => ClientEvent::Watch {
            server: ServerId(0),
            event: ev.clone(),
        },
    }
}

/// What "during this step" means: how much each console had printed when it began.
struct Mark {
    console_len: BTreeMap<u32, usize>,
}

impl World {
    fn mark(&self) -> Mark {
        Mark {
            console_len: self
                .consoles
                .iter()
                .map(|(id, c)| (*id, c.lock().unwrap().transcript.len()))
                .collect(),
        }
    }

    /// `srvr`'s Mode, in the tutorial's words: LEADING, FOLLOWING, OBSERVING, STANDALONE,
    /// LOOKING (running, not serving), DOWN, PAUSED.
    fn state(&self, id: u64) -> Result<String, String> {
        if !self.procs.contains_key(&id) {
            return Ok("DOWN".into());
        }
        if self.paused.contains(&id) {
            return Ok("PAUSED".into());
        }
        let srvr = four(self.member(id)?.client_port, "srvr");
        let mode = srvr
            .lines()
            .find_map(|l| l.strip_prefix("Mode: "))
            .map(str::trim);
        Ok(match mode {
            Some("leader") => "LEADING",
            Some("follower") => "FOLLOWING",
            Some("observer") => "OBSERVING",
            Some("standalone") => "STANDALONE",
            Some("read-only") => "LOOKING",
            _ => "LOOKING",
        }
        .into())
    }

    fn srvr_zxid(&self, id: u64) -> Result<Option<Zxid>, String> {
        let srvr = four(self.member(id)?.client_port, "srvr");
        Ok(srvr
            .lines()
            .find_map(|l| l.strip_prefix("Zxid: "))
            .and_then(|z| tutorial::parse_zxid(z.trim())))
    }

    /// A session to read znodes on server `id`: a console's there, or a reader of our own.
    fn reader(&mut self, id: u64) -> Result<Client, String> {
        if let Some(c) = self
            .consoles
            .values()
            .map(|c| c.lock().unwrap())
            .find(|c| c.server == id && c.client.state().is_alive())
        {
            return Ok(c.client.clone());
        }
        if let Some(r) = self.readers.get(&id).filter(|r| r.state().is_alive()) {
            return Ok(r.clone());
        }
        let port = self.member(id)?.client_port;
        let r = Client::builder(&format!("127.0.0.1:{port}"), Duration::from_secs(10))
            .spawn()
            .map_err(|e| e.to_string())?;
        self.readers.insert(id, r.clone());
        Ok(r)
    }

    /// Checks one expectation; Ok(false) when a real server cannot show it.
    async fn check(&mut self, e: &Expect, mark: &Mark) -> Result<bool, String> {
        let id = e.server.unwrap_or_default();
        match e.kind()? {
            Kind::Vote | Kind::Message => return Ok(false),
            Kind::State => {
                let got = self.state(id)?;
                let serving = matches!(
                    got.as_str(),
                    "LEADING" | "FOLLOWING" | "OBSERVING" | "STANDALONE"
                );
                observed::state(e, ServerId(id), &got, serving)?;
            }
            Kind::Leader => {
                let mut leaders = Vec::new();
                for m in &self.members {
                    if self.state(m.id)? == "LEADING" {
                        leaders.push(ServerId(m.id));
                    }
                }
                observed::leader(e, &leaders)?;
            }
            Kind::Zxid => {
                // srvr's Zxid is the last one applied: last and committed are the same there.
                let z = self
                    .srvr_zxid(id)?
                    .ok_or_else(|| format!("server {id} does not answer srvr"))?;
                let epoch_file = self
                    .member(id)?
                    .data_dir
                    .join("version-2")
                    .join(crate::storage::CURRENT_EPOCH_FILE);
                let epoch = std::fs::read_to_string(&epoch_file)
                    .ok()
                    .and_then(|s| s.trim().parse::<u32>().ok());
                observed::zxid(e, ServerId(id), z, z, epoch)?;
            }
            Kind::Znode => {
                let path = e.path.clone().unwrap_or_else(|| "/".into());
                let r = self.reader(id)?;
                let node = match r.get_data(&path, false).await {
                    Ok((data, stat)) => Some((data, stat)),
                    Err(err) if err.keeper_code() == Some(zk_core::ErrorCode::NoNode) => None,
                    Err(err) => return Err(err.to_string()),
                };
                let node = node.as_ref().map(|(d, s)| (d.as_deref(), *s));
                observed::znode(e, ServerId(id), &path, node)?;
            }
            Kind::Console => {
                let n = e.console.unwrap_or(1);
                let c = self
                    .consoles
                    .get(&n)
                    .ok_or_else(|| format!("there is no console {n}"))?
                    .lock()
                    .unwrap();
                let skip = mark.console_len.get(&n).copied().unwrap_or(0);
                let busy = c.commands.last().is_some_and(|r| !r.done);
                observed::console(
                    e,
                    n,
                    &c.commands,
                    busy,
                    c.transcript.get(skip..).unwrap_or(""),
                )?;
            }
            Kind::Recipe => {
                let name = e.recipe.as_deref().unwrap_or_default();
                let r = self
                    .recipes
                    .get(name)
                    .ok_or_else(|| format!("there is no recipe client {name}"))?
                    .state
                    .lock()
                    .unwrap();
                observed::recipe(e, &r)?;
            }
        }
        Ok(true)
    }
}

/// Plays a tutorial on real processes, printing as it goes to `out`.
pub async fn run(t: &Tutorial, opts: &Options, out: &mut dyn Write) -> Result<Summary, String> {
    if let Some(why) = unsupported(t) {
        return Err(why);
    }
    let temp;
    let dir: &Path = match &opts.dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
            d
        }
        None => {
            temp = tempfile::tempdir().map_err(|e| e.to_string())?;
            temp.path()
        }
    };
    let tick = t.cluster.tick_time.unwrap_or(2000);
    let members = write_configs(dir, t.cluster.servers, t.cluster.observers, tick, false)?;
    let mut world = World {
        members,
        exe: opts.exe.clone(),
        procs: BTreeMap::new(),
        paused: BTreeSet::new(),
        consoles: BTreeMap::new(),
        recipes: BTreeMap::new(),
        readers: BTreeMap::new(),
    };
    let lang = opts.lang.as_str();
    let say = |out: &mut dyn Write, s: String| {
        let _ = writeln!(out, "{s}");
        let _ = out.flush();
    };
    say(
        out,
        format!(
            "{} — {} ({}), on real zkserver processes in {}",
            t.id,
            t.title.get(lang),
            t.source,
            dir.display()
        ),
    );
    let mut summary = Summary::default();
    for (i, step) in t.steps.iter().enumerate() {
        say(
            out,
            format!("\nstep {}/{}: {}", i + 1, t.steps.len(), step.say.get(lang)),
        );
        let mark = world.mark();
        for d in &step.actions {
            for a in d.actions()? {
                world.apply(a).await?;
            }
        }
        tokio::time::sleep(Duration::from_millis(step.advance)).await;
        let deadline = Instant::now() + Duration::from_millis(step.within.unwrap_or(30_000));
        let results = loop {
            let mut results = Vec::new();
            for e in &step.expect {
                results.push(world.check(e, &mark).await);
            }
            if results.iter().all(|r| r.is_ok()) || Instant::now() >= deadline {
                break results;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        for (e, r) in step.expect.iter().zip(&results) {
            match r {
                Ok(true) => {
                    summary.passed += 1;
                    say(out, format!("  ✓ {}", e.describe()));
                }
                Ok(false) => {
                    summary.not_observable += 1;
                    say(
                        out,
                        format!("  – {} (not observable on a real server)", e.describe()),
                    );
                }
                Err(actual) => {
                    say(out, format!("  ✗ {}: {actual}", e.describe()));
                    for (n, c) in &world.consoles {
                        let c = c.lock().unwrap();
                        say(out, format!("--- console {n} ---\n{}", c.transcript));
                    }
                    return Err(format!(
                        "{} step {}: expected {}, but {actual} (logs in {})",
                        t.id,
                        i + 1,
                        e.describe(),
                        dir.display()
                    ));
                }
            }
        }
        for (n, c) in &world.consoles {
            let c = c.lock().unwrap();
            let skip = mark.console_len.get(n).copied().unwrap_or(0);
            let new = c.transcript.get(skip..).unwrap_or("");
            if !new.is_empty() {
                say(out, format!("  console {n}:"));
                for line in new.lines() {
                    say(out, format!("    {line}"));
                }
            }
        }
    }
    say(
        out,
        format!(
            "\n{}: {} checks passed on real servers, {} not observable there (the simulator checks those).",
            t.id, summary.passed, summary.not_observable
        ),
    );
    // Sessions first, then the processes (World's Drop).
    for (_, c) in std::mem::take(&mut world.consoles) {
        let client = c.lock().unwrap().client.clone();
        let _ = tokio::time::timeout(Duration::from_secs(2), client.close()).await;
    }
    Ok(summary)
}
