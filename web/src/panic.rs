//! A panic in the wasm is a bug, but the reader should see what happened rather than a frozen
//! page: the hook writes the message into the overlay `index.html` holds (`#panic`), with a
//! link that starts over and a button that reloads the run from the address. It also stops the
//! animation loop, since the component's state can no longer be trusted.

use crate::i18n::{Lang, T};
use std::sync::atomic::{AtomicBool, Ordering};

static PANICKED: AtomicBool = AtomicBool::new(false);

/// Installs the hook (through yew, which would otherwise put its own in place at first render).
pub fn install() {
    yew::set_custom_panic_hook(Box::new(|info| {
        PANICKED.store(true, Ordering::SeqCst);
        let message = info.to_string();
        web_sys::console::error_1(&format!("zk playground panicked: {message}").into());
        show(&message);
    }));
}

/// Has the app panicked? (The animation loop stops then.)
pub fn panicked() -> bool {
    PANICKED.load(Ordering::SeqCst)
}

fn show(message: &str) {
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let lang = Lang::current();
    let set = |id: &str, text: &str| {
        if let Some(el) = doc.get_element_by_id(id) {
            el.set_text_content(Some(text));
        }
    };
    set("panic-title", lang.t(T::PanicTitle));
    set("panic-message", message);
    set("panic-hint", lang.t(T::PanicHint));
    set("panic-reset", lang.t(T::PanicReset));
    set("panic-reload", lang.t(T::PanicReload));
    if let Some(el) = doc.get_element_by_id("panic") {
        let _ = el.remove_attribute("hidden");
    }
}
