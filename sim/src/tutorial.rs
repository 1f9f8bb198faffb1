//! Guided tutorials: the documents' scenarios as data files (`tutorials/*.toml`), and the player
//! that runs one in the simulator, checking each step's expectations.
//!
//! The format is documented in `tutorials/README.md`. In short, a file has metadata, a
//! `[cluster]`, and `[[step]]`s; each step says something (English and Chinese), does things
//! (`do`), lets time pass (`advance`), then waits up to `within` ms for every `expect` to hold.
//! Writing a tutorial needs no Rust: the files are embedded at build time and `cargo test` runs
//! every one of them.
//!
//! The same [`TutorialRun`] drives the browser's tutorial panel (step by step, on the live
//! playground) and the data-driven test (all steps, as fast as possible). The real-process
//! player in zk-native reads the same files.

use crate::play::{Action, DiskPreset, Player, Setup};
use crate::recipes::RecipeKind;
use crate::{Latency, Status, TraceEvent};
use serde::{Deserialize, Serialize};
use zk_core::peer::election::{Rule, VoteChange};
use zk_core::peer::messages::ServerState;
use zk_core::peer::PeerEvent;
use zk_core::types::{Millis, ServerId, Zxid};

/// Every tutorial file, embedded at build time: (file name, contents), in name order.
pub const FILES: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/tutorial_files.rs"));

/// Text in both languages.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Text {
    pub en: String,
    pub zh: String,
}

impl Text {
    pub fn get(&self, lang: &str) -> &str {
        if lang.starts_with("zh") && !self.zh.is_empty() {
            &self.zh
        } else {
            &self.en
        }
    }
}

/// One tutorial file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tutorial {
    /// `S1` … `S18`: the scenario of shared/SCENARIOS.md it retells.
    pub id: String,
    pub title: Text,
    /// Which document and section: `002 §2.3, 004 §2.1`.
    pub source: String,
    pub summary: Text,
    /// Where a document simplifies, and what really happens.
    #[serde(default)]
    pub note: Option<Text>,
    /// Also replayed against real `zkserver` processes (`zkserver tutorial <id>`).
    #[serde(default)]
    pub real: bool,
    pub cluster: Cluster,
    #[serde(rename = "step", default)]
    pub steps: Vec<Step>,
}

/// The ensemble a tutorial starts from. Nothing runs until a step starts it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    /// Voters, with myid 1..=servers.
    pub servers: u64,
    #[serde(default)]
    pub observers: u64,
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// One-way message latency range in ms (default 300–500, slow enough to watch).
    #[serde(default)]
    pub network: Option<[u64; 2]>,
    #[serde(default)]
    pub tick_time: Option<u32>,
    /// Disks that already hold transactions when the tutorial begins.
    #[serde(default)]
    pub disk: Vec<Disk>,
    /// Committed transactions a leader keeps for DIFFs (ZooKeeper's `commitLogCount`, 500 by
    /// default): a learner further behind gets a SNAP.
    #[serde(default)]
    pub commit_log: Option<usize>,
}

fn default_seed() -> u64 {
    1
}

/// `server` has logged transactions 1..=`last` of `epoch` (and accepted that epoch).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disk {
    pub server: u64,
    pub epoch: u32,
    pub last: u32,
}

/// One step: narration, actions, time, expectations.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub say: Text,
    #[serde(default, rename = "do")]
    pub actions: Vec<Do>,
    /// Milliseconds of simulated time to let pass after the actions, before checking.
    #[serde(default)]
    pub advance: Millis,
    /// How long to wait for the expectations (default 30 000 ms).
    #[serde(default)]
    pub within: Option<Millis>,
    #[serde(default)]
    pub expect: Vec<Expect>,
    /// What to highlight: servers and message kinds.
    #[serde(default)]
    pub focus: Focus,
}

/// What a step is about, for the playground to highlight.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Focus {
    #[serde(default)]
    pub servers: Vec<u64>,
    #[serde(default)]
    pub kinds: Vec<String>,
}

/// One server or several.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Servers {
    One(u64),
    Many(Vec<u64>),
}

impl Servers {
    pub fn ids(&self) -> Vec<ServerId> {
        match self {
            Servers::One(s) => vec![ServerId(*s)],
            Servers::Many(v) => v.iter().map(|s| ServerId(*s)).collect(),
        }
    }
}

