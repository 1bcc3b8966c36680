//! The OpenAPI document against the server: every route of the JSON API is documented and every
//! documented route exists (in the source and on a live server), the served document is the
//! generated one, an independent validator accepts it, and a client generated from it talks to a
//! live server.
//!
//! The validator and the generator are Python tools (`openapi-spec-validator`,
//! `openapi-python-client`), looked for in `OPENCLM_OPENAPI_TOOLS` (a directory, as `.ci/run`
//! sets it), else in `target/openapi/bin`. Without them those two checks skip with a message,
//! unless `OPENCLM_REQUIRE_OPENAPI_TOOLS` is set.

mod common;

use common::spawn_app;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The routes the document covers: the JSON API and the health check. The dashboard's pages are
/// under other prefixes.
fn documented_prefix(path: &str) -> bool {
    path == "/healthz" || path.starts_with("/v1/")
}

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

/// Every `.route("PATH", METHOD(...)...)` in the server's source, whichever file it is in.
fn routes_in_source() -> BTreeSet<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../openclm-server/src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(!files.is_empty(), "no source under {}", root.display());
    let mut routes = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (path, method) in route_calls(&text) {
            routes.insert((path, method));
        }
    }
    routes
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The (path, method) pairs of the `.route(` calls in `text`.
fn route_calls(text: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(".route(") {
        rest = &rest[at + ".route(".len()..];
        let args = &rest[..closing_paren(rest)];
        let Some(path) = args
            .trim_start()
            .strip_prefix('"')
            .and_then(|p| p.split('"').next())
        else {
            continue;
        };
        let handlers = &args[args.find(path).unwrap() + path.len() + 1..];
        let methods = method_calls(handlers);
        assert!(
            !methods.is_empty(),
            "no method router in .route({path:?}, ...)"
        );
        for method in methods {
            found.push((path.to_owned(), method));
        }
    }
    found
}

/// The index of the parenthesis that closes the call whose arguments `text` starts with.
fn closing_paren(text: &str) -> usize {
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => return i,
            ')' => depth -= 1,
            _ => {}
        }
    }
    panic!("unbalanced .route( call");
}

/// The HTTP methods routed in a method-router expression: `get(h)`, `.post(h)`,
/// `axum::routing::delete(h)`.
fn method_calls(expr: &str) -> Vec<String> {
    let mut methods = Vec::new();
    for method in METHODS {
        let call = format!("{method}(");
        let mut from = 0;
        while let Some(i) = expr[from..].find(&call) {
            let start = from + i;
            let before = expr[..start].chars().next_back();
            if !before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                methods.push(method.to_owned());
            }
            from = start + call.len();
        }
    }
    methods
}

/// The (path, method) pairs of a document.
fn routes_in_document(doc: &Value) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item.get(method).is_some() {
                routes.insert((path.clone(), method.to_owned()));
            }
        }
    }
    routes
}

fn generated() -> Value {
    serde_json::to_value(openclm_server::openapi::document()).unwrap()
}

#[test]
fn the_route_scan_reads_every_form_of_route() {
    let source = r#"
        .route("/v1/a", get(a::<S>))
        .route(
            "/v1/b/{id}",
            put(crate::b::put_b::<S>).get(crate::b::get_b::<S>),
        )
        .route("/v1/c/{id}", axum::routing::delete(crate::c::revoke::<S>))
        .route("/v1/track", post(single::<S, Track>))
        .route("/v1/d", get(get_d).post(post_d::<S>))
    "#;
    let found: BTreeSet<_> = route_calls(source).into_iter().collect();
    let expected: BTreeSet<_> = [
        ("/v1/a", "get"),
        ("/v1/b/{id}", "put"),
        ("/v1/b/{id}", "get"),
        ("/v1/c/{id}", "delete"),
        ("/v1/track", "post"),
        ("/v1/d", "get"),
        ("/v1/d", "post"),
    ]
    .into_iter()
    .map(|(p, m)| (p.to_owned(), m.to_owned()))
    .collect();
    assert_eq!(found, expected);
}

