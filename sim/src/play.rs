//! The playground's engine: a [`Sim`] plus zkCli consoles and write-load clients, driven by
//! recorded user [`Action`]s so that any moment of a run can be revisited.
//!
//! A run is its [`Script`]: the [`Setup`] (servers, seed, latencies) and the actions the user
//! took, each stamped with the simulator step and time it was taken at. Replaying a script
//! gives the same run, event for event — that is what the URL of a shared run holds. The
//! [`Player`] keeps checkpoints (clones of the whole world) as it goes, so moving the timeline
//! back restores the last checkpoint before the target and re-simulates the rest.
//!
//! Consoles are part of the world: a console's pending command advances when its client hears a
//! reply, so what a console printed replays exactly too.

use super::client::{ClientEvent, ClientId, ClientState};
use super::recipes::{Recipe, RecipeKind};
use super::{Latency, Sim, SimConfig, Status, TraceEvent};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use zk_cli as cli;
use zk_cli::{Action as ShellAction, Chunk, Exec, Shell, Step, Stream};
use zk_core::error::ErrorCode;
use zk_core::peer::election::{FiledVote, VoteChange};
use zk_core::peer::messages::{ServerState, Vote};
use zk_core::peer::PeerEvent;
use zk_core::request::{CreateRequest, KeeperState, Request};
use zk_core::stat::Stat;
use zk_core::txn::op;
use zk_core::types::{Millis, ServerId, SessionId, Zxid};

/// How a run starts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Setup {
    pub voters: u64,
    pub observers: u64,
    pub seed: u64,
    /// One-way latency of every message between servers, and between clients and servers.
    pub network: Latency,
    pub disk: Latency,
    pub tick_time: u32,
    /// Start every server at time 0.
    pub autostart: bool,
    /// Servers whose disks already hold history when the run begins (how a scenario says
    /// "server 1 has zxid 123"). Empty for a fresh ensemble.
    #[serde(default)]
    pub disks: Vec<DiskPreset>,
    /// Committed transactions a leader keeps for DIFFs (ZooKeeper's `commitLogCount`); a
    /// learner further behind gets a SNAP.
    #[serde(default = "default_commit_log_count")]
    pub commit_log_count: usize,
}

fn default_commit_log_count() -> usize {
    500
}

/// A disk holding the first `last` transactions of epoch `epoch` (synthetic creates of
/// `/txn-N`), with both epoch files at `epoch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskPreset {
    pub server: ServerId,
    pub epoch: u32,
    pub last: u32,
}

impl Setup {
    /// What the page opens on: three servers, started, with latencies slow enough to watch.
    pub fn playground(seed: u64) -> Setup {
        Setup {
            voters: 3,
            observers: 0,
            seed,
            network: Latency { min: 300, max: 500 },
            disk: Latency { min: 50, max: 100 },
            tick_time: 2000,
            autostart: true,
            disks: Vec::new(),
            commit_log_count: default_commit_log_count(),
        }
    }

    fn sim_config(&self) -> SimConfig {
        let mut cfg = SimConfig::new(self.voters, self.observers, self.seed);
        cfg.network = self.network;
        cfg.disk = self.disk;
        cfg.tick_time = self.tick_time;
        cfg.commit_log_count = self.commit_log_count;
        cfg.trace = true;
        cfg.check = true;
        cfg
    }
}

/// Something the user does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    Start(ServerId),
    Kill(ServerId),
    /// Kill, then start from what the disk kept.
    Restart(ServerId),
    Pause(ServerId),
    Resume(ServerId),
    /// Groups that can reach each other and no one else.
    Partition(Vec<Vec<ServerId>>),
    /// One way: `from` can no longer reach `to`.
    Cut {
        from: ServerId,
        to: ServerId,
    },
    Heal,
    /// Drop a message in flight (a quorum message breaks its connection, as in TCP).
    Drop(u64),
    Network(Latency),
    Disk(Latency),
    /// A new zkCli console connected to a server.
    OpenConsole {
        server: ServerId,
    },
    /// A line typed into a console.
    Console {
        console: u32,
        line: String,
    },
    /// `clients` more clients that each write in a loop (to watch PROPOSAL/ACK/COMMIT flow).
    Load {
        clients: u32,
    },
    /// Stop the write load.
    StopLoad,
    /// A client running a recipe (master election, lock, config, membership) against the given
    /// servers (all when empty).
    Recipe {
        name: String,
        kind: RecipeKind,
        servers: Vec<ServerId>,
    },
    /// The recipe's process dies: its connection drops and its session expires later.
    Crash {
        name: String,
    },
    /// A lock holder gives the lock back.
    Release {
        name: String,
    },
}

