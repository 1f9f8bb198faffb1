//! One card per server: everything `ServerView` says about it, and the buttons that start,
//! kill, restart, pause and resume its process, open a console on it, or show its tree and votes.

use super::cluster::{state_class, state_name, status_key, status_label};
use super::{App, Msg};
use crate::describe;
use crate::i18n::T;
use yew::prelude::*;
use zk_sim::play::{Action, ServerView};
use zk_sim::Status;

impl App {
    pub(super) fn view_servers(&self, ctx: &Context<Self>, views: &[ServerView]) -> Html {
        html! {
            <section class="servers" id="servers">
                { for views.iter().map(|v| self.view_server_card(ctx, v)) }
            </section>
        }
    }

    fn view_server_card(&self, ctx: &Context<Self>, v: &ServerView) -> Html {
        let lang = self.lang;
        let link = ctx.link();
        let id = v.id;
        let act = |a: Action| link.callback(move |_| Msg::Act(a.clone()));
        let button =
            |key: &'static str, label: T, hint: Option<T>, a: Action, class: &'static str| {
                html! {
                    <button data-action={key} class={class} title={hint.map(|h| lang.t(h))}
                        onclick={act(a)}>{ lang.t(label) }</button>
                }
            };
        let focused = self.focus_on_server(id);
        let vote = v
            .vote
            .map_or_else(|| "-".to_string(), |x| describe::vote(lang, &x));
        html! {
            <article key={id.0} class={classes!("server-card", state_class(v), (self.selected == id).then_some("selected"), focused.then_some("focus"))}
                data-card-id={id.to_string()} data-state={state_name(v)} data-status={status_key(v)}>
                <header onclick={link.callback(move |_| Msg::Select(id))}>
                    <span class="sid">{ id.to_string() }</span>
                    <span class={classes!("state-badge", state_class(v))}>{ state_name(v) }</span>
                    if v.observer {
                        <span class="tag">{ lang.t(T::Observer) }</span>
                    }
                    <span class={classes!("status", status_key(v))}>{ status_label(lang, v) }</span>
                </header>
                <dl>
                    <div class="kv">
                        <dt>{ lang.t(T::Vote) }</dt>
                        <dd class="mono" title="(leader, zxid, electionEpoch, peerEpoch)">{ vote }</dd>
                    </div>
                    <div class="kv"><dt>{ "logicalclock" }</dt><dd class="mono">{ v.logicalclock }</dd></div>
                    <div class="kv">
                        <dt>{ lang.t(T::LastZxid) }</dt>
                        <dd class="mono" data-field="last-zxid">{ v.last_zxid.pretty() }</dd>
                    </div>
                    <div class="kv">
                        <dt>{ lang.t(T::Committed) }</dt>
                        <dd class="mono" data-field="committed">
                            { v.committed_count }{ " · " }{ v.last_committed.pretty() }
                        </dd>
                    </div>
                    <div class="kv">
                        <dt>{ lang.t(T::Epochs) }</dt>
                        <dd class="mono">{ format!("{} / {}", v.accepted_epoch, v.current_epoch) }</dd>
                    </div>
                    <div class="kv">
                        <dt>{ lang.t(T::Sessions) }</dt>
                        <dd>
                            { v.sessions }{ " · " }
                            { lang.t(if v.serving { T::Serving } else { T::NotServing }) }
                        </dd>
                    </div>
                </dl>
                <div class="actions">
                    if v.status == Status::Down {
                        { button("start", T::Start, None, Action::Start(id), "primary") }
                    } else {
                        { button("kill", T::Kill, None, Action::Kill(id), "danger") }
                        { button("restart", T::Restart, Some(T::RestartHint), Action::Restart(id), "") }
                        if v.status == Status::Paused {
                            { button("resume", T::Resume, None, Action::Resume(id), "primary") }
                        } else {
                            { button("pause", T::PauseServer, Some(T::PauseHint), Action::Pause(id), "") }
                        }
                    }
                    <button data-action="console" onclick={link.callback(move |_| Msg::OpenConsole(Some(id)))}>
                        { lang.t(T::OpenConsoleHere) }</button>
                    <button data-action="tree" onclick={link.callback(move |_| Msg::TreeServer(id))}>
                        { lang.t(T::ShowTree) }</button>
                    <button data-action="votes" onclick={link.callback(move |_| Msg::Select(id))}>
                        { lang.t(T::ShowVotes) }</button>
                </div>
            </article>
        }
    }
}
