//! The ensemble drawn in SVG: servers on a circle with their state, vote and last zxid; the
//! links between them (dashed where a partition cuts them); and every message in flight, moving
//! from sender to receiver as simulated time passes, labelled and coloured by kind. A click on a
//! message pauses the run and shows its fields, with a button to drop it.

use super::{seconds, App, Msg};
use crate::describe::{self, kind_color, MESSAGE_KINDS};
use crate::i18n::{Lang, T};
use std::collections::BTreeMap;
use yew::prelude::*;
use zk_core::peer::messages::ServerState;
use zk_core::ServerId;
use zk_sim::play::{Action, ServerView};
use zk_sim::{InFlight, Status};

const NODE_R: f64 = 44.0;

/// The picture's size: wide on a laptop; nearly square on a phone, so that scaled down to the
/// screen's width the servers stay readable.
#[derive(Clone, Copy, Debug)]
pub(super) struct Canvas {
    width: f64,
    height: f64,
}

const WIDE: Canvas = Canvas {
    width: 800.0,
    height: 560.0,
};
const NARROW: Canvas = Canvas {
    width: 500.0,
    height: 600.0,
};

fn canvas() -> Canvas {
    let narrow = web_sys::window()
        .and_then(|w| w.inner_width().ok())
        .and_then(|w| w.as_f64())
        .is_some_and(|w| w < 600.0);
    if narrow {
        NARROW
    } else {
        WIDE
    }
}

/// Where each server sits: on an ellipse, the first at the top, clockwise.
fn layout(ids: &[ServerId], c: Canvas) -> BTreeMap<ServerId, (f64, f64)> {
    let n = ids.len().max(1) as f64;
    let (cx, cy) = (c.width / 2.0, c.height / 2.0 - 6.0);
    let (rx, ry) = (c.width / 2.0 - 90.0, c.height / 2.0 - 100.0);
    ids.iter()
        .enumerate()
        .map(|(i, id)| {
            let a = -std::f64::consts::FRAC_PI_2 + std::f64::consts::TAU * i as f64 / n;
            (*id, (cx + rx * a.cos(), cy + ry * a.sin()))
        })
        .collect()
}

pub fn state_class(v: &ServerView) -> &'static str {
    match (v.status, v.state) {
        (Status::Down, _) | (_, None) => "down",
        (_, Some(ServerState::Looking)) => "looking",
        (_, Some(ServerState::Following)) => "following",
        (_, Some(ServerState::Leading)) => "leading",
        (_, Some(ServerState::Observing)) => "observing",
        (_, Some(ServerState::Standalone)) => "leading",
    }
}

/// The state as ZooKeeper names it, or DOWN.
pub fn state_name(v: &ServerView) -> String {
    match (v.status, v.state) {
        (Status::Down, _) | (_, None) => "DOWN".into(),
        (_, Some(s)) => s.to_string(),
    }
}

pub fn status_key(v: &ServerView) -> &'static str {
    match v.status {
        Status::Down => "down",
        Status::Paused => "paused",
        Status::Up if v.cut_off => "cut-off",
        Status::Up => "up",
    }
}

pub fn status_label(lang: Lang, v: &ServerView) -> String {
    let cut_off = v.cut_off.then(|| lang.t(T::CutOff));
    match v.status {
        Status::Down => lang.t(T::Down).to_string(),
        Status::Paused => match cut_off {
            Some(c) => format!("{} · {c}", lang.t(T::Paused)),
            None => lang.t(T::Paused).to_string(),
        },
        Status::Up => cut_off.unwrap_or(lang.t(T::Up)).to_string(),
    }
}

