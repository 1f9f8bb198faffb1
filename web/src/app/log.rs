//! The event log: every `TraceEvent` the run produced, newest first, filtered by server and by
//! kind (a category, or one message kind such as PROPOSAL).

use super::{input_value, seconds, App, LogFilter, Msg};
use crate::describe::{self, Category, MESSAGE_KINDS};
use crate::i18n::{Lang, T};
use yew::prelude::*;
use zk_core::ServerId;
use zk_sim::play::ServerView;

/// Entries drawn at most.
const ENTRIES_SHOWN: usize = 150;

fn category_label(lang: Lang, c: Category) -> &'static str {
    lang.t(match c {
        Category::Message => T::KindMessages,
        Category::Election => T::KindElection,
        Category::Zab => T::KindZab,
        Category::Disk => T::KindDisk,
        Category::Client => T::KindClient,
        Category::Fault => T::KindFault,
        Category::Violation => T::KindViolation,
    })
}

impl App {
    pub(super) fn view_log(&self, ctx: &Context<Self>, views: &[ServerView]) -> Html {
        let lang = self.lang;
        let link = ctx.link();
        let idx = &self.index;
        let filter = self.log_filter;
        let server = self.log_server;
        let matching = self.player.log.iter().enumerate().rev().filter(|(_, e)| {
            let kind_ok = match filter {
                LogFilter::All => true,
                LogFilter::Category(c) => describe::category(&e.event) == c,
                LogFilter::Kind(k) => describe::message_kind(&e.event, idx) == Some(k),
            };
            kind_ok && server.is_none_or(|s| describe::involves(&e.event, idx, s))
        });
        let entries: Vec<_> = matching.take(ENTRIES_SHOWN).collect();
        let on_server =
            link.callback(|e: Event| Msg::LogServer(input_value(&e).parse().ok().map(ServerId)));
        let on_kind =
            link.callback(|e: Event| Msg::LogFilter(LogFilter::from_key(&input_value(&e))));
        let filter_key = filter.key();
        html! {
            <details class="card panel log" id="log" open=true>
                <summary><h2>{ lang.t(T::LogPanel) }</h2></summary>
                <div class="row wrap">
                    <select id="log-server" onchange={on_server}>
                        <option value="" selected={server.is_none()}>{ lang.t(T::AllServers) }</option>
                        { for views.iter().map(|v| html! {
                            <option value={v.id.to_string()} selected={server == Some(v.id)}>
                                { format!("{} {}", lang.t(T::Server), v.id) }
                            </option>
                        }) }
                    </select>
                    <select id="log-kind" onchange={on_kind}>
                        <option value="all" selected={filter_key == "all"}>{ lang.t(T::AllKinds) }</option>
                        { for Category::ALL.into_iter().map(|c| {
                            let key = LogFilter::Category(c).key();
                            html! {
                                <option selected={filter_key == key} value={key.clone()}>{ category_label(lang, c) }</option>
                            }
                        }) }
                        <optgroup label={lang.t(T::MessageKind)}>
                            { for MESSAGE_KINDS.into_iter().map(|k| {
                                let key = LogFilter::Kind(k).key();
                                html! { <option selected={filter_key == key} value={key.clone()}>{ k }</option> }
                            }) }
                        </optgroup>
                    </select>
                    <span class="count">
                        { match lang {
                            Lang::En => format!("showing {} of {}", entries.len(), self.player.log.len()),
                            Lang::Zh => format!("显示 {} 条，共 {} 条", entries.len(), self.player.log.len()),
                        } }
                    </span>
                </div>
                if entries.is_empty() {
                    <p class="empty">{ lang.t(T::NoEvents) }</p>
                } else {
                    <ol class="events" id="event-log">
                        { for entries.iter().map(|(i, e)| {
                            let cat = describe::category(&e.event);
                            let kind = describe::message_kind(&e.event, idx);
                            let focused = kind.is_some_and(|k| self.focus_on_kind(k));
                            html! {
                                <li key={*i} class={classes!("ev", cat.key(), focused.then_some("focus"))} data-kind={kind.unwrap_or(cat.key())}>
                                    <span class="at">{ seconds(e.at as f64) }</span>
                                    <span class="who">{ describe::who(&e.event, idx) }</span>
                                    if let Some(k) = kind {
                                        <span class="kind" style={format!("color:{}", describe::kind_color(k))}>{ "●" }</span>
                                    }
                                    <span class="what">{ describe::event(lang, &e.event, idx) }</span>
                                </li>
                            }
                        }) }
                    </ol>
                }
            </details>
        }
    }
}
