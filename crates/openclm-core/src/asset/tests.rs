//! Uploads and packages refused for each reason the rules give, and a 10-slide package accepted.

use proptest::prelude::*;

use super::testzip::{RawEntry, deflated_zeros, raw_zip, zip_of};
use super::*;
use crate::FieldError;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\0\x01\0\0\0\x01";
const EXE: &[u8] = b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0This program cannot be run";
const CSS: &[u8] = b"body { font-family: Montserrat; }";
const JS: &[u8] = b"document.body.dataset.ready = 'yes';";
const SVG: &[u8] =
    br##"<svg xmlns="http://www.w3.org/2000/svg"><circle r="4" fill="#0a7"/></svg>"##;

fn slide_html(n: usize) -> Vec<u8> {
    format!(
        "<!DOCTYPE html><html><head><link rel=\"stylesheet\" href=\"css/deck.css\"></head>\
         <body><h1>Slide {n}</h1><img src=\"img/logo.png\"></body></html>"
    )
    .into_bytes()
}

fn manifest_json(slides: usize) -> Vec<u8> {
    let slides: Vec<serde_json::Value> = (1..=slides)
        .map(|n| {
            serde_json::json!({
                "id": format!("s{n:02}"),
                "title": format!("Slide {n}"),
                "file": format!("slides/{n:02}.html"),
                "key_messages": [format!("Message {n}")],
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "slides": slides })).unwrap()
}

/// A 10-slide package: a manifest, the slides in a folder, a stylesheet, a script, images.
fn ten_slides(change_slide_7: bool) -> Vec<u8> {
    let mut owned: Vec<(String, Vec<u8>)> = vec![
        ("manifest.json".into(), manifest_json(10)),
        ("css/deck.css".into(), CSS.to_vec()),
        ("js/deck.js".into(), JS.to_vec()),
        ("img/logo.png".into(), PNG.to_vec()),
        ("img/mark.svg".into(), SVG.to_vec()),
        ("fonts/deck.woff2".into(), b"wOF2\0\x01\0\0rest".to_vec()),
    ];
    for n in 1..=10 {
        let mut html = slide_html(n);
        if change_slide_7 && n == 7 {
            *html.last_mut().unwrap() = b' ';
        }
        owned.push((format!("slides/{n:02}.html"), html));
    }
    let entries: Vec<(&str, &[u8])> = owned
        .iter()
        .map(|(name, bytes)| (name.as_str(), bytes.as_slice()))
        .collect();
    zip_of(&entries)
}

fn problem_of<T: std::fmt::Debug>(result: Result<T, AssetError>) -> (AssetError, Problem) {
    let error = result.expect_err("refused");
    let problem = error.problem().clone();
    (error, problem)
}

// --- The happy path ---------------------------------------------------------------------------

#[test]
fn a_ten_slide_package_is_read_with_its_manifest() {
    let package = check_package(&ten_slides(false), &Limits::default()).unwrap();
    assert_eq!(package.files.len(), 16);
    let paths: Vec<&str> = package.files.iter().map(|f| f.path.as_str()).collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted, "files are in path order");
    let type_of = |path: &str| {
        package
            .files
            .iter()
            .find(|f| f.path == path)
            .map(|f| f.media_type)
    };
    assert_eq!(type_of("css/deck.css"), Some(MediaType::Css));
    assert_eq!(type_of("js/deck.js"), Some(MediaType::Javascript));
    assert_eq!(type_of("img/mark.svg"), Some(MediaType::Svg));
    assert_eq!(type_of("fonts/deck.woff2"), Some(MediaType::Woff2));
    assert_eq!(type_of("slides/03.html"), Some(MediaType::Html));

    let slides = &package.manifest.slides;
    assert_eq!(slides.len(), 10);
    assert_eq!(slides[0].id, "s01");
    assert_eq!(slides[9].file, "slides/10.html");
    assert_eq!(slides[4].title, "Slide 5");
    assert_eq!(slides[4].key_messages, vec!["Message 5".to_owned()]);
    assert_eq!(package.content_hash.len(), 64);
}

#[test]
fn the_content_hash_follows_every_byte_and_nothing_else() {
    let limits = Limits::default();
    let original = check_package(&ten_slides(false), &limits).unwrap();
    let again = check_package(&ten_slides(false), &limits).unwrap();
    assert_eq!(original.content_hash, again.content_hash);

    let changed = check_package(&ten_slides(true), &limits).unwrap();
    assert_ne!(original.content_hash, changed.content_hash);

    // The same files written in another order: the same content, so the same hash.
    let reordered: Vec<(&str, &[u8])> = original
        .files
        .iter()
        .rev()
        .map(|f| (f.path.as_str(), f.bytes.as_slice()))
        .collect();
    let reordered = check_package(&zip_of(&reordered), &limits).unwrap();
    assert_eq!(original.content_hash, reordered.content_hash);
}

