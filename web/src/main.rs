//! The browser playground: zk-core's simulated ensemble ([`zk_sim::play::Player`]) driven
//! by a yew page. The core does all the ZooKeeper work; this crate only moves time and clicks in
//! and draws what the Player reports.
//!
//! * [`app`] — the component: the animation loop, the actions, and one view per panel.
//! * [`describe`] — words for messages, votes and events; [`i18n`] — the fixed labels.
//! * [`guide`] — a tutorial (`tutorials/*.toml`) played step by step on the live Player.
//! * [`index`] — what the event log's entries refer to, kept up to date incrementally.
//! * [`url`] — the run (seed and actions) in the address, so it can be shared and replayed.
//! * [`panic`] — the overlay a panic shows.

mod app;
mod describe;
mod dom;
mod guide;
mod i18n;
mod index;
mod panic;
mod url;

fn main() {
    panic::install();
    let root = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("app"))
        .expect("index.html has a #app element");
    yew::Renderer::<app::App>::with_root(root).render();
}