/// An action at a point of the run: after simulator step `step`, at time `at`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    pub step: u64,
    pub at: Millis,
    pub action: Action,
}

/// Everything needed to replay a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Script {
    pub setup: Setup,
    pub inputs: Vec<Input>,
}

/// One entry of the event log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    pub at: Millis,
    pub step: u64,
    pub event: TraceEvent,
}

/// A zkCli session in the playground.
#[derive(Clone, Debug)]
pub struct Console {
    pub id: u32,
    pub client: ClientId,
    /// The server it was told to connect to.
    pub server: ServerId,
    pub shell: Shell,
    /// Everything printed, prompts and echoed lines included.
    pub transcript: Vec<Chunk>,
    exec: Option<Box<Exec>>,
    waiting: Option<i32>,
    typed: VecDeque<String>,
    /// Each command typed, with what it printed (watch events aside).
    pub commands: Vec<CommandRecord>,
    /// Connected since the last disconnection (zkCli prints one Disconnected, not one per
    /// failed attempt).
    connected: bool,
    pub closed: bool,
}

impl Console {
    /// zkCli's name for the session's state, as its prompt shows it.
    pub fn state_name(&self, sim: &Sim) -> &'static str {
        match sim.client(self.client).map(|c| c.state) {
            Some(ClientState::Connected) => "CONNECTED",
            Some(ClientState::Connecting) | Some(ClientState::Disconnected) => "CONNECTING",
            _ => "CLOSED",
        }
    }

    /// The prompt zkCli would show now.
    pub fn prompt(&self, sim: &Sim) -> String {
        self.shell
            .prompt(&host_name(self.server), self.state_name(sim))
    }

    /// Is a command still running (waiting for the server)?
    pub fn busy(&self) -> bool {
        self.exec.is_some()
    }

    /// Lines typed while a command runs, not yet taken (zkCli reads the next line only when
    /// the last command is done).
    pub fn typed(&self) -> impl Iterator<Item = &str> {
        self.typed.iter().map(String::as_str)
    }

    /// Prints a command's own output: into the transcript and into its record.
    fn print_output(&mut self, stream: Stream, text: String) {
        if let Some(rec) = self.commands.last_mut() {
            rec.output.push_str(&text);
        }
        self.print(stream, text);
    }

    fn print(&mut self, stream: Stream, text: String) {
        if text.is_empty() {
            return;
        }
        match self.transcript.last_mut() {
            Some(last) if last.stream == stream => last.text.push_str(&text),
            _ => self.transcript.push(Chunk { stream, text }),
        }
    }
}

/// A command typed into a console and what it printed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandRecord {
    pub line: String,
    pub output: String,
    /// The command has finished.
    pub done: bool,
}

/// The host name a console shows for a server: `zk1:2181`.
pub fn host_name(id: ServerId) -> String {
    format!("zk{}:2181", id.0)
}

/// Reads `zk3:2181`, `zk3`, `3` or `127.0.0.1:2183` (the port's last digit) as server 3.
pub fn parse_host(s: &str) -> Option<ServerId> {
    let s = s.trim();
    let first = s.split(',').next()?;
    let (host, port) = match first.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (first, None),
    };
    if let Some(n) = host.strip_prefix("zk").and_then(|n| n.parse().ok()) {
        return Some(ServerId(n));
    }
    if let Ok(n) = host.parse::<u64>() {
        return Some(ServerId(n));
    }
    port.and_then(|p| p.parse::<u64>().ok())
        .filter(|p| *p > 2180 && *p < 2190)
        .map(|p| ServerId(p - 2180))
}

/// A write-load client: creates its node, then sets it again and again.
#[derive(Clone, Debug)]
struct Loader {
    client: ClientId,
    path: String,
    created: bool,
    waiting: bool,
    round: u64,
}

