//! Benchmark helpers for `scripts/bench` (not a test):
//! - `ceiling PORT`: the same Rocket build serving one route that returns a constant JSON body:
//!   what this stack can answer at most on this machine, for comparison with `/protected`.
//! - `bcrypt COST`: the single-thread time of one bcrypt verify at COST, in milliseconds.

use std::time::Instant;

use rocket::serde::json::{Json, Value, json};
use rocket::{get, routes};

#[get("/constant")]
fn constant() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

fn bcrypt_ms(cost: u32) -> f64 {
    let hash = bcrypt::hash("a benchmark password", cost).expect("hash");
    let rounds = 8;
    let started = Instant::now();
    for _ in 0..rounds {
        assert!(bcrypt::verify("a benchmark password", &hash).expect("verify"));
    }
    started.elapsed().as_secs_f64() * 1000.0 / f64::from(rounds)
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
            println!("{:.1}", bcrypt_ms(cost));
        }
        _ => eprintln!("usage: ceiling PORT | bcrypt COST"),
    }
}