#[test]
fn every_route_is_documented_and_every_documented_route_exists() {
    let source: BTreeSet<_> = routes_in_source()
        .into_iter()
        .filter(|(path, _)| documented_prefix(path))
        .collect();
    assert!(source.contains(&("/healthz".to_owned(), "get".to_owned())));
    assert!(source.contains(&("/v1/openapi.json".to_owned(), "get".to_owned())));
    let documented = routes_in_document(&generated());
    let undocumented: Vec<_> = source.difference(&documented).collect();
    let missing: Vec<_> = documented.difference(&source).collect();
    assert!(
        undocumented.is_empty() && missing.is_empty(),
        "routes without documentation: {undocumented:?}\ndocumented routes the server lacks: {missing:?}"
    );
}

/// A path with its parameters filled in, so that the router matches it.
fn concrete(path: &str) -> String {
    path.replace("{number}", "1")
        .replace("{step}", "submit")
        .replace("{id}", "probe")
}

#[tokio::test]
async fn every_documented_route_answers_on_a_live_server() {
    let app = spawn_app().await;
    let doc = generated();
    let routes = routes_in_document(&doc);
    assert!(routes.len() > 50, "{} routes documented", routes.len());
    let codes = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .expect("the error codes");
    for (path, method) in routes {
        let url = format!("{}{}", app.base, concrete(&path));
        let response = app
            .client
            .request(method.to_uppercase().parse().unwrap(), &url)
            .bearer_auth(&app.admin)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_ne!(status, 405, "{method} {path}: method not allowed");
        assert!(
            !(status == 404 && body["error"]["message"] == "route not found"),
            "{method} {path}: the router has no such route"
        );
        // Whatever it answered, an error comes in the documented shape.
        if status >= 400 {
            assert!(
                codes.contains(&body["error"]["code"]) && body["error"]["message"].is_string(),
                "{method} {path}: {status} {body}"
            );
            let documented = &doc["paths"][&path][&method]["responses"];
            assert!(
                documented.get(status.to_string()).is_some(),
                "{method} {path}: answered {status}, which is not documented ({body})"
            );
        }
    }
}

