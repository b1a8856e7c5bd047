//! `pdfctl webhooks` against a live `pdfctl up` that allows private addresses
//! (WEBHOOK_ALLOW_PRIVATE=true): the embedded worker delivers to a receiver on 127.0.0.1.

#![allow(
    clippy::unwrap_used,
    reason = "in tests an unwrap failing is the test failing"
)]

mod common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Deployment, text};

/// The headers (lower-cased names) and body of one request.
type Request = (Vec<(String, String)>, String);

/// A receiver on 127.0.0.1 answering every POST 204; what it got.
fn receiver() -> (String, Arc<Mutex<Vec<Request>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut headers = Vec::new();
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            loop {
                line.clear();
                reader.read_line(&mut line).unwrap();
                let Some((name, value)) = line.trim_end().split_once(':') else {
                    break;
                };
                headers.push((name.to_lowercase(), value.trim().to_owned()));
            }
            let length: usize = headers
                .iter()
                .find(|(n, _)| n == "content-length")
                .map_or(0, |(_, v)| v.parse().unwrap());
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            log.lock()
                .unwrap()
                .push((headers, String::from_utf8(body).unwrap()));
            stream
                .write_all(
                    b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .unwrap();
        }
    });
    (url, seen)
}

#[test]
fn webhooks_commands_register_list_show_deliveries_and_remove() {
    let up = Deployment::start_with(&[("WEBHOOK_ALLOW_PRIVATE", "true")]);
    let (url, seen) = receiver();

    let refused = up.run(&["webhooks", "add", "ftp://example.com/"]);
    assert!(!refused.status.success());
    let stderr = text(&refused.stderr);
    assert!(
        stderr.contains("invalid_webhook_url") && stderr.contains("next:"),
        "{stderr}"
    );

    let created = up.json(&["webhooks", "add", &url, "-e", "job.completed", "--json"]);
    let id = created["id"].as_str().unwrap().to_owned();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{created}");
    let list = up.json(&["webhooks", "list", "--json"]);
    assert_eq!(list["webhooks"][0]["id"], id.as_str());
    assert!(!list.to_string().contains(&secret), "{list}");
    let table = text(&up.run(&["webhooks", "list"]).stdout);
    assert!(
        table.contains(&id) && table.contains("job.completed"),
        "{table}"
    );

    let job = up.submit("hello.pdf");
    let deadline = Instant::now() + Duration::from_secs(60);
    let log = loop {
        let log = up.json(&["webhooks", "deliveries", &id[..8], "--json"]);
        if log["deliveries"][0]["status"] == "delivered" {
            break log;
        }
        assert!(Instant::now() < deadline, "{log}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let delivery = &log["deliveries"][0];
    assert_eq!(delivery["event"], "job.completed");
    assert_eq!(delivery["job_id"], job.as_str());
    assert_eq!(delivery["attempts"][0]["status_code"], 204);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let (headers, body) = &seen[0];
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(header("pdfq-delivery"), delivery["id"].as_str().unwrap());
    assert_eq!(header("pdfq-event"), "job.completed");
    assert!(header("pdfq-signature").starts_with("t="), "{headers:?}");
    assert_eq!(body, delivery["payload"].as_str().unwrap());

    let table = text(&up.run(&["webhooks", "deliveries", &id]).stdout);
    assert!(
        table.contains("job.completed") && table.contains("delivered") && table.contains("204"),
        "{table}"
    );

    let without_yes = up.run(&["webhooks", "rm", &id]);
    assert!(!without_yes.status.success(), "asks first");
    let removed = up.json(&["webhooks", "rm", &id, "--yes", "--json"]);
    assert_eq!(removed["deleted"], id.as_str());
    let gone = up.run(&["webhooks", "deliveries", &id]);
    assert!(
        text(&gone.stderr).contains("pdfctl webhooks list"),
        "{}",
        text(&gone.stderr)
    );
}