/// An action, written as one key: `{ start = [1, 2] }`, `{ kill = 3 }`, `{ open = 1 }` (a
/// zkCli console on server 1), `{ run = "ls /" }` (on console 1, or `console = N`),
/// `{ partition = [[1, 2], [3]] }`, `{ heal = true }`, `{ recipe = "A", master = "/master" }` …
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Do {
    #[serde(default)]
    pub start: Option<Servers>,
    #[serde(default)]
    pub kill: Option<Servers>,
    #[serde(default)]
    pub restart: Option<Servers>,
    #[serde(default)]
    pub pause: Option<Servers>,
    #[serde(default)]
    pub resume: Option<Servers>,
    #[serde(default)]
    pub partition: Option<Vec<Vec<u64>>>,
    #[serde(default)]
    pub heal: Option<bool>,
    /// Open a zkCli console on this server (consoles are numbered 1, 2, … in order).
    #[serde(default)]
    pub open: Option<u64>,
    /// A zkCli line, on `console` (default 1).
    #[serde(default)]
    pub run: Option<String>,
    #[serde(default)]
    pub console: Option<u32>,
    /// Start a recipe client with this name; one of `master`, `lock`, `config` names the
    /// znode, or `member` with `dir`.
    #[serde(default)]
    pub recipe: Option<String>,
    #[serde(default)]
    pub master: Option<String>,
    #[serde(default)]
    pub lock: Option<String>,
    #[serde(default)]
    pub config: Option<String>,
    #[serde(default)]
    pub member: Option<String>,
    #[serde(default)]
    pub dir: Option<String>,
    /// The servers a recipe client may use (default all).
    #[serde(default)]
    pub servers: Option<Vec<u64>>,
    /// The recipe client's process dies.
    #[serde(default)]
    pub crash: Option<String>,
    /// The lock holder releases the lock.
    #[serde(default)]
    pub release: Option<String>,
    /// Message latency range in ms.
    #[serde(default)]
    pub network: Option<[u64; 2]>,
    /// Clients writing in a loop.
    #[serde(default)]
    pub load: Option<u32>,
}

impl Do {
    /// The player actions this stands for.
    pub fn actions(&self) -> Result<Vec<Action>, String> {
        let mut out = Vec::new();
        let mut n = 0;
        let mut each = |s: &Option<Servers>, f: fn(ServerId) -> Action| {
            if let Some(s) = s {
                n += 1;
                out.extend(s.ids().into_iter().map(f));
            }
        };
        each(&self.start, Action::Start);
        each(&self.kill, Action::Kill);
        each(&self.restart, Action::Restart);
        each(&self.pause, Action::Pause);
        each(&self.resume, Action::Resume);
        if let Some(groups) = &self.partition {
            n += 1;
            out.push(Action::Partition(
                groups
                    .iter()
                    .map(|g| g.iter().map(|s| ServerId(*s)).collect())
                    .collect(),
            ));
        }
        if self.heal == Some(true) {
            n += 1;
            out.push(Action::Heal);
        }
        if let Some(s) = self.open {
            n += 1;
            out.push(Action::OpenConsole {
                server: ServerId(s),
            });
        }
        if let Some(line) = &self.run {
            n += 1;
            out.push(Action::Console {
                console: self.console.unwrap_or(1),
                line: line.clone(),
            });
        } else if self.console.is_some() {
            return Err("`console` goes with `run`".into());
        }
        if let Some(name) = &self.recipe {
            n += 1;
            let kind = match (&self.master, &self.lock, &self.config, &self.member) {
                (Some(dir), None, None, None) => RecipeKind::Master { dir: dir.clone() },
                (None, Some(dir), None, None) => RecipeKind::Lock { dir: dir.clone() },
                (None, None, Some(path), None) => RecipeKind::Config { path: path.clone() },
                (None, None, None, Some(member)) => RecipeKind::Member {
                    dir: self.dir.clone().ok_or("a `member` recipe needs `dir`")?,
                    name: member.clone(),
                },
                _ => {
                    return Err(
                        "a recipe needs exactly one of `master`, `lock`, `config`, `member`".into(),
                    )
                }
            };
            out.push(Action::Recipe {
                name: name.clone(),
                kind,
                servers: self
                    .servers
                    .clone()
                    .unwrap_or_default()
                    .into_iter()
                    .map(ServerId)
                    .collect(),
            });
        } else if self.master.is_some()
            || self.lock.is_some()
            || self.config.is_some()
            || self.member.is_some()
            || self.dir.is_some()
            || self.servers.is_some()
        {
            return Err(
                "`master`, `lock`, `config`, `member`, `dir`, `servers` go with `recipe`".into(),
            );
        }
        if let Some(name) = &self.crash {
            n += 1;
            out.push(Action::Crash { name: name.clone() });
        }
        if let Some(name) = &self.release {
            n += 1;
            out.push(Action::Release { name: name.clone() });
        }
        if let Some([min, max]) = self.network {
            n += 1;
            out.push(Action::Network(Latency { min, max }));
        }
        if let Some(clients) = self.load {
            n += 1;
            out.push(Action::Load { clients });
        }
        match n {
            1 => Ok(out),
            0 => Err("an action needs one of start, kill, restart, pause, resume, partition, heal, open, run, recipe, crash, release, network, load".into()),
            _ => Err("one action per entry: split it into several".into()),
        }
    }
}

