//! The playground component. It owns the [`Player`] and does three things with it:
//!
//! 1. **Time.** On every animation frame it moves simulated time on by the frame's duration
//!    times the speed, handling events in slices and stopping for the frame once a few
//!    milliseconds are spent, so a busy ensemble slows the clock rather than the page. The
//!    picture redraws only when something changed; the other panels a few times a second
//!    (`frozen`); messages glide by CSS transitions (`cluster::Flights`).
//! 2. **Actions.** Every click that changes the world is a [`Action`] given to
//!    [`Player::act`]; the run's script (seed and actions) then goes into the address.
//! 3. **Views.** Each panel is a method in its own file (`cluster`, `servers`, `votes`,
//!    `console`, `tree`, `faults`, `setup`, `log`, `timebar`), reading the Player's views
//!    (`servers()`, `tree()`, `sim().in_flight()`, the log) and nothing else.
//!
//! The tutorial panel (`tutorial`, driven by [`Guide`]) sits left of the ensemble when open:
//! a chosen tutorial's cluster becomes the Player, its steps act on it, and the frame loop
//! stops time where the guide says (see `frame`).

mod cluster;
mod console;
mod faults;
mod frozen;
mod log;
mod servers;
mod setup;
mod timebar;
mod tree;
mod tutorial;
mod votes;

use crate::describe::Category;
use crate::dom;
use crate::guide::{self, Guide, Phase};
use crate::i18n::{Lang, T};
use crate::index::LogIndex;
use crate::url;
use frozen::Frozen;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use web_sys::{HtmlInputElement, KeyboardEvent};
use yew::prelude::*;
use zk_core::peer::messages::ServerState;
use zk_core::{Millis, ServerId};
use zk_sim::play::{Action, Player, ServerView, Setup};
use zk_sim::tutorial::Focus;
use zk_sim::{InFlight, Latency, Status};

/// Real milliseconds spent handling events per frame, at most: past it, simulated time runs
/// slower than the speed asks rather than the page dropping frames.
const SIM_BUDGET_MS: f64 = 5.0;
/// Events handled between two looks at the clock.
const EVENTS_PER_SLICE: usize = 64;
/// A frame longer than this (a background tab) counts as this long.
const MAX_FRAME_MS: f64 = 100.0;
/// While time runs, the panels other than the ensemble's picture redraw this often (see
/// `frozen`); user input redraws them at once.
const PANEL_INTERVAL_MS: f64 = 125.0;
/// Faster than 2×, a message crosses a link in a frame or two: the picture redraws at most
/// this often then, which leaves the page's other frames free.
const FAST_DRAW_MS: f64 = 33.0;
pub const MIN_SPEED: f64 = 0.1;
pub const MAX_SPEED: f64 = 100.0;
const LANG_KEY: &str = "zk-playground-lang";
/// Auto-play's pause for reading, in real milliseconds, before it begins the next step.
const AUTO_PAUSE_MS: f64 = 2_000.0;

/// Events recorded before time stops by itself: the Player keeps every event (the log and
/// the timeline need them), a few hundred bytes each, and a tab has a few GB at most. At 1×
/// that is hours of a loaded ensemble; at 100×, a little over a minute.
const LOG_LIMIT: usize = 1_000_000;

/// A message above the page.
#[derive(Clone, Debug, PartialEq)]
enum Notice {
    /// The address held a run that could not be read.
    BadUrl(String),
    /// The run reached [`LOG_LIMIT`] and was paused.
    LongRun,
}

/// What the event log shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFilter {
    All,
    Category(Category),
    Kind(&'static str),
}

impl LogFilter {
    fn key(self) -> String {
        match self {
            LogFilter::All => "all".into(),
            LogFilter::Category(c) => format!("cat:{}", c.key()),
            LogFilter::Kind(k) => format!("kind:{k}"),
        }
    }

    fn from_key(key: &str) -> LogFilter {
        if let Some(c) = key.strip_prefix("cat:") {
            if let Some(c) = Category::ALL.into_iter().find(|x| x.key() == c) {
                return LogFilter::Category(c);
            }
        }
        if let Some(k) = key.strip_prefix("kind:") {
            if let Some(k) = crate::describe::MESSAGE_KINDS.into_iter().find(|x| *x == k) {
                return LogFilter::Kind(k);
            }
        }
        LogFilter::All
    }
}