impl App {
    pub(super) fn view_cluster(&self, ctx: &Context<Self>, views: &[ServerView]) -> Html {
        let lang = self.lang;
        let link = ctx.link();
        let sim = self.player.sim();
        let ids: Vec<ServerId> = views.iter().map(|v| v.id).collect();
        let canvas = canvas();
        let pos = layout(&ids, canvas);

        let mut links = Vec::new();
        for (i, a) in ids.iter().enumerate() {
            for b in &ids[i + 1..] {
                let (ab, ba) = (sim.reachable(*a, *b), sim.reachable(*b, *a));
                let class = match (ab, ba) {
                    (true, true) => "link",
                    (false, false) => "link cut",
                    _ => "link oneway",
                };
                let (p, q) = (pos[a], pos[b]);
                links.push(html! {
                    <line class={class} data-link={format!("{a}-{b}")}
                        x1={p.0.to_string()} y1={p.1.to_string()} x2={q.0.to_string()} y2={q.1.to_string()} />
                });
            }
        }

        self.flights.borrow_mut().begin(
            self.playing,
            self.speed,
            self.ensemble_width.get(),
            self.flight_era,
        );
        let messages: Html = sim
            .in_flight()
            .into_iter()
            .filter_map(|m| self.view_message(ctx, m, &pos, canvas))
            .collect();
        self.flights.borrow_mut().end();

        let nodes: Html = views
            .iter()
            .map(|v| {
                let (x, y) = pos[&v.id];
                let id = v.id;
                let selected = self.selected == id;
                let focused = self.focus_on_server(id);
                let leading = super::leads(v);
                let vote = v.vote.map(|vote| format!(
                    "{} → {}",
                    lang.t(T::Vote),
                    describe::sid(lang, vote.leader)
                ));
                html! {
                    <g class={classes!("server", state_class(v), status_key(v), selected.then_some("selected"), v.observer.then_some("observer"), focused.then_some("focus"))}
                        data-server-id={id.to_string()} data-state={state_name(v)}
                        data-status={status_key(v)} data-serving={v.serving.to_string()}
                        transform={format!("translate({x:.1},{y:.1})")}
                        onclick={link.callback(move |_| Msg::Select(id))}>
                        <title>{ format!("{} {id}", lang.t(T::Server)) }</title>
                        if focused {
                            <circle class="halo" r={(NODE_R + 11.0).to_string()} />
                        }
                        if v.observer {
                            <rect class="body" x={(-NODE_R).to_string()} y={(-NODE_R).to_string()}
                                width={(2.0 * NODE_R).to_string()} height={(2.0 * NODE_R).to_string()} rx="18" />
                        } else {
                            <circle class="body" r={NODE_R.to_string()} />
                        }
                        <text class="sid" y="-6">{ id.to_string() }</text>
                        <text class="state" y="14">{ state_name(v) }</text>
                        if v.status != Status::Up || v.cut_off {
                            <text class="status" y="29">{ status_label(lang, v) }</text>
                        }
                        if let Some(vote) = vote {
                            <text class="vote" y={(NODE_R + 16.0).to_string()}>
                                { vote }{ format!(" · lc {}", v.logicalclock) }
                            </text>
                        }
                        <text class="zxid" y={(NODE_R + 31.0).to_string()}>{ v.last_zxid.pretty() }</text>
                        if leading {
                            <text class="leader-marker" data-server-id={id.to_string()}
                                y={(-NODE_R - 8.0).to_string()}>{ "♛" }</text>
                        }
                    </g>
                }
            })
            .collect();

        let focus_kinds = self.focus().is_some_and(|f| !f.kinds.is_empty());
        html! {
            <section class={classes!("card", "cluster", focus_kinds.then_some("focus-kinds"))} id="cluster">
                <h2>{ lang.t(T::Ensemble) }</h2>
                <div class="ensemble-box" ref={self.ensemble_box.clone()}
                    style={format!("aspect-ratio:{} / {};max-width:calc(68vh * {} / {})", canvas.width, canvas.height, canvas.width, canvas.height)}>
                    <svg id="ensemble" viewBox={format!("0 0 {} {}", canvas.width, canvas.height)} role="img"
                        aria-label={lang.t(T::Ensemble)}>
                        <g class="links">{ for links }</g>
                        <g class="nodes">{ nodes }</g>
                    </svg>
                    // Messages are HTML above the picture, moved by compositor transforms: moving
                    // SVG shapes would repaint the picture every frame.
                    <div class="messages" id="messages">{ messages }</div>
                </div>
                <p class="hint">{ lang.t(T::ClusterHint) }</p>
                { self.view_picked(ctx) }
                <details class="legend">
                    <summary>{ lang.t(T::Legend) }</summary>
                    <ul>
                        { for MESSAGE_KINDS.iter().map(|k| html! {
                            <li><span class="swatch" style={format!("background:{}", kind_color(k))}></span>{ *k }</li>
                        }) }
                    </ul>
                </details>
            </section>
        }
    }

