//! The browser harness against the real server: pages load and are read, forms are filled and
//! submitted, screenshots are written, console errors are collected, and Chromium keeps the
//! session cookie.

mod common;

use common::browser::{self, Page};
use openclm_core::auth::MAX_FAILED_LOGINS;
use serde_json::{Value, json};
use std::time::Duration;

/// `fetch(path, init)` from the page, answered as `{status, body}` (the body parsed as JSON).
async fn fetch(page: &Page, path: &str, init: Value) -> Value {
    page.eval(&format!(
        "fetch({}, {init}).then(async r => ({{status: r.status, body: await r.json().catch(() => null)}}))",
        serde_json::to_string(path).unwrap()
    ))
    .await
}

/// `POST path` of `body` as JSON from the page, with the page's cookies.
async fn post(page: &Page, path: &str, body: Value) -> Value {
    let init = json!({"method": "POST", "headers": {"content-type": "application/json"},
                      "credentials": "same-origin", "body": body.to_string()});
    fetch(page, path, init).await
}

/// Chromium asks for /favicon.ico on its own, and logs the 404 when the answer comes back in
/// time; an HTML page declares its icon, a JSON one cannot.
fn without_favicon(errors: Vec<String>) -> Vec<String> {
    errors
        .into_iter()
        .filter(|e| !e.ends_with("/favicon.ico)"))
        .collect()
}

#[tokio::test]
async fn a_page_is_read_filled_submitted_and_photographed() {
    let Some(browser) = browser::launch().await else {
        return;
    };
    let app = common::spawn_app().await;
    let page = browser.new_page().await;

    page.goto(&format!("{}/healthz", app.base)).await;
    assert_eq!(page.url().await, format!("{}/healthz", app.base));
    let body = page.text("body").await;
    assert!(body.contains(r#""status":"ok""#), "/healthz shows {body:?}");
    assert_eq!(page.texts("body").await, vec![body]);
    assert!(page.exists("body").await);
    assert!(!page.exists("form").await);
    assert_eq!(
        without_favicon(page.console_errors().await),
        Vec::<String>::new()
    );
    let shot = page.screenshot("smoke-healthz").await;
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 100,
        "{} is no PNG",
        shot.display()
    );

    // A form put on the server's origin by script, filled, and submitted by a real click.
    page.eval(
        "document.body.innerHTML = `<form method=get action=/healthz>\
           <input name=q value=old maxlength=20><select name=channel>\
           <option value=email>Email</option><option value=visit>Visit</option></select>\
           <label><input type=checkbox name=agree value=yes \
             onchange=\"said.textContent = this.checked ? 'agreed' : ''\"> agree</label>\
           <output id=said></output><button type=submit>Search</button></form>`",
    )
    .await;
    page.fill("input[name=q]", "cardiology \"DE\"").await;
    page.select("select[name=channel]", "visit").await;
    page.click("input[name=agree]").await;
    page.wait_for_text("#said", "agreed", Duration::from_secs(5))
        .await;
    page.click_and_wait_navigation("button[type=submit]").await;
    assert_eq!(
        page.url().await,
        format!(
            "{}/healthz?q=cardiology+%22DE%22&channel=visit&agree=yes",
            app.base
        )
    );

    page.set_mobile_viewport(820, 1180).await;
    // A page without `<meta name="viewport">` is laid out 980 px wide on a tablet, as here.
    assert_eq!(
        page.eval("[screen.width, screen.height, devicePixelRatio, innerWidth]")
            .await,
        json!([820, 1180, 2, 980])
    );
    let tablet = page.screenshot("smoke-healthz-tablet").await;
    assert!(std::fs::metadata(&tablet).unwrap().len() > 100);
    page.set_viewport(1280, 900).await;
    assert_eq!(
        page.eval("[innerWidth, innerHeight, devicePixelRatio]")
            .await,
        json!([1280, 900, 1])
    );
}

#[tokio::test]
async fn chromium_keeps_the_secure_session_cookie_of_a_loopback_server() {
    let Some(browser) = browser::launch().await else {
        return;
    };
    let app = common::spawn_app().await;
    let page = browser.new_page().await;
    page.goto(&format!("{}/healthz", app.base)).await;

    // An unknown user is refused like a wrong password: the same 403 and the same words.
    let refused = post(
        &page,
        "/v1/login",
        json!({"user_id": "nobody", "password": "wrong password here"}),
    )
    .await;
    assert_eq!(
        refused,
        json!({"status": 403, "body": {"error": {"code": "forbidden", "message": format!(
            "wrong user id or password, or the account is disabled or locked after {MAX_FAILED_LOGINS} failed attempts"
        )}}})
    );

    // The session cookie is `Secure; HttpOnly; SameSite=Strict`. Chromium counts
    // http://127.0.0.1 as a secure context, so it keeps that cookie over plain HTTP there and
    // sends it back on same-origin requests: the dashboard's sign-in works in these tests
    // without TLS. Scripts cannot read the cookie.
    app.user("ana", "marketer", &[]).await;
    let me = fetch(&page, "/v1/me", json!({"credentials": "same-origin"})).await;
    assert_eq!(me["status"], 401, "signed in before signing in: {me}");
    let signed_in = post(
        &page,
        "/v1/login",
        json!({"user_id": "ana", "password": common::PASSWORD}),
    )
    .await;
    assert_eq!(signed_in["status"], 200, "{signed_in}");
    assert_eq!(page.eval("document.cookie").await, json!(""));
    let me = fetch(&page, "/v1/me", json!({"credentials": "same-origin"})).await;
    assert_eq!(me["status"], 200, "the session cookie was not sent: {me}");
    assert_eq!(me["body"]["user"]["user_id"], "ana", "{me}");

    // Each page has a browser context of its own: another page is not signed in.
    let other = browser.new_page().await;
    other.goto(&format!("{}/healthz", app.base)).await;
    let me = fetch(&other, "/v1/me", json!({"credentials": "same-origin"})).await;
    assert_eq!(me["status"], 401, "a cookie leaked between pages: {me}");
}

#[tokio::test]
async fn failed_loads_console_errors_and_uncaught_exceptions_are_collected_per_page() {
    let Some(browser) = browser::launch().await else {
        return;
    };
    let app = common::spawn_app().await;
    let page = browser.new_page().await;
    let other = browser.new_page().await;
    page.goto(&format!("{}/healthz", app.base)).await;
    other.goto(&format!("{}/healthz", app.base)).await;

    let missing = fetch(&page, "/v1/no-such-thing", json!({})).await;
    assert_eq!(missing["status"], 404, "{missing}");
    page.eval(
        "console.error('broken', 42, {hcp: 'none'}, [1, 2], new Error('bad')); console.log('not an error'); \
         const s = document.createElement('script'); \
         s.textContent = 'throw new Error(\"boom\")'; document.head.append(s)",
    )
    .await;

    // In the order the page reported them.
    let errors = without_favicon(page.console_errors().await);
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert!(
        errors[0].starts_with("network error: ")
            && errors[0].contains("status of 404")
            && errors[0].ends_with(&format!("({}/v1/no-such-thing)", app.base)),
        "{errors:#?}"
    );
    assert!(
        errors[1].starts_with(
            "console.error: broken 42 Object {hcp: none} Array(2) {0: 1, 1: 2} Error: bad\n    at "
        ),
        "{errors:#?}"
    );
    assert!(
        errors[2].starts_with("uncaught exception: Error: boom"),
        "{errors:#?}"
    );
    assert_eq!(
        without_favicon(other.console_errors().await),
        Vec::<String>::new()
    );
}
