//! Charts as SVG, drawn on the server by `plotters`: lines over time, estimates with their
//! intervals, and bars. Each returns the SVG text for a page to embed (and an empty-state note
//! when there is nothing to draw).

use plotters::prelude::*;

const WIDTH: u32 = 640;
const HEIGHT: u32 = 280;

/// Colours distinguishable with the common colour-vision deficiencies (Okabe–Ito).
const PALETTE: [RGBColor; 6] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
];
const INK: RGBColor = RGBColor(33, 37, 41);
const GRID: RGBColor = RGBColor(222, 226, 230);

/// How a value axis reads.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Axis {
    /// Shares, shown as percentages.
    Percent,
    /// Counts and other plain numbers.
    Number,
}

impl Axis {
    fn label(self, v: f64) -> String {
        match self {
            Axis::Percent => format!("{:.0}%", v * 100.0),
            Axis::Number if v.abs() >= 10_000.0 => format!("{:.0}k", v / 1000.0),
            Axis::Number if v.abs() >= 10.0 || v == v.trunc() => format!("{v:.0}"),
            Axis::Number => format!("{v:.1}"),
        }
    }
}

fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut low, mut high) = (0.0_f64, 0.0_f64);
    for v in values.filter(|v| v.is_finite()) {
        low = low.min(v);
        high = high.max(v);
    }
    if high - low < 1e-9 {
        high = low + 1.0;
    }
    let pad = (high - low) * 0.08;
    (if low < 0.0 { low - pad } else { low }, high + pad)
}

/// Draws with `draw` into an SVG string; a drawing error (never expected for valid numbers)
/// leaves a note instead of a chart.
fn svg(
    draw: impl FnOnce(
        DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    ) -> Result<(), Box<dyn std::error::Error + '_>>,
) -> String {
    let mut text = String::new();
    let result = {
        let root = SVGBackend::with_string(&mut text, (WIDTH, HEIGHT)).into_drawing_area();
        draw(root).map_err(|e| e.to_string())
    };
    match result {
        Ok(()) => text,
        Err(e) => {
            tracing::warn!(error = %e, "a chart could not be drawn");
            String::new()
        }
    }
}

/// Lines over the points `labels` (one series per name), with a legend.
pub(crate) fn lines(labels: &[String], series: &[(&str, Vec<f64>)], axis: Axis) -> String {
    if labels.is_empty() || series.iter().all(|(_, v)| v.is_empty()) {
        return String::new();
    }
    let (low, high) = range(series.iter().flat_map(|(_, v)| v.iter().copied()));
    let n = labels.len();
    svg(|root| {
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(48)
            .build_cartesian_2d(0..n.saturating_sub(1).max(1), low..high)?;
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .axis_style(INK)
            .x_labels(n.min(8))
            .x_label_formatter(&|i| labels.get(*i).cloned().unwrap_or_default())
            .y_labels(5)
            .y_label_formatter(&|v| axis.label(*v))
            .label_style(("sans-serif", 12).into_font().color(&INK))
            .draw()?;
        for (i, (name, values)) in series.iter().enumerate() {
            let colour = PALETTE[i % PALETTE.len()];
            let points: Vec<(usize, f64)> = values
                .iter()
                .enumerate()
                .filter(|(_, v)| v.is_finite())
                .map(|(x, v)| (x, *v))
                .collect();
            chart
                .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))?
                .label(*name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2))
                });
            chart.draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 3, colour.filled())),
            )?;
        }
        if series.len() > 1 {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.85))
                .border_style(GRID)
                .label_font(("sans-serif", 12).into_font().color(&INK))
                .draw()?;
        }
        root.present()?;
        Ok(())
    })
}

/// Estimates with their intervals, one per label, around a zero line (lift, ROMI).
pub(crate) fn intervals(items: &[(String, f64, f64, f64)], axis: Axis) -> String {
    if items.is_empty() {
        return String::new();
    }
    let (low, high) = range(items.iter().flat_map(|(_, p, l, h)| [*p, *l, *h]));
    let n = items.len();
    svg(|root| {
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(52)
            .build_cartesian_2d(-1..n as i32, low..high)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .axis_style(INK)
            .x_labels(n + 2)
            .x_label_formatter(&|i| {
                usize::try_from(*i)
                    .ok()
                    .and_then(|i| items.get(i))
                    .map(|(l, ..)| l.clone())
                    .unwrap_or_default()
            })
            .y_labels(6)
            .y_label_formatter(&|v| axis.label(*v))
            .label_style(("sans-serif", 12).into_font().color(&INK))
            .draw()?;
        chart.draw_series(LineSeries::new(
            vec![(-1, 0.0), (n as i32, 0.0)],
            INK.stroke_width(1),
        ))?;
        chart.draw_series(items.iter().enumerate().map(|(i, (_, p, l, h))| {
            ErrorBar::new_vertical(i as i32, *l, *p, *h, PALETTE[0].filled(), 14)
        }))?;
        chart.draw_series(
            items
                .iter()
                .enumerate()
                .map(|(i, (_, p, ..))| Circle::new((i as i32, *p), 5, PALETTE[0].filled())),
        )?;
        root.present()?;
        Ok(())
    })
}

/// One bar per label.
pub(crate) fn bars(items: &[(String, f64)], axis: Axis) -> String {
    if items.is_empty() {
        return String::new();
    }
    let (low, high) = range(items.iter().map(|(_, v)| *v));
    let n = items.len();
    svg(|root| {
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(52)
            .build_cartesian_2d(0..n as i32, low..high)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .axis_style(INK)
            .x_labels(n + 1)
            .x_label_formatter(&|i| {
                usize::try_from(*i)
                    .ok()
                    .and_then(|i| items.get(i))
                    .map(|(l, _)| l.clone())
                    .unwrap_or_default()
            })
            .y_labels(5)
            .y_label_formatter(&|v| axis.label(*v))
            .label_style(("sans-serif", 12).into_font().color(&INK))
            .draw()?;
        chart.draw_series(items.iter().enumerate().map(|(i, (_, v))| {
            let x = i as i32;
            let mut bar = Rectangle::new([(x, 0.0), (x + 1, *v)], PALETTE[0].filled());
            bar.set_margin(0, 0, 8, 8);
            bar
        }))?;
        root.present()?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_svg_without_inline_styles() {
        let labels: Vec<String> = (1..=4).map(|w| format!("W{w}")).collect();
        let line = lines(
            &labels,
            &[
                ("human", vec![0.1, 0.2, 0.15, 0.3]),
                ("machine", vec![0.05; 4]),
            ],
            Axis::Percent,
        );
        let lift = intervals(&[("all arms".into(), 0.04, -0.01, 0.09)], Axis::Percent);
        let bar = bars(
            &[("slide 1".into(), 12.0), ("slide 2".into(), 30.5)],
            Axis::Number,
        );
        for svg in [&line, &lift, &bar] {
            assert!(svg.starts_with("<svg"), "{svg}");
            // The pages forbid inline styles (Content-Security-Policy).
            assert!(!svg.contains("style="), "{svg}");
        }
        assert!(line.contains("W3") && line.contains("machine"));
        assert!(line.contains("30%"));
        assert!(lift.contains("all arms"));
        assert!(bar.contains("slide 2"));
        assert_eq!(lines(&[], &[], Axis::Number), "");
    }
}