/// Everything a checkpoint holds.
#[derive(Clone, Debug)]
pub struct World {
    pub sim: Sim,
    pub consoles: BTreeMap<u32, Console>,
    loaders: Vec<Loader>,
    /// Recipe clients by name.
    pub recipes: BTreeMap<String, (ClientId, Recipe)>,
    next_console: u32,
    next_loader: u32,
}

#[derive(Clone, Debug)]
struct Checkpoint {
    world: World,
    next_input: usize,
    log_len: usize,
    last_votes: LastVotes,
}

/// Each server's last vote change, kept as the log grows so that [`Player::servers`] need not
/// search a long log for it.
type LastVotes = BTreeMap<ServerId, (Millis, Vote, VoteChange)>;

/// Simulated time between checkpoints.
const CHECKPOINT_EVERY: Millis = 2_000;
/// Checkpoints kept before older ones are thinned out.
const MAX_CHECKPOINTS: usize = 256;
/// The zkCli default session timeout.
const CONSOLE_SESSION_TIMEOUT: i32 = 30_000;
/// Recipe clients ask for a short session, so a crashed one's nodes go soon.
const RECIPE_SESSION_TIMEOUT: i32 = 6_000;

/// The playground's engine. See the module docs.
#[derive(Clone, Debug)]
pub struct Player {
    pub setup: Setup,
    pub world: World,
    inputs: Vec<Input>,
    next_input: usize,
    checkpoints: Vec<Checkpoint>,
    pub log: Vec<LogEntry>,
    last_votes: LastVotes,
    /// The furthest time (and step) this run has reached.
    horizon: (Millis, u64),
}

impl Player {
    pub fn new(setup: Setup) -> Player {
        let mut sim = Sim::new(setup.sim_config());
        for epoch in setup
            .disks
            .iter()
            .map(|d| d.epoch)
            .collect::<std::collections::BTreeSet<_>>()
        {
            let presets: Vec<&DiskPreset> =
                setup.disks.iter().filter(|d| d.epoch == epoch).collect();
            let longest = presets.iter().map(|d| d.last).max().unwrap_or(0);
            let history = super::synthetic_history(epoch, longest, sim.cfg.server.wall_clock_base);
            for d in presets {
                sim.preset_disk(d.server, &history, d.last as usize, epoch);
            }
        }
        if setup.autostart {
            for id in sim.ids() {
                sim.start(id);
            }
        }
        let world = World {
            sim,
            consoles: BTreeMap::new(),
            loaders: Vec::new(),
            recipes: BTreeMap::new(),
            next_console: 1,
            next_loader: 1,
        };
        let mut p = Player {
            setup,
            world,
            inputs: Vec::new(),
            next_input: 0,
            checkpoints: Vec::new(),
            log: Vec::new(),
            last_votes: LastVotes::new(),
            horizon: (0, 0),
        };
        p.collect();
        p.checkpoint();
        p
    }

    /// Replays a shared run up to where it was (its last action, at least).
    pub fn from_script(script: Script) -> Player {
        let mut p = Player::new(script.setup);
        let end = script.inputs.last().map_or(0, |i| i.at);
        p.inputs = script.inputs;
        p.horizon = (end, p.inputs.last().map_or(0, |i| i.step));
        p.advance_to(end, usize::MAX);
        p
    }

    pub fn script(&self) -> Script {
        Script {
            setup: self.setup.clone(),
            inputs: self.inputs.clone(),
        }
    }

    pub fn sim(&self) -> &Sim {
        &self.world.sim
    }

    pub fn now(&self) -> Millis {
        self.world.sim.now
    }

    /// The furthest point of the run, for the timeline's end.
    pub fn horizon(&self) -> Millis {
        self.horizon.0.max(self.now())
    }

    /// Inputs recorded beyond the current point (after a move back in time).
    pub fn inputs_ahead(&self) -> usize {
        self.inputs.len() - self.next_input
    }

    /// Does something now. After a move back in time, what was recorded beyond this point is
    /// forgotten: the run branches here.
    pub fn act(&mut self, action: Action) {
        self.inputs.truncate(self.next_input);
        let steps = self.world.sim.steps;
        self.checkpoints.retain(|c| c.world.sim.steps <= steps);
        self.horizon = (self.now(), steps);
        self.inputs.push(Input {
            step: steps,
            at: self.now(),
            action: action.clone(),
        });
        self.next_input += 1;
        self.world.apply(&action);
        self.collect();
    }

