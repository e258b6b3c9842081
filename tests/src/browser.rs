//! A real browser for tests: Debian's Chromium, headless, driven over the DevTools protocol.
//!
//! The browser has no route off this machine: every request to another host goes to a proxy
//! that is not there, and every name but the loopback fails to resolve. So a page that works
//! here works on a network without internet access. [`Page::requests`] lists what the page
//! asked for, and [`Page::problems`] what it complained of (exceptions, console errors,
//! Content-Security-Policy refusals), for tests to assert on.
//!
//! ```text
//! let browser = tests::browser::Browser::launch().await;
//! let page = browser.open(&format!("{base}/graphql")).await;
//! page.wait_for("document.querySelector('.graphiql-container') !== null").await;
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

/// How long [`Page::wait_for`] waits unless told.
pub const WAIT: Duration = Duration::from_secs(20);

/// The Chromium binary: `OXBOW_CHROMIUM`, or Debian's.
fn chromium() -> String {
    std::env::var("OXBOW_CHROMIUM").unwrap_or_else(|_| "chromium".to_owned())
}

/// A running headless Chromium; killed when dropped.
pub struct Browser {
    _process: tokio::process::Child,
    /// The DevTools HTTP endpoint, `http://127.0.0.1:<port>`.
    devtools: String,
    profile: std::path::PathBuf,
}

impl Browser {
    /// Starts Chromium. A first start on a busy machine can take long (it builds its font cache,
    /// and the suite builds beside it), so it is given a minute, and a second try if it hangs.
    pub async fn launch() -> Browser {
        let mut said = Vec::new();
        for _ in 0..2 {
            match Browser::try_launch().await {
                Ok(browser) => return browser,
                Err(stderr) => said.push(stderr),
            }
        }
        panic!("chromium did not listen for DevTools within a minute, twice; it said:\n{}", said.join("\n---\n"));
    }

