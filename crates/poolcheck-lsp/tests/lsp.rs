//! The language server end to end, in process, over an in-memory pipe.

mod support;

use poolcheck_lsp::Ending;
use serde_json::{Value, json};
use support::*;

async fn demo() -> TestClient {
    let mut c = TestClient::start(copy_fixture("demo"));
    let init = c.initialize(full_capabilities(), json!({})).await;
    assert_eq!(init["capabilities"]["positionEncoding"], "utf-16");
    assert_eq!(init["serverInfo"]["name"], "poolcheck");
    c
}

fn message_of<'a>(diagnostics: &'a [Value], code: &str) -> &'a str {
    find(diagnostics, code)["message"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_whole_workspace_is_published_without_opening_a_file() {
    let mut c = demo().await;
    let db = c.diagnostics("shop/db.py", |d| !d.is_empty()).await;
    assert_eq!(
        codes(&db),
        ["PC101", "PC103", "PC201", "PC204", "PC208", "PC503"]
    );
    let pc101 = find(&db, "PC101");
    assert_eq!(pc101["source"], "poolcheck");
    assert_eq!(pc101["severity"], 1);
    assert_eq!(
        pc101["codeDescription"]["href"],
        "https://github.com/poolcheck/poolcheck/blob/main/docs/rules/PC101.md"
    );
    // The primary range is the `pool_size=POOL_SIZE` argument on line 7.
    assert_eq!(
        pc101["range"],
        json!({"start": {"line": 6, "character": 37}, "end": {"line": 6, "character": 56}})
    );
    let related: Vec<&str> = pc101["relatedInformation"]
        .as_array()
        .expect("related information")
        .iter()
        .map(|r| r["location"]["uri"].as_str().unwrap_or_default())
        .collect();
    for file in [
        "gunicorn.conf.py",
        "Procfile",
        "deploy/postgresql.conf",
        "shop/db.py",
    ] {
        assert!(
            related.contains(&c.uri(file).as_str()),
            "{file} in {related:?}"
        );
    }

    // The finding also shows in the files that hold its factors.
    let conf = c
        .diagnostics("deploy/postgresql.conf", |d| !d.is_empty())
        .await;
    let copies: Vec<&Value> = conf.iter().filter(|d| d["code"] == "PC101").collect();
    assert_eq!(copies.len(), 2, "max_connections and the reservation");
    let max_connections = copies
        .iter()
        .find(|d| d["range"]["start"]["line"] == 2)
        .expect("a copy on the max_connections line");
    assert_eq!(
        max_connections["range"],
        json!({"start": {"line": 2, "character": 18}, "end": {"line": 2, "character": 21}})
    );
    let message = max_connections["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("max_connections = 200 (a factor of PC101 at "),
        "{message}"
    );
    assert_eq!(
        max_connections["relatedInformation"][0]["location"]["uri"],
        c.uri("shop/db.py")
    );
    let gunicorn = c.diagnostics("gunicorn.conf.py", |d| !d.is_empty()).await;
    assert!(has_code(&gunicorn, "PC101"));
    assert_eq!(c.finish().await, Ending::Clean);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_edit_in_one_file_republishes_every_file_of_the_finding() {
    let mut c = demo().await;
    c.diagnostics("shop/db.py", |d| has_code(d, "PC101")).await;
    let text = c.open("gunicorn.conf.py", "python").await;
    // Incremental change: "8" -> "2" inside os.environ.get("GUNICORN_WORKERS", "8").
    let at = position_of(&text, "8\"))");
    let end = json!({"line": at["line"], "character": at["character"].as_u64().unwrap_or(0) + 1});
    c.change(
        "gunicorn.conf.py",
        2,
        json!([{"range": {"start": at, "end": end}, "text": "2"}]),
    )
    .await;
    let db = c
        .diagnostics("shop/db.py", |d| {
            d.iter().any(|x| {
                x["code"] == "PC101"
                    && x["message"]
                        .as_str()
                        .unwrap_or("")
                        .starts_with("295 connections")
            })
        })
        .await;
    assert!(
        message_of(&db, "PC101").starts_with("295 connections to PostgreSQL server"),
        "{}",
        message_of(&db, "PC101")
    );
    let conf = c
        .diagnostics("deploy/postgresql.conf", |d| {
            d.iter().any(|x| {
                x["message"]
                    .as_str()
                    .unwrap_or("")
                    .contains("295 connections")
            })
        })
        .await;
    assert!(has_code(&conf, "PC101"));

    // Enough slots: PC101 goes away everywhere, and files left without
    // findings are cleared.
    let conf_text = c.open("deploy/postgresql.conf", "conf").await;
    let full = conf_text.replace("max_connections = 200", "max_connections = 2000");
    c.change("deploy/postgresql.conf", 2, json!([{"text": full}]))
        .await;
    let db = c.diagnostics("shop/db.py", |d| !has_code(d, "PC101")).await;
    assert!(has_code(&db, "PC201"), "the other findings stay");
    c.diagnostics("deploy/postgresql.conf", <[Value]>::is_empty)
        .await;

    // Closing the buffer goes back to the disk's 200.
    c.notify(
        "textDocument/didClose",
        json!({"textDocument": {"uri": c.uri("deploy/postgresql.conf")}}),
    )
    .await;
    let db = c.diagnostics("shop/db.py", |d| has_code(d, "PC101")).await;
    assert!(message_of(&db, "PC101").starts_with("295 connections"));
    assert_eq!(c.finish().await, Ending::Clean);
}

async fn hover(c: &mut TestClient, file: &str, text: &str, needle: &str) -> String {
    let uri = c.uri(file);
    let result = c
        .request(
            "textDocument/hover",
            json!({"textDocument": {"uri": uri}, "position": position_of(text, needle)}),
        )
        .await;
    let root = format!("{}/", c.root.display());
    result["contents"]["value"]
        .as_str()
        .unwrap_or("<no hover>")
        .replace(&root, "")
}

#[tokio::test(flavor = "multi_thread")]
async fn hover_writes_out_the_budget_with_this_factors_share() {
    let mut c = demo().await;
    c.diagnostics("shop/db.py", |d| has_code(d, "PC101")).await;
    let db = c.open("shop/db.py", "python").await;
    assert_eq!(
        hover(&mut c, "shop/db.py", &db, "30, pool_pre_ping").await,
        "**max_overflow 30 (shop/db.py:7)**\n\n\
         service `web`: 8 workers × (pool_size 15 + max_overflow 30) = 360 of 197 usable at `deploy/postgresql.conf` (this factor: 8 × 30 = 240)\n\n\
         service `worker`: 4 worker processes × (pool_size 15 + max_overflow 30) = 180 of 197 usable at `deploy/postgresql.conf` (this factor: 4 × 30 = 120)\n\n\
         demand at `deploy/postgresql.conf`: 565 of 197 usable (service `web` 360 + service `worker` 180 + pgbouncer `deploy/pgbouncer.ini` 25) — 368 over"
    );
    // The `pool_size=POOL_SIZE` argument: its value comes from an environment default elsewhere.
    let pool_size = hover(&mut c, "shop/db.py", &db, "POOL_SIZE, max_overflow").await;
    assert!(
        pool_size.starts_with("**pool_size 15 (default of $DB_POOL_SIZE, shop/settings.py"),
        "{pool_size}"
    );
    assert!(
        pool_size.contains("(this factor: 8 × 15 = 120)"),
        "{pool_size}"
    );

    let gunicorn = c.open("gunicorn.conf.py", "python").await;
    let workers = hover(&mut c, "gunicorn.conf.py", &gunicorn, "workers =").await;
    assert!(
        workers.starts_with("**8 workers (default of $GUNICORN_WORKERS, gunicorn.conf.py:5)**"),
        "{workers}"
    );
    assert!(
        workers.contains("service `web`: 8 workers × (pool_size 15 + max_overflow 30) = 360 of 197 usable at `deploy/postgresql.conf` (this factor: 8 × 45 = 360)"),
        "{workers}"
    );

    let conf = c.open("deploy/postgresql.conf", "conf").await;
    let max = hover(&mut c, "deploy/postgresql.conf", &conf, "max_connections").await;
    assert!(
        max.contains("`deploy/postgresql.conf`: max_connections 200 − 3 superuser_reserved_connections = 197 usable"),
        "{max}"
    );

    let ini = c.open("deploy/pgbouncer.ini", "ini").await;
    let clients = hover(&mut c, "deploy/pgbouncer.ini", &ini, "max_client_conn").await;
    assert_eq!(
        clients,
        "**max_client_conn = 100 (deploy/pgbouncer.ini:10)**\n\nclients: 120 of max_client_conn 100 (web 80 + worker 40)"
    );
    // Nothing to say on a line that feeds no rule.
    assert_eq!(
        hover(&mut c, "gunicorn.conf.py", &gunicorn, "import os").await,
        "<no hover>"
    );
    assert_eq!(c.finish().await, Ending::Clean);
}

#[tokio::test(flavor = "multi_thread")]
async fn hover_on_a_suppression_code_shows_the_rule() {
    let mut c = demo().await;
    c.diagnostics("shop/db.py", |d| has_code(d, "PC101")).await;
    let db = c.open("shop/db.py", "python").await;
    let line = "engine = create_engine(DATABASE_URL, pool_size=POOL_SIZE, max_overflow=30, pool_pre_ping=True)";
    let edited = db.replace(line, &format!("{line}  # poolcheck: ignore[PC101, PC2]"));
    c.change("shop/db.py", 2, json!([{"text": edited}])).await;
    let text = hover(&mut c, "shop/db.py", &edited, "PC101,").await;
    assert!(
        text.starts_with("**PC101** `db-connections-exceeded` (error)"),
        "{text}"
    );
    assert!(
        text.contains(
            "[Documentation](https://github.com/poolcheck/poolcheck/blob/main/docs/rules/PC101.md)"
        ),
        "{text}"
    );
    let family = hover(&mut c, "shop/db.py", &edited, "PC2]").await;
    assert!(family.starts_with("`PC2` covers "), "{family}");
    assert_eq!(c.finish().await, Ending::Clean);
}

async fn actions(
    c: &mut TestClient,
    file: &str,
    range: Value,
    only: Option<&[&str]>,
) -> Vec<Value> {
    let mut context = json!({"diagnostics": []});
    if let Some(only) = only {
        context["only"] = json!(only);
    }
    let uri = c.uri(file);
    c.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri}, "range": range, "context": context}),
    )
    .await
    .as_array()
    .cloned()
    .unwrap_or_default()
}

