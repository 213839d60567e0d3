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

/// Arrow keys move the focus along a chart's points (those matching
/// `selector`, in document order), `row` points to a row.
fn roving_focus(
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
        #[cfg(feature = "hydrate")]
        if let Some(point) = dom::target(&ev).and_then(|el| dom::step(&el, selector, step)) {
            dom::focus(&point);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (selector, step);
    }
}

/// A chart point an event happened on (matching `selector`), as its markup
/// describes it. Points are plain markup without ids (168 of them would
/// weigh on every page), so the island listens on their container, finds
/// the point's place among its chart's points and reads its attributes:
/// the islands take no props, so no chart data is in the page twice.
#[derive(Clone, Debug, PartialEq)]
struct Pointed {
    /// Its place among the chart's points, in document order.
    index: usize,
    /// `data-count`
    count: u64,
    /// `data-label`, where the chart's own geometry cannot name the point.
    label: String,
    /// `data-previous`: the same point of the previous period, while the
    /// chart compares with it (its `.comparing` class).
    previous: Option<String>,
    /// Where the tooltip points: the top centre of the point, in thousandths
    /// of its frame's width and height.
    at: (u32, u32),
}

fn pointed(ev: &leptos::ev::Event, selector: &str) -> Option<Pointed> {
    #[cfg(feature = "hydrate")]
    {
        let point = dom::target(ev)?.closest(selector).ok()??;
        let comparing = point.closest(".comparing").ok().flatten().is_some();
        Some(Pointed {
            index: dom::index_of(&point, selector)?,
            count: point.get_attribute("data-count")?.parse().ok()?,
            label: point.get_attribute("data-label").unwrap_or_default(),
            previous: point.get_attribute("data-previous").filter(|_| comparing),
            at: dom::anchor(&point)?,
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

    /// The point `step` places from `point` (focused), kept within its chart.
    pub fn step(point: &Element, selector: &str, step: isize) -> Option<Element> {
        let list = points(point, selector)?;
        let here = index_of(point, selector)? as isize;
        let next = (here + step).clamp(0, list.length() as isize - 1);
        list.get(next as u32)?.dyn_into().ok()
    }

    /// The top centre of `point` in thousandths of its frame's size: read
    /// from the layout, so no chart geometry is needed here (and no float
    /// is ever printed: that would bring some 10 kB into the wasm).
    pub fn anchor(point: &Element) -> Option<(u32, u32)> {
        let frame = point
            .closest(".chart-frame")
            .ok()??
            .get_bounding_client_rect();
        let p = point.get_bounding_client_rect();
        let share = |v: f64, of: f64| (v / of * 1000.0).round().max(0.0) as u32;
        Some((
            share(p.left() + p.width() / 2.0 - frame.left(), frame.width()),
            share(p.top() - frame.top(), frame.height()),
        ))
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
/// arrow keys walk the points, `row` to a row. The `tooltip` of the active
/// point is drawn over the chart, in this box.
///
/// The keyboard's point keeps its tooltip whatever the pointer did before:
/// focusing a point scrolls it into view, the page moves under a pointer
/// that stands still, and the browser tells the chart that the pointer left
/// it or is over something else. Until the pointer really moves, such
/// events are the page's doing, not the person's, and are ignored; once the
/// pointer leaves a point, the focused point's tooltip comes back.
#[component]
fn ChartFrame<T: IntoView + 'static>(
    active: RwSignal<Option<Pointed>>,
    selector: &'static str,
    row: usize,
    tooltip: T,
    children: Children,
) -> impl IntoView {
    let focused = StoredValue::new(None::<Pointed>);
    // Where the pointer last moved, and where it stood when the keyboard
    // took over (while it stands there).
    let pointer = StoredValue::new(None::<(i32, i32)>);
    let parked = StoredValue::new(None::<(i32, i32)>);
    let at = |ev: &leptos::ev::MouseEvent| (ev.client_x(), ev.client_y());
    let show = move |hovered: Option<Pointed>| active.set(hovered.or_else(|| focused.get_value()));
    let hover = move |ev: &leptos::ev::MouseEvent, hovered: Option<Pointed>| {
        if parked.get_value() == Some(at(ev)) {
            return;
        }
        parked.set_value(None);
        show(hovered);
    };
    view! {
        <div
            class="chart-frame"
            on:keydown=roving_focus(row as isize, selector)
            on:mousemove=move |ev| {
                let here = at(&ev);
                pointer.set_value(Some(here));
                if parked.get_value().is_some_and(|p| p != here) {
                    parked.set_value(None);
                    show(pointed(&ev, selector));
                }
            }
            on:mouseover=move |ev| hover(&ev, pointed(&ev, selector))
            on:mouseleave=move |ev| hover(&ev, None)
            on:focusin=move |ev| {
                if let Some(point) = pointed(&ev, selector) {
                    #[cfg(feature = "hydrate")]
                    if let Some(el) = dom::target(&ev) {
                        dom::make_tab_stop(&el);
                    }
                    parked.set_value(pointer.get_value());
                    focused.set_value(Some(point.clone()));
                    active.set(Some(point));
                }
            }
            on:focusout=move |_| {
                let was = focused.get_value();
                focused.set_value(None);
                if active.get_untracked() == was {
                    active.set(None);
                }
            }
        >
            {children()}
            {tooltip}
        </div>
    }
}

/// A chart's `<svg>`, sized by its `viewBox` (`size`, so nothing shifts while
/// the page loads) and named by its panel's heading and summary
/// (`{panel}-title`, `{panel}-summary`, see [`ChartPanel`]).
#[component]
fn ChartSvg(
    panel: &'static str,
    class: &'static str,
    size: (f64, f64),
    testid: &'static str,
    children: Children,
) -> impl IntoView {
    view! {
        <svg
            class=class
            viewBox=format!("0 0 {} {}", size.0, size.1)
            role="group"
            aria-labelledby=format!("{panel}-title")
            aria-describedby=format!("{panel}-summary")
            data-testid=testid
        >
            {children()}
        </svg>
    }
}

/// The styled tooltip over a chart, placed `at` (thousandths of the frame).
#[component]
fn ChartTooltip(at: (u32, u32), children: Children) -> impl IntoView {
    // Written as integers: printing floats would bring some 10 kB into the
    // islands' wasm.
    let percent = |t: u32| format!("{}.{}%", t / 10, t % 10);
    view! {
        <div
            class="chart-tooltip"
            role="status"
            style=format!("left: {}; top: {}", percent(at.0), percent(at.1))
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