    /// Runs until time `t` or until `budget` events have been handled (then time stops at the
    /// last event). Recorded actions are replayed where they were taken. Returns the events
    /// handled.
    pub fn advance_to(&mut self, t: Millis, budget: usize) -> usize {
        let mut handled = 0;
        loop {
            self.replay_due(t);
            match self.world.sim.next_event_time() {
                Some(next) if next <= t && handled < budget => {
                    self.world.sim.step();
                    handled += 1;
                    self.collect();
                    self.maybe_checkpoint();
                }
                Some(next) if next <= t => return handled,
                _ => break,
            }
        }
        if self.world.sim.now < t {
            self.world.sim.now = t;
        }
        self.replay_due(t);
        self.note_horizon();
        handled
    }

    /// Handles exactly one event (a recorded action due before it comes first).
    pub fn step_one(&mut self) -> bool {
        self.replay_due(Millis::MAX);
        let stepped = self.world.sim.step();
        if stepped {
            self.collect();
            self.maybe_checkpoint();
        }
        self.note_horizon();
        stepped
    }

    /// Moves to time `t`, backwards (from a checkpoint) or forwards.
    pub fn seek(&mut self, t: Millis) {
        if t < self.now() {
            let i = self
                .checkpoints
                .iter()
                .rposition(|c| c.world.sim.now <= t)
                .unwrap_or(0);
            let cp = self.checkpoints[i].clone();
            self.world = cp.world;
            self.next_input = cp.next_input;
            self.log.truncate(cp.log_len);
            self.last_votes = cp.last_votes;
        }
        self.advance_to(t, usize::MAX);
    }

    fn note_horizon(&mut self) {
        if self.world.sim.steps >= self.horizon.1 {
            self.horizon = (self.now().max(self.horizon.0), self.world.sim.steps);
        }
    }

    fn replay_due(&mut self, t: Millis) {
        while let Some(input) = self.inputs.get(self.next_input) {
            // (An input whose step has passed can only come from a damaged script; it is
            // applied as soon as possible rather than never.)
            if input.step > self.world.sim.steps || input.at > t {
                return;
            }
            let input = input.clone();
            if self.world.sim.now < input.at {
                self.world.sim.now = input.at;
            }
            self.next_input += 1;
            self.world.apply(&input.action);
            self.collect();
        }
    }

    fn maybe_checkpoint(&mut self) {
        let last = self.checkpoints.last().map_or(0, |c| c.world.sim.now);
        if self.now() >= last + CHECKPOINT_EVERY {
            self.checkpoint();
        }
    }

    fn checkpoint(&mut self) {
        if self
            .checkpoints
            .last()
            .is_some_and(|c| c.world.sim.steps >= self.world.sim.steps && c.world.sim.steps > 0)
        {
            return;
        }
        self.checkpoints.push(Checkpoint {
            world: self.world.clone(),
            next_input: self.next_input,
            log_len: self.log.len(),
            last_votes: self.last_votes.clone(),
        });
        if self.checkpoints.len() > MAX_CHECKPOINTS {
            // Keep the first and every other one after it.
            let mut i = 0;
            self.checkpoints.retain(|_| {
                i += 1;
                i == 1 || i % 2 == 0
            });
        }
    }

    /// Moves the simulator's trace into the log, and lets consoles and loaders react to what
    /// their clients heard.
    fn collect(&mut self) {
        self.take_trace();
        self.world.react();
        // What consoles and loaders sent is in the trace too.
        self.take_trace();
    }

    fn take_trace(&mut self) {
        let steps = self.world.sim.steps;
        for (at, event) in std::mem::take(&mut self.world.sim.trace) {
            if let TraceEvent::Peer {
                server,
                event: PeerEvent::Vote { vote, why },
            } = &event
            {
                self.last_votes.insert(*server, (at, *vote, why.clone()));
            }
            self.log.push(LogEntry {
                at,
                step: steps,
                event,
            });
        }
    }

    // ---- views -------------------------------------------------------------------------

    /// What the page draws for each server.
    pub fn servers(&self) -> Vec<ServerView> {
        let sim = &self.world.sim;
        sim.ids()
            .into_iter()
            .map(|id| ServerView::of(sim, id, self.last_votes.get(&id).cloned()))
            .collect()
    }