pub enum Msg {
    Frame(f64),
    Act(Action),
    TogglePlay,
    Step,
    Speed(f64),
    Seek(Millis),
    Lang(Lang),
    CopyLink,
    Copied(Option<bool>),
    HashChanged,
    /// Show this server in the vote panel.
    Select(ServerId),
    /// A message was clicked: pause and show it.
    PickMessage(u64),
    ClosePick,
    TreeServer(ServerId),
    TreeCompare(bool),
    TreeToggle(String),
    ConsoleTab(u32),
    ConsoleServer(ServerId),
    OpenConsole(Option<ServerId>),
    ConsoleKey(KeyboardEvent),
    ConsoleFill(String),
    LogServer(Option<ServerId>),
    LogFilter(LogFilter),
    /// Move a server to the next partition group.
    Group(ServerId),
    ApplyPartition,
    IsolateLeader,
    Split,
    CutFrom(ServerId),
    CutTo(ServerId),
    ApplyCut,
    Network(Millis),
    Disk(Millis),
    LoadClients(u32),
    ToggleLoad,
    Draft(Box<dyn FnOnce(&mut Setup)>),
    NewRun,
    /// The header's Tutorials button: show or hide the list.
    ToggleTutorials,
    ShowTutorialList(bool),
    /// Replace the run with this tutorial's cluster, at its start.
    OpenTutorial(String),
    TutorialNext,
    TutorialBack,
    TutorialAuto,
    /// Leave the script: the run goes on as an ordinary one.
    LeaveTutorial,
}

/// What the address asks for.
struct Address {
    player: Player,
    error: Option<String>,
    speed: Option<f64>,
    /// A tutorial and its step.
    tutorial: Option<(String, usize)>,
}

pub struct App {
    player: Player,
    lang: Lang,
    playing: bool,
    speed: f64,
    /// Simulated time shown, with its fraction (the Player counts whole milliseconds).
    clock: f64,
    last_frame: Option<f64>,
    index: LogIndex,
    /// The fragment last written, to tell our own changes from the user's.
    written: String,
    notice: Option<Notice>,
    copied: Option<bool>,
    selected: ServerId,
    picked: Option<InFlight>,
    tree_server: ServerId,
    tree_compare: bool,
    tree_open: Option<String>,
    console: Option<u32>,
    console_server: ServerId,
    console_input: NodeRef,
    history: Vec<String>,
    history_pos: usize,
    log_server: Option<ServerId>,
    log_filter: LogFilter,
    groups: BTreeMap<ServerId, u8>,
    cut: (ServerId, ServerId),
    load_clients: u32,
    draft: Setup,
    /// `?panic-test` in the address: panic on the first frame, to show the overlay works.
    panic_test: bool,
    /// The ensemble's box and its width in pixels, measured at the start of each frame (when
    /// layout is clean), to place the messages.
    ensemble_box: NodeRef,
    ensemble_width: Cell<f64>,
    /// Messages gliding under CSS transitions, and a counter bumped by every jump in time
    /// (their transitions start over).
    flights: RefCell<cluster::Flights>,
    flight_era: u64,
    /// Bumped when the panels should redraw.
    panel_version: u64,
    panel_drawn_at: f64,
    /// Something changed since the picture was last drawn, and when that was.
    dirty: bool,
    drawn_at: f64,
    /// Each panel's HTML for a panel version.
    panels: RefCell<BTreeMap<&'static str, (u64, Html)>>,
    /// The tutorial being played, if any.
    guide: Option<Guide>,
    /// The list of tutorials is shown (in the tutorial column).
    show_tutorials: bool,
    /// Since when (page ms) auto-play has waited to begin the next step.
    auto_since: Option<f64>,
}

impl App {
    fn lang_at_start() -> Lang {
        let query = dom::search();
        query
            .trim_start_matches('?')
            .split('&')
            .find_map(|kv| kv.strip_prefix("lang="))
            .and_then(Lang::from_code)
            .or_else(|| dom::storage_get(LANG_KEY).and_then(|c| Lang::from_code(&c)))
            .or_else(|| Lang::from_code(&dom::browser_language()))
            .unwrap_or(Lang::En)
    }