/// An expectation, checked after a step. The subject is `server` (or `console`, or `recipe`),
/// and one check:
///
/// * `state = "LEADING"` (or FOLLOWING, LOOKING, OBSERVING, DOWN, PAUSED)
/// * `leader = 3` — the one established leader (`no_leader = true`: none)
/// * `vote = 3` (with optional `vote_zxid`, `vote_epoch`): the server's current vote
/// * `round = 2`: the server's election round (its logical clock)
/// * `changed_by = "sid"` (epoch, zxid, sid, round): why its vote last changed
/// * `recv_from = 2, recv_vote = 2`: its recvset holds 2's vote for 2
/// * `last_zxid = "0x100000001"`, `committed_zxid = …`, `current_epoch = 1`, `serving = true`
/// * `path = "/a"` with `data = "x"`, `exists = false`, `version = 1`, `cversion`,
///   `num_children`, `ephemeral = true`
/// * `console = 1` with `output = "…"` (exactly what its last finished command printed) or
///   `contains = "…"` (anywhere in what it printed during this step) or `lacks = "…"` (not
///   printed during this step: give the step an `advance` long enough for it to have come)
/// * `sent = "PROPOSAL"` (with optional `from`, `to`): such a message was sent during this step;
///   `not_sent = "PROPOSAL"` (with optional `from`, `to`): none was
/// * `sync = "DIFF"`: the leader synced `server` this way during this step
/// * `recipe = "A"` with `role = "leading"` (standby, watching, done), `node = "/master/…"`, or
///   `sees = "v2"` (the last value or member list it read), or `watches = "/lock/…"` (the
///   node it watches while standing by)
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    #[serde(default)]
    pub server: Option<u64>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub leader: Option<u64>,
    #[serde(default)]
    pub no_leader: Option<bool>,
    #[serde(default)]
    pub vote: Option<u64>,
    #[serde(default)]
    pub vote_zxid: Option<String>,
    #[serde(default)]
    pub vote_epoch: Option<u32>,
    #[serde(default)]
    pub changed_by: Option<String>,
    #[serde(default)]
    pub round: Option<u64>,
    #[serde(default)]
    pub recv_from: Option<u64>,
    #[serde(default)]
    pub recv_vote: Option<u64>,
    #[serde(default)]
    pub last_zxid: Option<String>,
    #[serde(default)]
    pub committed_zxid: Option<String>,
    #[serde(default)]
    pub current_epoch: Option<u32>,
    #[serde(default)]
    pub serving: Option<bool>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub data: Option<String>,
    #[serde(default)]
    pub exists: Option<bool>,
    #[serde(default)]
    pub version: Option<i32>,
    #[serde(default)]
    pub cversion: Option<i32>,
    #[serde(default)]
    pub num_children: Option<i32>,
    #[serde(default)]
    pub ephemeral: Option<bool>,
    #[serde(default)]
    pub console: Option<u32>,
    #[serde(default)]
    pub output: Option<String>,
    #[serde(default)]
    pub contains: Option<String>,
    #[serde(default)]
    pub lacks: Option<String>,
    #[serde(default)]
    pub sent: Option<String>,
    #[serde(default)]
    pub not_sent: Option<String>,
    #[serde(default)]
    pub from: Option<u64>,
    #[serde(default)]
    pub to: Option<u64>,
    #[serde(default)]
    pub sync: Option<String>,
    #[serde(default)]
    pub recipe: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub node: Option<String>,
    #[serde(default)]
    pub sees: Option<String>,
    #[serde(default)]
    pub watches: Option<String>,
}

/// What an expectation is about, for display and for players that cannot see everything
/// (real servers show no votes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    State,
    Leader,
    Vote,
    Zxid,
    Znode,
    Console,
    Message,
    Recipe,
}

