//! Browser tests: a real headless Chromium driven over the DevTools protocol, with what a person
//! does on a page (fill, select, click, read) and what they would not see (console errors).
//!
//! Test code: a failed step panics with the selector or URL and what was expected.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chromiumoxide::cdp::browser_protocol::emulation::{
    SetDeviceMetricsOverrideParams, SetTouchEmulationEnabledParams,
};
use chromiumoxide::cdp::browser_protocol::input::InsertTextParams;
use chromiumoxide::cdp::browser_protocol::log::{
    EnableParams as LogEnableParams, EventEntryAdded, LogEntryLevel,
};
use chromiumoxide::cdp::browser_protocol::page::{
    CaptureScreenshotFormat, CaptureScreenshotParams, EventLoadEventFired, Viewport,
};
use chromiumoxide::cdp::browser_protocol::target::{
    CreateBrowserContextParams, CreateTargetParams,
};
use chromiumoxide::cdp::js_protocol::runtime::{
    ConsoleApiCalledType, EnableParams as RuntimeEnableParams, EvaluateParams,
    EventConsoleApiCalled, EventExceptionThrown, RemoteObject, RemoteObjectSubtype,
};
use chromiumoxide::error::CdpError;
use chromiumoxide::listeners::EventStream;
use futures_util::{FutureExt, StreamExt};
use serde_json::Value;

/// How long a navigation or a wait for the page may take before the test fails.
const PAGE_TIMEOUT: Duration = Duration::from_secs(15);

/// A headless Chromium with a profile of its own, killed when dropped.
pub struct Browser {
    inner: chromiumoxide::Browser,
    handler: tokio::task::JoinHandle<()>,
    /// Removed when the browser is dropped, after it was killed.
    profile: tempfile::TempDir,
}

/// Launches headless Chromium, or returns `None` (after saying so) when the machine has none and
/// `OPENCLM_REQUIRE_BROWSER` is unset.
pub async fn launch() -> Option<Browser> {
    let Some(executable) = find_chromium() else {
        if std::env::var_os("OPENCLM_REQUIRE_BROWSER").is_some() {
            panic!(
                "OPENCLM_REQUIRE_BROWSER is set but no Chromium was found: set OPENCLM_CHROMIUM, \
                 or install chromium (/usr/bin/chromium, or chromium, chromium-browser or \
                 google-chrome on PATH)"
            );
        }
        eprintln!(
            "browser test skipped: no Chromium found (set OPENCLM_CHROMIUM or install chromium)"
        );
        return None;
    };
    let profile = tempfile::Builder::new()
        .prefix("openclm-chromium-")
        .tempdir()
        .expect("a temporary Chromium profile directory");
    let config = chromiumoxide::BrowserConfig::builder()
        .chrome_executable(&executable)
        // Only the flags below (and the debugging port), not chromiumoxide's longer list.
        .disable_default_args()
        // Headless is chromiumoxide's default; no sandbox, as the tests may run as root.
        .no_sandbox()
        .user_data_dir(profile.path())
        .window_size(1280, 900)
        // The window's size, not chromiumoxide's 800x600 emulated default.
        .viewport(None)
        // Written without the leading "--", which chromiumoxide adds.
        .args([
            "disable-gpu",
            // Only loopback is reachable: no QUIC probes, updates, sync or background fetches.
            "disable-quic",
            "no-first-run",
            "disable-background-networking",
            "disable-component-update",
            "disable-sync",
            // Containers have a small /dev/shm.
            "disable-dev-shm-usage",
        ])
        .build()
        .unwrap_or_else(|e| panic!("Chromium configuration for {}: {e}", executable.display()));
    let (inner, mut handler) = chromiumoxide::Browser::launch(config)
        .await
        .unwrap_or_else(|e| panic!("launching {}: {e}", executable.display()));
    // The connection only makes progress while its handler is polled; an error on one message
    // (say, an event this protocol version does not know) is not the end of the connection.
    let handler = tokio::spawn(async move { while handler.next().await.is_some() {} });
    Some(Browser {
        inner,
        handler,
        profile,
    })
}