    /// The run the address asks for, or a fresh one (a tutorial's is opened by the caller).
    fn player_from_address() -> Address {
        let mut params = url::parse(&dom::hash());
        let query = url::parse(&dom::search());
        params.speed = params.speed.or(query.speed);
        let tutorial = params
            .tutorial
            .take()
            .map(|id| (id, params.step.unwrap_or(0)));
        let player = if let Some(script) = params.script.take().filter(|_| tutorial.is_none()) {
            let mut p = Player::from_script(script);
            if let Some(t) = params.at {
                p.seek(t);
            }
            p
        } else {
            let seed = params.seed.unwrap_or_else(dom::random_seed);
            let mut setup = Setup::playground(seed);
            // A tutorial replaces it at once: no need to start anything.
            setup.autostart = tutorial.is_none();
            Player::new(setup)
        };
        Address {
            player,
            error: params.error,
            speed: params.speed,
            tutorial,
        }
    }

    /// Replaces the run with a tutorial's cluster: at its start, or (from an address) with
    /// the steps before `step` played and `step` begun.
    fn open_tutorial(&mut self, id: &str, step: usize) {
        let Some(t) = guide::find(id) else {
            self.notice = Some(Notice::BadUrl(format!(
                "tutorial: there is no tutorial {id:?}"
            )));
            return;
        };
        let (mut g, mut player) = Guide::open(t.clone());
        if step > 0 {
            g.replay_to(&mut player, step.min(t.steps.len()));
        }
        self.playing = g.phase == Phase::Running;
        self.replace_run(player, Some(g));
        self.select_focus();
        self.write_url();
    }

    /// A new run (a tutorial's, or a fresh one): the page starts over around it.
    fn replace_run(&mut self, player: Player, guide: Option<Guide>) {
        self.player = player;
        self.guide = guide;
        self.show_tutorials = false;
        self.auto_since = None;
        self.notice = None;
        self.history.clear();
        self.history_pos = 0;
        self.reset_view();
    }

    /// The tutorial's next step begins: its actions happen now and time runs.
    fn tutorial_next(&mut self) {
        let Some(g) = self.guide.as_mut() else {
            return;
        };
        g.next(&mut self.player);
        self.auto_since = None;
        self.playing = true;
        self.clock = self.player.now() as f64;
        self.index.update(&self.player.log);
        if let Some(last) = self.player.world.consoles.keys().next_back() {
            self.console = Some(*last);
        }
        self.select_focus();
        self.write_url();
    }

    /// Shows the first server the current step is about in the vote panel.
    fn select_focus(&mut self) {
        let first = self.focus().and_then(|f| f.servers.first().copied());
        if let Some(id) = first.map(ServerId) {
            if self.player.sim().ids().contains(&id) {
                self.selected = id;
            }
        }
    }

    /// What the current tutorial step is about.
    fn focus(&self) -> Option<&Focus> {
        self.guide.as_ref().and_then(Guide::focus)
    }

    /// The current tutorial step is about server `id`.
    fn focus_on_server(&self, id: ServerId) -> bool {
        self.focus().is_some_and(|f| f.servers.contains(&id.0))
    }

    /// The current tutorial step is about messages of this kind.
    fn focus_on_kind(&self, kind: &str) -> bool {
        self.focus()
            .is_some_and(|f| f.kinds.iter().any(|k| k.eq_ignore_ascii_case(kind)))
    }

    /// Auto-play: after a pause for reading, Next when the step has passed (or before the
    /// first). True when it did.
    fn auto_play(&mut self, ts: f64) -> bool {
        let waiting = self
            .guide
            .as_ref()
            .is_some_and(|g| g.auto && g.phase != Phase::Running && !g.done());
        if !waiting {
            self.auto_since = None;
            return false;
        }
        let since = *self.auto_since.get_or_insert(ts);
        if ts - since < AUTO_PAUSE_MS {
            return false;
        }
        self.tutorial_next();
        self.panel_version += 1;
        true
    }

    fn reset_view(&mut self) {
        self.flight_era += 1;
        self.clock = self.player.now() as f64;
        self.index = LogIndex::default();
        self.index.update(&self.player.log);
        self.picked = None;
        self.groups.clear();
        self.draft = self.player.setup.clone();
        let ids = self.player.sim().ids();
        let first = ids.first().copied().unwrap_or(ServerId(1));
        if !ids.contains(&self.selected) {
            self.selected = first;
        }
        if !ids.contains(&self.tree_server) {
            self.tree_server = first;
        }
        if !ids.contains(&self.console_server) {
            self.console_server = first;
        }
        self.cut = (first, ids.get(1).copied().unwrap_or(first));
        self.console = self.player.world.consoles.keys().next_back().copied();
    }