impl Expect {
    /// Which check this is; an error names a malformed combination.
    pub fn kind(&self) -> Result<Kind, String> {
        let mut kinds = Vec::new();
        if self.state.is_some() || self.serving.is_some() {
            kinds.push(Kind::State);
        }
        if self.leader.is_some() || self.no_leader.is_some() {
            kinds.push(Kind::Leader);
        }
        if self.vote.is_some()
            || self.vote_zxid.is_some()
            || self.vote_epoch.is_some()
            || self.changed_by.is_some()
            || self.round.is_some()
            || self.recv_from.is_some()
        {
            kinds.push(Kind::Vote);
        }
        if self.last_zxid.is_some() || self.committed_zxid.is_some() || self.current_epoch.is_some()
        {
            kinds.push(Kind::Zxid);
        }
        if self.path.is_some() {
            kinds.push(Kind::Znode);
        }
        if self.console.is_some() {
            kinds.push(Kind::Console);
        }
        if self.sent.is_some() || self.not_sent.is_some() || self.sync.is_some() {
            kinds.push(Kind::Message);
        }
        if self.recipe.is_some() {
            kinds.push(Kind::Recipe);
        }
        match kinds.as_slice() {
            [k] => {
                let needs_server = matches!(k, Kind::State | Kind::Vote | Kind::Zxid | Kind::Znode)
                    || (*k == Kind::Message && self.sync.is_some());
                if needs_server && self.server.is_none() {
                    return Err(format!("{k:?} expectation needs `server`"));
                }
                if *k == Kind::Znode
                    && self.data.is_none()
                    && self.exists.is_none()
                    && self.version.is_none()
                    && self.cversion.is_none()
                    && self.num_children.is_none()
                    && self.ephemeral.is_none()
                {
                    return Err("a `path` expectation needs data, exists, version, cversion, num_children or ephemeral".into());
                }
                if *k == Kind::Console
                    && self.output.is_none()
                    && self.contains.is_none()
                    && self.lacks.is_none()
                {
                    return Err(
                        "a `console` expectation needs `output`, `contains` or `lacks`".into(),
                    );
                }
                if *k == Kind::Recipe
                    && self.role.is_none()
                    && self.node.is_none()
                    && self.sees.is_none()
                    && self.watches.is_none()
                {
                    return Err("a `recipe` expectation needs role, node, sees or watches".into());
                }
                if self.recv_from.is_some() != self.recv_vote.is_some() {
                    return Err("`recv_from` and `recv_vote` go together".into());
                }
                Ok(*k)
            }
            [] => Err("an expectation needs a check (state, leader, vote, last_zxid, path, console, sent, sync, recipe …)".into()),
            _ => Err(format!("one check per expectation, this one mixes {kinds:?}")),
        }
    }

    /// A short description, for lists and failure messages.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        let mut add = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                parts.push(format!("{k}={v}"));
            }
        };
        add("server", self.server.map(|v| v.to_string()));
        add("console", self.console.map(|v| v.to_string()));
        add("recipe", self.recipe.clone());
        add("state", self.state.clone());
        add("serving", self.serving.map(|v| v.to_string()));
        add("leader", self.leader.map(|v| v.to_string()));
        add("no_leader", self.no_leader.map(|v| v.to_string()));
        add("vote", self.vote.map(|v| v.to_string()));
        add("vote_zxid", self.vote_zxid.clone());
        add("vote_epoch", self.vote_epoch.map(|v| v.to_string()));
        add("changed_by", self.changed_by.clone());
        add("round", self.round.map(|v| v.to_string()));
        add("recv_from", self.recv_from.map(|v| v.to_string()));
        add("recv_vote", self.recv_vote.map(|v| v.to_string()));
        add("last_zxid", self.last_zxid.clone());
        add("committed_zxid", self.committed_zxid.clone());
        add("current_epoch", self.current_epoch.map(|v| v.to_string()));
        add("path", self.path.clone());
        add("data", self.data.as_ref().map(|d| format!("{d:?}")));
        add("exists", self.exists.map(|v| v.to_string()));
        add("version", self.version.map(|v| v.to_string()));
        add("cversion", self.cversion.map(|v| v.to_string()));
        add("num_children", self.num_children.map(|v| v.to_string()));
        add("ephemeral", self.ephemeral.map(|v| v.to_string()));
        add("output", self.output.as_ref().map(|d| format!("{d:?}")));
        add("contains", self.contains.as_ref().map(|d| format!("{d:?}")));
        add("lacks", self.lacks.as_ref().map(|d| format!("{d:?}")));
        add("sent", self.sent.clone());
        add("not_sent", self.not_sent.clone());
        add("from", self.from.map(|v| v.to_string()));
        add("to", self.to.map(|v| v.to_string()));
        add("sync", self.sync.clone());
        add("role", self.role.clone());
        add("node", self.node.clone());
        add("sees", self.sees.clone());
        add("watches", self.watches.clone());
        parts.join(" ")
    }
}

/// Reads `0x100000001` (or decimal) as a zxid.
pub fn parse_zxid(s: &str) -> Option<Zxid> {
    let s = s.trim();
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok().map(Zxid),
        None => s.parse().ok().map(Zxid),
    }
}

fn state_name(status: Status, state: Option<ServerState>) -> &'static str {
    match (status, state) {
        (Status::Down, _) | (_, None) => "DOWN",
        (Status::Paused, _) => "PAUSED",
        (Status::Up, Some(ServerState::Looking)) => "LOOKING",
        (Status::Up, Some(ServerState::Following)) => "FOLLOWING",
        (Status::Up, Some(ServerState::Leading)) => "LEADING",
        (Status::Up, Some(ServerState::Observing)) => "OBSERVING",
        (Status::Up, Some(ServerState::Standalone)) => "STANDALONE",
    }
}

/// Parses and checks a tutorial file.
pub fn parse(text: &str) -> Result<Tutorial, String> {
    let t: Tutorial = toml::from_str(text).map_err(|e| e.to_string())?;
    validate(&t)?;
    Ok(t)
}

