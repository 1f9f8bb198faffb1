//! The tutorial column: the list of tutorials (id, title, the document it retells), and the
//! guide of the one being played — its summary and note, the current step's narration, what
//! the step does, what it is about, and its expectations turning green as they are met (red,
//! with what was seen, when they are late) — with Back, Next, Auto-play and Play freely.

use super::{seconds, App, Msg};
use crate::guide::{self, Guide, Phase};
use crate::i18n::{Lang, T};
use yew::prelude::*;

impl App {
    /// The tutorial column is shown: a tutorial is being played, or the list was asked for.
    pub(super) fn tutorial_column(&self) -> bool {
        self.guide.is_some() || self.show_tutorials
    }

    pub(super) fn view_tutorial(&self, ctx: &Context<Self>) -> Html {
        match &self.guide {
            Some(g) if !self.show_tutorials => self.view_guide(ctx, g),
            _ => self.view_tutorial_list(ctx),
        }
    }

    fn view_tutorial_list(&self, ctx: &Context<Self>) -> Html {
        let lang = self.lang;
        let link = ctx.link();
        let playing = self.guide.as_ref().map(|g| g.tutorial().id.clone());
        let list = match guide::catalog() {
            Ok(all) => html! {
                <ol class="tutorial-list" id="tutorial-list">
                    { for all.iter().map(|t| {
                        let id = t.id.clone();
                        let on = playing.as_deref() == Some(t.id.as_str());
                        html! {
                            <li>
                                <button class={classes!("tutorial-item", on.then_some("on"))}
                                    data-tutorial-id={t.id.clone()}
                                    onclick={link.callback(move |_| Msg::OpenTutorial(id.clone()))}>
                                    <span class="tid">{ &t.id }</span>
                                    <span class="ttitle">{ t.title.get(lang.code()) }</span>
                                    <span class="tsource">
                                        { &t.source }
                                        if t.real {
                                            <span class="tag real">{ lang.t(T::RealToo) }</span>
                                        }
                                    </span>
                                </button>
                            </li>
                        }
                    }) }
                </ol>
            },
            Err(e) => html! {
                <p class="notice">{ lang.t(T::TutorialsError) }{ " " }<code>{ e }</code></p>
            },
        };
        html! {
            <aside class="card tutorial-panel" id="tutorials">
                <div class="tut-head">
                    <h2>{ lang.t(T::Tutorials) }</h2>
                    if playing.is_some() {
                        <button id="tutorial-resume" class="primary"
                            onclick={link.callback(|_| Msg::ShowTutorialList(false))}>
                            { lang.t(T::BackToTutorial) }</button>
                    } else {
                        <button id="tutorials-close" class="close" aria-label={lang.t(T::Close)}
                            onclick={link.callback(|_| Msg::ShowTutorialList(false))}>{ "×" }</button>
                    }
                </div>
                <p class="hint">{ lang.t(T::TutorialsHint) }</p>
                { list }
            </aside>
        }
    }