    /// One start; on failure, what Chromium wrote to stderr.
    async fn try_launch() -> Result<Browser, String> {
        let profile = std::env::temp_dir().join(crate::unique_name("chromium"));
        let mut process = tokio::process::Command::new(chromium())
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--metrics-recording-only",
                // No route off this machine (loopback bypasses the proxy).
                "--proxy-server=http://127.0.0.1:9",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "about:blank",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| panic!("start {} (scripts/test installs Debian's chromium): {error}", chromium()));
        // "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/…"
        let mut lines = BufReader::new(process.stderr.take().expect("piped")).lines();
        let mut said = String::new();
        let listening = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(url) = line.split("DevTools listening on ").nth(1) {
                    let address = url.trim_start_matches("ws://").split('/').next().unwrap_or_default();
                    return Some(format!("http://{address}"));
                }
                said.push_str(&line);
                said.push('\n');
            }
            None
        })
        .await;
        let Ok(Some(devtools)) = listening else {
            let _ = process.kill().await;
            let _ = std::fs::remove_dir_all(&profile);
            return Err(said);
        };
        // Keep draining its stderr so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Browser { _process: process, devtools, profile })
    }

    /// Opens `url` in a new tab and waits for it to load.
    pub async fn open(&self, url: &str) -> Page {
        let http = reqwest::Client::new();
        let target: Value = http
            .put(format!("{}/json/new?about:blank", self.devtools))
            .send()
            .await
            .expect("ask DevTools for a tab")
            .json()
            .await
            .expect("DevTools answers JSON");
        let socket = target["webSocketDebuggerUrl"].as_str().expect("a tab's DevTools socket");
        let page = Page::connect(socket).await;
        page.call("Page.enable", json!({})).await;
        page.call("Network.enable", json!({})).await;
        page.call("Runtime.enable", json!({})).await;
        page.call("Log.enable", json!({})).await;
        page.goto(url).await;
        page
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>;
type Lines = Arc<Mutex<Vec<String>>>;

/// One tab.
pub struct Page {
    commands: mpsc::UnboundedSender<Message>,
    pending: Pending,
    next_id: AtomicU64,
    requests: Lines,
    problems: Lines,
}

impl Page {
    async fn connect(url: &str) -> Page {
        let (socket, _) = tokio_tungstenite::connect_async(url).await.expect("connect to the tab's DevTools socket");
        let (mut sink, mut stream) = socket.split();
        let (commands, mut outgoing) = mpsc::unbounded_channel::<Message>();
        tokio::spawn(async move {
            while let Some(message) = outgoing.recv().await {
                if sink.send(message).await.is_err() {
                    break;
                }
            }
        });
        let pending: Pending = Arc::default();
        let (requests, problems): (Lines, Lines) = Default::default();
        let (answers, seen, complaints) = (pending.clone(), requests.clone(), problems.clone());
        tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                let Ok(text) = message.to_text() else { continue };
                let Ok(value) = serde_json::from_str::<Value>(text) else { continue };
                if let Some(id) = value["id"].as_u64() {
                    if let Some(answer) = answers.lock().unwrap().remove(&id) {
                        let _ = answer.send(value);
                    }
                    continue;
                }
                let params = &value["params"];
                match value["method"].as_str().unwrap_or_default() {
                    "Network.requestWillBeSent" => {
                        seen.lock().unwrap().push(params["request"]["url"].as_str().unwrap_or_default().to_owned())
                    }
                    "Network.webSocketCreated" => {
                        seen.lock().unwrap().push(params["url"].as_str().unwrap_or_default().to_owned())
                    }
                    "Runtime.exceptionThrown" => complaints.lock().unwrap().push(format!(
                        "exception: {}",
                        params["exceptionDetails"]["exception"]["description"]
                            .as_str()
                            .or(params["exceptionDetails"]["text"].as_str())
                            .unwrap_or_default()
                    )),
                    "Runtime.consoleAPICalled" if params["type"] == "error" => complaints
                        .lock()
                        .unwrap()
                        .push(format!("console.error: {}", params["args"][0]["value"].as_str().unwrap_or_default())),
                    "Log.entryAdded" if params["entry"]["level"] == "error" => complaints
                        .lock()
                        .unwrap()
                        .push(format!("log: {}", params["entry"]["text"].as_str().unwrap_or_default())),
                    _ => {}
                }
            }
        });
        Page { commands, pending, next_id: AtomicU64::new(1), requests, problems }
    }

    /// Sends a DevTools command and returns its result; panics on a DevTools error.
    pub async fn call(&self, method: &str, params: Value) -> Value {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (answer, answered) = oneshot::channel();
        self.pending.lock().unwrap().insert(id, answer);
        let message = json!({"id": id, "method": method, "params": params});
        self.commands.send(Message::text(message.to_string())).expect("the DevTools socket is open");
        let reply = tokio::time::timeout(WAIT, answered)
            .await
            .unwrap_or_else(|_| panic!("DevTools did not answer {method}"))
            .expect("the DevTools socket closed");
        assert!(reply.get("error").is_none(), "{method}: {reply}");
        reply["result"].clone()
    }

    /// Navigates to `url` and waits until the document has loaded.
    pub async fn goto(&self, url: &str) {
        let navigated = self.call("Page.navigate", json!({"url": url})).await;
        assert!(navigated.get("errorText").is_none(), "navigating to {url}: {navigated}");
        self.wait_for("document.readyState === 'complete'").await;
    }

    /// Evaluates `expression` in the page (awaiting a promise) and returns its value. Panics on
    /// an exception.
    pub async fn eval(&self, expression: &str) -> Value {
        let result = self
            .call("Runtime.evaluate", json!({"expression": expression, "awaitPromise": true, "returnByValue": true}))
            .await;
        if let Some(details) = result.get("exceptionDetails") {
            panic!("{expression}: {details}");
        }
        result["result"]["value"].clone()
    }

    /// Waits until `expression` is truthy in the page, and returns its value.
    pub async fn wait_for(&self, expression: &str) -> Value {
        self.wait_for_within(expression, WAIT).await
    }

    pub async fn wait_for_within(&self, expression: &str, within: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + within;
        // An expression that throws (an element not there yet) counts as false.
        let guarded = format!("(() => {{ try {{ return ({expression}); }} catch (_) {{ return null; }} }})()");
        loop {
            let value = self.eval(&guarded).await;
            let truthy = match &value {
                Value::Null => false,
                Value::Bool(flag) => *flag,
                Value::String(text) => !text.is_empty(),
                Value::Number(number) => number.as_f64() != Some(0.0),
                _ => true,
            };
            if truthy {
                return value;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "waited {within:?} for `{expression}`; the page's problems: {:?}",
                self.problems()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// What axe-core finds against WCAG 2.1 A and AA on the page as it is: one line for each
    /// rule broken, with the elements that break it. (axe comes from `tests/contracts`, which
    /// scripts/test installs; it is evaluated in the page over DevTools, past the page's CSP.)
    pub async fn accessibility_violations(&self) -> Vec<String> {
        if self.eval("typeof window.axe").await != "object" {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/contracts/node_modules/axe-core/axe.min.js");
            let axe = std::fs::read_to_string(path)
                .unwrap_or_else(|error| panic!("read {path} (`npm ci` in tests/contracts): {error}"));
            self.eval(&format!("{axe}\n;true")).await;
        }
        let found = self
            .eval(
                "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
                   .then(result => result.violations.map(v =>
                     `${v.id} (${v.impact}): ${v.help}: ${v.nodes.map(n => n.target.join(' ')).join(', ')}`))",
            )
            .await;
        serde_json::from_value(found).expect("axe's violations")
    }

    /// Every URL the page asked for (documents, scripts, fetches, WebSockets), in order.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    /// What the page complained of: exceptions, console errors, refusals.
    pub fn problems(&self) -> Vec<String> {
        self.problems.lock().unwrap().clone()
    }
}