fn validate(t: &Tutorial) -> Result<(), String> {
    if t.steps.is_empty() {
        return Err("a tutorial needs at least one [[step]]".into());
    }
    if !(1..=9).contains(&t.cluster.servers) {
        return Err(format!("cluster.servers = {}: 1 to 9", t.cluster.servers));
    }
    let all = t.cluster.servers + t.cluster.observers;
    let known = |s: u64| (1..=all).contains(&s);
    for d in &t.cluster.disk {
        if !known(d.server) {
            return Err(format!("cluster.disk: there is no server {}", d.server));
        }
    }
    for (i, step) in t.steps.iter().enumerate() {
        let at = |e: String| format!("step {}: {e}", i + 1);
        for d in &step.actions {
            for a in d.actions().map_err(at)? {
                let ids: Vec<ServerId> = match &a {
                    Action::Start(s)
                    | Action::Kill(s)
                    | Action::Restart(s)
                    | Action::Pause(s)
                    | Action::Resume(s) => vec![*s],
                    Action::OpenConsole { server } => vec![*server],
                    Action::Partition(g) => g.iter().flatten().copied().collect(),
                    Action::Recipe { servers, .. } => servers.clone(),
                    _ => Vec::new(),
                };
                if let Some(bad) = ids.iter().find(|s| !known(s.0)) {
                    return Err(at(format!("there is no server {bad}")));
                }
            }
        }
        for e in &step.expect {
            e.kind()
                .map_err(|m| at(format!("expect {{{}}}: {m}", e.describe())))?;
            for z in [&e.last_zxid, &e.committed_zxid, &e.vote_zxid]
                .into_iter()
                .flatten()
            {
                if parse_zxid(z).is_none() {
                    return Err(at(format!("{z:?} is not a zxid (0x100000001)")));
                }
            }
        }
    }
    Ok(())
}

/// Every embedded tutorial, parsed, in file order; an error names the file.
pub fn all() -> Result<Vec<Tutorial>, String> {
    FILES
        .iter()
        .map(|(name, text)| parse(text).map_err(|e| format!("tutorials/{name}: {e}")))
        .collect()
}

/// The setup a tutorial's cluster stands for.
pub fn setup(t: &Tutorial) -> Setup {
    let c = &t.cluster;
    let mut s = Setup::playground(c.seed);
    s.voters = c.servers;
    s.observers = c.observers;
    s.autostart = false;
    if let Some([min, max]) = c.network {
        s.network = Latency { min, max };
    }
    if let Some(tick) = c.tick_time {
        s.tick_time = tick;
    }
    if let Some(n) = c.commit_log {
        s.commit_log_count = n;
    }
    s.disks = c
        .disk
        .iter()
        .map(|d| DiskPreset {
            server: ServerId(d.server),
            epoch: d.epoch,
            last: d.last,
        })
        .collect();
    s
}

/// Where a step began: what "during this step" means for message and console checks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mark {
    pub at: Millis,
    pub log_len: usize,
    /// How much each console had printed.
    pub console_len: std::collections::BTreeMap<u32, usize>,
    /// How many recorded actions the run had taken (the step's own come after them).
    pub inputs: usize,
}

impl Mark {
    pub fn of(p: &Player) -> Mark {
        Mark {
            at: p.now(),
            log_len: p.log.len(),
            inputs: p.script().inputs.len() - p.inputs_ahead(),
            console_len: p
                .world
                .consoles
                .iter()
                .map(|(id, c)| (*id, c.transcript.iter().map(|ch| ch.text.len()).sum()))
                .collect(),
        }
    }
}

/// A tutorial being played on a [`Player`].
#[derive(Clone, Debug)]
pub struct TutorialRun {
    pub tutorial: Tutorial,
    pub player: Player,
    /// The steps begun so far (the current one is `begun - 1`).
    pub begun: usize,
    /// Where each begun step started.
    pub marks: Vec<Mark>,
}

/// The outcome of a step in the data-driven test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub step: usize,
    pub expect: String,
    pub actual: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "step {}: expected {}, but {}",
            self.step, self.expect, self.actual
        )
    }
}

impl TutorialRun {
    pub fn new(tutorial: Tutorial) -> TutorialRun {
        let player = Player::new(setup(&tutorial));
        TutorialRun {
            tutorial,
            player,
            begun: 0,
            marks: Vec::new(),
        }
    }

    pub fn current(&self) -> Option<&Step> {
        self.begun
            .checked_sub(1)
            .and_then(|i| self.tutorial.steps.get(i))
    }

    pub fn finished(&self) -> bool {
        self.begun >= self.tutorial.steps.len()
    }

    /// Begins the next step: its actions happen now. (Time is the caller's: the browser lets
    /// it run, [`TutorialRun::play_step`] runs it.)
    pub fn begin_next(&mut self) -> Option<&Step> {
        let step = self.tutorial.steps.get(self.begun)?.clone();
        self.marks.push(Mark::of(&self.player));
        self.begun += 1;
        for d in &step.actions {
            // Validated when parsed.
            for a in d.actions().unwrap_or_default() {
                self.player.act(a);
            }
        }
        self.current()
    }

