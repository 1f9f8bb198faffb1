//! A guided tutorial on the live playground: a [`TutorialRun`] (one of `tutorials/*.toml`)
//! whose Player is the one the whole page shows.
//!
//! The page moves time; the guide says when to stop it. A step's expectations are looked at
//! at the same simulated moments the data-driven test looks at them
//! ([`TutorialRun::finish_step`]: `advance` ms after the step began, then every
//! [`CHECK_EVERY`] ms), and the first moment they all hold, time stops — so what the next step
//! checks "during this step" starts exactly where it does in `cargo test`, and a tutorial that
//! passes there passes here, event for event.
//!
//! The guide holds the [`TutorialRun`] with a small stand-in Player while the page holds the
//! real one; each call that needs both lends the page's Player to the run for its duration.
//!
//! It also has the words for a step: its actions and its expectations, readable, in both
//! languages ([`action_text`], [`expect_text`], [`seen_text`]).

use crate::describe;
use crate::i18n::Lang;
use std::sync::OnceLock;
use zk_core::Millis;
use zk_sim::play::{Action, Player, Setup};
use zk_sim::recipes::RecipeKind;
use zk_sim::tutorial::{Expect, Focus, Step, Tutorial, TutorialRun};

/// Simulated milliseconds between two looks at a step's expectations (as in the test).
pub const CHECK_EVERY: Millis = 10;
/// How long a step waits for its expectations when its file does not say (as in the test).
pub const DEFAULT_WITHIN: Millis = 30_000;

/// Every tutorial as zk-core's `tutorial::all` read them when the page was built (build.rs),
/// or the error it gave: JSON of a `Result<Vec<Tutorial>, String>`.
const TUTORIALS_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/tutorials.json"));

/// Every tutorial, read once (on first use: the page does not pay for them until asked).
pub fn catalog() -> Result<&'static [Tutorial], &'static str> {
    static ALL: OnceLock<Result<Vec<Tutorial>, String>> = OnceLock::new();
    let all = ALL.get_or_init(|| {
        serde_json::from_str::<Result<Vec<Tutorial>, String>>(TUTORIALS_JSON)
            .unwrap_or_else(|e| Err(format!("the embedded tutorials: {e}")))
    });
    all.as_deref().map_err(String::as_str)
}

/// The tutorial with this id (`S6`, `s6`).
pub fn find(id: &str) -> Option<&'static Tutorial> {
    catalog()
        .ok()?
        .iter()
        .find(|t| t.id.eq_ignore_ascii_case(id))
}

/// Where the guide is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// No step has begun: the summary and the note. Nothing runs until a step starts it.
    Intro,
    /// The current step runs, its expectations not all met yet.
    Running,
    /// Every expectation of the current step held at this moment; time stopped there.
    Passed(Millis),
}

pub struct Guide {
    run: TutorialRun,
    pub phase: Phase,
    /// The current step's expectations when last looked at: met, or what was seen.
    pub results: Vec<Result<(), String>>,
    /// The next moment to look at them (while Running).
    next_look: Millis,
    /// (events handled, log length) at the last look: the same, and nothing can have changed.
    looked_at: Option<(u64, usize)>,
    /// Auto-play: Next by itself when a step has passed, after a pause for reading.
    pub auto: bool,
}

impl Guide {
    /// A guide at the start of `t`, and the Player of its cluster (for the page to show).
    pub fn open(t: Tutorial) -> (Guide, Player) {
        let mut run = TutorialRun::new(t);
        let player = std::mem::replace(&mut run.player, stand_in());
        let guide = Guide {
            run,
            phase: Phase::Intro,
            results: Vec::new(),
            next_look: 0,
            looked_at: None,
            auto: false,
        };
        (guide, player)
    }

    /// Lends `player` to the run for `f`.
    fn with<R>(&mut self, player: &mut Player, f: impl FnOnce(&mut TutorialRun) -> R) -> R {
        std::mem::swap(&mut self.run.player, player);
        let r = f(&mut self.run);
        std::mem::swap(&mut self.run.player, player);
        r
    }