    /// Time jumped (one step, the timeline): the messages' glides start over, and the clock,
    /// the index and the guide catch up with the Player.
    fn jumped(&mut self) {
        self.flight_era += 1;
        self.clock = self.player.now() as f64;
        self.index.update(&self.player.log);
        if let Some(g) = self.guide.as_mut() {
            g.resync(&mut self.player);
        }
    }

    fn write_url(&mut self) {
        let f = match &self.guide {
            Some(g) => url::tutorial_fragment(&g.tutorial().id, g.begun()),
            None => url::fragment(&self.player.script(), self.player.now()),
        };
        if f != self.written {
            dom::replace_hash(&f);
            self.written = f;
        }
    }

    fn act(&mut self, action: Action) {
        self.player.act(action);
        if let Some(g) = self.guide.as_mut() {
            g.touch();
        }
        self.index.update(&self.player.log);
        self.write_url();
    }

    /// The servers as the Player sees them now.
    fn views(&self) -> Vec<ServerView> {
        self.player.servers()
    }

    /// The server in state LEADING (up or paused), if exactly one is.
    fn leader(views: &[ServerView]) -> Option<ServerId> {
        let mut leaders = views.iter().filter(|v| leads(v));
        let first = leaders.next()?;
        leaders.next().is_none().then_some(first.id)
    }

    /// Write-load clients running now: replayed from the script up to this point.
    fn load_running(&self) -> u32 {
        let script = self.player.script();
        let done = script.inputs.len() - self.player.inputs_ahead();
        let mut n = 0;
        for i in &script.inputs[..done] {
            match i.action {
                Action::Load { clients } => n += clients,
                Action::StopLoad => n = 0,
                _ => {}
            }
        }
        n
    }

    fn frame(&mut self, ts: f64) -> bool {
        let dt = self
            .last_frame
            .map_or(0.0, |last| (ts - last).clamp(0.0, MAX_FRAME_MS));
        self.last_frame = Some(ts);
        let resized = self.measure();
        if self.panic_test {
            panic!("a deliberate panic, asked for by ?panic-test in the address");
        }
        let auto = self.auto_play(ts);
        if !self.playing {
            // A resized window moves the messages even while time stands still.
            return resized || auto;
        }
        let target = self.clock + dt * self.speed;
        let t = target as Millis;
        let started = dom::now_ms();
        let mut handled = 0;
        let mut passed = false;
        loop {
            // A tutorial step's expectations are looked at on their own clock: time stops at
            // each look, and stays stopped at the first one that finds them all met.
            let look = self.guide.as_ref().and_then(Guide::due).filter(|l| *l <= t);
            let until = look.unwrap_or(t).max(self.player.now());
            handled += self.player.advance_to(until, EVENTS_PER_SLICE);
            let complete = self
                .player
                .sim()
                .next_event_time()
                .is_none_or(|next| next > until);
            let over = dom::now_ms() - started > SIM_BUDGET_MS;
            if complete && look.is_some() {
                if let Some(g) = self.guide.as_mut() {
                    passed = g.look(&mut self.player);
                }
                if passed || over {
                    self.clock = self.player.now() as f64;
                    break;
                }
                continue;
            }
            if complete {
                self.clock = target;
                break;
            }
            if over {
                // Too much to do in one frame: time runs slower than asked.
                self.clock = self.player.now() as f64;
                break;
            }
        }
        self.index.update(&self.player.log);
        if self.player.log.len() >= LOG_LIMIT {
            self.playing = false;
            self.notice = Some(Notice::LongRun);
            self.panel_version += 1;
            self.write_url();
            return true;
        }
        if passed {
            // The step's checks all hold: time stops here until Next.
            self.playing = false;
            self.panel_version += 1;
            self.panel_drawn_at = ts;
            self.dirty = false;
            self.drawn_at = ts;
            return true;
        }
        self.dirty |= handled > 0 || resized || self.flights.borrow().waiting();
        let mut due = ts - self.drawn_at >= if self.speed > 2.0 { FAST_DRAW_MS } else { 0.0 };
        if ts - self.panel_drawn_at >= PANEL_INTERVAL_MS {
            self.panel_drawn_at = ts;
            self.panel_version += 1;
            self.dirty = true;
            due = true;
        }
        if self.dirty && due {
            self.dirty = false;
            self.drawn_at = ts;
            return true;
        }
        false
    }

