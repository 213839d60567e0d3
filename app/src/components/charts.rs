//! The Analytics charts: SVG rendered on the server (in the first HTML, with
//! native `<title>` tooltips, so they work without JavaScript), hydrated as
//! islands for the styled tooltip, keyboard navigation and the comparison
//! toggle. The lazy loader (`islands::LazyIslandScripts`) fetches their wasm only when
//! a chart scrolls into view or is first touched.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::format::{compact, thousands};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrendPoint {
    /// `2026-11-25`
    pub date: String,
    /// `Wed, Nov 25`
    pub label: String,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrendData {
    /// Oldest first; the last point is today, still counting.
    pub current: Vec<TrendPoint>,
    /// The same number of days just before, aligned by position.
    pub previous: Vec<TrendPoint>,
    pub compare: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeatmapData {
    pub zone: String,
    /// 7 rows (Sunday first) of 24 hours.
    pub cells: Vec<Vec<u64>>,
}

const W: f64 = 720.0;
const H: f64 = 260.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 36.0;

/// A round axis maximum at or above `max`: 1, 2 or 5 times a power of ten.
pub fn nice_max(max: u64) -> u64 {
    if max == 0 {
        return 10;
    }
    let mut step = 1u64;
    loop {
        for m in [1, 2, 5] {
            if step * m >= max {
                return step * m;
            }
        }
        step *= 10;
    }
}

fn x_of(i: usize, n: usize) -> f64 {
    if n <= 1 {
        return LEFT + (W - LEFT - RIGHT) / 2.0;
    }
    LEFT + (W - LEFT - RIGHT) * i as f64 / (n - 1) as f64
}

fn y_of(v: u64, max: u64) -> f64 {
    TOP + (H - TOP - BOTTOM) * (1.0 - v as f64 / max as f64)
}

fn points_attr(points: &[TrendPoint], max: u64, n: usize) -> String {
    points
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{:.1},{:.1}", x_of(i, n), y_of(p.count, max)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn point_text(p: &TrendPoint, today: bool) -> String {
    let partial = if today { " (today, so far)" } else { "" };
    format!("{}{partial}: {} tokens issued", p.label, thousands(p.count))
}

#[cfg(feature = "hydrate")]
fn focus_element(id: &str) {
    use leptos::wasm_bindgen::JsCast;
    if let Some(el) = document()
        .get_element_by_id(id)
        .and_then(|e| e.dyn_into::<web_sys::SvgElement>().ok())
    {
        let _ = el.focus();
    }
}

/// Arrow keys move along a roving tab stop: one Tab enters the chart, arrows
/// walk its points.
fn step_for(key: &str, row: isize) -> Option<isize> {
    match key {
        "ArrowRight" => Some(1),
        "ArrowLeft" => Some(-1),
        "ArrowDown" => Some(row),
        "ArrowUp" => Some(-row),
        _ => None,
    }
}

#[island]
pub fn TrendChart(trend: TrendData, compare_href: String, plain_href: String) -> impl IntoView {
    let n = trend.current.len();
    let compare = RwSignal::new(trend.compare);
    let active = RwSignal::new(None::<usize>);
    let focus = RwSignal::new(n.saturating_sub(1));
    let max = nice_max(
        trend
            .current
            .iter()
            .chain(trend.previous.iter())
            .map(|p| p.count)
            .max()
            .unwrap_or(0),
    );
    let current = trend.current.clone();
    let previous = trend.previous.clone();

    let grid = [0u64, max / 2, max]
        .into_iter()
        .map(|v| {
            let y = format!("{:.1}", y_of(v, max));
            view! {
                <line class="grid" x1=LEFT x2=W - RIGHT y1=y.clone() y2=y.clone()></line>
                <text class="axis" x=LEFT - 8.0 y=y text-anchor="end" dominant-baseline="middle">{compact(v)}</text>
            }
        })
        .collect_view();
    let every = n.div_ceil(6).max(1);
    let x_labels = current
        .iter()
        .enumerate()
        .filter(|(i, _)| (n - 1 - i).is_multiple_of(every))
        .map(|(i, p)| {
            let text = if i + 1 == n { "Today".to_owned() } else { p.label.split(", ").nth(1).unwrap_or(&p.label).to_owned() };
            view! { <text class="axis" x=format!("{:.1}", x_of(i, n)) y=H - 12.0 text-anchor="middle">{text}</text> }
        })
        .collect_view();

    // The finished days as a solid line; today's partial count as a dashed
    // last segment, so a low "today" does not read as a drop.
    let solid = points_attr(&current[..n.saturating_sub(1)], max, n);
    let partial = (n >= 2).then(|| {
        let a = &current[n - 2];
        let b = &current[n - 1];
        view! {
            <line class="trend-partial" x1=format!("{:.1}", x_of(n - 2, n)) y1=format!("{:.1}", y_of(a.count, max))
                x2=format!("{:.1}", x_of(n - 1, n)) y2=format!("{:.1}", y_of(b.count, max))></line>
        }
    });
    let previous_line = points_attr(&previous, max, n);

    let dots = current
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let today = i + 1 == n;
            let text = point_text(p, today);
            let before = previous
                .get(i)
                .map(|q| format!("; {}: {}", q.label, thousands(q.count)));
            let title = format!("{text}{}", before.unwrap_or_default());
            let label = title.clone();
            view! {
                <circle
                    id=format!("trend-pt-{i}")
                    class=if today { "trend-point partial" } else { "trend-point" }
                    cx=format!("{:.1}", x_of(i, n))
                    cy=format!("{:.1}", y_of(p.count, max))
                    r="4"
                    tabindex=move || if focus.get() == i { "0" } else { "-1" }
                    role="img"
                    aria-label=label
                    data-date=p.date.clone()
                    data-count=p.count
                    on:mouseenter=move |_| active.set(Some(i))
                    on:mouseleave=move |_| active.set(None)
                    on:focus=move |_| { focus.set(i); active.set(Some(i)); }
                    on:blur=move |_| active.set(None)
                >
                    <title>{title}</title>
                </circle>
            }
        })
        .collect_view();

    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        if let Some(step) = step_for(&ev.key(), 1) {
            ev.prevent_default();
            let next = (focus.get_untracked() as isize + step).clamp(0, n as isize - 1) as usize;
            focus.set(next);
            #[cfg(feature = "hydrate")]
            focus_element(&format!("trend-pt-{next}"));
        }
    };

    let tip_current = current.clone();
    let tip_previous = previous.clone();
    let tooltip = move || {
        active.get().and_then(|i| {
            let p = tip_current.get(i)?;
            let left = x_of(i, n) / W * 100.0;
            let top = y_of(p.count, max) / H * 100.0;
            let before = compare
                .get()
                .then(|| tip_previous.get(i))
                .flatten()
                .map(|q| view! { <span class="tip-previous">{format!("{}: {}", q.label, thousands(q.count))}</span> });
            Some(view! {
                <div class="chart-tooltip" role="status" style=format!("left: {left:.1}%; top: {top:.1}%")>
                    <strong>{thousands(p.count)}" tokens"</strong>
                    <span>{p.label.clone()}{(i + 1 == n).then_some(" · today, so far")}</span>
                    {before}
                </div>
            })
        })
    };

    let href = {
        let (c, p) = (compare_href.clone(), plain_href.clone());
        move || if compare.get() { p.clone() } else { c.clone() }
    };
    let toggle = move |ev: leptos::ev::MouseEvent| {
        ev.prevent_default();
        compare.update(|c| *c = !*c);
        #[cfg(not(feature = "hydrate"))]
        let _ = (&compare_href, &plain_href);
        #[cfg(feature = "hydrate")]
        {
            let href = if compare.get_untracked() {
                &compare_href
            } else {
                &plain_href
            };
            if let Ok(history) = window().history() {
                let _ = history.replace_state_with_url(
                    &leptos::wasm_bindgen::JsValue::NULL,
                    "",
                    Some(href),
                );
            }
        }
    };

    view! {
        <div class="chart trend-chart">
            <div class="chart-toolbar">
                <ul class="chart-legend">
                    <li><span class="key key-current" aria-hidden="true"></span>"Tokens issued per day"</li>
                    <li class:hidden=move || !compare.get()><span class="key key-previous" aria-hidden="true"></span>"Previous period"</li>
                    <li><span class="key key-partial" aria-hidden="true"></span>"Today (so far)"</li>
                </ul>
                <a class="button button-quiet compare-toggle" href=href role="button"
                    aria-pressed=move || if compare.get() { "true" } else { "false" }
                    data-testid="compare-toggle" on:click=toggle>
                    {move || if compare.get() { "Hide previous period" } else { "Compare with previous period" }}
                </a>
            </div>
            <div class="chart-frame">
                <svg class="chart-svg" viewBox=format!("0 0 {W} {H}") role="group"
                    aria-labelledby="trend-title" aria-describedby="trend-summary"
                    data-testid="trend-chart" on:keydown=on_key>
                    {grid}
                    {x_labels}
                    <polyline class="trend-previous" points=previous_line class:hidden=move || !compare.get()></polyline>
                    <polyline class="trend-line" points=solid></polyline>
                    {partial}
                    {dots}
                </svg>
                {tooltip}
            </div>
        </div>
    }
}

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
pub const WEEKDAY_NAMES: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const CELL_W: f64 = 26.0;
const CELL_H: f64 = 24.0;
const HEAT_LEFT: f64 = 40.0;
const HEAT_TOP: f64 = 22.0;