    pub fn tutorial(&self) -> &Tutorial {
        &self.run.tutorial
    }

    /// Steps begun so far: the current step is number `begun()` (1-based), 0 before the first.
    pub fn begun(&self) -> usize {
        self.run.begun
    }

    pub fn current(&self) -> Option<&Step> {
        self.run.current()
    }

    /// What the current step is about.
    pub fn focus(&self) -> Option<&Focus> {
        self.current().map(|s| &s.focus)
    }

    /// Every step has begun and the last one passed.
    pub fn done(&self) -> bool {
        self.run.finished() && matches!(self.phase, Phase::Passed(_))
    }

    /// Where the current step began.
    pub fn step_start(&self) -> Option<Millis> {
        self.run.marks.last().map(|m| m.at)
    }

    /// The moment the current step's expectations are due by: past it, the unmet ones failed.
    pub fn deadline(&self) -> Option<Millis> {
        let step = self.current()?;
        Some(self.step_start()? + step.advance + step.within.unwrap_or(DEFAULT_WITHIN))
    }

    /// The current step ran past its deadline without all its expectations.
    pub fn late(&self, now: Millis) -> bool {
        self.phase == Phase::Running && self.deadline().is_some_and(|d| now >= d)
    }

    /// The next moment the page should stop time at to look at the expectations.
    pub fn due(&self) -> Option<Millis> {
        (self.phase == Phase::Running).then_some(self.next_look)
    }

    /// Begins the next step: its actions happen on `player` now.
    pub fn next(&mut self, player: &mut Player) {
        if self.run.finished() {
            return;
        }
        self.with(player, |r| {
            r.begin_next();
        });
        self.phase = Phase::Running;
        self.results.clear();
        self.looked_at = None;
        let advance = self.current().map_or(0, |s| s.advance);
        self.next_look = player.now() + advance;
    }

    /// Goes back to the start of the previous step and begins it again (from the first step,
    /// back to the start of the tutorial). Returns whether the Player was replaced.
    pub fn back(&mut self, player: &mut Player) -> bool {
        match self.run.begun {
            0 => return false,
            1 => {
                self.with(player, |r| r.back_to(0));
                self.phase = Phase::Intro;
                self.results.clear();
            }
            n => {
                self.with(player, |r| r.back_to(n - 2));
                self.next(player);
            }
        }
        true
    }

    /// The address's step: plays steps 1 to `step - 1` to their end (as the test does) and
    /// begins step `step`. Stops early at a step that fails (the user then sees it red).
    pub fn replay_to(&mut self, player: &mut Player, step: usize) {
        while self.run.begun + 1 < step && !self.run.finished() {
            if self.with(player, |r| r.play_step()).is_err() {
                let now = player.now();
                self.phase = Phase::Running;
                self.looked_at = None;
                self.next_look = now;
                self.look(player);
                return;
            }
            self.phase = Phase::Passed(player.now());
        }
        if step > 0 {
            self.next(player);
        }
    }

    /// Something changed that the log does not show (a user's action): look again.
    pub fn touch(&mut self) {
        self.looked_at = None;
    }

    /// Looks at the current step's expectations now. True when they all hold (and the step's
    /// `advance` has passed): the step has passed and time should stop.
    pub fn look(&mut self, player: &mut Player) -> bool {
        if self.phase != Phase::Running {
            return false;
        }
        let now = player.now();
        let key = (player.sim().steps, player.log.len());
        if self.looked_at != Some(key) || self.results.is_empty() {
            self.results = self.with(player, |r| r.check());
            self.looked_at = Some(key);
        }
        // Looks are at start + advance + k × CHECK_EVERY.
        let base = self.step_start().unwrap_or(0) + self.current().map_or(0, |s| s.advance);
        if now >= base && self.results.iter().all(Result::is_ok) {
            self.phase = Phase::Passed(now);
            return true;
        }
        // The next of them after now.
        self.next_look = if now < base {
            base
        } else {
            base + ((now - base) / CHECK_EVERY + 1) * CHECK_EVERY
        };
        false
    }