    /// Measures the ensemble's box; true when its width changed.
    fn measure(&self) -> bool {
        let width = self
            .ensemble_box
            .cast::<web_sys::Element>()
            .map_or(0.0, |e| e.client_width() as f64);
        let changed = width != self.ensemble_width.get();
        self.ensemble_width.set(width);
        changed
    }

    /// A panel, rebuilt only when the panel version moved.
    fn frozen(&self, key: &'static str, build: impl FnOnce() -> Html) -> Html {
        let version = self.panel_version;
        let mut cache = self.panels.borrow_mut();
        let html = match cache.get(key) {
            Some((v, html)) if *v == version => html.clone(),
            _ => {
                let html = build();
                cache.insert(key, (version, html.clone()));
                html
            }
        };
        html! { <Frozen key={key} version={version}>{ html }</Frozen> }
    }

    fn console_key(&mut self, e: KeyboardEvent) -> bool {
        let Some(input) = self.console_input.cast::<HtmlInputElement>() else {
            return false;
        };
        match e.key().as_str() {
            "Enter" => {
                let line = input.value();
                input.set_value("");
                let Some(console) = self.console else {
                    return false;
                };
                if !line.trim().is_empty() {
                    self.history.push(line.clone());
                }
                self.history_pos = self.history.len();
                self.act(Action::Console { console, line });
                true
            }
            "ArrowUp" if self.history_pos > 0 => {
                e.prevent_default();
                self.history_pos -= 1;
                input.set_value(&self.history[self.history_pos]);
                false
            }
            "ArrowDown" if self.history_pos < self.history.len() => {
                e.prevent_default();
                self.history_pos += 1;
                input.set_value(self.history.get(self.history_pos).map_or("", |s| s));
                false
            }
            _ => false,
        }
    }

    fn set_lang(&mut self, lang: Lang) {
        self.lang = lang;
        lang.set_current();
        dom::set_document_lang(lang.code());
        dom::set_title(lang.t(T::Title));
    }
}

impl Component for App {
    type Message = Msg;
    type Properties = ();

