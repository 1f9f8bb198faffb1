//! The run in the address: `#run=<base64url of the Script's JSON>&t=<ms>`, or a tutorial and
//! its step: `#tutorial=S6&step=3`.
//!
//! A [`Script`] is the setup (seed included) and every action with the step it was taken at, so
//! the address replays the run event for event. `#seed=N` alone starts the default ensemble with
//! that seed. The fragment is rewritten after every action (`history.replaceState`, so the Back
//! button is not flooded).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use zk_core::Millis;
use zk_sim::play::Script;

/// What the address asks for.
#[derive(Debug, Default, PartialEq)]
pub struct Params {
    pub script: Option<Script>,
    pub seed: Option<u64>,
    /// The moment to show.
    pub at: Option<Millis>,
    /// Playback speed (for benchmarks and demos).
    pub speed: Option<f64>,
    /// A tutorial's id (`S6`), and the step it was at (1-based; 0 or absent: its start).
    pub tutorial: Option<String>,
    pub step: Option<usize>,
    /// Could not be read (the message says why).
    pub error: Option<String>,
}

pub fn encode_script(script: &Script) -> String {
    let json = serde_json::to_vec(script).expect("a script is plain data");
    URL_SAFE_NO_PAD.encode(json)
}

pub fn decode_script(s: &str) -> Result<Script, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|e| format!("run: not base64url: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("run: not a script: {e}"))
}

/// The fragment for a run at time `at`.
pub fn fragment(script: &Script, at: Millis) -> String {
    format!("#run={}&t={at}", encode_script(script))
}

/// The fragment for a tutorial at a step (0: before the first).
pub fn tutorial_fragment(id: &str, step: usize) -> String {
    let id: String = id.chars().filter(char::is_ascii_alphanumeric).collect();
    format!("#tutorial={id}&step={step}")
}

/// Reads a fragment (with or without its `#`) or a query string.
pub fn parse(fragment: &str) -> Params {
    let mut p = Params::default();
    let s = fragment.trim_start_matches(['#', '?']);
    for pair in s.split('&').filter(|x| !x.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "run" => match decode_script(v) {
                Ok(script) => p.script = Some(script),
                Err(e) => p.error = Some(e),
            },
            "seed" => match v.parse() {
                Ok(seed) => p.seed = Some(seed),
                Err(_) => p.error = Some(format!("seed: not a number: {v:?}")),
            },
            "t" => p.at = v.parse().ok(),
            "speed" => p.speed = v.parse().ok().filter(|s: &f64| s.is_finite() && *s > 0.0),
            "tutorial" if !v.is_empty() => p.tutorial = Some(v.to_string()),
            "step" => p.step = v.parse().ok(),
            _ => {}
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use zk_core::ServerId;
    use zk_sim::play::{Action, Player, Setup};

    #[test]
    fn a_run_survives_the_address() {
        let mut p = Player::new(Setup::playground(77));
        p.advance_to(3_000, usize::MAX);
        p.act(Action::Kill(ServerId(2)));
        p.advance_to(5_000, usize::MAX);
        p.act(Action::Console {
            console: 1,
            line: "create /a \"x y\" & é".into(),
        });
        let f = fragment(&p.script(), 5_000);
        assert!(f.is_ascii() && !f.contains(' '));
        let back = parse(&f);
        assert_eq!(back.script, Some(p.script()));
        assert_eq!(back.at, Some(5_000));
        assert_eq!(back.error, None);
    }

    #[test]
    fn bad_addresses_say_why() {
        assert!(parse("#run=!!!").error.unwrap().contains("base64"));
        assert!(parse("#run=aGVsbG8").error.unwrap().contains("script"));
        assert_eq!(parse("#seed=12&speed=10").seed, Some(12));
        assert_eq!(parse("?speed=10").speed, Some(10.0));
        assert!(parse("#seed=x").error.is_some());
    }

    #[test]
    fn a_tutorial_and_its_step() {
        let p = parse(&tutorial_fragment("S6", 3));
        assert_eq!((p.tutorial.as_deref(), p.step), (Some("S6"), Some(3)));
        assert_eq!(parse("#tutorial=S1").step, None);
        assert_eq!(tutorial_fragment("S1&x=<y>", 0), "#tutorial=S1xy&step=0");
    }
}