    /// Time moved some other way (the timeline, a single step): look from where it is now.
    pub fn resync(&mut self, player: &mut Player) -> bool {
        if self.phase != Phase::Running {
            return false;
        }
        self.looked_at = None;
        self.look(player)
    }
}

/// The run's Player while the page holds the real one: as small as a Player gets.
fn stand_in() -> Player {
    let mut s = Setup::playground(0);
    s.voters = 1;
    s.autostart = false;
    Player::new(s)
}

// ---- words ------------------------------------------------------------------------------

fn servers(lang: Lang, ids: &[u64]) -> String {
    let list: Vec<String> = ids.iter().map(u64::to_string).collect();
    match lang {
        Lang::En if ids.len() == 1 => format!("server {}", list[0]),
        Lang::En => format!("servers {}", list.join(", ")),
        Lang::Zh => format!("服务器 {}", list.join("、")),
    }
}

/// A text a console printed or should print, on one line: newlines as ⏎.
fn printed(s: &str) -> String {
    format!("“{}”", s.replace('\n', "⏎"))
}

/// What a step does, one line per action.
pub fn action_text(lang: Lang, a: &Action) -> String {
    let z = lang == Lang::Zh;
    let one = |en: &str, zh: &str, id: &zk_core::ServerId| {
        if z {
            format!("{zh}服务器 {id}")
        } else {
            format!("{en} server {id}")
        }
    };
    match a {
        Action::Start(s) => one("start", "启动", s),
        Action::Kill(s) => one("kill -9", "kill -9 ", s),
        Action::Restart(s) => one("restart", "重启", s),
        Action::Pause(s) => one("pause", "暂停", s),
        Action::Resume(s) => one("resume", "恢复", s),
        Action::Partition(groups) => format!(
            "{} {}",
            lang.pick("partition", "网络分区"),
            describe::groups(groups, ", ")
        ),
        Action::Heal => lang.pick("heal the network", "恢复网络").into(),
        Action::OpenConsole { server } => {
            if z {
                format!("在服务器 {server} 上打开 zkCli 控制台")
            } else {
                format!("open a zkCli console on server {server}")
            }
        }
        Action::Console { console, line } => {
            format!("{} {console}: {line}", lang.pick("console", "控制台"))
        }
        Action::Recipe { name, kind, .. } => {
            let what = match kind {
                RecipeKind::Master { dir } => format!("master {dir}"),
                RecipeKind::Lock { dir } => format!("lock {dir}"),
                RecipeKind::Config { path } => format!("config {path}"),
                RecipeKind::Member { dir, name } => format!("member {name} {dir}"),
            };
            if z {
                format!("启动 recipe 客户端 {name}（{what}）")
            } else {
                format!("start recipe client {name} ({what})")
            }
        }
        Action::Crash { name } => {
            if z {
                format!("{name} 的进程崩溃")
            } else {
                format!("{name}'s process dies")
            }
        }
        Action::Release { name } => {
            if z {
                format!("{name} 释放锁")
            } else {
                format!("{name} releases its lock")
            }
        }
        Action::Network(l) => format!(
            "{} {}–{} ms",
            lang.pick("network latency", "网络延迟"),
            l.min,
            l.max
        ),
        Action::Load { clients } => {
            if z {
                format!("{clients} 个客户端循环写入")
            } else {
                format!("{clients} clients writing in a loop")
            }
        }
        other => format!("{other:?}"),
    }
}

