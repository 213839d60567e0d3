//! The browser entry point: hydrates the islands of `app` (and nothing else).

// Nothing here names an item of `app`, but its islands' exports must be linked.
extern crate app;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
}