    fn create(ctx: &Context<Self>) -> Self {
        let Address {
            player,
            error,
            speed,
            tutorial,
        } = Self::player_from_address();
        let first = ServerId(1);
        let mut app = App {
            draft: player.setup.clone(),
            player,
            lang: Lang::En,
            playing: true,
            speed: speed.unwrap_or(1.0).clamp(MIN_SPEED, MAX_SPEED),
            clock: 0.0,
            last_frame: None,
            index: LogIndex::default(),
            written: dom::hash(),
            notice: error.map(Notice::BadUrl),
            copied: None,
            selected: first,
            picked: None,
            tree_server: first,
            tree_compare: true,
            tree_open: None,
            console: None,
            console_server: first,
            console_input: NodeRef::default(),
            history: Vec::new(),
            history_pos: 0,
            log_server: None,
            log_filter: LogFilter::All,
            groups: BTreeMap::new(),
            cut: (first, ServerId(2)),
            load_clients: 2,
            panic_test: dom::search().contains("panic-test"),
            ensemble_box: NodeRef::default(),
            ensemble_width: Cell::new(0.0),
            flights: RefCell::default(),
            flight_era: 0,
            panel_version: 0,
            panel_drawn_at: 0.0,
            dirty: false,
            drawn_at: 0.0,
            panels: RefCell::new(BTreeMap::new()),
            guide: None,
            show_tutorials: false,
            auto_since: None,
        };
        app.set_lang(Self::lang_at_start());
        app.reset_view();
        if let Some((id, step)) = tutorial {
            app.open_tutorial(&id, step);
        }
        if app.guide.is_none() && app.player.script().inputs.is_empty() {
            // A fresh run: put its seed in the address right away.
            app.write_url();
        }
        dom::animation_loop(ctx.link().callback(Msg::Frame));
        dom::on_hash_change(ctx.link().callback(|_| Msg::HashChanged));
        app
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Msg) -> bool {
        if !matches!(msg, Msg::Frame(_)) {
            self.panel_version += 1;
        }
        match msg {
            Msg::Frame(ts) => return self.frame(ts),
            Msg::Act(action) => self.act(action),
            Msg::TogglePlay => {
                self.playing = !self.playing;
                if !self.playing {
                    self.write_url();
                }
            }
            Msg::Step => {
                self.playing = false;
                self.player.step_one();
                self.jumped();
            }
            Msg::Speed(s) => self.speed = s.clamp(MIN_SPEED, MAX_SPEED),
            Msg::Seek(t) => {
                self.player.seek(t);
                self.jumped();
                if self.notice == Some(Notice::LongRun) && self.player.log.len() < LOG_LIMIT {
                    self.notice = None;
                }
                self.write_url();
            }
            Msg::Lang(l) => {
                self.set_lang(l);
                dom::storage_set(LANG_KEY, l.code());
            }
            Msg::CopyLink => {
                self.write_url();
                dom::copy_text(
                    &dom::href(),
                    ctx.link().callback(|ok| Msg::Copied(Some(ok))),
                );
                return false;
            }
            Msg::Copied(state) => {
                self.copied = state;
                if state.is_some() {
                    let link = ctx.link().clone();
                    gloo_timers::callback::Timeout::new(2_000, move || {
                        link.send_message(Msg::Copied(None))
                    })
                    .forget();
                }
            }
            Msg::HashChanged => {
                if dom::hash() == self.written {
                    return false;
                }
                let address = Self::player_from_address();
                self.player = address.player;
                self.notice = address.error.map(Notice::BadUrl);
                self.written = dom::hash();
                self.guide = None;
                self.show_tutorials = false;
                self.reset_view();
                if let Some((id, step)) = address.tutorial {
                    self.open_tutorial(&id, step);
                }
            }
            Msg::Select(id) => self.selected = id,
            Msg::PickMessage(id) => {
                self.picked = self
                    .player
                    .sim()
                    .in_flight()
                    .into_iter()
                    .find(|m| m.id == id)
                    .cloned();
                if self.picked.is_some() {
                    self.playing = false;
                    self.write_url();
                }
            }
            Msg::ClosePick => self.picked = None,
            Msg::TreeServer(id) => self.tree_server = id,
            Msg::TreeCompare(on) => self.tree_compare = on,
            Msg::TreeToggle(path) => {
                self.tree_open = if self.tree_open.as_deref() == Some(&path) {
                    None
                } else {
                    Some(path)
                }
            }
            Msg::ConsoleTab(id) => self.console = Some(id),
            Msg::ConsoleServer(id) => self.console_server = id,
            Msg::OpenConsole(server) => {
                let server = server.unwrap_or(self.console_server);
                self.console_server = server;
                self.act(Action::OpenConsole { server });
                self.console = self.player.world.consoles.keys().next_back().copied();
            }
            Msg::ConsoleKey(e) => return self.console_key(e),
            Msg::ConsoleFill(line) => {
                if let Some(input) = self.console_input.cast::<HtmlInputElement>() {
                    input.set_value(&line);
                    let _ = input.focus();
                }
                return false;
            }
            Msg::LogServer(s) => self.log_server = s,
            Msg::LogFilter(f) => self.log_filter = f,
            Msg::Group(id) => {
                let g = self.groups.entry(id).or_insert(0);
                *g = (*g + 1) % 3;
            }
            Msg::ApplyPartition => {
                let mut groups: Vec<Vec<ServerId>> = vec![Vec::new(); 3];
                for id in self.player.sim().ids() {
                    groups[*self.groups.get(&id).unwrap_or(&0) as usize].push(id);
                }
                groups.retain(|g| !g.is_empty());
                self.act(Action::Partition(groups));
            }
            Msg::IsolateLeader => {
                let views = self.views();
                let Some(leader) = Self::leader(&views) else {
                    return false;
                };
                let others: Vec<ServerId> = views
                    .iter()
                    .map(|v| v.id)
                    .filter(|id| *id != leader)
                    .collect();
                self.groups = others.iter().map(|id| (*id, 0)).collect();
                self.groups.insert(leader, 1);
                self.act(Action::Partition(vec![vec![leader], others]));
            }
            Msg::Split => {
                let ids = self.player.sim().ids();
                let (a, _) = split_point(&ids);
                self.groups = ids
                    .iter()
                    .enumerate()
                    .map(|(i, id)| (*id, u8::from(i >= a)))
                    .collect();
                self.act(Action::Partition(vec![
                    ids[..a].to_vec(),
                    ids[a..].to_vec(),
                ]));
            }
            Msg::CutFrom(id) => self.cut.0 = id,
            Msg::CutTo(id) => self.cut.1 = id,
            Msg::ApplyCut => {
                let (from, to) = self.cut;
                if from == to {
                    return false;
                }
                self.act(Action::Cut { from, to });
            }
            Msg::Network(max) => self.act(Action::Network(latency_around(max, 0.6))),
            Msg::Disk(max) => self.act(Action::Disk(latency_around(max, 0.5))),
            Msg::LoadClients(n) => self.load_clients = n.clamp(1, 8),
            Msg::ToggleLoad => {
                if self.load_running() > 0 {
                    self.act(Action::StopLoad);
                } else {
                    self.act(Action::Load {
                        clients: self.load_clients,
                    });
                }
            }
            Msg::Draft(change) => change(&mut self.draft),
            Msg::NewRun => {
                self.replace_run(Player::new(self.draft.clone()), None);
                self.write_url();
                self.playing = true;
            }
            Msg::ToggleTutorials => self.show_tutorials = !self.show_tutorials,
            Msg::ShowTutorialList(on) => self.show_tutorials = on,
            Msg::OpenTutorial(id) => self.open_tutorial(&id, 0),
            Msg::TutorialNext => self.tutorial_next(),
            Msg::TutorialBack => {
                let Some(g) = self.guide.as_mut() else {
                    return false;
                };
                if g.back(&mut self.player) {
                    self.playing = g.phase == Phase::Running;
                    self.auto_since = None;
                    self.reset_view();
                    self.select_focus();
                    self.write_url();
                }
            }
            Msg::TutorialAuto => {
                if let Some(g) = self.guide.as_mut() {
                    g.auto = !g.auto;
                    self.auto_since = None;
                }
            }
            Msg::LeaveTutorial => {
                self.guide = None;
                self.show_tutorials = false;
                self.playing = true;
                self.write_url();
            }
        }
        true
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let views = self.views();
        let lang = self.lang;
        html! {
            <div class="app" data-lang={lang.code()}>
                { self.view_header(ctx) }
                { self.frozen("timebar", || self.view_timebar(ctx)) }
                if let Some(n) = &self.notice {
                    <p class="notice" id="notice">{
                        match n {
                            Notice::BadUrl(why) => html! { <>{ lang.t(T::BadUrl) }{ " " }<code>{ why }</code></> },
                            Notice::LongRun => html! { lang.t(T::LongRun) },
                        }
                    }</p>
                }
                <div class={classes!("layout", self.tutorial_column().then_some("with-tutorial"))}>
                    if self.tutorial_column() {
                        { self.frozen("tutorial", || self.view_tutorial(ctx)) }
                    }
                    <main class="stage">
                        { self.view_cluster(ctx, &views) }
                        { self.frozen("servers", || self.view_servers(ctx, &views)) }
                        { self.frozen("log", || self.view_log(ctx, &views)) }
                    </main>
                    <aside class="panels">
                        { self.frozen("console", || self.view_console(ctx, &views)) }
                        { self.frozen("tree", || self.view_tree(ctx, &views)) }
                        { self.frozen("votes", || self.view_votes(ctx, &views)) }
                        { self.frozen("faults", || self.view_faults(ctx, &views)) }
                        { self.frozen("setup", || self.view_setup(ctx)) }
                    </aside>
                </div>
            </div>
        }
    }
}

