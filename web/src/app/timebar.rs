//! Time controls: play/pause, one event at a time, speed from 0.1× to 100× (a log scale), and
//! the timeline over everything the run has reached, which moves back and forth with
//! `Player::seek`.

use super::{input_value, seconds, speed_label, App, Msg, MAX_SPEED, MIN_SPEED};
use crate::i18n::T;
use yew::prelude::*;

/// The speed slider's steps per decade.
const STEPS_PER_DECADE: f64 = 100.0;

fn slider_of(speed: f64) -> f64 {
    (speed.log10() - MIN_SPEED.log10()) * STEPS_PER_DECADE
}

fn speed_of(slider: f64) -> f64 {
    10f64.powf(slider / STEPS_PER_DECADE + MIN_SPEED.log10())
}

impl App {
    pub(super) fn view_timebar(&self, ctx: &Context<Self>) -> Html {
        let lang = self.lang;
        let link = ctx.link();
        let now = self.player.now();
        let horizon = self.player.horizon();
        let ahead = self.player.inputs_ahead();
        let slider_max = slider_of(MAX_SPEED);
        let on_speed = link.callback(|e: InputEvent| {
            let v: f64 = input_value(&e).parse().unwrap_or(100.0);
            // Snap to the round speeds near the slider's position.
            let s = speed_of(v);
            let snapped = [0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0]
                .into_iter()
                .find(|r: &f64| (r.log10() - s.log10()).abs() < 0.03)
                .unwrap_or(s);
            Msg::Speed(snapped)
        });
        let on_seek =
            link.callback(|e: InputEvent| Msg::Seek(input_value(&e).parse().unwrap_or_default()));
        let preset = |s: f64| {
            let on = (self.speed - s).abs() < 1e-9;
            html! {
                <button class={classes!("preset", on.then_some("on"))} data-speed={s.to_string()}
                    onclick={link.callback(move |_| Msg::Speed(s))}>{ speed_label(s) }</button>
            }
        };
        html! {
            <section class="timebar" aria-label={lang.t(T::Timeline)}>
                <div class="controls">
                    <button id="play" class="primary" data-playing={self.playing.to_string()}
                        onclick={link.callback(|_| Msg::TogglePlay)}>
                        if self.playing {
                            <svg class="icon" viewBox="0 0 12 12"><rect x="2" y="1" width="3" height="10" /><rect x="7" y="1" width="3" height="10" /></svg>
                        } else {
                            <svg class="icon" viewBox="0 0 12 12"><path d="M2 1 L11 6 L2 11 Z" /></svg>
                        }
                        { lang.t(if self.playing { T::Pause } else { T::Play }) }
                    </button>
                    <button id="step" title={lang.t(T::StepHint)}
                        onclick={link.callback(|_| Msg::Step)}>
                        <svg class="icon" viewBox="0 0 12 12"><path d="M1 1 L8 6 L1 11 Z" /><rect x="9" y="1" width="2" height="10" /></svg>
                        { lang.t(T::Step) }
                    </button>
                </div>
                <div class="speed">
                    <label for="speed">{ lang.t(T::Speed) }</label>
                    <input id="speed" type="range" min="0" max={slider_max.to_string()} step="1"
                        value={slider_of(self.speed).round().to_string()} oninput={on_speed} />
                    <output id="speed-value">{ speed_label(self.speed) }</output>
                    <span class="presets">
                        { preset(0.1) }{ preset(1.0) }{ preset(10.0) }{ preset(100.0) }
                    </span>
                </div>
                <div class="timeline">
                    <label for="timeline">{ lang.t(T::Time) }</label>
                    <input id="timeline" type="range" min="0" max={horizon.to_string()} step="1"
                        value={now.to_string()} oninput={on_seek} />
                    <output id="clock" data-now={now.to_string()}>
                        { seconds(self.clock) }{ " / " }{ seconds(horizon as f64) }
                        <span class="steps">{ format!(" · {} ", self.player.sim().steps) }{ lang.t(T::Events) }</span>
                    </output>
                </div>
                if ahead > 0 {
                    <p class="ahead" id="inputs-ahead">{ ahead }{ " " }{ lang.t(T::AheadHint) }</p>
                }
            </section>
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slider_spans_three_decades() {
        assert!((slider_of(MIN_SPEED)).abs() < 1e-9);
        assert!((slider_of(1.0) - 100.0).abs() < 1e-9);
        assert!((slider_of(MAX_SPEED) - 300.0).abs() < 1e-9);
        assert!((speed_of(200.0) - 10.0).abs() < 1e-9);
    }
}