    /// Goes back to where step `n` (0-based) began, before its actions.
    pub fn back_to(&mut self, n: usize) {
        let Some(mark) = self.marks.get(n).cloned() else {
            return;
        };
        // Seeking to `mark.at` would replay the step's own actions, recorded at that very
        // moment (and beginning the step again would then take them twice): the run is
        // replayed without them instead, up to where the step began.
        let mut script = self.player.script();
        script.inputs.truncate(mark.inputs);
        self.player = Player::from_script(script);
        self.player.advance_to(mark.at, usize::MAX);
        self.marks.truncate(n);
        self.begun = n;
    }

    /// The expectations of the current step: each met (Ok) or not (Err with what was seen).
    pub fn check(&self) -> Vec<Result<(), String>> {
        let Some(step) = self.current() else {
            return Vec::new();
        };
        let mark = self.marks.last().cloned().unwrap_or_default();
        step.expect
            .iter()
            .map(|e| check(&self.player, e, &mark))
            .collect()
    }

    /// Runs the current step to its end: `advance`, then up to `within` for the expectations.
    pub fn finish_step(&mut self) -> Result<(), Failure> {
        let Some(step) = self.current().cloned() else {
            return Ok(());
        };
        let start = self.player.now();
        self.player.advance_to(start + step.advance, usize::MAX);
        let deadline = self.player.now() + step.within.unwrap_or(30_000);
        loop {
            let results = self.check();
            let first_bad = results.iter().position(|r| r.is_err());
            let Some(i) = first_bad else {
                return Ok(());
            };
            if self.player.now() >= deadline {
                return Err(Failure {
                    step: self.begun,
                    expect: step.expect[i].describe(),
                    actual: results[i].clone().unwrap_err(),
                });
            }
            let next = (self.player.now() + 10).min(deadline);
            self.player.advance_to(next, usize::MAX);
        }
    }

    /// Plays the next step to its end.
    pub fn play_step(&mut self) -> Result<(), Failure> {
        self.begin_next();
        self.finish_step()
    }

    /// Plays every step; the first failure ends it.
    pub fn play_all(&mut self) -> Result<(), Failure> {
        while !self.finished() {
            self.play_step()?;
        }
        if let Some(v) = self.player.violations().first() {
            return Err(Failure {
                step: self.begun,
                expect: "no invariant violation".into(),
                actual: v.clone(),
            });
        }
        Ok(())
    }
}