fn titled<'a>(actions: &'a [Value], title: &str) -> &'a Value {
    actions
        .iter()
        .find(|a| a["title"] == title)
        .unwrap_or_else(|| {
            let titles: Vec<&Value> = actions.iter().map(|a| &a["title"]).collect();
            panic!("no action `{title}` in {titles:?}")
        })
}

#[tokio::test(flavor = "multi_thread")]
async fn code_actions_fix_ignore_and_document() {
    let mut c = demo().await;
    c.diagnostics("shop/db.py", |d| has_code(d, "PC101")).await;
    let db = c.open("shop/db.py", "python").await;
    let at = position_of(&db, "pool_size=POOL_SIZE");
    let found = actions(&mut c, "shop/db.py", json!({"start": at, "end": at}), None).await;

    let ignore = titled(&found, "Ignore PC101 on this line");
    assert_eq!(ignore["kind"], "quickfix");
    let edits = ignore["edit"]["changes"][c.uri("shop/db.py")]
        .as_array()
        .cloned()
        .expect("an edit of db.py");
    let ignored = apply_edits(&db, &edits);
    assert!(ignored.contains(
        "engine = create_engine(DATABASE_URL, pool_size=POOL_SIZE, max_overflow=30, pool_pre_ping=True)  # poolcheck: ignore[PC101]\n"
    ));

    let docs = titled(&found, "Show documentation for PC101");
    assert_eq!(docs["command"]["command"], "poolcheck.showDocumentation");
    let url = docs["command"]["arguments"][0].clone();
    assert_eq!(
        url,
        "https://github.com/poolcheck/poolcheck/blob/main/docs/rules/PC101.md"
    );
    c.request(
        "workspace/executeCommand",
        json!({"command": "poolcheck.showDocumentation", "arguments": [url]}),
    )
    .await;
    let shown = c
        .wait_for("showDocument", |m| m["method"] == "window/showDocument")
        .await;
    assert_eq!(shown["params"]["uri"], url);
    assert_eq!(shown["params"]["external"], true);

    // Applying the ignore removes PC101 from db.py and from the factor files.
    c.change("shop/db.py", 2, json!([{"text": ignored}])).await;
    let after = c.diagnostics("shop/db.py", |d| !has_code(d, "PC101")).await;
    assert!(has_code(&after, "PC103"));
    c.diagnostics("deploy/postgresql.conf", <[Value]>::is_empty)
        .await;

    // The rule's own fix, alone and through source.fixAll.poolcheck.
    let cache = position_of(&ignored, "{\"server_settings\"");
    let found = actions(
        &mut c,
        "shop/db.py",
        json!({"start": cache, "end": cache}),
        None,
    )
    .await;
    let fix = titled(
        &found,
        "turn off asyncpg's statement cache (`statement_cache_size=0`)",
    );
    assert_eq!(fix["isPreferred"], true);
    let all = actions(
        &mut c,
        "shop/db.py",
        json!({"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}),
        Some(&["source.fixAll"]),
    )
    .await;
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0]["kind"], "source.fixAll.poolcheck");
    let edits = all[0]["edit"]["changes"][c.uri("shop/db.py")]
        .as_array()
        .cloned()
        .expect("fixAll edits");
    let fixed = apply_edits(&ignored, &edits);
    assert!(fixed.contains(
        "connect_args={\"server_settings\": {\"jit\": \"off\"}, \"statement_cache_size\": 0, \"prepared_statement_cache_size\": 0},"
    ), "{fixed}");
    c.change("shop/db.py", 3, json!([{"text": fixed}])).await;
    c.diagnostics("shop/db.py", |d| !has_code(d, "PC201")).await;
    assert_eq!(c.finish().await, Ending::Clean);
}

