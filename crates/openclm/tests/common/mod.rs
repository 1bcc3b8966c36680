//! Test harness: the real server on port 0 over a fresh database, and keys of every role.

#![allow(dead_code)]

pub mod browser;

use openclm_core::Timestamp;
use openclm_core::auth::Role;
use openclm_server::{ApiConfig, AppState, Clock, system_clock};
use openclm_store::SqliteStore;
use openclm_store::prelude::*;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

pub struct TestApp {
    pub base: String,
    pub admin: String,
    pub ingest: String,
    pub read: String,
    pub client: reqwest::Client,
    pub store: SqliteStore,
    pub dir: tempfile::TempDir,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(ApiConfig::default()).await
}

/// The password every test user is given.
pub const PASSWORD: &str = "correct horse battery staple";

/// A server whose clock reads what the returned handle holds (milliseconds since the epoch).
pub async fn spawn_app_at(config: ApiConfig, start: Timestamp) -> (TestApp, Arc<AtomicI64>) {
    let now = Arc::new(AtomicI64::new(start.millis()));
    let read = now.clone();
    let clock: Clock = Arc::new(move || Timestamp::from_millis(read.load(Ordering::SeqCst)));
    (spawn_app_clocked(config, clock).await, now)
}

pub async fn spawn_app_with(config: ApiConfig) -> TestApp {
    spawn_app_clocked(config, system_clock()).await
}

async fn spawn_app_clocked(config: ApiConfig, clock: Clock) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("api.db").to_str().unwrap()).unwrap();
    let admin = openclm::create_key(&store, Role::Admin, "test")
        .await
        .unwrap()
        .1;
    let ingest = openclm::create_key(&store, Role::Ingest, "test")
        .await
        .unwrap()
        .1;
    let read = openclm::create_key(&store, Role::Analyst, "test")
        .await
        .unwrap()
        .1;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = AppState {
        store: store.clone(),
        config,
        clock,
    };
    tokio::spawn(openclm_server::serve(
        listener,
        state,
        std::future::pending(),
    ));
    TestApp {
        base,
        admin,
        ingest,
        read,
        client: reqwest::Client::new(),
        store,
        dir,
    }
}

impl TestApp {
    pub async fn put_hcp(&self, id: &str, body: Value) -> reqwest::Response {
        self.client
            .put(format!("{}/v1/hcps/{id}", self.base))
            .bearer_auth(&self.admin)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_events(
        &self,
        key: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.client
            .post(format!("{}/v1/events", self.base))
            .bearer_auth(key)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, key: &str, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
    }

    /// Registers HCP `hcp-N` with CRM id `CRM-N` in territory `T-(N % 3)`.
    pub async fn seed_hcps(&self, n: usize) {
        for i in 0..n {
            let r = self
                .put_hcp(
                    &format!("hcp-{i}"),
                    json!({"name": format!("Dr. Test {i}"), "specialty": if i % 2 == 0 { "cardiology" } else { "oncology" },
                           "country": "DE", "territory": format!("T-{}", i % 3),
                           "external_ids": [{"system": "crm", "id": format!("CRM-{i}")}]}),
                )
                .await;
            assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        }
    }

    /// Creates a user (password [`PASSWORD`]) as an operator does at the command line and signs
    /// them in; returns the session token.
    pub async fn user(&self, user_id: &str, role: &str, territories: &[&str]) -> String {
        let input = openclm_core::auth::UserInput {
            user_id: Some(user_id.into()),
            display_name: Some(format!("{user_id} (test)")),
            role: Some(role.into()),
            territories: territories.iter().map(|t| t.to_string()).collect(),
            password: Some(PASSWORD.into()),
        };
        let (user, password) = input.validate(Timestamp::from_millis(0)).unwrap();
        let hash = openclm_core::auth::hash_password(&password, &mut rand::rng()).unwrap();
        let audit =
            openclm_core::audit::NewAudit::new("cli:test", "create", format!("user/{user_id}"));
        assert!(
            self.store.create_user(user, hash, audit).await.unwrap(),
            "{user_id} exists"
        );
        self.login(user_id, PASSWORD).await.unwrap()
    }

    /// The session of `user_id` with `role`, made on first use: for the routes that only a
    /// person may call (reviews, the PV queue, privacy requests), which API keys may not.
    pub async fn signed_in(&self, user_id: &str, role: &str) -> String {
        match self.login(user_id, PASSWORD).await {
            Ok(token) => token,
            Err(_) => self.user(user_id, role, &[]).await,
        }
    }

    /// Withdraws content as an MLR reviewer (made on first use).
    pub async fn withdraw(&self, id: &str) {
        let reviewer = self.signed_in("withdrawer", "mlr_reviewer").await;
        let r = self
            .call(
                &reviewer,
                "POST",
                &format!("/v1/content/{id}/withdraw"),
                Some(json!({"reason": "withdrawn by the test"})),
            )
            .await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }

    /// Signs in; the session token, or the refusal's status.
    pub async fn login(&self, user_id: &str, password: &str) -> Result<String, u16> {
        let r = self
            .client
            .post(format!("{}/v1/login", self.base))
            .json(&json!({"user_id": user_id, "password": password}))
            .send()
            .await
            .unwrap();
        if r.status() != 200 {
            return Err(r.status().as_u16());
        }
        Ok(r.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned())
    }

    /// Sends `method path` with an optional JSON body as `key` (an API key or session token).
    pub async fn call(
        &self,
        key: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    pub async fn event_count(&self) -> u64 {
        self.store.counts().await.unwrap().events
    }
}

/// A valid event of HCP `CRM-{hcp}` in source `crm`.
pub fn event(id: &str, hcp: usize, minute: i64) -> Value {
    let at = openclm_core::Timestamp::from_millis(1_790_000_000_000 + minute * 60_000);
    json!({"event_id": id, "occurred_at": at.to_string(), "hcp": format!("CRM-{hcp}"), "source": "crm",
           "channel": "email", "type": "opened"})
}
