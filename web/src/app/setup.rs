//! A new run: how many voters (3–7) and observers, the seed, whether the servers start at once.
//! Servers are added or removed here, before a run starts — a new [`Setup`] is a new Player.
//!
//! [`Setup`]: zk_sim::play::Setup

use super::{input_checked, input_value, App, Msg};
use crate::dom;
use crate::i18n::T;
use yew::prelude::*;

pub const VOTERS: std::ops::RangeInclusive<u64> = 3..=7;
pub const OBSERVERS: std::ops::RangeInclusive<u64> = 0..=3;

impl App {
    pub(super) fn view_setup(&self, ctx: &Context<Self>) -> Html {
        let lang = self.lang;
        let link = ctx.link();
        let d = &self.draft;
        let on_voters = link.callback(|e: Event| {
            let n: u64 = input_value(&e).parse().unwrap_or(3);
            Msg::Draft(Box::new(move |s| s.voters = n))
        });
        let on_observers = link.callback(|e: Event| {
            let n: u64 = input_value(&e).parse().unwrap_or(0);
            Msg::Draft(Box::new(move |s| s.observers = n))
        });
        let on_seed = link.callback(|e: Event| {
            let seed = input_value(&e).parse().ok();
            Msg::Draft(Box::new(move |s| {
                if let Some(seed) = seed {
                    s.seed = seed;
                }
            }))
        });
        let on_autostart = link.callback(|e: Event| {
            let on = input_checked(&e);
            Msg::Draft(Box::new(move |s| s.autostart = on))
        });
        html! {
            <details class="card panel setup" id="setup" open=true>
                <summary><h2>{ lang.t(T::SetupPanel) }</h2></summary>
                <div class="form">
                    <label for="setup-voters">{ lang.t(T::Voters) }</label>
                    <select id="setup-voters" onchange={on_voters}>
                        { for VOTERS.map(|n| html! {
                            <option value={n.to_string()} selected={n == d.voters}>{ n }</option>
                        }) }
                    </select>
                    <label for="setup-observers">{ lang.t(T::Observers) }</label>
                    <select id="setup-observers" onchange={on_observers}>
                        { for OBSERVERS.map(|n| html! {
                            <option value={n.to_string()} selected={n == d.observers}>{ n }</option>
                        }) }
                    </select>
                    <label for="setup-seed">{ lang.t(T::Seed) }</label>
                    <span class="seed">
                        <input id="setup-seed" type="number" min="0" value={d.seed.to_string()} onchange={on_seed} />
                        <button onclick={link.callback(|_| {
                            let seed = dom::random_seed();
                            Msg::Draft(Box::new(move |s| s.seed = seed))
                        })}>{ lang.t(T::RandomSeed) }</button>
                    </span>
                    <label class="check wide">
                        <input id="setup-autostart" type="checkbox" checked={d.autostart} onchange={on_autostart} />
                        { lang.t(T::Autostart) }
                    </label>
                </div>
                <button id="new-run" class="primary" onclick={link.callback(|_| Msg::NewRun)}>
                    { lang.t(T::StartRun) }</button>
                <p class="hint">{ lang.t(T::SetupHint) }</p>
            </details>
        }
    }
}
