//! zkCli consoles. Each is a client inside the simulated world (`Player::world.consoles`): what
//! it prints — prompts, answers, watch events — is zkCli.sh's text, produced by the core's
//! `cli` module. Typed lines are actions, so they replay with the run.

use super::{input_value, App, Msg};
use crate::i18n::T;
use yew::prelude::*;
use zk_cli::Stream;
use zk_core::ServerId;
use zk_sim::play::ServerView;

/// The transcript shown keeps its last this many characters.
const TRANSCRIPT_SHOWN: usize = 24_000;

const EXAMPLES: [&str; 8] = [
    "ls /",
    "create /a x",
    "get -s /a",
    "set /a y",
    "get -w /a",
    "create -e /eph e",
    "create -s /seq- s",
    "delete /a",
];

impl App {
    pub(super) fn view_console(&self, ctx: &Context<Self>, views: &[ServerView]) -> Html {
        let lang = self.lang;
        let link = ctx.link();
        let consoles = &self.player.world.consoles;
        let on_server = link.callback(|e: Event| {
            Msg::ConsoleServer(ServerId(input_value(&e).parse().unwrap_or(1)))
        });
        let opener = html! {
            <div class="row">
                <label for="console-server">{ lang.t(T::OpenConsole) }</label>
                <select id="console-server" onchange={on_server}>
                    { for views.iter().map(|v| html! {
                        <option value={v.id.to_string()} selected={v.id == self.console_server}>
                            { format!("zk{}:2181", v.id) }
                        </option>
                    }) }
                </select>
                <button id="open-console" class="primary"
                    onclick={link.callback(|_| Msg::OpenConsole(None))}>{ "+" }</button>
            </div>
        };
        let current = self.console.and_then(|id| consoles.get(&id));
        let body = match current {
            None => html! { <p class="hint" id="no-console">{ lang.t(T::NoConsole) }</p> },
            Some(c) => {
                let total: usize = c.transcript.iter().map(|x| x.text.len()).sum();
                let mut skip = total.saturating_sub(TRANSCRIPT_SHOWN);
                let chunks = c.transcript.iter().filter_map(|chunk| {
                    if skip >= chunk.text.len() {
                        skip -= chunk.text.len();
                        return None;
                    }
                    let mut from = skip;
                    while !chunk.text.is_char_boundary(from) {
                        from += 1;
                    }
                    skip = 0;
                    let class = match chunk.stream {
                        Stream::Out => "out",
                        Stream::Err => "err",
                    };
                    Some(html! { <span class={class}>{ &chunk.text[from..] }</span> })
                });
                let typed: Vec<&str> = c.typed().collect();
                let sim = self.player.sim();
                html! {
                    <>
                        // Reversed flex: the view stays at the end as text arrives.
                        <div class="transcript-scroll">
                            <pre class="transcript" id="console-transcript" data-console-id={c.id.to_string()}>
                                { for chunks }
                                { for typed.iter().map(|l| html! { <span class="typed">{ *l }{ "\n" }</span> }) }
                            </pre>
                        </div>
                        if c.closed {
                            <p class="hint">{ lang.t(T::ConsoleClosed) }</p>
                        } else {
                            <div class="prompt-line">
                                <label for="console-input" class="prompt">{ c.prompt(sim) }</label>
                                <input id="console-input" type="text" autocomplete="off" spellcheck="false"
                                    autocapitalize="off" data-console-id={c.id.to_string()}
                                    ref={self.console_input.clone()}
                                    onkeydown={link.callback(Msg::ConsoleKey)} />
                            </div>
                            if c.busy() {
                                <p class="busy" id="console-busy">{ lang.t(T::Waiting) }</p>
                            }
                        }
                        <div class="examples">
                            <span>{ lang.t(T::Examples) }{ ":" }</span>
                            { for EXAMPLES.iter().map(|ex| {
                                let line = ex.to_string();
                                html! {
                                    <button class="chip" onclick={link.callback(move |_| Msg::ConsoleFill(line.clone()))}>
                                        <code>{ *ex }</code>
                                    </button>
                                }
                            }) }
                        </div>
                    </>
                }
            }
        };
        html! {
            <details class="card panel console" id="console" open=true>
                <summary><h2>{ lang.t(T::ConsolePanel) }</h2></summary>
                { opener }
                if !consoles.is_empty() {
                    <div class="tabs" role="tablist">
                        { for consoles.values().map(|c| {
                            let id = c.id;
                            html! {
                                <button role="tab" class={classes!((Some(id) == self.console).then_some("on"))}
                                    data-console-tab={id.to_string()}
                                    onclick={link.callback(move |_| Msg::ConsoleTab(id))}>
                                    { format!("#{id} zk{}", c.server) }
                                </button>
                            }
                        }) }
                    </div>
                }
                { body }
                <p class="hint">{ lang.t(T::ConsoleHint) }</p>
            </details>
        }
    }
}