#[test]
fn without_a_manifest_each_top_level_page_is_a_slide_in_name_order() {
    let zip = zip_of(&[
        ("b-safety.html", &slide_html(2)),
        ("a-efficacy.html", &slide_html(1)),
        ("c dosing.htm", &slide_html(3)),
        ("appendix/notes.html", &slide_html(4)),
        ("deck.css", CSS),
    ]);
    let package = check_package(&zip, &Limits::default()).unwrap();
    let slides: Vec<(&str, &str)> = package
        .manifest
        .slides
        .iter()
        .map(|s| (s.id.as_str(), s.file.as_str()))
        .collect();
    assert_eq!(
        slides,
        vec![
            ("a-efficacy", "a-efficacy.html"),
            ("b-safety", "b-safety.html"),
            ("slide-3", "c dosing.htm"),
        ]
    );
}

#[test]
fn an_html_fragment_is_a_slide_but_a_page_named_as_a_script_is_not() {
    let zip = zip_of(&[("intro.html", b"<section><h1>Once daily</h1></section>")]);
    let package = check_package(&zip, &Limits::default()).unwrap();
    assert_eq!(package.files[0].media_type, MediaType::Html);
    assert_eq!(package.manifest.slides[0].id, "intro");

    let zip = zip_of(&[("intro.html", &slide_html(1)), ("deck.js", &slide_html(2))]);
    assert_eq!(
        refused_entry(&zip),
        (
            "deck.js".into(),
            Problem::ExtensionMismatch {
                extension: "js".into(),
                media_type: MediaType::Html
            }
        )
    );
}

// --- Single uploads -----------------------------------------------------------------------------

#[test]
fn an_upload_is_accepted_when_content_name_and_declaration_agree() {
    let limits = Limits::default();
    let file = check_file("logo.PNG", "image/png", PNG, &limits).unwrap();
    assert_eq!(file.media_type, MediaType::Png);
    assert_eq!(file.size, PNG.len() as u64);
    assert_eq!(file.sha256.len(), 64);
    let pdf = check_file(
        "leaflet.pdf",
        "Application/PDF; charset=binary",
        b"%PDF-1.7\n",
        &limits,
    );
    assert_eq!(pdf.unwrap().media_type, MediaType::Pdf);
    let jpeg = check_file("a.jpg", "image/jpg", b"\xff\xd8\xff\xe0", &limits);
    assert_eq!(jpeg.unwrap().media_type, MediaType::Jpeg);
}

#[test]
fn an_exe_named_png_is_refused_as_the_executable_it_is() {
    let (error, problem) = problem_of(check_file(
        "chart.png",
        "image/png",
        EXE,
        &Limits::default(),
    ));
    assert_eq!(problem, Problem::Executable(ExecutableKind::WindowsPe));
    let field = FieldError::from(error);
    assert_eq!(field.field, "file");
    assert!(
        field
            .reason
            .starts_with("chart.png is a Windows executable (PE)"),
        "{}",
        field.reason
    );
}

#[test]
fn a_file_past_the_size_limit_is_refused_before_it_is_read() {
    let limits = Limits {
        max_upload_bytes: 1_000,
        ..Limits::default()
    };
    let mut big = PNG.to_vec();
    big.resize(1_001, 0);
    let (_, problem) = problem_of(check_file("big.png", "image/png", &big, &limits));
    assert_eq!(
        problem,
        Problem::TooLarge {
            size: 1_001,
            limit: 1_000
        }
    );
    let (_, problem) = problem_of(check_package(&big, &limits));
    assert_eq!(
        problem,
        Problem::TooLarge {
            size: 1_001,
            limit: 1_000
        }
    );
}

#[test]
fn names_and_declarations_that_disagree_with_the_content_are_refused() {
    let limits = Limits::default();
    let (_, problem) = problem_of(check_file("photo.jpg", "image/jpeg", PNG, &limits));
    assert_eq!(
        problem,
        Problem::ExtensionMismatch {
            extension: "jpg".into(),
            media_type: MediaType::Png
        }
    );
    let (_, problem) = problem_of(check_file("logo.png", "image/gif", PNG, &limits));
    assert!(
        matches!(problem, Problem::DeclaredMismatch { .. }),
        "{problem:?}"
    );
    let (_, problem) = problem_of(check_file("logo", "image/png", PNG, &limits));
    assert_eq!(problem, Problem::NoExtension);
    let (_, problem) = problem_of(check_file("logo.bmp", "image/bmp", PNG, &limits));
    assert_eq!(problem, Problem::UnknownExtension("bmp".into()));
}

