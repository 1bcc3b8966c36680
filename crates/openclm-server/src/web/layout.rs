//! The page shell (navigation by role, the signed-in person, sign-out) and the formatting of
//! numbers and times shared by every page.

use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use openclm_core::Timestamp;
use openclm_core::auth::Action;

use super::{Viewer, secure_headers};

/// The dashboard's sections, in the order of the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nav {
    Overview,
    Campaigns,
    Hcps,
    Content,
    Pv,
    Rep,
    Simulator,
    Audit,
    Deliveries,
}

impl Nav {
    const ALL: [Nav; 9] = [
        Nav::Overview,
        Nav::Campaigns,
        Nav::Hcps,
        Nav::Content,
        Nav::Pv,
        Nav::Rep,
        Nav::Simulator,
        Nav::Audit,
        Nav::Deliveries,
    ];

    fn label(self) -> &'static str {
        match self {
            Nav::Overview => "Overview",
            Nav::Campaigns => "Campaigns",
            Nav::Hcps => "HCPs",
            Nav::Content => "Content",
            Nav::Pv => "PV queue",
            Nav::Rep => "Suggestions",
            Nav::Simulator => "Simulator",
            Nav::Audit => "Audit & privacy",
            Nav::Deliveries => "Deliveries",
        }
    }

    pub fn href(self) -> &'static str {
        match self {
            Nav::Overview => "/",
            Nav::Campaigns => "/campaigns",
            Nav::Hcps => "/hcps",
            Nav::Content => "/content",
            Nav::Pv => "/pv",
            Nav::Rep => "/rep",
            Nav::Simulator => "/simulator",
            Nav::Audit => "/audit",
            Nav::Deliveries => "/deliveries",
        }
    }

    /// Whether the section is any use to the viewer's role (the pages check again).
    pub fn open_to(self, viewer: &Viewer) -> bool {
        match self {
            Nav::Overview | Nav::Simulator => viewer.may(Action::ReadReports),
            Nav::Campaigns => viewer.may(Action::ReadCampaigns),
            Nav::Hcps => viewer.may(Action::ReadHcps),
            Nav::Content => viewer.may(Action::ReadContent),
            Nav::Pv => viewer.may(Action::ReadAeCases),
            Nav::Rep => viewer.may(Action::ReadSuggestions),
            Nav::Audit => viewer.may(Action::ReadAudit) || viewer.may(Action::PrivacyRequests),
            Nav::Deliveries => viewer.may(Action::ReadDeliveries),
        }
    }

    /// Where a person of this role starts: the first section open to them.
    pub fn home(viewer: &Viewer) -> Option<Nav> {
        Nav::ALL.into_iter().find(|n| n.open_to(viewer))
    }
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · OpenCLM" }
            link rel="stylesheet" href="/assets/app.css";
            link rel="icon" href="data:,";
            script src="/assets/app.js" defer {}
        }
    }
}

/// A page without navigation (sign-in, errors).
pub(crate) fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body { (body) }
        }
    }
}

/// A dashboard page: navigation for the viewer's role, the page's own content, and an optional
/// notice of what the last form did.
pub(crate) fn page(
    viewer: &Viewer,
    active: Nav,
    title: &str,
    notice: Option<&str>,
    body: Markup,
) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a class="skip" href="#main" { "Skip to content" }
                header class="top" {
                    a class="brand" href="/" { "OpenCLM" }
                    nav aria-label="Sections" {
                        ul {
                            @for item in Nav::ALL.into_iter().filter(|n| n.open_to(viewer)) {
                                li {
                                    a href=(item.href())
                                        aria-current=[(item == active).then_some("page")] {
                                        (item.label())
                                    }
                                }
                            }
                        }
                    }
                    div class="who" {
                        span data-testid="who" { (viewer.user.display_name) " · " (viewer.caller.role) }
                        form method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(viewer.csrf);
                            button type="submit" class="link" { "Sign out" }
                        }
                    }
                }
                main id="main" {
                    h1 { (title) }
                    @if let Some(notice) = notice {
                        p class="notice" role="status" { (notice) }
                    }
                    (body)
                }
            }
        }
    };
    (secure_headers(), Html(markup.into_string())).into_response()
}

/// A hidden field with the viewer's CSRF token, for every form.
pub(crate) fn csrf(viewer: &Viewer) -> Markup {
    html! { input type="hidden" name="csrf" value=(viewer.csrf); }
}

/// An SVG chart in a figure with its caption; the numbers are also in a table beside it.
pub(crate) fn figure(caption: &str, svg: &str) -> Markup {
    html! {
        figure class="chart" {
            div class="svg" role="img" aria-label=(caption) { (PreEscaped(svg)) }
            figcaption { (caption) }
        }
    }
}

/// A key figure with its label.
pub(crate) fn tile(label: &str, value: &str, id: &str) -> Markup {
    html! {
        div class="tile" {
            div class="value" data-kpi=(id) { (value) }
            div class="label" { (label) }
        }
    }
}

pub(crate) fn pct(x: Option<f64>) -> String {
    match x {
        Some(x) if x.is_finite() => format!("{:.1}%", x * 100.0),
        _ => "–".into(),
    }
}

pub(crate) fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub(crate) fn number(x: Option<f64>, decimals: usize) -> String {
    match x {
        Some(x) if x.is_finite() => format!("{x:.decimals$}"),
        _ => "–".into(),
    }
}

pub(crate) fn money(x: f64) -> String {
    let sign = if x < 0.0 { "−" } else { "" };
    format!("{sign}€{}", count(x.abs().round() as u64))
}

/// A time as people read it: `2026-11-23 16:42 UTC`.
pub(crate) fn when(t: Timestamp) -> String {
    let text = t.to_string();
    match (text.get(..10), text.get(11..16)) {
        (Some(day), Some(time)) => format!("{day} {time} UTC"),
        _ => text,
    }
}

/// An optional time from an API answer's RFC 3339 text.
pub(crate) fn when_text(text: Option<&str>) -> String {
    match text {
        Some(t) => match (t.get(..10), t.get(11..16)) {
            (Some(day), Some(time)) => format!("{day} {time} UTC"),
            _ => t.to_owned(),
        },
        None => "–".into(),
    }
}

/// A span of seconds as `3 h 12 min` (negative: `overdue by …`).
pub(crate) fn time_left(seconds: i64) -> String {
    let s = seconds.unsigned_abs();
    let (h, m) = (s / 3600, (s % 3600) / 60);
    let span = if h > 0 {
        format!("{h} h {m} min")
    } else {
        format!("{m} min")
    };
    if seconds < 0 {
        format!("overdue by {span}")
    } else {
        format!("{span} left")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_as_people_write_them() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(pct(Some(0.1234)), "12.3%");
        assert_eq!(pct(None), "–");
        assert_eq!(pct(Some(f64::NAN)), "–");
        assert_eq!(money(-1234.4), "−€1,234");
        assert_eq!(time_left(3 * 3600 + 12 * 60 + 5), "3 h 12 min left");
        assert_eq!(time_left(-3600), "overdue by 1 h 0 min");
        assert_eq!(
            when(Timestamp::from_millis(1_795_000_000_000)),
            "2026-11-18 11:06 UTC"
        );
    }
}