/// An expectation as a sentence.
pub fn expect_text(lang: Lang, e: &Expect) -> String {
    let z = lang == Lang::Zh;
    let s = e.server.unwrap_or_default();
    let mut parts: Vec<String> = Vec::new();
    let mut add = |en: String, zh: String| parts.push(if z { zh } else { en });
    if let Some(st) = &e.state {
        add(
            format!("server {s} is {st}"),
            format!("服务器 {s} 处于 {st}"),
        );
    }
    if let Some(on) = e.serving {
        if on {
            add(
                format!("server {s} serves clients"),
                format!("服务器 {s} 对外服务"),
            );
        } else {
            add(
                format!("server {s} does not serve clients"),
                format!("服务器 {s} 不对外服务"),
            );
        }
    }
    if let Some(l) = e.leader {
        add(
            format!("server {l} is the one leader"),
            format!("服务器 {l} 是唯一的 leader"),
        );
    }
    if e.no_leader == Some(true) {
        add("there is no leader".into(), "没有 leader".into());
    }
    if let Some(v) = e.vote {
        let mut en = format!("server {s} votes for {v}");
        let mut zh = format!("服务器 {s} 投票给 {v}");
        if let Some(x) = &e.vote_zxid {
            en += &format!(", zxid {x}");
            zh += &format!("，zxid {x}");
        }
        if let Some(x) = e.vote_epoch {
            en += &format!(", peerEpoch {x}");
            zh += &format!("，peerEpoch {x}");
        }
        add(en, zh);
    }
    if let Some(rule) = &e.changed_by {
        let (en, zh) = match rule.to_ascii_lowercase().as_str() {
            "epoch" => ("a larger peerEpoch", "peerEpoch 更大"),
            "zxid" => ("a larger zxid", "zxid 更大"),
            "sid" => ("a larger server id", "服务器 id 更大"),
            "round" => ("a newer round", "更新的选举轮次"),
            "initial" => ("its first vote", "初始投票"),
            _ => (rule.as_str(), rule.as_str()),
        };
        add(
            format!("server {s}'s vote last changed for {en}"),
            format!("服务器 {s} 的投票最近一次因 {zh} 而改变"),
        );
    }
    if let Some(r) = e.round {
        add(
            format!("server {s} is in election round {r} (logicalclock)"),
            format!("服务器 {s} 处于第 {r} 轮选举（logicalclock）"),
        );
    }
    if let (Some(f), Some(v)) = (e.recv_from, e.recv_vote) {
        add(
            format!("server {s}'s vote box holds {f}'s vote for {v}"),
            format!("服务器 {s} 的票箱里有 {f} 投给 {v} 的票"),
        );
    }
    if let Some(x) = &e.last_zxid {
        add(
            format!("server {s}'s last zxid is {x}"),
            format!("服务器 {s} 的最后 zxid 是 {x}"),
        );
    }
    if let Some(x) = &e.committed_zxid {
        add(
            format!("server {s}'s last committed zxid is {x}"),
            format!("服务器 {s} 最后提交的 zxid 是 {x}"),
        );
    }
    if let Some(x) = e.current_epoch {
        add(
            format!("server {s}'s currentEpoch is {x}"),
            format!("服务器 {s} 的 currentEpoch 是 {x}"),
        );
    }
    if let Some(p) = &e.path {
        match e.exists {
            Some(false) => add(
                format!("{p} does not exist on server {s}"),
                format!("服务器 {s} 上不存在 {p}"),
            ),
            Some(true) => add(
                format!("{p} exists on server {s}"),
                format!("服务器 {s} 上存在 {p}"),
            ),
            None => {}
        }
        if let Some(d) = &e.data {
            add(
                format!("{p} holds “{d}” on server {s}"),
                format!("服务器 {s} 上 {p} 的数据是 “{d}”"),
            );
        }
        for (name, v) in [
            ("version", e.version),
            ("cversion", e.cversion),
            ("numChildren", e.num_children),
        ] {
            if let Some(v) = v {
                add(
                    format!("{p}'s {name} is {v} on server {s}"),
                    format!("服务器 {s} 上 {p} 的 {name} 是 {v}"),
                );
            }
        }
        if let Some(eph) = e.ephemeral {
            let (en, zh) = if eph {
                ("is ephemeral", "是临时节点")
            } else {
                ("is not ephemeral", "不是临时节点")
            };
            add(
                format!("{p} {en} on server {s}"),
                format!("服务器 {s} 上 {p} {zh}"),
            );
        }
    }
    if let Some(c) = e.console {
        if let Some(o) = &e.output {
            add(
                format!("console {c} printed exactly {}", printed(o)),
                format!("控制台 {c} 的输出恰好是 {}", printed(o)),
            );
        }
        if let Some(o) = &e.contains {
            add(
                format!("console {c} prints {}", printed(o)),
                format!("控制台 {c} 输出 {}", printed(o)),
            );
        }
        if let Some(o) = &e.lacks {
            add(
                format!("console {c} does not print {}", printed(o)),
                format!("控制台 {c} 没有输出 {}", printed(o)),
            );
        }
    }
    for (kind, sent) in [(&e.sent, true), (&e.not_sent, false)] {
        let Some(kind) = kind else { continue };
        let from_en = e.from.map_or(String::new(), |f| format!(" by server {f}"));
        let to_en = e.to.map_or(String::new(), |t| format!(" to server {t}"));
        let from_zh = e
            .from
            .map_or("有服务器".to_string(), |f| format!("服务器 {f} "));
        let to_zh = e.to.map_or(String::new(), |t| format!("向服务器 {t} "));
        if sent {
            add(
                format!("a {kind} is sent{from_en}{to_en} in this step"),
                format!("本步骤中{from_zh}{to_zh}发送 {kind}"),
            );
        } else {
            add(
                format!("no {kind} is sent{from_en}{to_en} in this step"),
                format!("本步骤中{from_zh}{to_zh}不发送 {kind}"),
            );
        }
    }
    if let Some(m) = &e.sync {
        add(
            format!("the leader syncs server {s} by {m} in this step"),
            format!("本步骤中 leader 用 {m} 同步服务器 {s}"),
        );
    }
    if let Some(r) = &e.recipe {
        if let Some(x) = &e.role {
            add(
                format!("recipe client {r} is {x}"),
                format!("recipe 客户端 {r} 的角色是 {x}"),
            );
        }
        if let Some(x) = &e.node {
            add(format!("{r}'s node is {x}"), format!("{r} 的节点是 {x}"));
        }
        if let Some(x) = &e.sees {
            add(
                format!("{r} last read “{x}”"),
                format!("{r} 最后读到 “{x}”"),
            );
        }
        if let Some(x) = &e.watches {
            add(format!("{r} watches {x}"), format!("{r} 在 watch {x}"));
        }
    }
    if parts.is_empty() {
        return e.describe();
    }
    parts.join(lang.pick("; ", "；"))
}

