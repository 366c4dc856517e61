//! A small closed-loop HTTP/1.1 load generator (keep-alive, one request in
//! flight per connection, like wrk's default) and a bare actix-web hello
//! server to measure against. Shared by the benches.
#![allow(dead_code)]

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The development settings (the defaults production runs with, plus
/// test-only secrets), read from the repository's `config/`.
pub fn dev_settings() -> anjia::config::Settings {
    anjia::config::Settings::load_from(
        &std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config"),
        anjia::config::Environment::Development,
    )
    .unwrap()
}

/// A PostgreSQL database of the bench's own, beside the one `admin_url`
/// names; [`BenchDatabase::drop`] removes it.
pub struct BenchDatabase {
    admin_url: String,
    pub name: String,
    pub url: String,
}

impl BenchDatabase {
    pub async fn create(admin_url: &str) -> Self {
        use sea_orm::ConnectionTrait;
        let name = format!("anjia_bench_{}", uuid::Uuid::now_v7().simple());
        let admin = sea_orm::Database::connect(admin_url).await.unwrap();
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        let (base, _) = admin_url.rsplit_once('/').unwrap();
        Self {
            admin_url: admin_url.to_owned(),
            url: format!("{base}/{name}"),
            name,
        }
    }

    pub async fn drop(self) {
        use sea_orm::ConnectionTrait;
        let admin = sea_orm::Database::connect(&self.admin_url).await.unwrap();
        let _ = admin
            .execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await;
    }
}

pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Starts a bare actix-web server answering `GET /` with a short text, with
/// as many workers as anjia uses; returns its port.
pub fn hello_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            actix_web::HttpServer::new(|| {
                actix_web::App::new()
                    .route("/", actix_web::web::get().to(|| async { "Hello, world!" }))
            })
            .workers(workers)
            .listen(listener)
            .unwrap()
            .run()
            .await
            .unwrap();
        });
    });
    port
}

/// One request target: raw request bytes sent on every iteration, or taken
/// in turn from a pool of distinct requests (each used once while the pool lasts).
pub struct Target {
    pub name: String,
    pub port: u16,
    pub requests: Arc<Vec<Vec<u8>>>,
    pub next: Arc<std::sync::atomic::AtomicUsize>,
}

impl Target {
    pub fn get(name: &str, port: u16, path: &str, bearer: Option<&str>) -> Self {
        let auth = bearer
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\n");
        Self::raw(name, port, request.into_bytes())
    }

    pub fn post(name: &str, port: u16, path: &str, headers: &str, body: &[u8]) -> Self {
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n{headers}\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        Self::raw(name, port, request)
    }

    pub fn raw(name: &str, port: u16, request: Vec<u8>) -> Self {
        Self::pool(name, port, vec![request])
    }

    pub fn pool(name: &str, port: u16, requests: Vec<Vec<u8>>) -> Self {
        Self {
            name: name.to_owned(),
            port,
            requests: Arc::new(requests),
            next: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
        }
    }

    /// How many requests were taken from the pool so far.
    pub fn used(&self) -> usize {
        self.next.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[derive(Clone, Debug, Default)]
pub struct RoundStats {
    pub requests: u64,
    pub errors: u64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// Reads one HTTP/1.1 response (Content-Length framed) from `stream`;
/// returns its status and body.
async fn read_response(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
) -> std::io::Result<(u16, Vec<u8>)> {
    loop {
        if let Some(end) = find(buf, b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end]).unwrap_or("");
            let status: u16 = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0);
            let total = end + 4 + length;
            while buf.len() < total {
                read_more(stream, buf).await?;
            }
            let body = buf[end + 4..total].to_vec();
            buf.drain(..total);
            return Ok((status, body));
        }
        read_more(stream, buf).await?;
    }
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<()> {
    let mut chunk = [0u8; 16 * 1024];
    let n = stream.read(&mut chunk).await?;
    if n == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "closed",
        ));
    }
    buf.extend_from_slice(&chunk[..n]);
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Sends one request on a fresh connection; returns the body (any status).
pub async fn one_request(port: u16, request: &str) -> Vec<u8> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    read_response(&mut stream, &mut buf).await.unwrap().1
}

/// Drives `target` with `connections` closed loops for `duration`.
pub async fn load(target: &Target, connections: usize, duration: Duration) -> RoundStats {
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(connections);
    for _ in 0..connections {
        let requests = Arc::clone(&target.requests);
        let next = Arc::clone(&target.next);
        let port = target.port;
        tasks.push(tokio::spawn(async move {
            let mut latencies: Vec<u32> = Vec::with_capacity(16 * 1024);
            let mut errors = 0u64;
            let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            stream.set_nodelay(true).unwrap();
            let mut buf = Vec::with_capacity(16 * 1024);
            while Instant::now() < deadline {
                let request = if requests.len() == 1 {
                    &requests[0]
                } else {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    &requests[i % requests.len()]
                };
                let t = Instant::now();
                if stream.write_all(request).await.is_err() {
                    errors += 1;
                    break;
                }
                match read_response(&mut stream, &mut buf).await {
                    Ok((status, _)) => {
                        if !(200..300).contains(&status) {
                            errors += 1;
                        }
                        latencies.push(t.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                    }
                    Err(_) => {
                        errors += 1;
                        break;
                    }
                }
            }
            (latencies, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.unwrap();
        all.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| -> f64 {
        if all.is_empty() {
            return 0.0;
        }
        let i = ((all.len() as f64 - 1.0) * p).round() as usize;
        f64::from(all[i]) / 1000.0
    };
    RoundStats {
        requests: all.len() as u64,
        errors,
        rps: all.len() as f64 / elapsed,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    }
}

/// Alternates the targets for `rounds` rounds (after a one-second warm-up of
/// each); returns every round of every target.
pub async fn run_rounds(
    targets: &[Target],
    connections: usize,
    duration: Duration,
    rounds: usize,
) -> Vec<(String, Vec<RoundStats>)> {
    for t in targets {
        load(t, connections, Duration::from_secs(1)).await;
    }
    let mut results: Vec<(String, Vec<RoundStats>)> = targets
        .iter()
        .map(|t| (t.name.clone(), Vec::new()))
        .collect();
    for _ in 0..rounds {
        for (i, t) in targets.iter().enumerate() {
            let stats = load(t, connections, duration).await;
            results[i].1.push(stats);
        }
    }
    results
}

pub fn median_round(rounds: &[RoundStats]) -> RoundStats {
    let mut sorted = rounds.to_vec();
    sorted.sort_by(|a, b| a.rps.total_cmp(&b.rps));
    sorted.get(sorted.len() / 2).cloned().unwrap_or_default()
}

/// Prints a Markdown table: median round per target, and its ratio to the
/// baseline target (`baseline` is an index into `results`).
pub fn report(results: &[(String, Vec<RoundStats>)], baseline: usize) {
    let base = median_round(&results[baseline].1).rps;
    println!();
    println!(
        "| target | median req/s | vs {} | p50 ms | p99 ms | errors | rounds (req/s) |",
        results[baseline].0
    );
    println!("|---|---:|---:|---:|---:|---:|---|");
    for (name, rounds) in results {
        let m = median_round(rounds);
        let all: Vec<String> = rounds.iter().map(|r| format!("{:.0}", r.rps)).collect();
        let errors: u64 = rounds.iter().map(|r| r.errors).sum();
        println!(
            "| {name} | {:.0} | {:.0}% | {:.2} | {:.2} | {errors} | {} |",
            m.rps,
            100.0 * m.rps / base,
            m.p50_ms,
            m.p99_ms,
            all.join(", ")
        );
    }
}