/// Checks one expectation against the player; Err says what was seen instead.
pub fn check(p: &Player, e: &Expect, mark: &Mark) -> Result<(), String> {
    let sim = p.sim();
    let server = e.server.map(ServerId);
    let views = p.servers();
    let view = server.and_then(|s| views.iter().find(|v| v.id == s));
    match e.kind()? {
        Kind::State => {
            let v = view.ok_or("no such server")?;
            observed::state(e, v.id, state_name(v.status, v.state), v.serving)
        }
        Kind::Leader => {
            let leaders: Vec<ServerId> = views
                .iter()
                .filter(|v| {
                    v.status == Status::Up && v.state == Some(ServerState::Leading) && v.serving
                })
                .map(|v| v.id)
                .collect();
            observed::leader(e, &leaders)
        }
        Kind::Vote => {
            let v = view.ok_or("no such server")?;
            let vote = v.vote.ok_or_else(|| format!("server {} is down", v.id))?;
            if let Some(want) = e.vote {
                if vote.leader != ServerId(want) {
                    return Err(format!("server {} votes for {}", v.id, vote.leader));
                }
            }
            if let Some(want) = e.vote_zxid.as_deref().and_then(parse_zxid) {
                if vote.zxid != want {
                    return Err(format!("server {}'s vote carries zxid {}", v.id, vote.zxid));
                }
            }
            if let Some(want) = e.vote_epoch {
                if vote.peer_epoch != want {
                    return Err(format!(
                        "server {}'s vote carries epoch {}",
                        v.id, vote.peer_epoch
                    ));
                }
            }
            if let Some(want) = &e.changed_by {
                let got = match &v.last_vote_change {
                    None => "nothing".to_string(),
                    Some((_, _, why)) => change_name(why).to_string(),
                };
                if !got.eq_ignore_ascii_case(want) {
                    return Err(format!("server {}'s vote last changed by {got}", v.id));
                }
            }
            if let Some(want) = e.round {
                if v.logicalclock != want {
                    return Err(format!(
                        "server {} is in election round {}",
                        v.id, v.logicalclock
                    ));
                }
            }
            if let (Some(from), Some(want)) = (e.recv_from, e.recv_vote) {
                let filed = v
                    .recvset
                    .iter()
                    .chain(v.outofelection.iter())
                    .find(|(s, _)| *s == ServerId(from));
                match filed {
                    Some((_, f)) if f.vote.leader == ServerId(want) => {}
                    Some((_, f)) => {
                        return Err(format!(
                            "server {}'s vote box holds {from}'s vote for {}",
                            v.id, f.vote.leader
                        ))
                    }
                    None => return Err(format!("server {} has no vote from {from}", v.id)),
                }
            }
            Ok(())
        }
        Kind::Zxid => {
            let v = view.ok_or("no such server")?;
            observed::zxid(
                e,
                v.id,
                v.last_zxid,
                v.last_committed,
                Some(v.current_epoch),
            )
        }
        Kind::Znode => {
            let id = server.ok_or("no server")?;
            let peer = sim
                .peer(id)
                .filter(|_| sim.status(id) != Status::Down)
                .ok_or_else(|| format!("server {id} is down"))?;
            let path = e.path.as_deref().unwrap_or("/");
            let tree = &peer.server().tree;
            let node = tree.get(path).map(|n| (n.data(), tree.stat_of(n)));
            observed::znode(e, id, path, node)
        }
        Kind::Console => {
            let n = e.console.unwrap_or(1);
            let c = p
                .world
                .consoles
                .get(&n)
                .ok_or_else(|| format!("there is no console {n}"))?;
            let busy = c.commands.last().is_some_and(|r| !r.done) || c.typed().next().is_some();
            let skip = mark.console_len.get(&n).copied().unwrap_or(0);
            let text: String = c.transcript.iter().map(|ch| ch.text.as_str()).collect();
            observed::console(e, n, &c.commands, busy, text.get(skip..).unwrap_or(""))
        }
        Kind::Message => {
            let since = &p.log[mark.log_len.min(p.log.len())..];
            let was_sent = |kind: &str| {
                since.iter().any(|l| match &l.event {
                    TraceEvent::Sent {
                        from, to, kind: k, ..
                    } => {
                        k.eq_ignore_ascii_case(kind)
                            && e.from.is_none_or(|f| *from == ServerId(f))
                            && e.to.is_none_or(|t| *to == ServerId(t))
                    }
                    _ => false,
                })
            };
            if let Some(kind) = &e.sent {
                if !was_sent(kind) {
                    return Err(format!("no {kind} was sent in this step"));
                }
            }
            if let Some(kind) = &e.not_sent {
                if was_sent(kind) {
                    return Err(format!("a {kind} was sent in this step"));
                }
            }
            if let Some(mode) = &e.sync {
                let learner = server.unwrap_or_default();
                let got = since.iter().rev().find_map(|l| match &l.event {
                    TraceEvent::Peer {
                        event:
                            PeerEvent::Sync {
                                learner: who, mode, ..
                            },
                        ..
                    } if *who == learner => Some(*mode),
                    _ => None,
                });
                match got {
                    Some(m) if m.to_string().eq_ignore_ascii_case(mode) => {}
                    Some(m) => return Err(format!("server {learner} was synced by {m}")),
                    None => return Err(format!("server {learner} was not synced in this step")),
                }
            }
            Ok(())
        }
        Kind::Recipe => {
            let name = e.recipe.as_deref().unwrap_or_default();
            let (_, r) = p
                .world
                .recipes
                .get(name)
                .ok_or_else(|| format!("there is no recipe client {name}"))?;
            observed::recipe(e, r)
        }
    }
}

/// The checks both players make the same way, on what each of them observes: the simulator
/// reads its servers directly, the real-process player asks through `srvr`, files and sessions.
pub mod observed {
    use super::{parse_zxid, Expect};
    use crate::play::CommandRecord;
    use crate::recipes::Recipe;
    use zk_core::stat::Stat;
    use zk_core::types::{ServerId, Zxid};

    /// `state` (LEADING, FOLLOWING, LOOKING, OBSERVING, STANDALONE, DOWN, PAUSED) and `serving`.
    pub fn state(e: &Expect, id: ServerId, got: &str, serving: bool) -> Result<(), String> {
        if let Some(want) = &e.state {
            if !got.eq_ignore_ascii_case(want) {
                return Err(format!("server {id} is {got}"));
            }
        }
        if let Some(want) = e.serving {
            if serving != want {
                return Err(format!(
                    "server {id} is {}serving clients",
                    if serving { "" } else { "not " }
                ));
            }
        }
        Ok(())
    }

    /// `leader` / `no_leader`, given the servers that lead (and serve).
    pub fn leader(e: &Expect, leaders: &[ServerId]) -> Result<(), String> {
        if e.no_leader == Some(true) {
            return match leaders {
                [] => Ok(()),
                l => Err(format!("server {} leads", l[0])),
            };
        }
        let want = ServerId(e.leader.unwrap_or_default());
        match leaders {
            [l] if *l == want => Ok(()),
            [] => Err("there is no established leader".into()),
            l => Err(format!("the leader is {}", super::join_ids(l))),
        }
    }