/// Colour step 0 (none) to 5 (the busiest hour of the range).
pub fn heat_level(count: u64, max: u64) -> usize {
    if count == 0 || max == 0 {
        0
    } else {
        ((count as f64 / max as f64 * 5.0).ceil() as usize).clamp(1, 5)
    }
}

/// The count range each colour step stands for, for the legend.
pub fn heat_legend(max: u64) -> Vec<(usize, String)> {
    let mut out = vec![(0, "0".to_owned())];
    let mut low = 1u64;
    for level in 1..=5u64 {
        let high = (max as f64 * level as f64 / 5.0).floor() as u64;
        if high >= low {
            let text = if high == low {
                thousands(low)
            } else {
                format!("{}–{}", thousands(low), thousands(high))
            };
            out.push((level as usize, text));
            low = high + 1;
        }
    }
    out
}

pub fn heat_cell_text(weekday: usize, hour: usize, count: u64) -> String {
    format!(
        "{} {hour:02}:00–{:02}:00: {} requests",
        WEEKDAY_NAMES[weekday],
        (hour + 1) % 24,
        thousands(count)
    )
}

#[island]
pub fn ActivityHeatmap(heatmap: HeatmapData) -> impl IntoView {
    let max = heatmap.cells.iter().flatten().copied().max().unwrap_or(0);
    let active = RwSignal::new(None::<(usize, usize)>);
    let focus = RwSignal::new(0usize);
    let width = HEAT_LEFT + 24.0 * CELL_W;
    let height = HEAT_TOP + 7.0 * CELL_H;
    let hours = (0..24)
        .step_by(3)
        .map(|h| {
            view! { <text class="axis" x=format!("{:.1}", HEAT_LEFT + h as f64 * CELL_W + CELL_W / 2.0) y="14" text-anchor="middle">{format!("{h:02}")}</text> }
        })
        .collect_view();
    let rows = heatmap
        .cells
        .iter()
        .enumerate()
        .map(|(d, hours)| {
            let label = view! { <text class="axis" x=HEAT_LEFT - 8.0 y=format!("{:.1}", HEAT_TOP + d as f64 * CELL_H + CELL_H / 2.0) text-anchor="end" dominant-baseline="middle">{DAYS[d]}</text> };
            let cells = hours
                .iter()
                .enumerate()
                .map(|(h, &count)| {
                    let i = d * 24 + h;
                    let text = heat_cell_text(d, h, count);
                    let label = text.clone();
                    view! {
                        <rect
                            id=format!("heat-{i}")
                            class=format!("heat-cell heat-{}", heat_level(count, max))
                            x=format!("{:.1}", HEAT_LEFT + h as f64 * CELL_W + 1.0)
                            y=format!("{:.1}", HEAT_TOP + d as f64 * CELL_H + 1.0)
                            width=CELL_W - 2.0
                            height=CELL_H - 2.0
                            rx="3"
                            tabindex=move || if focus.get() == i { "0" } else { "-1" }
                            role="img"
                            aria-label=label
                            data-weekday=d
                            data-hour=h
                            data-count=count
                            on:mouseenter=move |_| active.set(Some((d, h)))
                            on:mouseleave=move |_| active.set(None)
                            on:focus=move |_| { focus.set(i); active.set(Some((d, h))); }
                            on:blur=move |_| active.set(None)
                        >
                            <title>{text}</title>
                        </rect>
                    }
                })
                .collect_view();
            view! { {label}{cells} }
        })
        .collect_view();
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        if let Some(step) = step_for(&ev.key(), 24) {
            ev.prevent_default();
            let next = (focus.get_untracked() as isize + step).clamp(0, 167) as usize;
            focus.set(next);
            #[cfg(feature = "hydrate")]
            focus_element(&format!("heat-{next}"));
        }
    };
    let cells = heatmap.cells.clone();
    let tooltip = move || {
        active.get().map(|(d, h)| {
            let count = cells.get(d).and_then(|r| r.get(h)).copied().unwrap_or(0);
            let left = (HEAT_LEFT + h as f64 * CELL_W + CELL_W / 2.0) / width * 100.0;
            let top = (HEAT_TOP + d as f64 * CELL_H) / height * 100.0;
            view! {
                <div class="chart-tooltip" role="status" style=format!("left: {left:.1}%; top: {top:.1}%")>
                    <strong>{thousands(count)}" requests"</strong>
                    <span>{format!("{} {h:02}:00–{:02}:00", WEEKDAY_NAMES[d], (h + 1) % 24)}</span>
                </div>
            }
        })
    };
    let legend = heat_legend(max)
        .into_iter()
        .map(|(level, text)| view! { <li><span class=format!("swatch heat-{level}") aria-hidden="true"></span>{text}</li> })
        .collect_view();
    view! {
        <div class="chart heatmap-chart">
            <div class="chart-frame">
                <svg class="chart-svg heatmap-svg" viewBox=format!("0 0 {width} {height}") role="group"
                    aria-labelledby="heatmap-title" aria-describedby="heatmap-summary"
                    data-testid="heatmap" on:keydown=on_key>
                    {hours}
                    {rows}
                </svg>
                {tooltip}
            </div>
            <ul class="heat-legend" aria-label="Requests per hour, by colour">
                <li class="legend-caption">"Requests per hour:"</li>
                {legend}
            </ul>
            <p class="chart-note">"Times in "<strong data-testid="heatmap-zone">{heatmap.zone}</strong></p>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_maxima_are_round() {
        assert_eq!(nice_max(0), 10);
        assert_eq!(nice_max(7), 10);
        assert_eq!(nice_max(11), 20);
        assert_eq!(nice_max(180), 200);
        assert_eq!(nice_max(4_900), 5_000);
        assert_eq!(nice_max(5_001), 10_000);
    }

    #[test]
    fn heat_levels_cover_every_count() {
        assert_eq!(heat_level(0, 100), 0);
        assert_eq!(heat_level(1, 100), 1);
        assert_eq!(heat_level(20, 100), 1);
        assert_eq!(heat_level(21, 100), 2);
        assert_eq!(heat_level(100, 100), 5);
        let legend = heat_legend(100);
        assert_eq!(legend[0].1, "0");
        assert_eq!(legend[1].1, "1–20");
        assert_eq!(legend[5].1, "81–100");
        // Few requests: no empty or overlapping steps.
        let legend = heat_legend(2);
        assert_eq!(
            legend.iter().map(|l| l.1.as_str()).collect::<Vec<_>>(),
            ["0", "1", "2"]
        );
    }
}