impl App {
    fn view_header(&self, ctx: &Context<Self>) -> Html {
        let lang = self.lang;
        let link = ctx.link();
        let violations = self.player.violations();
        let badge = if violations.is_empty() {
            html! {
                <span id="invariants" class="badge ok" data-ok="true">
                    { "✔ " }{ lang.t(T::InvariantsOk) }
                </span>
            }
        } else {
            html! {
                <span id="invariants" class="badge bad" data-ok="false" title={violations.join("\n")}>
                    { "✖ " }{ lang.t(T::InvariantsBroken) }{ ": " }{ &violations[0] }
                </span>
            }
        };
        let copy_label = match self.copied {
            Some(true) => lang.t(T::Copied),
            _ => lang.t(T::CopyLink),
        };
        html! {
            <header class="top">
                <div class="brand">
                    <h1>{ lang.t(T::Title) }</h1>
                    <p class="subtitle">{ lang.t(T::Subtitle) }</p>
                </div>
                <div class="top-actions">
                    <button id="tutorials-toggle" class={classes!("tutorials-button", self.tutorial_column().then_some("on"))}
                        aria-pressed={self.tutorial_column().to_string()}
                        onclick={link.callback(|_| Msg::ToggleTutorials)}>{ lang.t(T::Tutorials) }</button>
                    { badge }
                    <button id="copy-link" title={lang.t(T::LinkHint)}
                        onclick={link.callback(|_| Msg::CopyLink)}>{ copy_label }</button>
                    <div class="lang-switch" role="group" aria-label={lang.t(T::Language)}>
                        <button id="lang-en" class={classes!((lang == Lang::En).then_some("on"))}
                            onclick={link.callback(|_| Msg::Lang(Lang::En))}>{ "EN" }</button>
                        <button id="lang-zh" class={classes!((lang == Lang::Zh).then_some("on"))}
                            onclick={link.callback(|_| Msg::Lang(Lang::Zh))}>{ "中文" }</button>
                    </div>
                </div>
            </header>
        }
    }
}