    fn view_guide(&self, ctx: &Context<Self>, g: &Guide) -> Html {
        let lang = self.lang;
        let code = lang.code();
        let link = ctx.link();
        let t = g.tutorial();
        let total = t.steps.len();
        let begun = g.begun();
        let now = self.player.now();
        let late = g.late(now);
        // Where the guide is, and what the status line says of it.
        let (phase, status) = match g.phase {
            Phase::Intro => ("intro", lang.t(T::IntroHint).to_string()),
            Phase::Running if late => ("late", lang.t(T::StepLate).to_string()),
            Phase::Running => ("running", lang.t(T::StepWaiting).to_string()),
            Phase::Passed(_) if g.done() => ("done", lang.t(T::TutorialDone).to_string()),
            Phase::Passed(at) => (
                "passed",
                format!("{} · {}", seconds(at as f64), lang.t(T::StepPassed)),
            ),
        };
        let about = html! {
            <>
                <p class="summary" id="tutorial-summary">{ t.summary.get(code) }</p>
                if let Some(note) = &t.note {
                    <div class="tut-note" id="tutorial-note">
                        <strong>{ lang.t(T::Note) }</strong>
                        <p>{ note.get(code) }</p>
                    </div>
                }
            </>
        };
        let dots = (0..total).map(|i| {
            let state = if i + 1 < begun || (i + 1 == begun && matches!(g.phase, Phase::Passed(_)))
            {
                "done"
            } else if i + 1 == begun {
                if late {
                    "late"
                } else {
                    "current"
                }
            } else {
                "todo"
            };
            html! { <li class={state} title={format!("{}", i + 1)}></li> }
        });
        let progress = match lang {
            Lang::En => format!("Step {begun} of {total}"),
            Lang::Zh => format!("第 {begun} 步，共 {total} 步"),
        };
        let step = g.current().map(|step| {
            let actions: Vec<String> = step
                .actions
                .iter()
                .flat_map(|d| d.actions().unwrap_or_default())
                .map(|a| guide::action_text(lang, &a))
                .collect();
            let focus = guide::focus_text(lang, &step.focus);
            let checks = step.expect.iter().enumerate().map(|(i, e)| {
                let result = g.results.get(i);
                let (class, mark) = match result {
                    Some(Ok(())) => ("ok", "✔"),
                    Some(Err(_)) if late => ("fail", "✖"),
                    _ => ("wait", "…"),
                };
                let seen = match result {
                    Some(Err(s)) => Some(guide::seen_text(lang, s)),
                    _ => None,
                };
                html! {
                    <li class={classes!("check-item", class)} data-ok={matches!(result, Some(Ok(()))).to_string()}
                        title={seen.clone().filter(|_| !late).map(|s| format!("{}: {s}", lang.t(T::NotYet)))}>
                        <span class="mark">{ mark }</span>
                        <span class="what">{ guide::expect_text(lang, e) }</span>
                        if late {
                            if let Some(s) = seen {
                                <span class="seen">{ lang.t(T::Seen) }{ ": " }{ s }</span>
                            }
                        }
                    </li>
                }
            });
            html! {
                <section class="tut-step" id="tutorial-step">
                    <p class="say" id="tutorial-say">{ step.say.get(code) }</p>
                    if !actions.is_empty() {
                        <p class="does"><span class="label">{ lang.t(T::Does) }</span>
                            { for actions.iter().map(|a| html! { <code>{ a }</code> }) }
                        </p>
                    }
                    if !focus.is_empty() {
                        <p class="focus-line"><span class="label">{ lang.t(T::Focus) }</span>{ focus }</p>
                    }
                    if !step.expect.is_empty() {
                        <h3>{ lang.t(T::Checks) }</h3>
                        <ul class="checks" id="tutorial-checks">{ for checks }</ul>
                    }
                </section>
            }
        });
        let last = begun >= total;
        html! {
            <aside class="card tutorial-panel guide" id="tutorial" data-tutorial={t.id.clone()}
                data-step={begun.to_string()} data-steps={total.to_string()} data-phase={phase}>
                <div class="tut-head">
                    <span class="tid">{ &t.id }</span>
                    <h2 id="tutorial-title">{ t.title.get(code) }</h2>
                </div>
                <p class="tsource">{ lang.t(T::Source) }{ ": " }{ &t.source }</p>
                <div class="row wrap tut-links">
                    <button id="tutorial-list-button" onclick={link.callback(|_| Msg::ShowTutorialList(true))}>
                        { lang.t(T::AllTutorials) }</button>
                    <button id="tutorial-leave" title={lang.t(T::PlayFreelyHint)}
                        class={classes!(g.done().then_some("primary"))}
                        onclick={link.callback(|_| Msg::LeaveTutorial)}>{ lang.t(T::PlayFreely) }</button>
                </div>
                if begun == 0 {
                    { about }
                } else {
                    <details class="tut-about">
                        <summary>{ lang.t(T::About) }</summary>
                        { about }
                    </details>
                }
                <div class="tut-progress">
                    <span id="tutorial-progress">{ progress }</span>
                    <ol class="dots">{ for dots }</ol>
                </div>
                { for step }
                <p class={classes!("tut-status", phase)} id="tutorial-status">{ status }</p>
                <div class="tut-controls">
                    <button id="tutorial-back" title={lang.t(T::BackHint)} disabled={begun == 0}
                        onclick={link.callback(|_| Msg::TutorialBack)}>{ "◀ " }{ lang.t(T::Back) }</button>
                    <button id="tutorial-next" class="primary" disabled={last}
                        onclick={link.callback(|_| Msg::TutorialNext)}>{ lang.t(T::Next) }{ " ▶" }</button>
                    <button id="tutorial-auto" class={classes!(g.auto.then_some("on"))} title={lang.t(T::AutoHint)}
                        aria-pressed={g.auto.to_string()} disabled={g.done()}
                        onclick={link.callback(|_| Msg::TutorialAuto)}>{ lang.t(T::AutoPlay) }</button>
                </div>
            </aside>
        }
    }
}
