//! The data tree of a chosen server (`Player::tree`), each node compared with the leader's copy:
//! a lagging follower shows its stale or missing nodes highlighted. A click on a node shows its
//! stat as `stat` prints it, its ephemeral owner and the watches on it.

use super::{input_checked, input_value, App, Msg};
use crate::i18n::T;
use yew::prelude::*;
use zk_core::stat::Stat;
use zk_core::ServerId;
use zk_sim::play::{ServerView, TreeRow};
use zk_sim::Status;

/// Rows drawn at most (a long write load makes many nodes).
const ROWS_SHOWN: usize = 300;

fn stat_rows(s: &Stat) -> Vec<(&'static str, String)> {
    vec![
        ("cZxid", format!("{}", s.czxid)),
        ("ctime", s.ctime.to_string()),
        ("mZxid", format!("{}", s.mzxid)),
        ("mtime", s.mtime.to_string()),
        ("pZxid", format!("{}", s.pzxid)),
        ("cversion", s.cversion.to_string()),
        ("dataVersion", s.version.to_string()),
        ("aclVersion", s.aversion.to_string()),
        ("ephemeralOwner", format!("0x{:x}", s.ephemeral_owner)),
        ("dataLength", s.data_length.to_string()),
        ("numChildren", s.num_children.to_string()),
    ]
}

fn name(row: &TreeRow) -> &str {
    if row.path == "/" {
        "/"
    } else {
        row.path.rsplit('/').next().unwrap_or(&row.path)
    }
}

impl App {
    pub(super) fn view_tree(&self, ctx: &Context<Self>, views: &[ServerView]) -> Html {
        let lang = self.lang;
        let link = ctx.link();
        let leader = Self::leader(views);
        let server = self.tree_server;
        let compare = if self.tree_compare { leader } else { None };
        let down = views
            .iter()
            .find(|v| v.id == server)
            .is_none_or(|v| v.status == Status::Down);
        let rows = if down {
            Vec::new()
        } else {
            self.player.tree(server, compare)
        };
        let on_server = link
            .callback(|e: Event| Msg::TreeServer(ServerId(input_value(&e).parse().unwrap_or(1))));
        let on_compare = link.callback(|e: Event| Msg::TreeCompare(input_checked(&e)));
        let shown = rows.len().min(ROWS_SHOWN);
        let body = if down {
            html! { <p class="hint">{ lang.t(T::NoTree) }</p> }
        } else {
            html! {
                <ul class="tree" id="tree" data-server-id={server.to_string()}>
                    { for rows.iter().take(ROWS_SHOWN).map(|row| {
                        let path = row.path.clone();
                        let open = self.tree_open.as_deref() == Some(row.path.as_str());
                        let owner = row.ephemeral_owner();
                        html! {
                            <li key={row.path.clone()} class={classes!("tree-row", row.differs.then_some("differs"), row.missing.then_some("missing"), open.then_some("open"))}
                                data-path={row.path.clone()} data-differs={row.differs.to_string()}>
                                <div class="node" style={format!("padding-left:{}em", row.depth as f32 * 1.1)}
                                    onclick={link.callback(move |_| Msg::TreeToggle(path.clone()))}>
                                    <span class="name">{ name(row) }</span>
                                    if !row.missing {
                                        <span class="data">{ format!("{:?}", String::from_utf8_lossy(&row.data)) }</span>
                                    }
                                    if let Some(o) = owner {
                                        <span class="tag eph" title={lang.t(T::EphemeralOwner)}>{ format!("{} {o}", lang.t(T::Ephemeral)) }</span>
                                    }
                                    if row.watches > 0 {
                                        <span class="tag watch" title={lang.t(T::Watches)}>{ format!("{} {}", lang.t(T::Watches), row.watches) }</span>
                                    }
                                    if row.missing {
                                        <span class="tag bad">{ lang.t(T::Missing) }</span>
                                    } else if row.differs {
                                        <span class="tag bad">{ lang.t(T::Differs) }</span>
                                    }
                                </div>
                                if open {
                                    if let Some(s) = row.stat {
                                        <table class="stat">
                                            { for stat_rows(&s).into_iter().map(|(k, v)| html! {
                                                <tr><th>{ k }</th><td class="mono">{ v }</td></tr>
                                            }) }
                                            <tr><th>{ "zxid" }</th><td class="mono">
                                                { format!("c {} · m {}", s.czxid.pretty(), s.mzxid.pretty()) }
                                            </td></tr>
                                        </table>
                                    }
                                }
                            </li>
                        }
                    }) }
                    if rows.len() > shown {
                        <li key="(more)" class="more">{ format!("{} ", rows.len() - shown) }{ lang.t(T::MoreRows) }</li>
                    }
                </ul>
            }
        };
        html! {
            <details class="card panel tree-panel" id="tree-panel" open=true>
                <summary><h2>{ lang.t(T::TreePanel) }</h2></summary>
                <div class="row">
                    <label for="tree-server">{ lang.t(T::TreeOf) }</label>
                    <select id="tree-server" onchange={on_server}>
                        { for views.iter().map(|v| html! {
                            <option value={v.id.to_string()} selected={v.id == server}>
                                { format!("{} {} ({})", lang.t(T::Server), v.id, super::cluster::state_name(v)) }
                            </option>
                        }) }
                    </select>
                    <label class="check">
                        <input type="checkbox" id="tree-compare" checked={self.tree_compare} onchange={on_compare} />
                        { lang.t(T::CompareLeader) }
                    </label>
                </div>
                { body }
                <p class="hint">{ lang.t(T::TreeHint) }</p>
            </details>
        }
    }
}