/// What a check saw instead (the core says it in English), in the page's language.
pub fn seen_text(lang: Lang, seen: &str) -> String {
    describe::sentence_from(SEEN, lang, seen)
}

/// The core's sentences for what a check saw, in Chinese (the specific before the general).
const SEEN: &[(&str, &str)] = &[
    ("no such server", "没有这台服务器"),
    ("server {} is down", "服务器 {} 已停止"),
    ("server {} is not serving clients", "服务器 {} 未对外服务"),
    ("server {} is serving clients", "服务器 {} 正在对外服务"),
    (
        "server {} is in election round {}",
        "服务器 {} 处于第 {} 轮选举",
    ),
    ("server {} is {}", "服务器 {} 处于 {}"),
    ("server {} leads", "服务器 {} 是 leader"),
    ("there is no established leader", "还没有确立的 leader"),
    ("the leader is {}", "leader 是 {}"),
    ("server {}'s last zxid is {}", "服务器 {} 的最后 zxid 是 {}"),
    (
        "server {}'s last committed zxid is {}",
        "服务器 {} 最后提交的 zxid 是 {}",
    ),
    (
        "server {}'s current epoch is not known",
        "服务器 {} 的 currentEpoch 未知",
    ),
    (
        "server {}'s current epoch is {}",
        "服务器 {} 的 currentEpoch 是 {}",
    ),
    ("server {} votes for {}", "服务器 {} 投票给 {}"),
    (
        "server {}'s vote carries zxid {}",
        "服务器 {} 的投票携带 zxid {}",
    ),
    (
        "server {}'s vote carries epoch {}",
        "服务器 {} 的投票携带 epoch {}",
    ),
    (
        "server {}'s vote last changed by {}",
        "服务器 {} 的投票最近一次因 {} 而改变",
    ),
    (
        "server {}'s vote box holds {}'s vote for {}",
        "服务器 {} 的票箱里 {} 的票投给了 {}",
    ),
    (
        "server {} has no vote from {}",
        "服务器 {} 没有收到 {} 的投票",
    ),
    ("server {} was synced by {}", "服务器 {} 是用 {} 同步的"),
    (
        "server {} was not synced in this step",
        "服务器 {} 在本步骤中没有被同步",
    ),
    ("the command has not finished", "命令还没有结束"),
    (
        "console {} has not printed {} in this step",
        "控制台 {} 在本步骤中还没有输出 {}",
    ),
    (
        "console {} printed {} in this step",
        "控制台 {} 在本步骤中输出了 {}",
    ),
    ("there is no console {}", "没有控制台 {}"),
    ("no {} was sent in this step", "本步骤中没有发送 {}"),
    ("a {} was sent in this step", "本步骤中发送了 {}"),
    ("there is no recipe client {}", "没有 recipe 客户端 {}"),
    ("{} does not exist on server {}", "{} 在服务器 {} 上不存在"),
    ("{} exists on server {}", "{} 在服务器 {} 上存在"),
    (
        "{} holds {} on server {}",
        "{0} 在服务器 {2} 上的数据是 {1}",
    ),
    (
        "{} is not ephemeral on server {}",
        "{} 在服务器 {} 上不是临时节点",
    ),
    (
        "{} is ephemeral on server {}",
        "{} 在服务器 {} 上是临时节点",
    ),
    (
        "{}'s {} is {} on server {}",
        "{0} 的 {1} 在服务器 {3} 上是 {2}",
    ),
    ("`{}` printed {}", "`{}` 输出了 {}"),
    ("{}'s node is {}", "{} 的节点是 {}"),
    ("{} last saw {}", "{} 最后读到 {}"),
    ("{} watches {}", "{} 在 watch {}"),
    ("{} is {}", "{} 的角色是 {}"),
];

