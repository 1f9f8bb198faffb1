//! The few browser calls the app makes outside yew: the animation-frame loop, the clock, the
//! address, local storage and the clipboard. Each degrades to doing nothing when the browser
//! refuses (no storage in a private window, no clipboard over plain http).

use crate::panic;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use yew::Callback;

fn window() -> web_sys::Window {
    web_sys::window().expect("running in a browser window")
}

/// Milliseconds from `performance.now()`.
pub fn now_ms() -> f64 {
    window().performance().map_or(0.0, |p| p.now())
}

/// Calls `frame` with the frame's timestamp on every animation frame, for the page's lifetime
/// (the loop stops after a panic).
pub fn animation_loop(frame: Callback<f64>) {
    type Slot = Rc<RefCell<Option<Closure<dyn FnMut(f64)>>>>;
    let slot: Slot = Rc::new(RefCell::new(None));
    let again = slot.clone();
    *slot.borrow_mut() = Some(Closure::new(move |ts: f64| {
        if panic::panicked() {
            return;
        }
        frame.emit(ts);
        if let Some(f) = again.borrow().as_ref() {
            let _ = window().request_animation_frame(f.as_ref().unchecked_ref());
        }
    }));
    let first = slot.borrow();
    if let Some(f) = first.as_ref() {
        let _ = window().request_animation_frame(f.as_ref().unchecked_ref());
    }
    // The closure lives as long as the page: the slot holds it and it holds the slot.
}

/// Calls `changed` when the user edits the address's fragment (pastes a shared run).
pub fn on_hash_change(changed: Callback<()>) {
    let f = Closure::<dyn FnMut()>::new(move || changed.emit(()));
    let _ = window().add_event_listener_with_callback("hashchange", f.as_ref().unchecked_ref());
    f.forget();
}

pub fn hash() -> String {
    window().location().hash().unwrap_or_default()
}

pub fn search() -> String {
    window().location().search().unwrap_or_default()
}

/// Rewrites the fragment without a new history entry or a `hashchange`.
pub fn replace_hash(fragment: &str) {
    let _ = window()
        .history()
        .and_then(|h| h.replace_state_with_url(&JsValue::NULL, "", Some(fragment)));
}

pub fn href() -> String {
    window().location().href().unwrap_or_default()
}

pub fn storage_get(key: &str) -> Option<String> {
    window().local_storage().ok()??.get_item(key).ok()?
}

pub fn storage_set(key: &str, value: &str) {
    if let Ok(Some(s)) = window().local_storage() {
        let _ = s.set_item(key, value);
    }
}

pub fn browser_language() -> String {
    window().navigator().language().unwrap_or_default()
}

pub fn set_document_lang(code: &str) {
    if let Some(el) = window().document().and_then(|d| d.document_element()) {
        let _ = el.set_attribute("lang", code);
    }
}

pub fn set_title(title: &str) {
    if let Some(d) = window().document() {
        d.set_title(title);
    }
}

/// A random seed from `Math.random`.
pub fn random_seed() -> u64 {
    (js_sys::Math::random() * 1e9) as u64
}

/// Copies `text` to the clipboard; `done` hears whether it worked.
pub fn copy_text(text: &str, done: Callback<bool>) {
    let nav = window().navigator();
    let write = js_sys::Reflect::get(&nav, &"clipboard".into())
        .ok()
        .filter(|c| !c.is_undefined())
        .and_then(|clip| {
            let f = js_sys::Reflect::get(&clip, &"writeText".into()).ok()?;
            let f: js_sys::Function = f.dyn_into().ok()?;
            f.call1(&clip, &text.into()).ok()
        })
        .and_then(|p| p.dyn_into::<js_sys::Promise>().ok());
    match write {
        Some(promise) => {
            let ok = done.clone();
            let on_ok = Closure::<dyn FnMut(JsValue)>::once(move |_: JsValue| ok.emit(true));
            let on_err = Closure::<dyn FnMut(JsValue)>::once(move |_: JsValue| done.emit(false));
            let _ = promise.then2(&on_ok, &on_err);
            // One of the two runs, once; both live until then (a few bytes per copy).
            on_ok.forget();
            on_err.forget();
        }
        None => done.emit(false),
    }
}
