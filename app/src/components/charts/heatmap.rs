//! The weekday × hour heatmap of agent activity in the tenant's time zone.

use leptos::prelude::*;

use super::{ChartFrame, ChartSvg, ChartTooltip, Pointed};
use crate::components::format::thousands;
use crate::model::analytics::{HeatmapData, WEEKDAY_NAMES};

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const CELL_W: f64 = 26.0;
const CELL_H: f64 = 24.0;
const HEAT_LEFT: f64 = 40.0;
const HEAT_TOP: f64 = 22.0;
const WIDTH: f64 = HEAT_LEFT + 24.0 * CELL_W;
const HEIGHT: f64 = HEAT_TOP + 7.0 * CELL_H;

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

/// The heatmap's axis labels and 168 cells as SVG markup. Written as one
/// string, not a view per cell: it is most of the Analytics page, and the
/// cells need no reactive parts (the island listens on the chart's frame).
/// The cell's `<title>` is its accessible name and, without JavaScript, its
/// tooltip. Cells come weekday by weekday, hour by hour: a cell's place
/// among them is its weekday and hour. Its size and corners are in the
/// style sheet (`.heat-cell`), not repeated 168 times; only the first cell
/// is a tab stop (the island gives the others a `tabindex` when the arrow
/// keys reach them). Every value here is ours (numbers and fixed names): no
/// escaping.
pub fn heat_markup(cells: &[Vec<u64>], max: u64) -> String {
    use std::fmt::Write;
    let mut svg = String::with_capacity(32 * 1024);
    for h in (0..24).step_by(3) {
        let x = (HEAT_LEFT + h as f64 * CELL_W + CELL_W / 2.0) as i64;
        let _ = write!(
            svg,
            r#"<text class="axis" x="{x}" y="14" text-anchor="middle">{h:02}</text>"#
        );
    }
    for (d, hours) in cells.iter().enumerate().take(7) {
        let y = (HEAT_TOP + d as f64 * CELL_H + CELL_H / 2.0) as i64;
        let _ = write!(
            svg,
            r#"<text class="axis" x="{}" y="{y}" text-anchor="end" dominant-baseline="middle">{}</text>"#,
            (HEAT_LEFT - 8.0) as i64,
            DAYS[d]
        );
        for (h, &count) in hours.iter().enumerate().take(24) {
            let _ = write!(
                svg,
                r#"<rect class="heat-cell heat-{level}" x="{x}" y="{y}"{tab} role="img" data-count="{count}"><title>{text}</title></rect>"#,
                level = heat_level(count, max),
                x = (HEAT_LEFT + h as f64 * CELL_W + 1.0) as i64,
                y = (HEAT_TOP + d as f64 * CELL_H + 1.0) as i64,
                tab = if d == 0 && h == 0 {
                    r#" tabindex="0""#
                } else {
                    ""
                },
                text = heat_cell_text(d, h, count),
            );
        }
    }
    svg
}

/// The heatmap as SVG, its legend and zone, around its island.
#[component]
pub fn ActivityHeatmap(heatmap: HeatmapData) -> impl IntoView {
    let max = heatmap.cells.iter().flatten().copied().max().unwrap_or(0);
    let legend = heat_legend(max)
        .into_iter()
        .map(|(level, text)| {
            view! {
                <li>
                    <span class=format!("swatch heat-{level}") aria-hidden="true"></span>
                    {text}
                </li>
            }
        })
        .collect_view();
    view! {
        <div class="chart heatmap-chart">
            <HeatmapInteractions>
                <ChartSvg
                    panel="heatmap"
                    class="chart-svg heatmap-svg"
                    size=(WIDTH, HEIGHT)
                    testid="heatmap"
                >
                    <g inner_html=heat_markup(&heatmap.cells, max)></g>
                </ChartSvg>
            </HeatmapInteractions>
            <ul class="heat-legend" aria-label="Requests per hour, by colour">
                <li class="legend-caption">"Requests per hour:"</li>
                {legend}
            </ul>
            <p class="chart-note">
                "Times in "<strong data-testid="heatmap-zone">{heatmap.zone}</strong>
            </p>
        </div>
    }
}

/// The heatmap's interactive layer: the tooltip and arrow keys over its
/// cells, whose weekday and hour are their place in the markup.
#[island]
pub fn HeatmapInteractions(children: Children) -> impl IntoView {
    let active = RwSignal::new(None::<Pointed>);
    let tooltip = move || {
        active.get().map(|p| {
            let (d, h) = (p.index / 24 % 7, p.index % 24);
            view! {
                <ChartTooltip at=p.at>
                    <strong>{thousands(p.count)}" requests"</strong>
                    <span>
                        {format!("{} {h:02}:00–{:02}:00", WEEKDAY_NAMES[d], (h + 1) % 24)}
                    </span>
                </ChartTooltip>
            }
        })
    };
    view! {
        <ChartFrame active selector=".heat-cell" row=24 tooltip>
            {children()}
        </ChartFrame>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_markup_has_every_cell_with_one_tab_stop() {
        let mut cells = vec![vec![0u64; 24]; 7];
        cells[2][18] = 42;
        let svg = heat_markup(&cells, 42);
        assert_eq!(svg.matches("<rect ").count(), 168);
        assert_eq!(svg.matches("tabindex").count(), 1);
        assert!(svg.contains(r#"<rect class="heat-cell heat-0" x="41" y="23" tabindex="0""#));
        // Weekday by weekday, hour by hour: the 67th cell is Tuesday 18:00.
        let tuesday_18 = svg.split("<rect ").nth(67).unwrap();
        assert_eq!(
            tuesday_18,
            r#"class="heat-cell heat-5" x="509" y="71" role="img" data-count="42"><title>Tuesday 18:00–19:00: 42 requests</title></rect>"#
        );
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
