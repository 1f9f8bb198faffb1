//! The vote panel of one server: its vote and logicalclock, its recvset (sid → vote) with the
//! votes that agree with its own marked, the out-of-election votes, and why its vote changed —
//! which rule of peerEpoch > zxid > server id decided — so FastLeaderElection's steps can be
//! read off the screen.

use super::{seconds, App, Msg};
use crate::describe;
use crate::i18n::T;
use yew::prelude::*;
use zk_core::peer::election::FiledVote;
use zk_core::ServerId;
use zk_sim::play::ServerView;
use zk_sim::Status;

impl App {
    pub(super) fn view_votes(&self, ctx: &Context<Self>, views: &[ServerView]) -> Html {
        let lang = self.lang;
        let link = ctx.link();
        let Some(v) = views.iter().find(|v| v.id == self.selected) else {
            return html! {};
        };
        let tabs = html! {
            <div class="tabs" role="tablist">
                { for views.iter().map(|x| {
                    let id = x.id;
                    html! {
                        <button role="tab" class={classes!((id == v.id).then_some("on"))}
                            data-vote-server={id.to_string()}
                            onclick={link.callback(move |_| Msg::Select(id))}>{ id.to_string() }</button>
                    }
                }) }
            </div>
        };
        let body = if v.status == Status::Down {
            html! { <p class="hint">{ lang.t(T::ServerDown) }</p> }
        } else {
            let table = |rows: &[(ServerId, FiledVote)]| {
                if rows.is_empty() {
                    return html! { <p class="empty">{ lang.t(T::Empty) }</p> };
                }
                html! {
                    <div class="table-wrap">
                    <table class="votes-table">
                        <thead><tr>
                            <th>{ "sid" }</th><th>{ "leader" }</th><th>{ "zxid" }</th>
                            <th>{ "electionEpoch" }</th><th>{ "peerEpoch" }</th><th>{ "state" }</th>
                        </tr></thead>
                        <tbody>
                        { for rows.iter().map(|(sid, f)| {
                            let agrees = v.vote.is_some_and(|mine| {
                                mine.leader == f.vote.leader && mine.zxid == f.vote.zxid
                                    && mine.peer_epoch == f.vote.peer_epoch
                            });
                            html! {
                                <tr class={classes!(agrees.then_some("agrees"))}
                                    title={agrees.then(|| lang.t(T::Agrees))}>
                                    <td>{ sid.to_string() }</td>
                                    <td>{ describe::sid(lang, f.vote.leader) }</td>
                                    <td class="mono">{ f.vote.zxid.pretty() }</td>
                                    <td>{ f.vote.election_epoch }</td>
                                    <td>{ f.vote.peer_epoch }</td>
                                    <td>{ f.state.to_string() }</td>
                                </tr>
                            }
                        }) }
                        </tbody>
                    </table>
                    </div>
                }
            };
            let last = match &v.last_vote_change {
                Some((at, vote, why)) => html! {
                    <p class="why" id="vote-why">
                        <span class="at">{ seconds(*at as f64) }</span>{ " " }
                        <code>{ describe::vote(lang, vote) }</code>{ " — " }
                        { describe::vote_change(lang, why) }
                    </p>
                },
                None => html! { <p class="why">{ lang.t(T::NoChange) }</p> },
            };
            let history = self.index.votes(v.id);
            html! {
                <>
                    <dl class="vote-now">
                        <dt>{ lang.t(T::CurrentVote) }</dt>
                        <dd class="mono">{ v.vote.map_or_else(|| "-".into(), |x| describe::vote(lang, &x)) }</dd>
                        <dt>{ "logicalclock" }</dt><dd class="mono">{ v.logicalclock }</dd>
                        <dt>{ "state" }</dt><dd>{ super::cluster::state_name(v) }</dd>
                    </dl>
                    <h3>{ lang.t(T::LastChange) }</h3>
                    { last }
                    <h3>{ lang.t(T::Recvset) }</h3>
                    { table(&v.recvset) }
                    <h3>{ lang.t(T::OutOfElection) }</h3>
                    { table(&v.outofelection) }
                    if !history.is_empty() {
                        <details class="history">
                            <summary>{ lang.t(T::VoteHistory) }{ format!(" ({})", history.len()) }</summary>
                            <ol>
                                { for history.iter().rev().map(|r| html! {
                                    <li>
                                        <span class="at">{ seconds(r.at as f64) }</span>{ " " }
                                        <code>{ describe::vote(lang, &r.vote) }</code>{ " — " }
                                        { describe::vote_change(lang, &r.why) }
                                    </li>
                                }) }
                            </ol>
                        </details>
                    }
                </>
            }
        };
        html! {
            <details class="card panel votes" id="votes" open=true>
                <summary><h2>{ lang.t(T::VotePanel) }</h2></summary>
                { tabs }
                <p class="hint">{ lang.t(T::RulesHint) }</p>
                { body }
            </details>
        }
    }
}
