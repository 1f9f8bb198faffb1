//! Breaking things on purpose: partitions (pick groups, or the presets "isolate the leader" and
//! "split"), a one-way cut, heal; the network's and the disks' latency; and a write load whose
//! PROPOSAL → ACK → COMMIT traffic fills the links.

use super::{input_value, App, Msg};
use crate::i18n::T;
use yew::prelude::*;
use zk_core::{Millis, ServerId};
use zk_sim::play::{Action, ServerView};

const GROUPS: [&str; 3] = ["A", "B", "C"];

impl App {
    pub(super) fn view_faults(&self, ctx: &Context<Self>, views: &[ServerView]) -> Html {
        let lang = self.lang;
        let link = ctx.link();
        let cfg = &self.player.sim().cfg;
        let (net, disk) = (cfg.network, cfg.disk);
        let leader = Self::leader(views);
        let ids: Vec<ServerId> = views.iter().map(|v| v.id).collect();
        let (a, b) = super::split_point(&ids);
        let running = self.load_running();
        let on_net = link
            .callback(|e: Event| Msg::Network(input_value(&e).parse::<Millis>().unwrap_or(500)));
        let on_disk =
            link.callback(|e: Event| Msg::Disk(input_value(&e).parse::<Millis>().unwrap_or(100)));
        let server_select = |id: &'static str, current: ServerId, f: fn(ServerId) -> Msg| {
            let cb =
                link.callback(move |e: Event| f(ServerId(input_value(&e).parse().unwrap_or(1))));
            html! {
                <select id={id} onchange={cb}>
                    { for ids.iter().map(|s| html! {
                        <option value={s.to_string()} selected={*s == current}>{ s.to_string() }</option>
                    }) }
                </select>
            }
        };
        html! {
            <details class="card panel faults" id="faults" open=true>
                <summary><h2>{ lang.t(T::FaultsPanel) }</h2></summary>

                <h3>{ lang.t(T::Partition) }</h3>
                <p class="hint">{ lang.t(T::PartitionHint) }</p>
                <div class="groups">
                    { for ids.iter().map(|id| {
                        let g = *self.groups.get(id).unwrap_or(&0) as usize;
                        let id = *id;
                        html! {
                            <button class={classes!("group", format!("g{g}"))} data-group-server={id.to_string()}
                                data-group={GROUPS[g]} onclick={link.callback(move |_| Msg::Group(id))}>
                                { format!("{id}: {}", GROUPS[g]) }
                            </button>
                        }
                    }) }
                </div>
                <div class="row wrap">
                    <button id="apply-partition" onclick={link.callback(|_| Msg::ApplyPartition)}>
                        { lang.t(T::ApplyPartition) }</button>
                    <button id="isolate-leader" disabled={leader.is_none()}
                        title={leader.is_none().then(|| lang.t(T::NoLeader))}
                        onclick={link.callback(|_| Msg::IsolateLeader)}>{ lang.t(T::IsolateLeader) }</button>
                    <button id="split" onclick={link.callback(|_| Msg::Split)}>
                        { format!("{} {a}|{b}", lang.t(T::Split)) }</button>
                    <button id="heal" class="primary" onclick={link.callback(|_| Msg::Act(Action::Heal))}>
                        { lang.t(T::Heal) }</button>
                </div>
                <div class="row wrap">
                    <span>{ lang.t(T::OneWayCut) }</span>
                    { server_select("cut-from", self.cut.0, Msg::CutFrom) }
                    <span>{ "↛" }</span>
                    { server_select("cut-to", self.cut.1, Msg::CutTo) }
                    <button id="apply-cut" onclick={link.callback(|_| Msg::ApplyCut)}>{ lang.t(T::Cut) }</button>
                </div>

                <h3>{ lang.t(T::NetworkLatency) }</h3>
                <div class="row">
                    <input id="network-latency" type="range" min="5" max="2000" step="5"
                        value={net.max.to_string()} onchange={on_net} />
                    <output>{ format!("{}–{} ms", net.min, net.max) }</output>
                </div>
                <h3>{ lang.t(T::DiskLatency) }</h3>
                <div class="row">
                    <input id="disk-latency" type="range" min="1" max="1000" step="1"
                        value={disk.max.to_string()} onchange={on_disk} />
                    <output>{ format!("{}–{} ms", disk.min, disk.max) }</output>
                </div>

                <h3>{ lang.t(T::WriteLoad) }</h3>
                <div class="row">
                    if running > 0 {
                        <span class="load-on">{ format!("{running} ") }{ lang.t(T::LoadRunning) }</span>
                    } else {
                        <input id="load-clients" type="number" min="1" max="8"
                            value={self.load_clients.to_string()}
                            onchange={link.callback(|e: Event| Msg::LoadClients(input_value(&e).parse().unwrap_or(2)))} />
                        <span>{ lang.t(T::Clients) }</span>
                    }
                    <button id="load-toggle" class={if running > 0 { "danger" } else { "primary" }}
                        data-running={(running > 0).to_string()}
                        onclick={link.callback(|_| Msg::ToggleLoad)}>
                        { lang.t(if running > 0 { T::StopLoad } else { T::StartLoad }) }
                    </button>
                </div>
            </details>
        }
    }
}