    /// A message on its link: how far along is its share of the way from sent to delivered.
    fn view_message(
        &self,
        ctx: &Context<Self>,
        m: &InFlight,
        pos: &BTreeMap<ServerId, (f64, f64)>,
        canvas: Canvas,
    ) -> Option<Html> {
        let (a, b) = (*pos.get(&m.from)?, *pos.get(&m.to)?);
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len = (dx * dx + dy * dy).sqrt().max(1.0);
        let (ux, uy) = (dx / len, dy / len);
        // Each direction on its own side of the link.
        let (ox, oy) = (-uy * 9.0, ux * 9.0);
        let start = (a.0 + ux * NODE_R + ox, a.1 + uy * NODE_R + oy);
        let span = len - 2.0 * NODE_R;
        let progress = match m.deliver_at {
            Some(at) if at > m.sent_at => {
                ((self.clock - m.sent_at as f64) / (at - m.sent_at) as f64).clamp(0.0, 1.0)
            }
            Some(_) => 1.0,
            None => 0.08,
        };
        let (x, y) = (
            start.0 + ux * span * progress,
            start.1 + uy * span * progress,
        );
        // From the picture's units to the box's pixels.
        let scale = self.ensemble_width.get() / canvas.width;
        let kind = m.msg.kind();
        let id = m.id;
        // At a point of the picture, with a transition (or none) to get there.
        let style_at = |(x, y): (f64, f64), transition: &str| {
            format!(
                "background:{};{transition}transform:translate3d({:.1}px,{:.1}px,0) translate(-50%,-50%)",
                kind_color(kind),
                x * scale,
                y * scale
            )
        };
        // While time runs, a message glides to its receiver by a CSS transition the compositor
        // plays: it is drawn once where it is, then once with its destination and the real
        // time left, and that style stays put until it lands (see `Flights`).
        let style = match m.deliver_at {
            Some(at) if self.playing && at as f64 > self.clock => {
                let mut flights = self.flights.borrow_mut();
                match flights.get(id) {
                    Some(Some(style)) => style.clone(),
                    Some(None) => {
                        let end = (start.0 + ux * span, start.1 + uy * span);
                        let ms = (at as f64 - self.clock) / self.speed;
                        let glide =
                            style_at(end, &format!("transition:transform {ms:.0}ms linear;"));
                        flights.insert(id, Some(glide.clone()));
                        glide
                    }
                    None => {
                        flights.insert(id, None);
                        style_at((x, y), "")
                    }
                }
            }
            _ => style_at((x, y), ""),
        };
        let picked = self.picked.as_ref().is_some_and(|p| p.id == id);
        let focused = self.focus_on_kind(kind);
        Some(html! {
            <button key={id} class={classes!("msg", m.deliver_at.is_none().then_some("held"), picked.then_some("picked"), focused.then_some("focus"))}
                data-msg-id={id.to_string()} data-kind={kind} style={style}
                onclick={ctx.link().callback(move |_| Msg::PickMessage(id))}>{ kind }</button>
        })
    }