#[test]
fn web_types_are_uploads_only_inside_a_package() {
    let limits = Limits::default();
    let (_, problem) = problem_of(check_file(
        "page.html",
        "text/html",
        &slide_html(1),
        &limits,
    ));
    assert_eq!(problem, Problem::NotAnUpload(MediaType::Html));
    let (_, problem) = problem_of(check_file("mark.svg", "image/svg+xml", SVG, &limits));
    assert_eq!(problem, Problem::NotAnUpload(MediaType::Svg));
    let (_, problem) = problem_of(check_file(
        "x.bin",
        "application/octet-stream",
        &[1, 2, 255],
        &limits,
    ));
    assert_eq!(problem, Problem::Unrecognised);
}

// --- Packages: zip-slip and the like ------------------------------------------------------------

fn refused_entry(zip: &[u8]) -> (String, Problem) {
    match check_package(zip, &Limits::default()) {
        Err(AssetError::Entry { path, problem }) => (path, problem),
        other => panic!("expected an entry refused, got {other:?}"),
    }
}

#[test]
fn zip_slip_names_are_refused_naming_the_entry() {
    for (name, reason) in [
        (
            "../../etc/cron.d/evil.html",
            "climbs out of the package ('..')",
        ),
        ("slides/../../evil.html", "climbs out of the package ('..')"),
        ("/var/www/evil.html", "is absolute"),
        ("..\\..\\evil.html", "holds a backslash"),
        ("C:/Windows/evil.html", "names a drive or a stream (':')"),
    ] {
        let zip = raw_zip(&[
            RawEntry::stored("index.html", &slide_html(1)),
            RawEntry::stored(name, b"<html></html>"),
        ]);
        let (path, problem) = refused_entry(&zip);
        assert_eq!(path, name);
        assert_eq!(problem, Problem::UnsafePath(reason));
    }
    let zip = raw_zip(&[RawEntry::stored("a\0.html", b"<html></html>")]);
    let (path, problem) = refused_entry(&zip);
    assert_eq!(
        (path.as_str(), problem),
        ("a\\u{0}.html", Problem::UnsafePath("holds a NUL byte"))
    );
}

#[test]
fn duplicates_symlinks_and_encrypted_entries_are_refused() {
    let zip = raw_zip(&[
        RawEntry::stored("Index.html", &slide_html(1)),
        RawEntry::stored("index.HTML", &slide_html(2)),
    ]);
    assert_eq!(
        refused_entry(&zip),
        ("index.HTML".into(), Problem::Duplicate)
    );

    let zip = raw_zip(&[
        RawEntry::stored("index.html", &slide_html(1)),
        RawEntry::stored("index.html", &slide_html(2)),
    ]);
    let (_, problem) = problem_of(check_package(&zip, &Limits::default()));
    assert!(matches!(problem, Problem::Corrupt(_)), "{problem:?}");

    let link = RawEntry {
        unix_mode: 0o120777,
        ..RawEntry::stored("secrets.html", b"/etc/shadow")
    };
    assert_eq!(
        refused_entry(&raw_zip(&[link])),
        ("secrets.html".into(), Problem::Symlink)
    );

    let locked = RawEntry {
        encrypted: true,
        ..RawEntry::stored("index.html", &slide_html(1))
    };
    assert_eq!(
        refused_entry(&raw_zip(&[locked])),
        ("index.html".into(), Problem::Encrypted)
    );
}

#[test]
fn executables_and_unsafe_svg_inside_a_package_are_refused() {
    let zip = zip_of(&[("index.html", &slide_html(1)), ("img/chart.png", EXE)]);
    let (path, problem) = refused_entry(&zip);
    assert_eq!(path, "img/chart.png");
    assert_eq!(problem, Problem::Executable(ExecutableKind::WindowsPe));

    let zip = zip_of(&[
        ("index.html", &slide_html(1)),
        ("run.js", b"#!/usr/bin/env node\n"),
    ]);
    assert_eq!(
        refused_entry(&zip).1,
        Problem::Executable(ExecutableKind::Script)
    );

    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg" onload="fetch('//x')"/>"#;
    let zip = zip_of(&[("index.html", &slide_html(1)), ("img/a.svg", svg)]);
    let (path, problem) = refused_entry(&zip);
    assert_eq!(path, "img/a.svg");
    assert!(matches!(problem, Problem::UnsafeSvg(_)), "{problem:?}");

    let inner = zip_of(&[("x.html", &slide_html(1))]);
    let zip = zip_of(&[("index.html", &slide_html(1)), ("more.zip", &inner)]);
    assert_eq!(refused_entry(&zip).1, Problem::NotInPackage(MediaType::Zip));
}

