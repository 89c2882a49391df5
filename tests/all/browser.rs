//! The dashboard and the API docs in a real headless Chromium, driven over
//! WebDriver (Debian's `chromium` and `chromium-driver`, which `.ci/run`
//! installs): the pages load with no network beyond the gateway on
//! 127.0.0.1, a form built from a node's JSON Schema calls it, progress
//! moves, a dropped-in plugin appears, and the docs page calls a node.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

use crate::harness::server::{Setup, TestServer};
use crate::support::example;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// A chromedriver on a free loopback port, killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn chromedriver() -> Driver {
    assert!(
        std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists(),
        "the browser tests need Chromium and ChromeDriver: `apt-get install chromium \
         chromium-driver` (.ci/run does)"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return driver;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("chromedriver did not listen within 10 s");
}

async fn browser(driver: &Driver) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,4000"],
        }),
    );
    ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a browser session")
}

const WAIT: Duration = Duration::from_secs(60);

async fn wait_for(browser: &Client, css: &str) -> fantoccini::elements::Element {
    browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("`{css}` did not appear: {e}"))
}

async fn type_into(browser: &Client, css: &str, text: &str) {
    let field = wait_for(browser, css).await;
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

fn card(node: &str) -> String {
    format!("section.node[data-node=\"{node}\"]")
}

async fn dashboard_and_docs(server: &TestServer, browser: &Client) {
    let base = server.http.as_deref().unwrap();
    browser.goto(&format!("{base}/")).await.unwrap();
    wait_for(browser, "tr[data-plugin=\"math\"][data-state=\"ready\"]").await;

    // A form from `text/apply`'s schema: a string, and a record with an
    // enum, an option and an integer.
    let apply = card("text/apply");
    wait_for(browser, &apply).await;
    type_into(browser, &format!("{apply} input[name=\"s\"]"), "hello").await;
    wait_for(
        browser,
        &format!("{apply} select[name=\"style.letter-case\"]"),
    )
    .await
    .select_by_value("upper")
    .await
    .unwrap();
    wait_for(
        browser,
        &format!("{apply} input[name=\"style.prefix.__set\"]"),
    )
    .await
    .click()
    .await
    .unwrap();
    type_into(
        browser,
        &format!("{apply} input[name=\"style.prefix\"]"),
        ">> ",
    )
    .await;
    type_into(
        browser,
        &format!("{apply} input[name=\"style.repeat\"]"),
        "2",
    )
    .await;
    wait_for(browser, &format!("{apply} button[data-action=\"call\"]"))
        .await
        .click()
        .await
        .unwrap();
    wait_for(
        browser,
        &format!("{apply} div[data-role=\"output\"][data-state=\"done\"]"),
    )
    .await;
    let result = wait_for(browser, &format!("{apply} pre[data-role=\"result\"]"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(result.trim(), "\">> HELLOHELLO\"");

    // Progress moves while `math/slow-sum` runs.
    let slow = card("math/slow-sum");
    type_into(browser, &format!("{slow} input[name=\"n\"]"), "20").await;
    type_into(browser, &format!("{slow} input[name=\"delay-ms\"]"), "100").await;
    wait_for(browser, &format!("{slow} button[data-action=\"call\"]"))
        .await
        .click()
        .await
        .unwrap();
    let progress = wait_for(browser, &format!("{slow} progress[data-role=\"progress\"]")).await;
    let mut seen = Vec::new();
    for _ in 0..600 {
        let value = progress.attr("value").await.unwrap().unwrap_or_default();
        if let Ok(v) = value.parse::<f64>()
            && seen.last() != Some(&v)
        {
            seen.push(v);
        }
        if seen.last() == Some(&1.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        seen.iter().any(|v| *v > 0.0 && *v < 1.0) && seen.last() == Some(&1.0),
        "the progress bar did not move: {seen:?}"
    );
    wait_for(
        browser,
        &format!("{slow} div[data-role=\"output\"][data-state=\"done\"]"),
    )
    .await;
    let sum = wait_for(browser, &format!("{slow} pre[data-role=\"result\"]"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(sum.trim(), "210");

    // A plugin dropped into the directory shows up without a reload.
    std::fs::copy(example("math"), server.plugin_dir().join("more.wasm")).unwrap();
    wait_for(browser, "tr[data-plugin=\"more\"][data-state=\"ready\"]").await;
    wait_for(browser, &card("more/add")).await;

    // The docs page lists the operations and calls one.
    browser.goto(&format!("{base}/docs")).await.unwrap();
    let operation = "section.operation[data-operation=\"call_math_add\"]";
    wait_for(browser, operation).await;
    type_into(
        browser,
        &format!("{operation} textarea[data-role=\"body\"]"),
        "[2, 3]",
    )
    .await;
    wait_for(
        browser,
        &format!("{operation} button[data-action=\"execute\"]"),
    )
    .await
    .click()
    .await
    .unwrap();
    wait_for(browser, &format!("{operation} .try[data-state=\"done\"]")).await;
    let answer = wait_for(browser, &format!("{operation} pre[data-role=\"response\"]"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(answer.trim(), "5");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_and_docs_work_in_a_headless_browser() {
    let driver = chromedriver();
    let server = Setup::new()
        .plugin("math", &example("math"), "")
        .plugin("text", &example("text"), "")
        .http()
        .start()
        .await;
    let browser = browser(&driver).await;
    dashboard_and_docs(&server, &browser).await;
    let _ = browser.close().await;
    server.stop().await;
}