#[tokio::test(flavor = "multi_thread")]
async fn ignoring_from_a_factor_file_edits_the_primary_line() {
    let mut c = demo().await;
    c.diagnostics("deploy/pgbouncer.ini", |d| has_code(d, "PC101"))
        .await;
    let ini = c.open("deploy/pgbouncer.ini", "ini").await;
    let at = position_of(&ini, "20");
    let found = actions(
        &mut c,
        "deploy/pgbouncer.ini",
        json!({"start": at, "end": at}),
        None,
    )
    .await;
    // PC101's primary is in db.py: the suppression goes there. Files are
    // named from the project root, not from the server's working directory.
    let ignore = titled(&found, "Ignore PC101 at shop/db.py:7");
    assert!(ignore["edit"]["changes"][c.uri("shop/db.py")].is_array());

    assert_eq!(c.finish().await, Ending::Clean);
}

#[tokio::test(flavor = "multi_thread")]
async fn positions_are_utf16_by_default_and_utf8_when_offered() {
    let dir = copy_fixture("demo");
    let db_path = dir.path().join("shop/db.py");
    let text = std::fs::read_to_string(&db_path).expect("db.py");
    let text = text.replace(
        "engine = create_engine(DATABASE_URL,",
        "engine = create_engine(\"postgresql+psycopg2://shöp😀@db:5432/shop\",",
    );
    std::fs::write(&db_path, &text).expect("write db.py");
    let line = text
        .lines()
        .find(|l| l.starts_with("engine ="))
        .expect("engine line");
    let prefix = &line[..line.find("pool_size=").expect("pool_size")];
    let utf16: usize = prefix.chars().map(char::len_utf16).sum();

    let mut c = TestClient::start(dir);
    c.initialize(full_capabilities(), json!({})).await;
    let db = c.diagnostics("shop/db.py", |d| has_code(d, "PC101")).await;
    assert_eq!(find(&db, "PC101")["range"]["start"]["character"], utf16);
    // Hover at a UTF-16 position past the emoji lands on the right setting.
    let hovered = hover(&mut c, "shop/db.py", &text, "30, pool_pre_ping").await;
    assert!(hovered.starts_with("**max_overflow 30"), "{hovered}");
    c.finish().await;

    let dir = copy_fixture("demo");
    std::fs::write(dir.path().join("shop/db.py"), &text).expect("write db.py");
    let mut c = TestClient::start(dir);
    let mut caps = full_capabilities();
    caps["general"]["positionEncodings"] = json!(["utf-8", "utf-16"]);
    let init = c.initialize(caps, json!({})).await;
    assert_eq!(init["capabilities"]["positionEncoding"], "utf-8");
    let db = c.diagnostics("shop/db.py", |d| has_code(d, "PC101")).await;
    assert_eq!(
        find(&db, "PC101")["range"]["start"]["character"],
        prefix.len()
    );
    assert_ne!(prefix.len(), utf16);
    assert_eq!(c.finish().await, Ending::Clean);
}

