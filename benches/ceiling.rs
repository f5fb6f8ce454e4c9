//! Benchmark helpers for `scripts/bench` (not a test):
//! - `ceiling PORT`: the same Rocket build serving one route that returns a constant JSON body:
//!   what this stack can answer at most on this machine, for comparison with `/protected`.
//! - `bcrypt COST`: the single-thread time of one bcrypt verify at COST, in milliseconds, as the
//!   server runs it (`bcrypt-rust`), then the same through the `bcrypt` crate, then the time per
//!   check of a full SIMD batch (`verify_many` over every lane of the detected backend).

use std::time::Instant;

use rocket::serde::json::{Json, Value, json};
use rocket::{get, routes};

#[get("/constant")]
fn constant() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

const PASSWORD: &str = "a benchmark password";

/// Milliseconds per check: the best of three timings of `checks` checks made by `work`.
fn per_check_ms(checks: usize, work: impl Fn()) -> f64 {
    (0..3)
        .map(|_| {
            let started = Instant::now();
            work();
            started.elapsed().as_secs_f64() * 1000.0 / checks as f64
        })
        .fold(f64::MAX, f64::min)
}

fn bcrypt_ms(cost: u32) -> [f64; 3] {
    let hash = bcrypt_rust::hash(PASSWORD, cost).expect("hash");
    let ours = per_check_ms(1, || {
        assert!(bcrypt_rust::verify(PASSWORD, &hash).expect("verify"));
    });
    let crate_bcrypt = per_check_ms(1, || {
        assert!(bcrypt::verify(PASSWORD, &hash).expect("verify"));
    });
    let lanes = bcrypt_rust::detected_backend().lanes();
    let passwords = vec![PASSWORD.as_bytes(); lanes];
    let hashes = vec![hash.as_str(); lanes];
    let batch = per_check_ms(lanes, || {
        let matched = bcrypt_rust::verify_many(&passwords, &hashes);
        assert!(matched.iter().all(|m| m == &Ok(true)));
    });
    [ours, crate_bcrypt, batch]
}

#[rocket::main]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args.first().map(String::as_str) {
        Some("ceiling") => {
            let port: u16 = args
                .get(1)
                .and_then(|p| p.parse().ok())
                .expect("ceiling PORT");
            let figment = rocket::Config::figment()
                .merge(("port", port))
                .merge(("log_level", "off"));
            let _ = rocket::custom(figment)
                .mount("/", routes![constant])
                .launch()
                .await;
        }
        Some("bcrypt") => {
            let cost: u32 = args.get(1).and_then(|c| c.parse().ok()).unwrap_or(12);
            let [ours, crate_bcrypt, batch] = bcrypt_ms(cost);
            println!("{ours:.1} {crate_bcrypt:.1} {batch:.1}");
        }
        _ => eprintln!("usage: ceiling PORT | bcrypt COST"),
    }
}
