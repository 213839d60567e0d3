//! The Analytics charts: SVG rendered on the server (in the first HTML, with
//! native `<title>` tooltips, so they work without JavaScript). Each chart is
//! the server-rendered child of a small island that adds the styled tooltip,
//! keyboard navigation and (trend) the comparison toggle. The islands carry
//! no chart data: what a tooltip shows is read from the point's markup, so
//! the data is not in the page twice and the chart code stays out of the
//! wasm. The lazy loader (`islands::LazyIslandScripts`) fetches the wasm only
//! when a chart scrolls into view or is first touched.
//!
//! Both charts share one keyboard model (a roving tab stop) and one tooltip.

mod heatmap;
mod trend;

pub use heatmap::{heat_cell_text, heat_legend, heat_level, ActivityHeatmap};
pub use trend::{nice_max, TrendChart};

use leptos::prelude::*;

/// Arrow keys move along a roving tab stop: one Tab enters the chart, arrows
/// walk its `len` points (those matching `selector`, in document order),
/// `row` points to a row.
fn roving_focus(
    focus: RwSignal<usize>,
    len: usize,
    row: isize,
    selector: &'static str,
) -> impl Fn(leptos::ev::KeyboardEvent) + Clone + 'static {
    move |ev: leptos::ev::KeyboardEvent| {
        let step = match ev.key().as_str() {
            "ArrowRight" => 1,
            "ArrowLeft" => -1,
            "ArrowDown" => row,
            "ArrowUp" => -row,
            _ => return,
        };
        ev.prevent_default();
        let next = (focus.get_untracked() as isize + step).clamp(0, len as isize - 1) as usize;
        focus.set(next);
        #[cfg(feature = "hydrate")]
        if let Some(point) = dom::target(&ev).and_then(|el| dom::nth_point(&el, selector, next)) {
            dom::focus(&point);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = selector;
    }
}

/// A chart point an event happened on (matching `selector`), as its markup
/// describes it. Points are plain markup without ids (168 of them would
/// weigh on every page), so the island listens on their container, finds
/// the point's place among its chart's points and reads its attributes.
#[derive(Clone, Debug, PartialEq)]
struct Pointed {
    /// Its place among the chart's points, in document order.
    index: usize,
    /// `data-count`
    count: u64,
    /// `data-label`, where the chart's own geometry cannot name the point.
    label: String,
    /// `data-previous`: the same point of the previous period, if any.
    previous: Option<String>,
}

fn pointed(ev: &leptos::ev::Event, selector: &str) -> Option<Pointed> {
    #[cfg(feature = "hydrate")]
    {
        let point = dom::target(ev)?.closest(selector).ok()??;
        Some(Pointed {
            index: dom::index_of(&point, selector)?,
            count: point.get_attribute("data-count")?.parse().ok()?,
            label: point.get_attribute("data-label").unwrap_or_default(),
            previous: point.get_attribute("data-previous"),
        })
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (ev, selector);
        None
    }
}

/// The charts' few DOM operations. The points carry no `tabindex` until
/// the keyboard reaches them: only the chart's tab stop has one (`0`) in
/// the markup.
#[cfg(feature = "hydrate")]
mod dom {
    use leptos::wasm_bindgen::JsCast;
    use web_sys::{Element, NodeList};

    pub fn target(ev: &leptos::ev::Event) -> Option<Element> {
        ev.target()?.dyn_into::<Element>().ok()
    }

    /// The points of the chart `inside` belongs to, in document order.
    fn points(inside: &Element, selector: &str) -> Option<NodeList> {
        inside
            .closest(".chart-frame")
            .ok()??
            .query_selector_all(selector)
            .ok()
    }

    pub fn index_of(point: &Element, selector: &str) -> Option<usize> {
        let list = points(point, selector)?;
        (0..list.length())
            .find(|&i| point.is_same_node(list.get(i).as_ref()))
            .map(|i| i as usize)
    }

    pub fn nth_point(inside: &Element, selector: &str, n: usize) -> Option<Element> {
        points(inside, selector)?.get(n as u32)?.dyn_into().ok()
    }