    /// `last_zxid`, `committed_zxid`, `current_epoch` (None: not known).
    pub fn zxid(
        e: &Expect,
        id: ServerId,
        last: Zxid,
        committed: Zxid,
        current_epoch: Option<u32>,
    ) -> Result<(), String> {
        if let Some(want) = e.last_zxid.as_deref().and_then(parse_zxid) {
            if last != want {
                return Err(format!("server {id}'s last zxid is {last}"));
            }
        }
        if let Some(want) = e.committed_zxid.as_deref().and_then(parse_zxid) {
            if committed != want {
                return Err(format!("server {id}'s last committed zxid is {committed}"));
            }
        }
        if let Some(want) = e.current_epoch {
            if current_epoch != Some(want) {
                return Err(match current_epoch {
                    Some(got) => format!("server {id}'s current epoch is {got}"),
                    None => format!("server {id}'s current epoch is not known"),
                });
            }
        }
        Ok(())
    }

    /// `path` with `exists`, `data`, `version`, `cversion`, `num_children`, `ephemeral`, given
    /// the node as that server has it (data None: a null buffer).
    pub fn znode(
        e: &Expect,
        id: ServerId,
        path: &str,
        node: Option<(Option<&[u8]>, Stat)>,
    ) -> Result<(), String> {
        if let Some(want) = e.exists {
            if node.is_some() != want {
                return Err(format!(
                    "{path} {} on server {id}",
                    if node.is_some() {
                        "exists"
                    } else {
                        "does not exist"
                    }
                ));
            }
            if !want {
                return Ok(());
            }
        }
        let (data, stat) = node.ok_or_else(|| format!("{path} does not exist on server {id}"))?;
        if let Some(want) = &e.data {
            let got = data.map_or("null".to_string(), |d| {
                String::from_utf8_lossy(d).into_owned()
            });
            if &got != want {
                return Err(format!("{path} holds {got:?} on server {id}"));
            }
        }
        for (name, want, got) in [
            ("version", e.version, stat.version),
            ("cversion", e.cversion, stat.cversion),
            ("numChildren", e.num_children, stat.num_children),
        ] {
            if let Some(want) = want {
                if want != got {
                    return Err(format!("{path}'s {name} is {got} on server {id}"));
                }
            }
        }
        if let Some(want) = e.ephemeral {
            if (stat.ephemeral_owner != 0) != want {
                return Err(format!(
                    "{path} is {}ephemeral on server {id}",
                    if want { "not " } else { "" }
                ));
            }
        }
        Ok(())
    }

    /// `output` (what the last finished command printed; `busy`: one is still running or
    /// waiting), `contains` / `lacks` (in `printed`, what the console printed during the step).
    pub fn console(
        e: &Expect,
        n: u32,
        commands: &[CommandRecord],
        busy: bool,
        printed: &str,
    ) -> Result<(), String> {
        if let Some(want) = &e.output {
            match commands.iter().rev().find(|r| r.done) {
                Some(r) if !busy && &r.output == want => {}
                Some(r) if !busy => return Err(format!("`{}` printed {:?}", r.line, r.output)),
                _ => return Err("the command has not finished".into()),
            }
        }
        if let Some(want) = &e.contains {
            if !printed.contains(want.as_str()) {
                return Err(format!("console {n} has not printed {want:?} in this step"));
            }
        }
        if let Some(unwanted) = &e.lacks {
            if printed.contains(unwanted.as_str()) {
                return Err(format!("console {n} printed {unwanted:?} in this step"));
            }
        }
        Ok(())
    }

    /// `role`, `node`, `sees`, `watches` of a recipe client.
    pub fn recipe(e: &Expect, r: &Recipe) -> Result<(), String> {
        let name = &r.name;
        if let Some(want) = &e.role {
            if !r.role.name().eq_ignore_ascii_case(want) {
                return Err(format!("{name} is {}", r.role.name()));
            }
        }
        if let Some(want) = &e.node {
            if r.node.as_deref() != Some(want.as_str()) {
                return Err(format!("{name}'s node is {:?}", r.node));
            }
        }
        if let Some(want) = &e.sees {
            if r.seen.last() != Some(want) {
                return Err(format!("{name} last saw {:?}", r.seen.last()));
            }
        }
        if let Some(want) = &e.watches {
            if r.watching.as_deref() != Some(want.as_str()) {
                return Err(format!("{name} watches {:?}", r.watching));
            }
        }
        Ok(())
    }
}

fn join_ids(ids: &[ServerId]) -> String {
    ids.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The name of what changed a vote: `initial`, `round`, or the rule (`epoch`, `zxid`, `sid`).
pub fn change_name(why: &VoteChange) -> &'static str {
    match why {
        VoteChange::Initial => "initial",
        VoteChange::NewRound { rule: None, .. } => "round",
        VoteChange::NewRound { rule: Some(r), .. } | VoteChange::Better { rule: r, .. } => {
            rule_name(*r)
        }
    }
}

pub fn rule_name(r: Rule) -> &'static str {
    match r {
        Rule::Epoch => "epoch",
        Rule::Zxid => "zxid",
        Rule::Sid => "sid",
        Rule::Nobody => "nobody",
    }
}