    /// A server's tree, each node compared with the same path on `compare` (the leader,
    /// usually).
    pub fn tree(&self, id: ServerId, compare: Option<ServerId>) -> Vec<TreeRow> {
        let sim = &self.world.sim;
        let Some(peer) = sim.peer(id) else {
            return Vec::new();
        };
        let other = compare
            .filter(|c| *c != id)
            .and_then(|c| sim.peer(c))
            .map(|p| &p.server().tree);
        let tree = &peer.server().tree;
        let watches = peer.server().watches.by_path();
        let mut rows = Vec::new();
        let mut paths = tree.paths_preorder();
        if let Some(o) = other {
            // Nodes only the other server has are shown too, as missing here.
            for p in o.paths_preorder() {
                if tree.get(&p).is_none() {
                    paths.push(p);
                }
            }
        }
        // Depth first, siblings in order.
        paths.sort_by(|a, b| a.split('/').cmp(b.split('/')));
        for path in paths {
            let here = tree
                .get(&path)
                .map(|n| (tree.stat_of(n), n.bytes().to_vec()));
            let there = other.map(|o| o.get(&path).map(|n| (o.stat_of(n), n.bytes().to_vec())));
            let differs = match (&here, &there) {
                (_, None) => false,
                (Some((s, d)), Some(Some((s2, d2)))) => s != s2 || d != d2,
                _ => true,
            };
            let depth = if path == "/" {
                0
            } else {
                path.matches('/').count()
            };
            rows.push(TreeRow {
                depth,
                watches: watches.get(&path).map_or(0, |w| w.len()),
                missing: here.is_none(),
                stat: here.as_ref().map(|(s, _)| *s),
                data: here.map(|(_, d)| d).unwrap_or_default(),
                path,
                differs,
            });
        }
        rows
    }

    /// The number of violations the invariant checker found (it should stay 0).
    pub fn violations(&self) -> &[String] {
        &self.world.sim.checker.violations
    }
}

impl World {
    fn apply(&mut self, action: &Action) {
        let sim = &mut self.sim;
        match action {
            Action::Start(id) => sim.start(*id),
            Action::Kill(id) => sim.kill(*id),
            Action::Restart(id) => sim.restart(*id),
            Action::Pause(id) => sim.pause(*id),
            Action::Resume(id) => sim.resume(*id),
            Action::Partition(groups) => sim.partition(groups.clone()),
            Action::Cut { from, to } => sim.cut(*from, *to),
            Action::Heal => sim.heal(),
            Action::Drop(id) => {
                sim.drop_message(*id);
            }
            Action::Network(l) => sim.cfg.network = *l,
            Action::Disk(l) => sim.cfg.disk = *l,
            Action::OpenConsole { server } => {
                let id = self.next_console;
                self.next_console += 1;
                let client = sim.add_client(vec![*server], CONSOLE_SESSION_TIMEOUT);
                let mut console = Console {
                    id,
                    client,
                    server: *server,
                    shell: Shell::new(),
                    transcript: Vec::new(),
                    exec: None,
                    waiting: None,
                    typed: VecDeque::new(),
                    commands: Vec::new(),
                    connected: false,
                    closed: false,
                };
                console.print(
                    Stream::Err,
                    format!("Connecting to {}\n", host_name(*server)),
                );
                console.print(Stream::Out, "Welcome to ZooKeeper!\n".into());
                self.consoles.insert(id, console);
            }
            Action::Console { console, line } => {
                let Some(c) = self.consoles.get_mut(console) else {
                    return;
                };
                if c.closed {
                    return;
                }
                c.typed.push_back(line.clone());
                let id = *console;
                self.run_console(id);
            }
            Action::Load { clients } => {
                let servers = sim.ids();
                for _ in 0..*clients {
                    let n = self.next_loader;
                    self.next_loader += 1;
                    let client = sim.add_client(servers.clone(), CONSOLE_SESSION_TIMEOUT);
                    self.loaders.push(Loader {
                        client,
                        path: format!("/load-{n}"),
                        created: false,
                        waiting: false,
                        round: 0,
                    });
                }
                self.drive_loaders();
            }
            Action::StopLoad => {
                for l in std::mem::take(&mut self.loaders) {
                    sim.client_close(l.client, false);
                }
            }
            Action::Recipe {
                name,
                kind,
                servers,
            } => {
                // A name in use is taken again only once its client is done (crashed, expired,
                // or gave its lock back): "A comes back".
                if let Some((old, r)) = self.recipes.get(name) {
                    if r.role != super::recipes::Role::Done {
                        return;
                    }
                    let alive = sim.client(*old).is_some_and(|c| {
                        !matches!(c.state, ClientState::Closed | ClientState::Expired)
                    });
                    if alive {
                        sim.client_close(*old, false);
                    }
                }
                let servers = if servers.is_empty() {
                    sim.ids()
                } else {
                    servers.clone()
                };
                let client = sim.add_client(servers, RECIPE_SESSION_TIMEOUT);
                self.recipes
                    .insert(name.clone(), (client, Recipe::new(name, kind.clone())));
            }
            Action::Crash { name } => {
                if let Some((client, r)) = self.recipes.get_mut(name) {
                    sim.client_close(*client, true);
                    r.role = super::recipes::Role::Done;
                    r.log.push("crashed".into());
                }
            }
            Action::Release { name } => {
                if let Some((client, r)) = self.recipes.get_mut(name) {
                    if let Some(req) = r.release() {
                        let xid = sim.client_request(*client, req);
                        r.sent(xid);
                    }
                }
            }
        }
    }