    pub fn focus(point: &Element) {
        if !point.has_attribute("tabindex") {
            let _ = point.set_attribute("tabindex", "-1");
        }
        if let Some(svg) = point.dyn_ref::<web_sys::SvgElement>() {
            let _ = svg.focus();
        }
    }

    /// Makes the focused point its chart's one tab stop (roving tabindex).
    pub fn make_tab_stop(point: &Element) {
        if let Some(Ok(stops)) = point
            .closest(".chart-frame")
            .ok()
            .flatten()
            .map(|frame| frame.query_selector_all(r#"[tabindex="0"]"#))
        {
            for i in 0..stops.length() {
                if let Some(stop) = stops.get(i).and_then(|n| n.dyn_into::<Element>().ok()) {
                    let _ = stop.set_attribute("tabindex", "-1");
                }
            }
        }
        let _ = point.set_attribute("tabindex", "0");
    }
}

/// The box around a chart's server-rendered markup, inside its island:
/// hovering or focusing a point (matching `selector`) makes it `active`;
/// arrow keys walk the `len` points, `row` to a row, from `first_focus`.
/// The tooltip is drawn over the chart, in this box.
#[component]
fn ChartFrame(
    active: RwSignal<Option<Pointed>>,
    selector: &'static str,
    len: usize,
    row: usize,
    first_focus: usize,
    tooltip: AnyView,
    children: Children,
) -> impl IntoView {
    let focus = RwSignal::new(first_focus);
    view! {
        <div
            class="chart-frame"
            on:keydown=roving_focus(focus, len, row as isize, selector)
            on:mouseover=move |ev| active.set(pointed(&ev, selector))
            on:mouseleave=move |_| active.set(None)
            on:focusin=move |ev| {
                if let Some(point) = pointed(&ev, selector) {
                    #[cfg(feature = "hydrate")]
                    if let Some(el) = dom::target(&ev) {
                        dom::make_tab_stop(&el);
                    }
                    focus.set(point.index);
                    active.set(Some(point));
                }
            }
            on:focusout=move |_| active.set(None)
        >
            {children()}
            {tooltip}
        </div>
    }
}

/// The styled tooltip over a chart, placed at `at`: a point's position in
/// chart units within a chart of `size`.
#[component]
fn ChartTooltip(at: (f64, f64), size: (f64, f64), children: Children) -> impl IntoView {
    // Whole tenths of a percent, written as integers: formatting floats
    // would bring some 10 kB of float printing into the islands' wasm.
    let tenths = |v: f64, of: f64| {
        let t = (v / of * 1000.0).round().max(0.0) as u32;
        format!("{}.{}%", t / 10, t % 10)
    };
    view! {
        <div
            class="chart-tooltip"
            role="status"
            style=format!("left: {}; top: {}", tenths(at.0, size.0), tenths(at.1, size.1))
        >
            {children()}
        </div>
    }
}

/// A chart with its heading, a summary for screen readers and the same
/// numbers as a table: shown when `table` is given (the URL asked for it),
/// else a "View as table" link to `table_href`. The tables stay out of the
/// first HTML of the page, yet reachable without JavaScript. `id` names the
/// heading (`{id}-title`), the summary (`{id}-summary`) the chart points at,
/// and the table's place (`{id}-table`).
#[component]
pub fn ChartPanel(
    id: &'static str,
    title: &'static str,
    summary: String,
    table: Option<AnyView>,
    table_href: String,
    children: Children,
) -> impl IntoView {
    let table = match table {
        Some(table) => view! {
            <div class="chart-table" id=format!("{id}-table")>
                {table}
                <a href=table_href>"Hide table"</a>
            </div>
        }
        .into_any(),
        None => view! {
            <p class="chart-table">
                <a href=table_href>"View as table"</a>
            </p>
        }
        .into_any(),
    };
    view! {
        <section class="panel">
            <h2 id=format!("{id}-title")>{title}</h2>
            <p id=format!("{id}-summary") class="visually-hidden">
                {summary}
            </p>
            {children()}
            {table}
        </section>
    }
}