/// The server is in state LEADING, up or paused.
fn leads(v: &ServerView) -> bool {
    v.status != Status::Down && v.state == Some(ServerState::Leading)
}

/// Where "split" cuts the servers: the smaller half first (2|3 for five).
fn split_point(ids: &[ServerId]) -> (usize, usize) {
    let a = ids.len() / 2;
    (a, ids.len() - a)
}

/// A latency range ending at `max`, starting at `fraction` of it.
fn latency_around(max: Millis, fraction: f64) -> Latency {
    let max = max.max(1);
    Latency {
        min: ((max as f64 * fraction).round() as Millis).max(1),
        max,
    }
}

/// A select's or input's value from its change event.
fn input_value(e: &Event) -> String {
    use wasm_bindgen::JsCast;
    e.target()
        .and_then(|t| {
            t.dyn_ref::<HtmlInputElement>()
                .map(|i| i.value())
                .or_else(|| t.dyn_ref::<web_sys::HtmlSelectElement>().map(|s| s.value()))
        })
        .unwrap_or_default()
}

/// A checkbox's state from its change event.
fn input_checked(e: &Event) -> bool {
    use wasm_bindgen::JsCast;
    e.target()
        .and_then(|t| t.dyn_into::<HtmlInputElement>().ok())
        .is_some_and(|i| i.checked())
}

/// `1×`, `0.3×`, `25×`.
fn speed_label(s: f64) -> String {
    let digits = if s >= 10.0 {
        0
    } else if s >= 1.0 {
        1
    } else {
        2
    };
    let t = format!("{s:.digits$}");
    let t = if t.contains('.') {
        t.trim_end_matches('0').trim_end_matches('.')
    } else {
        &t
    };
    format!("{t}×")
}

/// Seconds with milliseconds: `12.345 s`.
fn seconds(ms: f64) -> String {
    format!("{:.3} s", ms / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speeds_read_well() {
        assert_eq!(speed_label(1.0), "1×");
        assert_eq!(speed_label(2.5), "2.5×");
        assert_eq!(speed_label(100.0), "100×");
        assert_eq!(speed_label(0.1), "0.1×");
        assert_eq!(speed_label(0.25), "0.25×");
    }

    #[test]
    fn split_puts_the_smaller_half_first() {
        let ids: Vec<ServerId> = (1..=5).map(ServerId).collect();
        assert_eq!(split_point(&ids), (2, 3));
        assert_eq!(split_point(&ids[..3]), (1, 2));
    }

    #[test]
    fn latency_ranges() {
        assert_eq!(latency_around(500, 0.6), Latency { min: 300, max: 500 });
        assert_eq!(latency_around(0, 0.6), Latency { min: 1, max: 1 });
    }

    #[test]
    fn log_filters_round_trip() {
        for f in [
            LogFilter::All,
            LogFilter::Category(Category::Zab),
            LogFilter::Kind("PROPOSAL"),
        ] {
            assert_eq!(LogFilter::from_key(&f.key()), f);
        }
    }
}
