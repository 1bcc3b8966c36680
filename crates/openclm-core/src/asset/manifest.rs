//! A presentation's slides in order: read from `manifest.json` at the package's root, or, when
//! there is none, one slide per top-level HTML file in name order.
//!
//! ```json
//! {"slides": [{"id": "efficacy", "title": "Efficacy", "file": "efficacy.html",
//!              "key_messages": ["52-week remission"]}]}
//! ```

use serde::{Deserialize, Serialize};

use super::{Limits, MediaType, PackageFile};

/// Where a package's manifest is, if it has one.
pub const MANIFEST_PATH: &str = "manifest.json";

const MAX_ID_CHARS: usize = 64;
const MAX_TEXT_CHARS: usize = 300;
const MAX_KEY_MESSAGES: usize = 50;

/// The slides of a presentation, in the order they are shown. Its JSON form (fields in this
/// order, no whitespace) is canonical: it is what the package's content hash covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub slides: Vec<Slide>,
}

/// One slide: a stable id (what events name), its title, the HTML file that is the slide, and
/// the key messages it carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slide {
    pub id: String,
    pub title: String,
    pub file: String,
    #[serde(default)]
    pub key_messages: Vec<String>,
}

impl Manifest {
    /// Reads `manifest.json`, refusing repeated keys and unknown fields.
    pub(super) fn parse(bytes: &[u8]) -> Result<Manifest, String> {
        let value = crate::json::from_slice(bytes).map_err(|e| e.to_string())?;
        serde_json::from_value(value).map_err(|e| e.to_string())
    }

    /// One slide per top-level HTML file, in name order, each titled and identified by its name
    /// without the extension (or `slide-N` when that name is not a valid id).
    pub(super) fn from_files(files: &[PackageFile]) -> Manifest {
        let mut pages: Vec<&PackageFile> = files
            .iter()
            .filter(|f| f.media_type == MediaType::Html && !f.path.contains('/'))
            .collect();
        pages.sort_by(|a, b| a.path.cmp(&b.path));
        let mut slides: Vec<Slide> = Vec::with_capacity(pages.len());
        for (n, page) in pages.iter().enumerate() {
            let stem = page.path.rsplit_once('.').map_or(&*page.path, |(s, _)| s);
            let taken = slides.iter().any(|s| s.id == stem);
            let id = if valid_id(stem) && !taken {
                stem.to_owned()
            } else {
                format!("slide-{}", n + 1)
            };
            slides.push(Slide {
                id,
                title: stem.chars().take(MAX_TEXT_CHARS).collect(),
                file: page.path.clone(),
                key_messages: Vec::new(),
            });
        }
        Manifest { slides }
    }

    /// Every slide names an HTML file of the package, ids are unique and well formed, texts are
    /// present and bounded, and there are between 1 and `max_slides` slides.
    pub(super) fn validate(&self, files: &[PackageFile], limits: &Limits) -> Result<(), String> {
        if self.slides.is_empty() {
            return Err("lists no slides (and a package needs at least one HTML slide)".into());
        }
        if self.slides.len() > limits.max_slides {
            return Err(format!(
                "lists {} slides, over the limit of {}",
                self.slides.len(),
                limits.max_slides
            ));
        }
        let mut seen = rustc_hash::FxHashSet::default();
        for (n, slide) in self.slides.iter().enumerate() {
            let at = |reason: &str| format!("slides[{n}]: {reason}");
            if !valid_id(&slide.id) {
                return Err(at("id must be 1 to 64 letters, digits, '-' or '_'"));
            }
            if !seen.insert(slide.id.as_str()) {
                return Err(at("id is used by an earlier slide"));
            }
            if !bounded_text(&slide.title) {
                return Err(at("title must be 1 to 300 characters"));
            }
            if slide.key_messages.len() > MAX_KEY_MESSAGES
                || !slide.key_messages.iter().all(|m| bounded_text(m))
            {
                return Err(at(
                    "key_messages must be at most 50 texts of 1 to 300 characters",
                ));
            }
            match files.iter().find(|f| f.path == slide.file) {
                Some(file) if file.media_type == MediaType::Html => {}
                Some(_) => return Err(at("file is not an HTML file")),
                None => return Err(at("file is not in the package")),
            }
        }
        Ok(())
    }

    /// The canonical JSON the content hash covers.
    pub fn canonical_json(&self) -> Vec<u8> {
        // Serialising a struct of strings cannot fail; an empty answer would still hash apart.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_CHARS
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn bounded_text(text: &str) -> bool {
    !text.trim().is_empty() && text.chars().count() <= MAX_TEXT_CHARS
}
