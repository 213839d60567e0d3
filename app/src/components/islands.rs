//! How islands reach the browser.

use leptos::prelude::*;

use crate::model::assets::AssetUrls;

/// Loads the islands' wasm only when one of them scrolls into view or is
/// first pointed at, focused or touched: pages without islands never load
/// it, and the first paint never waits for it. Replaces Leptos'
/// `HydrationScripts`, which fetches the wasm on every page load. The
/// loader is `public/scripts/islands.js`, a cached and precompressed file.
/// `async`: DOMContentLoaded does not wait for it. It still sees every island,
/// because it is placed after them.
#[component]
pub fn LazyIslandScripts() -> impl IntoView {
    // Provided by the document every page renders in.
    let src = expect_context::<AssetUrls>().islands_loader;
    view! { <script type="module" async src=src></script> }
}
