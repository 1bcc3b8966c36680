//! Whether an SVG is inert: no script, no event handler, nothing fetched from outside itself.
//! The check reads the lowercased text rather than parsing XML, and errs on the side of refusing.

/// `Ok` when the SVG holds nothing active or external, else what it holds.
pub(super) fn check(bytes: &[u8]) -> Result<(), &'static str> {
    let text = String::from_utf8_lossy(bytes).to_lowercase();
    const FORBIDDEN: &[(&str, &str)] = &[
        ("<script", "holds a script"),
        ("<foreignobject", "embeds foreign content (<foreignObject>)"),
        ("<!entity", "declares XML entities"),
        ("javascript:", "holds a javascript: link"),
        ("@import", "imports a stylesheet (@import)"),
        ("<iframe", "embeds a frame"),
        ("<embed", "embeds an object"),
        ("<object", "embeds an object"),
    ];
    if let Some((_, reason)) = FORBIDDEN.iter().find(|(needle, _)| text.contains(needle)) {
        return Err(reason);
    }
    if has_event_handler(&text) {
        return Err("has an event-handler attribute (on…=)");
    }
    for attribute in ["href", "src"] {
        if attribute_values(&text, attribute).any(|value| !is_internal(value)) {
            return Err("refers to something outside itself (href or src)");
        }
    }
    if url_arguments(&text).any(|value| !value.starts_with('#')) {
        return Err("refers to something outside itself (url(…))");
    }
    Ok(())
}

/// A reference that stays inside the file: a fragment, or an inline raster image.
fn is_internal(value: &str) -> bool {
    value.starts_with('#')
        || ["png", "jpeg", "gif", "webp"]
            .iter()
            .any(|kind| value.starts_with(&format!("data:image/{kind};base64,")))
}

/// An attribute `on<letters>` followed by `=`, starting a word (after whitespace, `/`, or a
/// quote closing the previous attribute).
fn has_event_handler(text: &str) -> bool {
    let bytes = text.as_bytes();
    text.match_indices("on").any(|(at, _)| {
        let starts_word = at > 0
            && matches!(
                bytes[at - 1],
                b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' | b'/' | b'"' | b'\''
            );
        if !starts_word {
            return false;
        }
        let rest = &bytes[at + 2..];
        let letters = rest.iter().take_while(|b| b.is_ascii_alphabetic()).count();
        letters > 0
            && rest[letters..]
                .iter()
                .find(|b| !b.is_ascii_whitespace())
                .is_some_and(|b| *b == b'=')
    })
}

/// The values of every `name = "value"` (or `'value'`, or unquoted) in the text, where `name`
/// ends the attribute name (so `xlink:href` is found as `href`).
fn attribute_values<'a>(text: &'a str, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    text.match_indices(name).filter_map(move |(at, _)| {
        let rest = text[at + name.len()..].trim_start();
        let rest = rest.strip_prefix('=')?.trim_start();
        Some(quoted_or_bare(rest))
    })
}

/// The arguments of every `url(…)`, quotes stripped.
fn url_arguments(text: &str) -> impl Iterator<Item = &str> {
    text.match_indices("url(").map(move |(at, _)| {
        let rest = text[at + 4..].trim_start();
        quoted_or_bare(rest).trim()
    })
}

fn quoted_or_bare(rest: &str) -> &str {
    match rest.chars().next() {
        Some(quote @ ('"' | '\'')) => {
            let inner = &rest[1..];
            &inner[..inner.find(quote).unwrap_or(inner.len())]
        }
        _ => {
            let end = rest
                .find(|c: char| c.is_whitespace() || matches!(c, '>' | ')' | '/'))
                .unwrap_or(rest.len());
            &rest[..end]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    const SAFE: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">
        <defs><linearGradient id="g"/></defs>
        <rect fill="url(#g)" width="10" height="10"/><use xlink:href="#g"/>
        <text font-family="Montserrat">Once daily</text></svg>"##;

    #[test]
    fn an_inert_svg_passes() {
        assert_eq!(check(SAFE.as_bytes()), Ok(()));
    }

    #[test]
    fn active_or_external_svg_is_refused() {
        let refused = [
            (r#"<svg><script>alert(1)</script></svg>"#, "holds a script"),
            (r#"<svg onload="alert(1)"/>"#, "event-handler"),
            (r#"<svg><rect ONCLICK = "x()"/></svg>"#, "event-handler"),
            (
                r#"<svg><a href="javascript:x()">a</a></svg>"#,
                "javascript:",
            ),
            (
                r#"<svg><image href="https://tracker.example/p.png"/></svg>"#,
                "outside",
            ),
            (r#"<svg><use xlink:href='other.svg#a'/></svg>"#, "outside"),
            (
                r#"<svg><rect fill="url(https://x.example/f)"/></svg>"#,
                "url(",
            ),
            (
                r#"<svg><foreignObject><div/></foreignObject></svg>"#,
                "foreign",
            ),
            (r#"<!DOCTYPE svg [<!ENTITY x "y">]><svg/>"#, "entities"),
        ];
        for (svg, reason) in refused {
            let err = check(svg.as_bytes()).expect_err(svg);
            assert!(err.contains(reason), "{svg}: {err}");
        }
    }

    #[test]
    fn words_containing_on_are_not_handlers() {
        let svg = r#"<svg><text class="icon-button" font="condensed">on = off</text></svg>"#;
        assert_eq!(check(svg.as_bytes()), Ok(()));
    }
}
