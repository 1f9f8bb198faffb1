//! Hands the page the tutorials (`tutorials/*.toml`, as zk-sim embeds and checks them) as JSON.
//!
//! The browser reads them with serde_json, which it carries anyway for the address, instead of
//! parsing TOML itself: a TOML parser in the wasm cost about 60 kB gzip, more than every
//! tutorial's text. The files are read, parsed and validated here by zk-sim's own
//! `tutorial::all`, so the page gets exactly what the tests play; a file it rejects reaches the
//! page as that error (the tutorial panel shows it) and as a build warning. The unit test
//! `guide::tests::the_page_has_the_tutorials_the_simulator_parses` checks they read back the same.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../tutorials");
    let all = zk_sim::tutorial::all();
    if let Err(e) = &all {
        println!("cargo:warning=the tutorials could not be read: {e}");
    }
    let mut value = serde_json::to_value(&all).expect("the tutorials as JSON");
    drop_nulls(&mut value);
    let json = serde_json::to_string(&value).expect("the tutorials as JSON");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("tutorials.json");
    std::fs::write(&out, json).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
}

/// Leaves out the fields that are null (an unset `Option` reads back as `None` without them):
/// an expectation has some forty optional fields and uses two or three.
fn drop_nulls(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(drop_nulls);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}