/// `OPENCLM_CHROMIUM`, else `/usr/bin/chromium`, else the first of the usual names on `PATH`.
fn find_chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("OPENCLM_CHROMIUM") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "OPENCLM_CHROMIUM names {}, which is not a file",
            path.display()
        );
        return Some(path);
    }
    let debian = PathBuf::from("/usr/bin/chromium");
    if debian.is_file() {
        return Some(debian);
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

impl Browser {
    /// A blank page in a browser context of its own, so pages share no cookies or storage (two
    /// pages can be signed in as two different people).
    pub async fn new_page(&self) -> Page {
        let context = self
            .inner
            .create_browser_context(CreateBrowserContextParams::default())
            .await
            .expect("a new browser context");
        let target = CreateTargetParams::builder()
            .url("about:blank")
            .browser_context_id(context)
            .build()
            .expect("target parameters");
        let inner = self.inner.new_page(target).await.expect("a new page");
        // Subscribed before the domains are (re-)enabled, so nothing reported is missed.
        let console = inner
            .event_listener::<EventConsoleApiCalled>()
            .await
            .expect("console listener");
        let exceptions = inner
            .event_listener::<EventExceptionThrown>()
            .await
            .expect("exception listener");
        let log = inner
            .event_listener::<EventEntryAdded>()
            .await
            .expect("log listener");
        inner
            .execute(RuntimeEnableParams::default())
            .await
            .expect("Runtime.enable");
        inner
            .execute(LogEnableParams::default())
            .await
            .expect("Log.enable");
        Page {
            inner,
            problems: Mutex::new(Problems {
                console,
                exceptions,
                log,
                seen: Vec::new(),
            }),
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.handler.abort();
        let deadline = Instant::now() + Duration::from_secs(3);
        if let Some(child) = self.inner.get_mut_child() {
            let child = child.as_mut_inner();
            let _ = child.start_kill();
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        // The browser's helper processes outlive it by a few milliseconds and may still write
        // to the profile while the first removal runs.
        let profile = self.profile.path();
        while std::fs::remove_dir_all(profile).is_err()
            && profile.exists()
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// One tab, with the console errors, uncaught exceptions and error log entries it has reported
/// since it was opened.
pub struct Page {
    inner: chromiumoxide::Page,
    problems: Mutex<Problems>,
}

struct Problems {
    console: EventStream<EventConsoleApiCalled>,
    exceptions: EventStream<EventExceptionThrown>,
    log: EventStream<EventEntryAdded>,
    seen: Vec<String>,
}

impl Problems {
    /// Moves what the streams already hold into `seen`, in the order the page reported it,
    /// without waiting for more.
    fn drain(&mut self) {
        let mut fresh: Vec<(f64, String)> = Vec::new();
        while let Some(Some(call)) = self.console.next().now_or_never() {
            if call.r#type == ConsoleApiCalledType::Error {
                let args: Vec<String> = call.args.iter().map(remote_text).collect();
                fresh.push((
                    *call.timestamp.inner(),
                    format!("console.error: {}", args.join(" ")),
                ));
            }
        }
        while let Some(Some(thrown)) = self.exceptions.next().now_or_never() {
            let details = &thrown.exception_details;
            let what = details
                .exception
                .as_ref()
                .and_then(|e| e.description.clone())
                .unwrap_or_else(|| details.text.clone());
            let at = match &details.url {
                Some(url) => format!(" ({url}:{})", details.line_number + 1),
                None => String::new(),
            };
            fresh.push((
                *thrown.timestamp.inner(),
                format!("uncaught exception: {what}{at}"),
            ));
        }
        while let Some(Some(added)) = self.log.next().now_or_never() {
            let entry = &added.entry;
            if entry.level == LogEntryLevel::Error {
                let at = match &entry.url {
                    Some(url) => format!(" ({url})"),
                    None => String::new(),
                };
                fresh.push((
                    *entry.timestamp.inner(),
                    format!("{} error: {}{at}", entry.source.as_ref(), entry.text),
                ));
            }
        }
        fresh.sort_by(|a, b| a.0.total_cmp(&b.0));
        self.seen.extend(fresh.into_iter().map(|(_, text)| text));
    }
}

/// A console argument about as the console prints it: strings bare, values as JSON, an error
/// with its stack, an object or array by its preview (`Object {hcp: none}`).
fn remote_text(object: &RemoteObject) -> String {
    if let Some(value) = &object.value {
        return match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
    }
    let description = object.description.clone().unwrap_or_default();
    match &object.preview {
        Some(preview) if object.subtype != Some(RemoteObjectSubtype::Error) => {
            let fields: Vec<String> = preview
                .properties
                .iter()
                .map(|p| format!("{}: {}", p.name, p.value.as_deref().unwrap_or("?")))
                .collect();
            let more = if preview.overflow { ", …" } else { "" };
            format!("{description} {{{}{more}}}", fields.join(", "))
        }
        _ => object
            .unserializable_value
            .as_ref()
            .map(|v| v.inner().clone())
            .unwrap_or(description),
    }
}

/// `selector` as a JavaScript string literal.
fn js_string(selector: &str) -> String {
    serde_json::to_string(selector).expect("a string serializes")
}

impl Page {
    /// Opens `url` and waits until it has loaded.
    pub async fn goto(&self, url: &str) {
        tokio::time::timeout(PAGE_TIMEOUT, self.inner.goto(url))
            .await
            .unwrap_or_else(|_| panic!("{url} did not load within {PAGE_TIMEOUT:?}"))
            .unwrap_or_else(|e| panic!("opening {url}: {e}"));
    }

    /// The address the page shows now.
    pub async fn url(&self) -> String {
        self.eval_str("location.href").await
    }

    /// Replaces the text of the input or textarea `selector` with `value`, as typed text (input
    /// events, `maxlength` honoured), then fires `change`.
    pub async fn fill(&self, selector: &str, value: &str) {
        let sel = js_string(selector);
        let found = self
            .eval(&format!(
                "(() => {{ const e = document.querySelector({sel}); if (!e) return false; \
                 e.focus(); e.value = ''; \
                 e.dispatchEvent(new Event('input', {{bubbles: true}})); return true; }})()"
            ))
            .await;
        assert_eq!(
            found,
            Value::Bool(true),
            "fill: no element matches {selector}"
        );
        self.inner
            .execute(InsertTextParams::new(value))
            .await
            .unwrap_or_else(|e| panic!("fill: typing into {selector}: {e}"));
        self.eval(&format!(
            "document.querySelector({sel}).dispatchEvent(new Event('change', {{bubbles: true}}))"
        ))
        .await;
    }

    /// Chooses the option whose value is `value` in the `<select>` `selector`.
    pub async fn select(&self, selector: &str, value: &str) {
        let sel = js_string(selector);
        let val = js_string(value);
        let outcome = self
            .eval(&format!(
                "(() => {{ const e = document.querySelector({sel}); if (!e) return 'missing'; \
                 if (![...e.options].some(o => o.value === {val})) return 'no option'; \
                 e.value = {val}; \
                 e.dispatchEvent(new Event('input', {{bubbles: true}})); \
                 e.dispatchEvent(new Event('change', {{bubbles: true}})); return 'ok'; }})()"
            ))
            .await;
        match outcome.as_str() {
            Some("ok") => {}
            Some("missing") => panic!("select: no element matches {selector}"),
            _ => panic!("select: {selector} has no option with value {value:?}"),
        }
    }

    /// Clicks the middle of the first element matching `selector` with the mouse, after
    /// scrolling it into view.
    pub async fn click(&self, selector: &str) {
        let element = self
            .inner
            .find_element(selector)
            .await
            .unwrap_or_else(|e| panic!("click: no element matches {selector}: {e}"));
        element
            .click()
            .await
            .unwrap_or_else(|e| panic!("click on {selector}: {e}"));
    }

    /// Clicks `selector` (a submit button or a link) and waits until the page it leads to has
    /// loaded.
    pub async fn click_and_wait_navigation(&self, selector: &str) {
        // Subscribed before the click, so a fast load is not missed.
        let mut loaded = self
            .inner
            .event_listener::<EventLoadEventFired>()
            .await
            .expect("load listener");
        self.click(selector).await;
        tokio::time::timeout(PAGE_TIMEOUT, loaded.next())
            .await
            .unwrap_or_else(|_| {
                panic!("clicking {selector} loaded no new page within {PAGE_TIMEOUT:?}")
            })
            .expect("the page is still open");
    }

    /// The visible text of the first element matching `selector`.
    pub async fn text(&self, selector: &str) -> String {
        match self.read_text(selector).await {
            Some(text) => text,
            None => panic!("no element matches {selector} on {}", self.url().await),
        }
    }

    /// The visible text of every element matching `selector`, in document order.
    pub async fn texts(&self, selector: &str) -> Vec<String> {
        let sel = js_string(selector);
        let value = self
            .eval(&format!(
                "[...document.querySelectorAll({sel})].map(e => e.innerText)"
            ))
            .await;
        serde_json::from_value(value).expect("a list of strings")
    }

    /// Whether any element matches `selector`.
    pub async fn exists(&self, selector: &str) -> bool {
        let sel = js_string(selector);
        self.eval(&format!("document.querySelector({sel}) !== null"))
            .await
            .as_bool()
            .expect("a boolean")
    }

    /// Waits until the text of `selector` contains `needle`, checking every 100 ms.
    pub async fn wait_for_text(&self, selector: &str, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut last = None;
        loop {
            // A page in the middle of loading cannot be read; that is one more "not yet".
            let sel = js_string(selector);
            let read = self
                .inner
                .evaluate_expression(EvaluateParams::new(format!(
                    "document.querySelector({sel})?.innerText ?? null"
                )))
                .await
                .ok()
                .and_then(|r| r.value().and_then(|v| v.as_str().map(str::to_owned)));
            if let Some(text) = read {
                if text.contains(needle) {
                    return;
                }
                last = Some(text);
            }
            if Instant::now() >= deadline {
                match last {
                    Some(text) => panic!(
                        "{selector} did not contain {needle:?} within {timeout:?}; its text was {text:?}"
                    ),
                    None => panic!(
                        "no element matched {selector} within {timeout:?} (waiting for {needle:?})"
                    ),
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Evaluates the expression `js` in the page (awaiting a promise) and returns its value as
    /// JSON (`null` for `undefined`).
    pub async fn eval(&self, js: &str) -> Value {
        match self
            .inner
            .evaluate_expression(EvaluateParams::new(js))
            .await
        {
            Ok(result) => result.value().cloned().unwrap_or(Value::Null),
            Err(CdpError::JavascriptException(details)) => panic!(
                "evaluating `{js}` threw {}",
                details
                    .exception
                    .as_ref()
                    .and_then(|e| e.description.as_deref())
                    .unwrap_or(&details.text)
            ),
            Err(e) => panic!("evaluating `{js}`: {e}"),
        }
    }

    /// Saves a PNG of the whole page (beyond the window) as `target/ui-screenshots/<name>.png`
    /// and returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let dir = target_dir().join("ui-screenshots");
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        let size = self
            .eval("({width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight})")
            .await;
        let (width, height) = (
            size["width"].as_f64().expect("a width"),
            size["height"].as_f64().expect("a height"),
        );
        // Captured beyond the viewport rather than by resizing it, so an emulated viewport stays.
        let params = CaptureScreenshotParams::builder()
            .format(CaptureScreenshotFormat::Png)
            .capture_beyond_viewport(true)
            .clip(Viewport {
                x: 0.0,
                y: 0.0,
                width,
                height,
                scale: 1.0,
            })
            .build();
        let png = self
            .inner
            .screenshot(params)
            .await
            .unwrap_or_else(|e| panic!("screenshot {name}: {e}"));
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        path
    }

    /// Every `console.error`, uncaught exception and error log entry (failed loads, blocked by
    /// the content security policy) the page has reported since it was opened.
    pub async fn console_errors(&self) -> Vec<String> {
        // Two round trips: whatever the page reported before them has reached the streams.
        for _ in 0..2 {
            self.eval("0").await;
        }
        let mut problems = self.problems.lock().expect("problems lock");
        problems.drain();
        problems.seen.clone()
    }

    /// Sets the page's viewport to `width` x `height` CSS pixels, as a desktop window.
    pub async fn set_viewport(&self, width: u32, height: u32) {
        self.emulate(width, height, false).await;
    }

    /// Sets the page's viewport to `width` x `height` CSS pixels of a touch device (a tablet is
    /// 820 x 1180), with a device pixel ratio of 2 and mobile layout rules: a page without
    /// `<meta name="viewport">` is laid out 980 px wide.
    pub async fn set_mobile_viewport(&self, width: u32, height: u32) {
        self.emulate(width, height, true).await;
    }

    async fn emulate(&self, width: u32, height: u32, mobile: bool) {
        let scale = if mobile { 2.0 } else { 1.0 };
        self.inner
            .execute(SetDeviceMetricsOverrideParams::new(
                i64::from(width),
                i64::from(height),
                scale,
                mobile,
            ))
            .await
            .unwrap_or_else(|e| panic!("setting the viewport to {width}x{height}: {e}"));
        self.inner
            .execute(SetTouchEmulationEnabledParams::new(mobile))
            .await
            .unwrap_or_else(|e| panic!("touch emulation {mobile}: {e}"));
    }

    /// The text of `selector`, or `None` when nothing matches.
    async fn read_text(&self, selector: &str) -> Option<String> {
        let sel = js_string(selector);
        self.eval(&format!("document.querySelector({sel})?.innerText ?? null"))
            .await
            .as_str()
            .map(str::to_owned)
    }

    async fn eval_str(&self, js: &str) -> String {
        match self.eval(js).await {
            Value::String(s) => s,
            other => panic!("`{js}` gave {other}, not a string"),
        }
    }
}

/// `CARGO_TARGET_DIR`, else the workspace's `target`.
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"),
    }
}
