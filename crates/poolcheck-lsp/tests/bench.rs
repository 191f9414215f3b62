//! Edit → publish latency over the protocol: an incremental `didChange` that
//! changes a finding, timed until its `publishDiagnostics` arrives.
//! Run: `cargo test --release -p poolcheck-lsp --test bench -- --ignored --nocapture`.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::*;

async fn measure(
    c: &mut TestClient,
    file: &str,
    needle: &str,
    values: [&str; 2],
    rounds: usize,
) -> Vec<Duration> {
    let text = c.open(file, "python").await;
    let at = position_of(&text, needle);
    let line = at["line"].clone();
    let start = at["character"].as_u64().unwrap_or(0) + needle.find(values[0]).unwrap_or(0) as u64;
    let mut times = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let (from, to) = if round % 2 == 0 {
            (values[0], values[1])
        } else {
            (values[1], values[0])
        };
        let range = json!({
            "start": {"line": line, "character": start},
            "end": {"line": line, "character": start + from.len() as u64},
        });
        let began = Instant::now();
        c.change(
            file,
            round as i32 + 2,
            json!([{"range": range, "text": to}]),
        )
        .await;
        c.diagnostics("shop/db.py", |_| true).await;
        times.push(began.elapsed());
    }
    times
}

fn report(name: &str, mut times: Vec<Duration>) -> Duration {
    times.sort();
    let median = times[times.len() / 2];
    let p90 = times[times.len() * 9 / 10];
    println!(
        "{name}: median {:.2} ms, p90 {:.2} ms, max {:.2} ms over {} edits",
        median.as_secs_f64() * 1e3,
        p90.as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3,
        times.len()
    );
    median
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a benchmark: run with --release --ignored --nocapture"]
async fn edit_to_publish_latency() {
    let mut c = TestClient::start(copy_fixture("demo"));
    c.initialize(full_capabilities(), json!({})).await;
    c.diagnostics("shop/db.py", |d| has_code(d, "PC101")).await;
    // 8 <-> 9 gunicorn workers: PC101 in db.py changes every time.
    let times = measure(&mut c, "gunicorn.conf.py", "\"8\"))", ["8", "9"], 200).await;
    let demo = report("demo project, gunicorn.conf.py edit", times);
    c.finish().await;

    // A 5,000-line settings module, edited near its end.
    let dir = copy_fixture("demo");
    let mut settings = String::from("\"\"\"Generated settings.\"\"\"\nimport os\n\n");
    settings.push_str("DATABASE_URL = os.environ.get(\"DATABASE_URL\", \"postgresql+psycopg2://shop@db:5432/shop\")\n");
    settings.push_str("REPORTS_DATABASE_URL = os.environ.get(\"REPORTS_DATABASE_URL\", \"postgresql+asyncpg://reports@pgbouncer:6432/reports\")\n");
    let mut line = 5;
    while line < 4_990 {
        match line % 4 {
            0 => settings.push_str(&format!(
                "FEATURE_{line} = os.environ.get(\"FEATURE_{line}\", \"off\")\n"
            )),
            1 => settings.push_str(&format!("LIMIT_{line} = {line} * 2 + 1\n")),
            2 => settings.push_str(&format!(
                "NAMES_{line} = [\"a{line}\", \"b{line}\", \"ü{line}\"]\n"
            )),
            _ => settings.push_str(&format!(
                "OPTIONS_{line} = {{\"timeout\": {line}, \"retries\": 3}}\n"
            )),
        }
        line += 1;
    }
    settings.push_str("POOL_SIZE = int(os.environ.get(\"DB_POOL_SIZE\", \"15\"))\n");
    assert!(settings.lines().count() >= 4_990);
    std::fs::write(dir.path().join("shop/settings.py"), &settings).expect("write settings");
    let mut c = TestClient::start(dir);
    c.initialize(full_capabilities(), json!({})).await;
    c.diagnostics("shop/db.py", |d| has_code(d, "PC101")).await;
    let times = measure(&mut c, "shop/settings.py", "\"15\"))", ["15", "16"], 100).await;
    let large = report("5,000-line settings.py edit", times);
    c.finish().await;
    println!(
        "goals (median): demo ≤ 5 ms ({}), 5,000 lines ≤ 20 ms ({})",
        if demo <= Duration::from_millis(5) {
            "met"
        } else {
            "missed"
        },
        if large <= Duration::from_millis(20) {
            "met"
        } else {
            "missed"
        },
    );
}