/// The servers a focus names, as words.
pub fn focus_text(lang: Lang, f: &Focus) -> String {
    let mut parts = Vec::new();
    if !f.servers.is_empty() {
        parts.push(servers(lang, &f.servers));
    }
    if !f.kinds.is_empty() {
        parts.push(f.kinds.join(", "));
    }
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plays a tutorial as the page does: time moves in frames of `frame` ms, stopping at the
    /// guide's looks, Next after each passed step. Returns the times the steps passed at.
    fn play_like_the_page(id: &str, frame: Millis) -> Vec<Millis> {
        let (mut g, mut p) = Guide::open(find(id).unwrap().clone());
        let mut passed = Vec::new();
        while !g.done() {
            assert!(p.now() < 600_000, "{id}: step {} never passed", g.begun());
            if g.phase != Phase::Running {
                g.next(&mut p);
                continue;
            }
            let t = p.now() + frame;
            loop {
                let look = g.due().filter(|l| *l <= t);
                let until = look.unwrap_or(t).max(p.now());
                p.advance_to(until, 64);
                let complete = p.sim().next_event_time().is_none_or(|n| n > until);
                if !complete {
                    continue;
                }
                if look.is_some() {
                    if g.look(&mut p) {
                        break;
                    }
                    assert!(!g.late(p.now()), "{id} step {}: {:?}", g.begun(), g.results);
                    continue;
                }
                break;
            }
            if let Phase::Passed(at) = g.phase {
                if passed.len() < g.begun() {
                    passed.push(at);
                }
            }
        }
        passed
    }

    /// The times the test's own player passes each step at.
    fn play_like_the_test(id: &str) -> Vec<Millis> {
        let mut run = TutorialRun::new(find(id).unwrap().clone());
        let mut at = Vec::new();
        while !run.finished() {
            run.play_step().unwrap();
            at.push(run.player.now());
        }
        at
    }

    #[test]
    fn the_page_stops_each_step_where_the_test_does() {
        for t in catalog().unwrap() {
            let id = t.id.as_str();
            let test = play_like_the_test(id);
            for frame in [16, 160, 1_600] {
                assert_eq!(
                    play_like_the_page(id, frame),
                    test,
                    "{id}, {frame} ms frames"
                );
            }
        }
    }

    #[test]
    fn back_begins_the_previous_step_again() {
        let (mut g, mut p) = Guide::open(find("S6").unwrap().clone());
        let test = play_like_the_test("S6");
        for _ in 0..3 {
            g.next(&mut p);
            while !g.look(&mut p) {
                let t = g.due().unwrap();
                p.advance_to(t, usize::MAX);
            }
        }
        assert_eq!(g.begun(), 3);
        assert!(g.back(&mut p));
        assert_eq!(g.begun(), 2);
        assert_eq!(g.phase, Phase::Running);
        assert_eq!(g.step_start(), Some(test[0]));
        assert_eq!(p.world.consoles.len(), 1, "the console opened once");
        while !g.look(&mut p) {
            let t = g.due().unwrap();
            p.advance_to(t, usize::MAX);
        }
        assert_eq!(p.now(), test[1]);
        g.back(&mut p);
        g.back(&mut p);
        assert_eq!((g.begun(), g.phase, p.now()), (0, Phase::Intro, 0));
    }

    #[test]
    fn an_address_step_replays_the_steps_before_it() {
        let (mut g, mut p) = Guide::open(find("S6").unwrap().clone());
        g.replay_to(&mut p, 4);
        assert_eq!(g.begun(), 4);
        assert_eq!(g.phase, Phase::Running);
        assert_eq!(g.step_start(), Some(play_like_the_test("S6")[2]));
    }

    #[test]
    fn the_page_has_the_tutorials_the_simulator_parses() {
        let parsed = zk_sim::tutorial::all().unwrap();
        assert_eq!(catalog().unwrap(), parsed.as_slice());
        assert_eq!(parsed.len(), 18);
    }

    #[test]
    fn every_expectation_reads_as_a_sentence_in_both_languages() {
        for t in catalog().unwrap() {
            for step in &t.steps {
                for e in &step.expect {
                    for lang in [Lang::En, Lang::Zh] {
                        let s = expect_text(lang, e);
                        assert_ne!(s, e.describe(), "{}: no words for it", t.id);
                        if lang == Lang::Zh {
                            assert!(!s.is_ascii(), "{}: no Chinese in {s}", t.id);
                        }
                    }
                }
                for d in &step.actions {
                    for a in d.actions().unwrap() {
                        let s = action_text(Lang::Zh, &a);
                        assert!(!s.contains('{') || s.contains('|'), "{}: {s}", t.id);
                    }
                }
            }
        }
    }

    #[test]
    fn what_a_check_saw_reads_in_chinese() {
        assert_eq!(
            seen_text(Lang::Zh, "server 1 is LOOKING"),
            "服务器 1 处于 LOOKING"
        );
        assert_eq!(
            seen_text(Lang::Zh, "server 2 is not serving clients"),
            "服务器 2 未对外服务"
        );
        assert_eq!(
            seen_text(Lang::Zh, "/s6 holds \"x\" on server 2"),
            "/s6 在服务器 2 上的数据是 \"x\""
        );
        assert_eq!(
            seen_text(Lang::Zh, "no REQUEST was sent in this step"),
            "本步骤中没有发送 REQUEST"
        );
        assert_eq!(
            seen_text(Lang::En, "server 1 is LOOKING"),
            "server 1 is LOOKING"
        );
    }
}