    fn drive_recipes(&mut self) {
        let names: Vec<String> = self.recipes.keys().cloned().collect();
        for name in names {
            let Some((client, _)) = self.recipes.get(&name) else {
                continue;
            };
            let client = *client;
            let events: Vec<ClientEvent> = match self.sim.client_mut(client) {
                Some(c) => c.events.drain(..).collect(),
                None => continue,
            };
            for e in events {
                let Some((_, r)) = self.recipes.get_mut(&name) else {
                    break;
                };
                if let Some(req) = r.on_event(&e) {
                    let xid = self.sim.client_request(client, req);
                    if let Some((_, r)) = self.recipes.get_mut(&name) {
                        r.sent(xid);
                    }
                }
            }
        }
    }

    /// Feeds client events to consoles and loaders.
    fn react(&mut self) {
        let ids: Vec<u32> = self.consoles.keys().copied().collect();
        for id in ids {
            let client = self.consoles[&id].client;
            let events: Vec<ClientEvent> = match self.sim.client_mut(client) {
                Some(c) => c.events.drain(..).collect(),
                None => continue,
            };
            for e in events {
                self.console_event(id, e);
            }
        }
        self.drive_loaders();
        self.drive_recipes();
    }

    fn console_event(&mut self, id: u32, e: ClientEvent) {
        let Some(c) = self.consoles.get_mut(&id) else {
            return;
        };
        let state = |s: KeeperState| cli::format_event(&cli::state_event(s));
        match e {
            ClientEvent::Connected { .. } => {
                c.connected = true;
                if c.shell.print_watches {
                    c.print(Stream::Out, state(KeeperState::SyncConnected));
                }
            }
            ClientEvent::Disconnected { .. } => {
                if c.shell.print_watches && c.connected && !c.closed {
                    c.print(Stream::Out, state(KeeperState::Disconnected));
                }
                c.connected = false;
            }
            ClientEvent::Expired { .. } if c.shell.print_watches => {
                c.print(Stream::Out, state(KeeperState::Expired));
            }
            ClientEvent::Watch { event, .. } => {
                if let Some(text) = c.shell.event(&event) {
                    c.print(Stream::Out, text);
                }
            }
            ClientEvent::Reply { reply, .. } if Some(reply.xid) == c.waiting => {
                let outcome = if reply.err.is_ok() {
                    Ok(reply.body)
                } else {
                    Err(reply.err)
                };
                self.resume_console(id, outcome);
            }
            ClientEvent::Lost { xid, .. } if Some(xid) == c.waiting => {
                let expired = self
                    .sim
                    .client(c.client)
                    .is_some_and(|cl| matches!(cl.state, ClientState::Expired));
                let err = if expired {
                    ErrorCode::SessionExpired
                } else {
                    ErrorCode::ConnectionLoss
                };
                self.resume_console(id, Err(err));
            }
            _ => {}
        }
    }