#[tokio::test]
async fn the_served_document_is_the_generated_one_and_openapi_3_1() {
    let app = spawn_app().await;
    // No credential: the document is public.
    let response = app
        .client
        .get(format!("{}/v1/openapi.json", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let served: Value = response.json().await.unwrap();
    assert_eq!(served, generated());
    let version = served["openapi"].as_str().unwrap();
    assert!(version.starts_with("3.1."), "OpenAPI {version}");
    // One error schema, with the fields `ApiError` sends.
    let detail = &served["components"]["schemas"]["ErrorDetail"];
    let mut fields: Vec<_> = detail["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    fields.sort();
    assert_eq!(fields, ["code", "field", "message", "reason"]);
    assert_eq!(detail["required"], json!(["code", "message"]));
    // The credentials the server accepts.
    let schemes = served["components"]["securitySchemes"].as_object().unwrap();
    let mut names: Vec<_> = schemes.keys().cloned().collect();
    names.sort();
    assert_eq!(
        names,
        ["basic", "bearer", "sendgrid_signature", "session_cookie"]
    );
    assert_eq!(schemes["session_cookie"]["name"], "openclm_session");
    assert_eq!(served["paths"]["/healthz"]["get"]["security"], json!([{}]));
    assert_eq!(
        served["paths"]["/v1/hcps"]["get"]["security"],
        json!([{"bearer": []}, {"basic": []}, {"session_cookie": []}])
    );
    // A session cookie authenticates reads only.
    assert_eq!(
        served["paths"]["/v1/hcps/{id}"]["put"]["security"],
        json!([{"bearer": []}, {"basic": []}])
    );
}

/// Where the Python tools are, if they are there.
fn tool(name: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("OPENCLM_OPENAPI_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/openapi/bin"));
    let path = dir.join(name);
    if path.is_file() {
        return Some(path);
    }
    let required = std::env::var_os("OPENCLM_REQUIRE_OPENAPI_TOOLS").is_some();
    assert!(
        !required,
        "OPENCLM_REQUIRE_OPENAPI_TOOLS is set but {} is missing",
        path.display()
    );
    eprintln!(
        "skipped: {} is not installed (python3 -m venv target/openapi && \
         target/openapi/bin/pip install openapi-spec-validator openapi-python-client)",
        path.display()
    );
    None
}

/// The served document, written to `dir`.
async fn served_to_file(app: &common::TestApp, dir: &Path) -> PathBuf {
    let text = app
        .client
        .get(format!("{}/v1/openapi.json", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let file = dir.join("openapi.json");
    std::fs::write(&file, text).unwrap();
    file
}

/// Runs `command`; returns what it printed, standard output then standard error.
fn run(command: &mut std::process::Command) -> String {
    let out = command.output().unwrap();
    let printed = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{command:?} failed\n{printed}");
    printed
}

#[tokio::test]
async fn an_independent_validator_accepts_the_document() {
    let Some(validator) = tool("openapi-spec-validator") else {
        return;
    };
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let file = served_to_file(&app, dir.path()).await;
    let out = run(std::process::Command::new(validator).arg(&file));
    assert!(out.contains("OK"), "{out}");
}

/// Calls the API through the generated client; each call asserts what it got back.
const CLIENT_CALLS: &str = r#"
import os, sys
sys.path.insert(0, os.environ["CLIENT_DIR"])
from openclm_client import AuthenticatedClient
from openclm_client.api.hcps import put_hcp, get_hcp, list_hcps
from openclm_client.api.content import post_content
from openclm_client.models import ContentInput, ContentWritten, ErrorBody, Hcp, HcpInput

client = AuthenticatedClient(base_url=os.environ["BASE"], token=os.environ["KEY"])

# PUT: a new HCP.
answer = put_hcp.sync_detailed(
    id="dr-ada", client=client,
    body=HcpInput(name="Dr. Ada", specialty="Cardiology", country="de", segments=["kol"]))
assert answer.status_code == 201, answer
hcp = answer.parsed
assert isinstance(hcp, Hcp), hcp
assert (hcp.id, hcp.specialty, hcp.country, hcp.segments) == ("dr-ada", "cardiology", "DE", ["kol"]), hcp

# GET one.
hcp = get_hcp.sync(id="dr-ada", client=client)
assert isinstance(hcp, Hcp) and hcp.name == "Dr. Ada", hcp

# GET a list.
put_hcp.sync(id="dr-bob", client=client,
             body=HcpInput(name="Dr. Bob", specialty="gp", country="FR"))
page = list_hcps.sync(client=client, limit="10")
assert sorted(h.id for h in page.items) == ["dr-ada", "dr-bob"], page
assert page.next_cursor is None, page

# POST: new content.
written = post_content.sync(client=client, body=ContentInput(
    id="CZ-1", title="Efficacy email", kind="email_template", product="cardiozan",
    topics=["efficacy"]))
assert isinstance(written, ContentWritten), written
assert (written.created, written.updated) == (1, 0), written

# Refused: the error body names the field and why.
answer = put_hcp.sync_detailed(
    id="dr-eve", client=client,
    body=HcpInput(name="Dr. Eve", specialty="gp", country="Deutschland"))
assert answer.status_code == 422, answer
error = answer.parsed
assert isinstance(error, ErrorBody), error
assert (error.error.code.value, error.error.field) == ("invalid", "country"), error
assert error.error.reason and error.error.message, error
print("all calls answered as expected")
"#;

// Multi-threaded: the server answers the client while this test waits for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_client_makes_each_kind_of_call() {
    let (Some(generator), Some(python)) = (tool("openapi-python-client"), tool("python3")) else {
        return;
    };
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let file = served_to_file(&app, dir.path()).await;
    let config = dir.path().join("config.json");
    std::fs::write(
        &config,
        json!({
            "project_name_override": "openclm-client",
            "package_name_override": "openclm_client",
            "post_hooks": [],
        })
        .to_string(),
    )
    .unwrap();
    let client_dir = dir.path().join("client");
    let generated = run(std::process::Command::new(generator)
        .arg("generate")
        .arg("--path")
        .arg(&file)
        .arg("--config")
        .arg(&config)
        .args(["--meta", "none", "--output-path"])
        .arg(client_dir.join("openclm_client")));
    // The generator knows no NDJSON, so `POST /v1/events` gets its JSON form only; nothing else
    // may be left out.
    for dropped in ["will not be generated", "Unable to process schema"] {
        assert!(!generated.contains(dropped), "{generated}");
    }
    let out = run(std::process::Command::new(python)
        .args(["-c", CLIENT_CALLS])
        .env("CLIENT_DIR", &client_dir)
        .env("BASE", &app.base)
        .env("KEY", &app.admin));
    assert!(out.contains("all calls answered as expected"), "{out}");
}
