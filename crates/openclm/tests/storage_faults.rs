//! A database the server cannot write: refused at start naming its path; at run time, writes
//! answer 503 and `/healthz` says so, and both recover without a restart once the cause is gone.
//! The server runs as a child process: as an unprivileged user when the tests run as root (root
//! writes read-only files), and under a file-size limit to make the disk refuse writes.

use serde_json::json;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_openclm");

fn output(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(out.status.success(), "{program} {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The command that runs the binary as a user for whom file permissions count: unprivileged
/// `nobody` (owning `dir`) when the tests run as root, else the current user.
fn as_unprivileged(dir: &Path) -> Command {
    if output("id", &["-u"]) != "0" {
        return Command::new(BIN);
    }
    let uid = output("id", &["-u", "nobody"]);
    let gid = output("id", &["-g", "nobody"]);
    output(
        "chown",
        &["-R", &format!("{uid}:{gid}"), dir.to_str().unwrap()],
    );
    let mut command = Command::new("setpriv");
    command.args([
        &format!("--reuid={uid}"),
        &format!("--regid={gid}"),
        "--clear-groups",
        "--",
        BIN,
    ]);
    command
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn serve_refuses_a_database_it_cannot_write_naming_its_path() {
    let parent = tempfile::tempdir().unwrap();
    // Everyone may pass through; the database directory itself belongs to the server's user.
    output("chmod", &["755", parent.path().to_str().unwrap()]);
    let dir = parent.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    let db = dir.join("openclm.db");
    let db = db.to_str().unwrap();
    let migrate = as_unprivileged(&dir)
        .args(["migrate", "--database-url", db])
        .env("OPENCLM_LOG", "warn")
        .output()
        .unwrap();
    assert!(migrate.status.success(), "{migrate:?}");
    output("chmod", &["444", db]);
    output("chmod", &["555", dir.to_str().unwrap()]);
    let mut server = as_unprivileged(&dir)
        .args(["serve", "--database-url", db, "--listen"])
        .arg(format!("127.0.0.1:{}", free_port()))
        .env("OPENCLM_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = server.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = server.kill();
            let _ = server.wait();
            output("chmod", &["755", dir.to_str().unwrap()]);
            panic!("serve started on a database it cannot write");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(server.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    output("chmod", &["755", dir.to_str().unwrap()]);
    assert!(!status.success());
    assert!(stderr.contains(db), "{stderr}");
    assert!(
        stderr.contains("the database cannot be written"),
        "{stderr}"
    );
}

/// `openclm serve`, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn set_file_size_limit(pid: u32, limit: &str) {
    output(
        "prlimit",
        &["--pid", &pid.to_string(), &format!("--fsize={limit}:")],
    );
}

#[tokio::test]
async fn refused_writes_answer_503_and_recover_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("openclm.db");
    let db = db.to_str().unwrap();
    let key = |role: &str| {
        let out = Command::new(BIN)
            .args(["keys", "create", "--role", role, "--database-url", db])
            .env("OPENCLM_LOG", "warn")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .last()
            .unwrap()
            .to_owned()
    };
    let admin = key("admin");
    let port = free_port();
    // A process over its file-size limit gets SIGXFSZ; ignored (and inherited through exec),
    // the write fails with EFBIG instead, as on a full disk.
    let child = Command::new("sh")
        .args(["-c", "trap '' XFSZ; exec \"$0\" \"$@\"", BIN, "serve"])
        .args(["--database-url", db, "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .env("OPENCLM_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server(child);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "the server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let put_hcp = |id: &str| {
        client
            .put(format!("{base}/v1/hcps/{id}"))
            .bearer_auth(&admin)
            .json(
                &json!({"name": "Dr. Disk", "specialty": "cardiology", "country": "DE",
                          "external_ids": [{"system": "crm", "id": format!("CRM-{id}")}]}),
            )
            .send()
    };
    let post_event = |id: &str| {
        client
            .post(format!("{base}/v1/events"))
            .bearer_auth(&admin)
            .json(
                &json!([{"event_id": id, "occurred_at": "2026-01-05T10:00:00Z",
                           "hcp": "CRM-hcp-1", "source": "crm", "channel": "email",
                           "type": "opened"}]),
            )
            .send()
    };
    let healthz = || client.get(format!("{base}/healthz")).send();
    assert_eq!(put_hcp("hcp-1").await.unwrap().status(), 201);
    assert_eq!(post_event("e-1").await.unwrap().status(), 200);

    // The disk refuses every write.
    set_file_size_limit(server.0.id(), "1");
    let refused = post_event("e-2").await.unwrap();
    assert_eq!(refused.status(), 503);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    assert!(!body.to_string().contains("corrupt"), "{body}");
    assert_eq!(put_hcp("hcp-2").await.unwrap().status(), 503);
    let health = healthz().await.unwrap();
    assert_eq!(health.status(), 503);
    let body: serde_json::Value = health.json().await.unwrap();
    assert_eq!(
        body,
        json!({"status": "unavailable", "reason": "the database cannot be written"})
    );

    // The cause goes away: the same process heals and writes again.
    set_file_size_limit(server.0.id(), "unlimited");
    assert_eq!(healthz().await.unwrap().status(), 200);
    let accepted = post_event("e-2").await.unwrap();
    assert_eq!(accepted.status(), 200);
    let body: serde_json::Value = accepted.json().await.unwrap();
    assert_eq!(body["accepted"], 1, "{body}");
    assert_eq!(put_hcp("hcp-2").await.unwrap().status(), 201);
    assert_eq!(healthz().await.unwrap().status(), 200);
}