    fn resume_console(&mut self, id: u32, outcome: cli::Outcome) {
        let Some(c) = self.consoles.get_mut(&id) else {
            return;
        };
        c.waiting = None;
        let Some(mut exec) = c.exec.take() else {
            return;
        };
        let step = exec.resume(outcome);
        self.continue_exec(id, exec, step);
        self.run_console(id);
    }

    fn continue_exec(&mut self, id: u32, exec: Box<Exec>, step: Step) {
        let Some(c) = self.consoles.get_mut(&id) else {
            return;
        };
        match step {
            Step::Send(req) => {
                let xid = self.sim.client_request(c.client, req);
                c.waiting = Some(xid);
                c.exec = Some(exec);
            }
            Step::Done => {
                for chunk in exec.finish().chunks {
                    c.print_output(chunk.stream, chunk.text);
                }
                if let Some(rec) = c.commands.last_mut() {
                    rec.done = true;
                }
            }
        }
    }

    /// Runs typed lines until one has to wait for the server.
    fn run_console(&mut self, id: u32) {
        loop {
            let Some(c) = self.consoles.get_mut(&id) else {
                return;
            };
            if c.exec.is_some() || c.closed {
                return;
            }
            let Some(line) = c.typed.pop_front() else {
                return;
            };
            let prompt = c.prompt(&self.sim);
            c.print(Stream::Out, format!("{prompt}{line}\n"));
            c.commands.push(CommandRecord {
                line: line.clone(),
                output: String::new(),
                done: false,
            });
            let alive = self
                .sim
                .client(c.client)
                .is_some_and(|cl| !matches!(cl.state, ClientState::Closed | ClientState::Expired));
            let result = c.shell.line(&line, alive);
            for chunk in result.printed.chunks {
                c.print_output(chunk.stream, chunk.text);
            }
            if !matches!(result.action, ShellAction::Run(_)) {
                if let Some(rec) = c.commands.last_mut() {
                    rec.done = true;
                }
            }
            match result.action {
                ShellAction::None => {}
                ShellAction::Run(mut exec) => {
                    let step = exec.start();
                    self.continue_exec(id, exec, step);
                }
                ShellAction::Close | ShellAction::Quit => {
                    let alive = self.sim.client(c.client).is_some_and(|cl| {
                        !matches!(cl.state, ClientState::Closed | ClientState::Expired)
                    });
                    if alive && c.shell.print_watches {
                        c.print(
                            Stream::Out,
                            cli::format_event(&cli::state_event(KeeperState::Closed)),
                        );
                    }
                    c.connected = false;
                    c.closed = matches!(result.action, ShellAction::Quit);
                    let client = c.client;
                    self.sim.client_close(client, false);
                }
                ShellAction::Connect(host) => {
                    let server = host.as_deref().and_then(parse_host).unwrap_or(c.server);
                    if !self.sim.ids().contains(&server) {
                        c.print(
                            Stream::Err,
                            format!("no such server: {}\n", host.unwrap_or_default()),
                        );
                        continue;
                    }
                    let old = c.client;
                    c.server = server;
                    c.connected = false;
                    // zkCli closes the old session first (zk.close()).
                    self.sim.client_close(old, false);
                    let client = self.sim.add_client(vec![server], CONSOLE_SESSION_TIMEOUT);
                    if let Some(c) = self.consoles.get_mut(&id) {
                        c.client = client;
                    }
                }
            }
        }
    }

    fn drive_loaders(&mut self) {
        for i in 0..self.loaders.len() {
            let client = self.loaders[i].client;
            let events: Vec<ClientEvent> = match self.sim.client_mut(client) {
                Some(c) => c.events.drain(..).collect(),
                None => continue,
            };
            for e in events {
                let l = &mut self.loaders[i];
                match e {
                    ClientEvent::Reply { reply, .. } => {
                        l.waiting = false;
                        if reply.err.is_ok() || reply.err == ErrorCode::NodeExists {
                            l.created = true;
                        }
                    }
                    ClientEvent::Lost { .. } => l.waiting = false,
                    _ => {}
                }
            }
            let l = &mut self.loaders[i];
            let connected = self
                .sim
                .client(client)
                .is_some_and(|c| c.state == ClientState::Connected);
            if l.waiting || !connected {
                continue;
            }
            l.round += 1;
            let req = if l.created {
                Request::SetData {
                    path: l.path.clone(),
                    data: Some(format!("v{}", l.round).into_bytes()),
                    version: -1,
                }
            } else {
                Request::Create {
                    op: op::CREATE,
                    req: CreateRequest {
                        path: l.path.clone(),
                        data: Some(b"v0".to_vec()),
                        acl: zk_core::acl::Acl::open_unsafe(),
                        flags: 0,
                        ttl: -1,
                    },
                }
            };
            l.waiting = true;
            self.sim.client_request(client, req);
        }
    }
}

