//! The tutorials marked `real = true`, replayed against real `zkserver` processes on loopback
//! (what `zkserver tutorial <id>` does), two at a time. Each prints its steps and checks; a
//! failure shows the whole printout.

use std::sync::{Arc, Mutex};
use zk_native::tutorial::{run, unsupported, Options};

#[test]
fn real_tutorials_hold_on_zkserver_processes() {
    let only = std::env::var("TUTORIAL").ok();
    let real: Vec<_> = zk_sim::tutorial::all()
        .expect("the tutorial files parse")
        .into_iter()
        .filter(|t| unsupported(t).is_none())
        .filter(|t| only.as_deref().is_none_or(|o| t.id.eq_ignore_ascii_case(o)))
        .collect();
    if only.is_none() {
        for id in ["S1", "S2", "S10", "S14", "S15", "S17", "S18"] {
            assert!(
                real.iter().any(|t| t.id == id),
                "{id} must be playable on real servers"
            );
        }
    }
    let queue = Arc::new(Mutex::new(real));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let queue = queue.clone();
            let failures = failures.clone();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Runtime::new().unwrap();
                loop {
                    let Some(t) = queue.lock().unwrap().pop() else {
                        return;
                    };
                    let opts = Options {
                        lang: "en".into(),
                        dir: None,
                        exe: env!("CARGO_BIN_EXE_zkserver").into(),
                    };
                    let mut out = Vec::new();
                    let result = rt.block_on(run(&t, &opts, &mut out));
                    let text = String::from_utf8_lossy(&out).into_owned();
                    match result {
                        Ok(summary) => {
                            assert!(summary.passed > 0, "{}: nothing was checked", t.id);
                            println!("{}: {} checks passed", t.id, summary.passed);
                        }
                        Err(e) => failures.lock().unwrap().push(format!("{e}\n{text}")),
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let failures = failures.lock().unwrap();
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}