// --- Packages: zip bombs ------------------------------------------------------------------------

#[test]
fn a_ten_gigabyte_bomb_is_refused_from_its_directory_without_inflating() {
    // The header declares 10 GiB honestly (ZIP64); the data is a real deflate stream of zeros.
    let ten_gib = 10 * 1024 * 1024 * 1024;
    let zip = raw_zip(&[
        RawEntry::stored("index.html", &slide_html(1)),
        RawEntry::deflated("video.mp4", deflated_zeros(1 << 20), ten_gib),
    ]);
    let (path, problem) = refused_entry(&zip);
    assert_eq!(path, "video.mp4");
    assert!(
        matches!(problem, Problem::RatioTooHigh { limit: 100, .. }),
        "{problem:?}"
    );

    // Below the ratio, but together past the package limit: refused before inflating too.
    let limits = Limits {
        max_package_inflated_bytes: 10 * 1024 * 1024,
        ..Limits::default()
    };
    let entries: Vec<RawEntry> = (0..3)
        .map(|n| RawEntry::deflated(&format!("part{n}.mp4"), vec![0x55; 60_000], 4_000_000))
        .collect();
    let (_, problem) = problem_of(check_package(&raw_zip(&entries), &limits));
    assert_eq!(
        problem,
        Problem::InflatesTooLarge {
            size: 12_000_000,
            limit: 10 * 1024 * 1024
        }
    );
}

#[test]
fn an_honest_bomb_written_by_a_zip_tool_is_refused_by_its_ratio() {
    let zeros = vec![0u8; 4 << 20];
    let zip = zip_of(&[("index.html", &slide_html(1)), ("padding.txt", &zeros)]);
    let (path, problem) = refused_entry(&zip);
    assert_eq!(path, "padding.txt");
    assert!(
        matches!(problem, Problem::RatioTooHigh { .. }),
        "{problem:?}"
    );
}

#[test]
fn a_header_that_lies_about_its_size_is_caught_while_inflating() {
    // Declares 1,000 bytes (a harmless ratio); the stream inflates to 16 MiB, of which at most
    // 1,001 bytes are ever inflated.
    let zip = raw_zip(&[
        RawEntry::stored("index.html", &slide_html(1)),
        RawEntry::deflated("notes.txt", deflated_zeros(16 << 20), 1_000),
    ]);
    let (path, problem) = refused_entry(&zip);
    assert_eq!(path, "notes.txt");
    assert_eq!(problem, Problem::InflatesPastDeclared { declared: 1_000 });
}

#[test]
fn entries_that_share_their_bytes_are_refused() {
    let html = slide_html(1);
    let mut zip = raw_zip(&[
        RawEntry::stored("a.html", &html),
        RawEntry::stored("b.html", &html),
    ]);
    assert!(check_package(&zip, &Limits::default()).is_ok());
    // Point the second central-directory entry at the first entry's local header.
    let second = zip
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == b"PK\x01\x02")
        .nth(1)
        .map(|(at, _)| at)
        .unwrap();
    zip[second + 42..second + 46].copy_from_slice(&0u32.to_le_bytes());
    let (_, problem) = problem_of(check_package(&zip, &Limits::default()));
    assert_eq!(problem, Problem::Overlapping);
}

#[test]
fn too_many_entries_are_refused() {
    let limits = Limits {
        max_entries: 3,
        ..Limits::default()
    };
    let zip = zip_of(&[
        ("a.html", &slide_html(1)),
        ("b.html", &slide_html(2)),
        ("c.html", &slide_html(3)),
        ("d.html", &slide_html(4)),
    ]);
    let (_, problem) = problem_of(check_package(&zip, &limits));
    assert_eq!(problem, Problem::TooManyEntries { count: 4, limit: 3 });
}