#[tokio::test(flavor = "multi_thread")]
async fn settings_and_configuration_files_reload() {
    let mut c = TestClient::start(copy_fixture("demo"));
    c.initialize(full_capabilities(), json!({"ignore": ["PC5"]}))
        .await;
    let registration = c
        .wait_for("watcher registration", |m| {
            m["method"] == "client/registerCapability"
        })
        .await;
    let watchers = registration["params"]["registrations"][0]["registerOptions"]["watchers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(watchers.iter().any(|w| w["globPattern"] == "**/*.toml"));
    let db = c.diagnostics("shop/db.py", |d| has_code(d, "PC101")).await;
    assert!(!has_code(&db, "PC503"), "initializationOptions ignore PC5");

    c.notify(
        "workspace/didChangeConfiguration",
        json!({"settings": {"poolcheck": {"ignore": ["PC101"], "severity": {"PC103": "info"}}}}),
    )
    .await;
    let db = c
        .diagnostics("shop/db.py", |d| {
            !has_code(d, "PC101") && has_code(d, "PC503")
        })
        .await;
    assert_eq!(find(&db, "PC103")["severity"], 3);

    // A poolcheck.toml appears: the configuration is reloaded from disk.
    std::fs::write(c.path("poolcheck.toml"), "ignore = [\"PC2\"]\n").expect("write config");
    let uri = c.uri("poolcheck.toml");
    c.notify(
        "workspace/didChangeWatchedFiles",
        json!({"changes": [{"uri": uri, "type": 1}]}),
    )
    .await;
    let db = c
        .diagnostics("shop/db.py", |d| !has_code(d, "PC201") && !d.is_empty())
        .await;
    assert_eq!(codes(&db), ["PC103", "PC503"]);

    // Bad settings are reported, the rest still applies.
    c.notify(
        "workspace/didChangeConfiguration",
        json!({"settings": {"select": ["PC9"], "ignore": ["PC103"]}}),
    )
    .await;
    let warning = c
        .wait_for("a settings warning", |m| {
            m["method"] == "window/showMessage"
        })
        .await;
    assert_eq!(
        warning["params"]["message"],
        "poolcheck settings: select: `PC9` matches no rule code"
    );
    assert_eq!(c.finish().await, Ending::Clean);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_never_stops_the_server() {
    let mut c = demo().await;
    c.diagnostics("shop/db.py", |d| has_code(d, "PC101")).await;
    // An unknown request is an error response, not a crash.
    let unknown = c.request_raw("poolcheck/unknown", json!({})).await;
    assert_eq!(unknown["error"]["code"], -32601);
    // A malformed message body, and JSON that is no JSON-RPC message.
    c.send_raw(b"Content-Length: 9\r\n\r\n{not json").await;
    c.send_raw(b"Content-Length: 10\r\n\r\n{\"foo\": 1}").await;
    // Positions far outside the document.
    let uri = c.uri("shop/db.py");
    c.open("shop/db.py", "python").await;
    c.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri}, "position": {"line": 9999, "character": 9999}}),
    )
    .await;
    c.change(
        "shop/db.py",
        2,
        json!([{"range": {"start": {"line": 500, "character": 3}, "end": {"line": 2, "character": 900}}, "text": "\u{0}\u{feff}é"}]),
    )
    .await;
    // Binary junk and broken syntax in a document poolcheck reads.
    c.change(
        "shop/db.py",
        3,
        json!([{"text": "engine = create_engine(\u{0}\u{1}((((\n\"\"\"\n"}]),
    )
    .await;
    // A change for a document that was never opened, and a non-file URI.
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": "untitled:Untitled-1", "version": 1}, "contentChanges": [{"text": "x"}]}),
    )
    .await;
    let db = c.diagnostics("shop/db.py", |d| !has_code(d, "PC101")).await;
    assert!(!has_code(&db, "PC201"));
    // Still answering.
    c.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri}, "range": {"start": {"line": 99, "character": 0}, "end": {"line": 0, "character": 0}}, "context": {"diagnostics": []}}),
    )
    .await;
    assert_eq!(c.finish().await, Ending::Clean);
}

#[tokio::test(flavor = "multi_thread")]
async fn exit_without_shutdown_is_an_abrupt_end() {
    let mut c = TestClient::start(copy_fixture("demo"));
    c.initialize(full_capabilities(), json!({})).await;
    c.notify("exit", Value::Null).await;
    let ending = tokio::time::timeout(std::time::Duration::from_secs(10), c.server)
        .await
        .expect("the server stops")
        .expect("no panic");
    assert_eq!(ending, Ending::Abrupt);
    assert_eq!(ending.exit_status(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_edit_to_a_module_read_on_demand_takes_effect() {
    // shop/settings.py holds no trigger word: the analysis imports it on demand.
    let mut c = demo().await;
    c.diagnostics("shop/db.py", |d| has_code(d, "PC101")).await;
    let text = c.open("shop/settings.py", "python").await;
    let edited = text.replace("\"DB_POOL_SIZE\", \"15\"", "\"DB_POOL_SIZE\", \"1\"");
    c.change("shop/settings.py", 2, json!([{"text": edited}]))
        .await;
    let db = c
        .diagnostics("shop/db.py", |d| {
            d.iter().any(|x| {
                x["code"] == "PC101" && x["message"].as_str().unwrap_or("").starts_with("397 ")
            })
        })
        .await;
    // The edited factor is one of PC101's notes.
    let notes = find(&db, "PC101")["relatedInformation"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        notes.iter().any(|n| n["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("pool_size 1 (default of $DB_POOL_SIZE")),
        "{notes:?}"
    );
    assert_eq!(c.finish().await, Ending::Clean);
}

#[tokio::test(flavor = "multi_thread")]
async fn hover_and_inlay_hints_answer_how_much_fits() {
    // web: 3 replicas × 4 workers, worker: 4 processes, both 5 + 5, 197 usable.
    let mut c = TestClient::start(copy_fixture("compose-capacity"));
    let init = c.initialize(full_capabilities(), json!({})).await;
    assert_eq!(init["capabilities"]["inlayHintProvider"], true);
    c.diagnostics("app/db.py", |d| has_code(d, "PC503")).await;
    let compose = c.open("docker-compose.yml", "yaml").await;
    let replicas = hover(&mut c, "docker-compose.yml", &compose, "replicas: 3").await;
    assert!(
        replicas.contains("**fits up to 3 replicas**, everything else unchanged"),
        "{replicas}"
    );
    let workers = hover(&mut c, "docker-compose.yml", &compose, "--workers 4").await;
    assert!(workers.contains("fits up to 5 workers"), "{workers}");
    let db = c.open("app/db.py", "python").await;
    // Both services open this pool: 16 processes × 12 ≤ 197, so pool_size
    // may grow to 12 − 5 (max_overflow) = 7.
    let pool_size = hover(&mut c, "app/db.py", &db, "pool_size=5").await;
    assert!(pool_size.contains("fits up to pool_size 7"), "{pool_size}");

    let hints = c
        .request(
            "textDocument/inlayHint",
            json!({
                "textDocument": {"uri": c.uri("app/db.py")},
                "range": {"start": {"line": 0, "character": 0}, "end": {"line": 10, "character": 0}},
            }),
        )
        .await;
    let labels: Vec<&str> = hints
        .as_array()
        .expect("a list of hints")
        .iter()
        .filter_map(|h| h["label"].as_str())
        .collect();
    assert!(
        labels.contains(
            &" 3 replicas × 4 workers × (pool_size 5 + max_overflow 5) = 120 of 197 usable"
        ),
        "{labels:?}"
    );
    assert_eq!(c.finish().await, Ending::Clean);
}
