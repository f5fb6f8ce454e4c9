//! Micro-benchmarks of the hot path: issuing and verifying an access token, and the guard's work
//! before its session check (reading the `Authorization` header, verifying the token). `token_verify`
//! is the remembered path every repeat request takes; `token_verify_uncached` is a token's first use.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse::auth::TokenKeys;
use gatehouse::auth::sessions::authenticator::Credential;
use gatehouse::config::Settings;
use gatehouse::web::http::guard::presented_token;
use rocket::figment::Figment;
use rocket::http::Header;
use rocket::local::blocking::Client;
use uuid::Uuid;

fn keys() -> TokenKeys {
    let figment = Figment::new()
        .merge(("jwt_secret", "benchmark-secret-0123456789abcdefghijkl"))
        .merge(("secret_key", "benchmark-master-secret-0123456789abcdef"));
    TokenKeys::new(&Settings::from_figment(&figment).expect("settings").0)
}

fn tokens(c: &mut Criterion) {
    let keys = keys();
    let (user, session) = (Uuid::new_v4(), Uuid::new_v4());
    let token = keys.issue(user, session, "alice");

    c.bench_function("token_issue", |b| {
        b.iter(|| keys.issue(black_box(user), black_box(session), "alice"))
    });
    c.bench_function("token_verify", |b| {
        b.iter(|| keys.verify(black_box(&token)).expect("valid"))
    });
    c.bench_function("token_verify_uncached", |b| {
        b.iter(|| keys.verify_uncached(black_box(&token)).expect("valid"))
    });

    let client = Client::untracked(rocket::custom(Figment::from(rocket::Config::default())))
        .expect("a rocket");
    let request = client
        .get("/protected")
        .header(Header::new("Authorization", format!("Bearer {token}")));
    c.bench_function("guard_header_and_verify", |b| {
        b.iter(|| {
            let presented = presented_token(request.inner(), "gatehouse_at").expect("a token");
            match presented {
                Credential::Bearer(t) => keys.verify(black_box(t)).expect("valid"),
                Credential::Cookie(_) => unreachable!(),
            }
        })
    });
}

criterion_group!(benches, tokens);
criterion_main!(benches);