#[test]
fn what_is_not_a_zip_is_refused_as_such() {
    let limits = Limits::default();
    assert_eq!(problem_of(check_package(PNG, &limits)).1, Problem::NotAZip);
    let (_, problem) = problem_of(check_package(b"PK\x03\x04 and then nothing", &limits));
    assert!(matches!(problem, Problem::Corrupt(_)), "{problem:?}");
    let zip = zip_of(&[("css/deck.css", CSS)]);
    let (error, problem) = problem_of(check_package(&zip, &limits));
    assert!(matches!(problem, Problem::Manifest(_)), "{problem:?}");
    assert_eq!(FieldError::from(error).field, MANIFEST_PATH);
}

// --- Packages: the manifest ---------------------------------------------------------------------

fn manifest_problem(manifest: &str, limits: &Limits) -> String {
    let zip = zip_of(&[
        ("manifest.json", manifest.as_bytes()),
        ("a.html", &slide_html(1)),
        ("b.html", &slide_html(2)),
        ("deck.css", CSS),
    ]);
    match check_package(&zip, limits) {
        Err(AssetError::Entry {
            path,
            problem: Problem::Manifest(reason),
        }) if path == MANIFEST_PATH => reason,
        other => panic!("expected the manifest refused, got {other:?}"),
    }
}

#[test]
fn a_manifest_that_does_not_match_the_package_is_refused() {
    let limits = Limits::default();
    let slide = |id: &str, file: &str| format!(r#"{{"id":"{id}","title":"T","file":"{file}"}}"#);
    let of = |slides: &[String]| format!(r#"{{"slides":[{}]}}"#, slides.join(","));

    let missing = manifest_problem(&of(&[slide("a", "a.html"), slide("c", "c.html")]), &limits);
    assert_eq!(missing, "slides[1]: file is not in the package");
    let twice = manifest_problem(&of(&[slide("a", "a.html"), slide("a", "b.html")]), &limits);
    assert_eq!(twice, "slides[1]: id is used by an earlier slide");
    let not_html = manifest_problem(&of(&[slide("a", "deck.css")]), &limits);
    assert_eq!(not_html, "slides[0]: file is not an HTML file");
    let bad_id = manifest_problem(&of(&[slide("a b", "a.html")]), &limits);
    assert!(bad_id.starts_with("slides[0]: id must be"), "{bad_id}");
    let none = manifest_problem(&of(&[]), &limits);
    assert!(none.starts_with("lists no slides"), "{none}");

    let two = Limits {
        max_slides: 1,
        ..Limits::default()
    };
    let many = manifest_problem(&of(&[slide("a", "a.html"), slide("b", "b.html")]), &two);
    assert_eq!(many, "lists 2 slides, over the limit of 1");

    let unknown = manifest_problem(r#"{"slides":[],"autoplay":true}"#, &limits);
    assert!(unknown.contains("autoplay"), "{unknown}");
    let repeated = manifest_problem(r#"{"slides":[],"slides":[]}"#, &limits);
    assert!(repeated.contains("slides"), "{repeated}");
}

// --- Nothing panics -----------------------------------------------------------------------------

fn arbitrary_zip() -> impl Strategy<Value = Vec<u8>> {
    let name = prop_oneof![
        "[a-z]{1,8}\\.(html|css|js|json|svg|png|txt|exe)",
        "(\\.\\./|/|[a-z]/)?[a-zA-Z0-9._\\\\:/-]{0,12}",
    ];
    let contents = prop_oneof![
        Just(slide_html(1)),
        Just(PNG.to_vec()),
        Just(EXE.to_vec()),
        Just(SVG.to_vec()),
        proptest::collection::vec(any::<u8>(), 0..64),
    ];
    let entries = proptest::collection::vec((name, contents), 0..6);
    let flips = proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4);
    (entries, flips).prop_map(|(entries, flips)| {
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in &entries {
            if writer.start_file(name.as_str(), options).is_ok() {
                std::io::Write::write_all(&mut writer, bytes).unwrap();
            }
        }
        let mut zip = writer.finish().unwrap().into_inner();
        for (at, byte) in flips {
            let at = at.index(zip.len());
            zip[at] = byte;
        }
        zip
    })
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let limits = Limits::default();
        let _ = sniff(&bytes);
        let _ = check_file("x.png", "image/png", &bytes, &limits);
        let mut zip = b"PK\x03\x04".to_vec();
        zip.extend(&bytes);
        let _ = check_package(&zip, &limits).map_err(FieldError::from);
    }

    #[test]
    fn random_zips_never_panic(zip in arbitrary_zip()) {
        let _ = check_package(&zip, &Limits::default()).map_err(|e| e.to_string());
    }
}