    fn view_picked(&self, ctx: &Context<Self>) -> Html {
        let Some(m) = &self.picked else {
            return html! {};
        };
        let lang = self.lang;
        let link = ctx.link();
        let still = self.player.sim().in_flight().iter().any(|x| x.id == m.id);
        let id = m.id;
        html! {
            <div class="picked" id="picked-message" data-msg-id={id.to_string()}>
                <div class="picked-head">
                    <strong style={format!("color:{}", kind_color(m.msg.kind()))}>{ m.msg.kind() }</strong>
                    { format!(" #{id} · {} {} → {} {}", lang.t(T::From), m.from, lang.t(T::To), m.to) }
                    <button class="close" onclick={link.callback(|_| Msg::ClosePick)}
                        aria-label={lang.t(T::Close)}>{ "×" }</button>
                </div>
                <table class="fields">
                    <tr><th>{ lang.t(T::SentAt) }</th><td>{ seconds(m.sent_at as f64) }</td></tr>
                    <tr><th>{ lang.t(T::ArrivesAt) }</th><td>{
                        m.deliver_at.map_or_else(|| lang.t(T::Held).to_string(), |t| seconds(t as f64))
                    }</td></tr>
                    { for describe::message_fields(lang, &m.msg).into_iter().map(|(k, v)| html! {
                        <tr><th>{ k }</th><td><code>{ v }</code></td></tr>
                    }) }
                </table>
                if still {
                    <button id="drop-message" class="danger" title={lang.t(T::DropHint)}
                        onclick={link.callback(move |_| Msg::Act(Action::Drop(id)))}>{ lang.t(T::DropMessage) }</button>
                    <p class="hint">{ lang.t(T::DropHint) }</p>
                } else {
                    <p class="hint">{ lang.t(T::Gone) }</p>
                }
            </div>
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_sit_apart_inside_the_picture() {
        for (n, c) in (1..=10u64).flat_map(|n| [(n, WIDE), (n, NARROW)]) {
            let ids: Vec<ServerId> = (1..=n).map(ServerId).collect();
            let pos = layout(&ids, c);
            for (x, y) in pos.values() {
                assert!(*x - NODE_R >= 0.0 && *x + NODE_R <= c.width, "{n}: x {x}");
                assert!(
                    *y - NODE_R - 20.0 >= 0.0 && *y + NODE_R + 36.0 <= c.height,
                    "{n}: y {y}"
                );
            }
            for a in &ids {
                for b in &ids {
                    if a < b {
                        let (p, q) = (pos[a], pos[b]);
                        let d = ((p.0 - q.0).powi(2) + (p.1 - q.1).powi(2)).sqrt();
                        assert!(d > 2.0 * NODE_R + 10.0, "{n}: {a:?} and {b:?} overlap");
                    }
                }
            }
        }
    }
}

/// The messages gliding under CSS transitions, by id: `None` when drawn once at its place (the
/// transition starts at the next drawing), `Some(style)` once gliding. Whatever the transitions
/// were computed for — playing, the speed, the picture's size, a jump in time — changing it
/// starts them over.
#[derive(Default)]
pub struct Flights {
    terms: (bool, u64, u64, u64),
    now: std::collections::HashMap<u64, Option<String>>,
    seen: std::collections::HashMap<u64, Option<String>>,
}

impl Flights {
    fn begin(&mut self, playing: bool, speed: f64, width: f64, era: u64) {
        let terms = (playing, speed.to_bits(), width.to_bits(), era);
        if terms != self.terms {
            self.terms = terms;
            self.now.clear();
        }
        self.seen.clear();
    }

    fn get(&mut self, id: u64) -> Option<Option<String>> {
        let v = self.now.get(&id).cloned();
        if let Some(v) = &v {
            self.seen.insert(id, v.clone());
        }
        v
    }

    fn insert(&mut self, id: u64, style: Option<String>) {
        self.seen.insert(id, style);
    }

    /// Forgets the messages that landed.
    fn end(&mut self) {
        std::mem::swap(&mut self.now, &mut self.seen);
    }

    /// A message was drawn at its place and waits for the drawing that starts its glide.
    pub fn waiting(&self) -> bool {
        self.now.values().any(Option::is_none)
    }
}