/// What the page shows for one server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerView {
    pub id: ServerId,
    pub observer: bool,
    pub status: Status,
    /// None while down.
    pub state: Option<ServerState>,
    /// The vote it proposes (LOOKING) or stands by.
    pub vote: Option<Vote>,
    pub logicalclock: u64,
    pub last_zxid: Zxid,
    pub last_committed: Zxid,
    /// Committed transactions up to `last_committed` in the ensemble's history.
    pub committed_count: usize,
    pub accepted_epoch: u32,
    pub current_epoch: u32,
    pub recvset: Vec<(ServerId, FiledVote)>,
    pub outofelection: Vec<(ServerId, FiledVote)>,
    /// The last change of vote, and when.
    pub last_vote_change: Option<(Millis, Vote, VoteChange)>,
    /// Serving clients.
    pub serving: bool,
    pub sessions: usize,
    /// Reaches fewer than all the other servers.
    pub cut_off: bool,
    pub leader: Option<ServerId>,
}

impl ServerView {
    fn of(
        sim: &Sim,
        id: ServerId,
        last_vote_change: Option<(Millis, Vote, VoteChange)>,
    ) -> ServerView {
        let status = sim.status(id);
        let peer = sim.peer(id).filter(|_| status != Status::Down);
        let node = sim.nodes.get(&id);
        let cut_off = sim
            .ids()
            .iter()
            .any(|o| *o != id && (!sim.reachable(id, *o) || !sim.reachable(*o, id)));
        let last_committed = peer.map_or(Zxid(0), |p| p.last_committed());
        ServerView {
            id,
            observer: sim.cfg.observers.contains(&id),
            status,
            state: peer.map(|p| p.state()),
            vote: peer.map(|p| {
                if p.state() == ServerState::Looking {
                    p.election().proposal()
                } else {
                    *p.current_vote()
                }
            }),
            logicalclock: peer.map_or(0, |p| p.election().logicalclock),
            last_zxid: peer.map_or_else(
                || {
                    node.and_then(|n| n.disk.log.last().map(|e| e.zxid()))
                        .unwrap_or(Zxid(0))
                },
                |p| p.last_logged(),
            ),
            last_committed,
            committed_count: sim.checker.history.range(..=last_committed).count(),
            accepted_epoch: peer.map_or_else(
                || node.map_or(0, |n| n.disk.accepted_epoch),
                |p| p.accepted_epoch(),
            ),
            current_epoch: peer.map_or_else(
                || node.map_or(0, |n| n.disk.current_epoch),
                |p| p.current_epoch(),
            ),
            recvset: peer.map_or_else(Vec::new, |p| {
                p.election().recvset.iter().map(|(k, v)| (*k, *v)).collect()
            }),
            outofelection: peer.map_or_else(Vec::new, |p| {
                p.election()
                    .outofelection
                    .iter()
                    .map(|(k, v)| (*k, *v))
                    .collect()
            }),
            last_vote_change,
            serving: peer.is_some_and(|p| p.is_serving()),
            sessions: peer.map_or(0, |p| p.session_count()),
            cut_off,
            leader: peer.and_then(|p| p.leader_id()),
        }
    }
}

/// One node of a server's tree, as the tree view shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeRow {
    pub path: String,
    pub depth: usize,
    pub data: Vec<u8>,
    /// None when only the compared server has this node.
    pub stat: Option<Stat>,
    /// Watches set on this path by this server's clients.
    pub watches: usize,
    /// This server's copy differs from the compared server's (or one of them lacks it).
    pub differs: bool,
    pub missing: bool,
}

impl TreeRow {
    pub fn ephemeral_owner(&self) -> Option<SessionId> {
        self.stat
            .filter(|s| s.ephemeral_owner != 0)
            .map(|s| SessionId(s.ephemeral_owner))
    }
}
