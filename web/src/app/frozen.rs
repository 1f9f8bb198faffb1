//! Panels that redraw at a steady pace rather than on every animation frame.
//!
//! The ensemble's picture moves every frame; the cards, the tree, the log and the other panels
//! change far less often than that can be read, and redrawing them 60 times a second cost more
//! than everything else together (layout and paint of thousands of nodes). So their HTML is
//! built once per *panel version* — bumped by every user input and, while time runs, a few
//! times a second — and [`Frozen`] keeps the DOM as it is until the version moves.

use yew::prelude::*;

#[derive(Properties)]
pub struct FrozenProps {
    pub version: u64,
    #[prop_or_default]
    pub children: Html,
}

impl PartialEq for FrozenProps {
    /// Same version, same content: the children were built from the same state.
    fn eq(&self, other: &Self) -> bool {
        self.version == other.version
    }
}

#[function_component]
pub fn Frozen(props: &FrozenProps) -> Html {
    props.children.clone()
}
