//! Sessions that end: refresh rotation and reuse detection, logout, the session list, password
//! change, account deletion, expiry, housekeeping, and revocation seen by another instance.

use rocket::http::{Cookie, Header, Method, Status};
use serde_json::json;

use crate::support::app::{BROWSER_ACCEPT, GOOD_PASSWORD, TestApp};

const NEW_PASSWORD: &str = "an entirely different passphrase";

fn s(v: &serde_json::Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {v}"))
        .to_owned()
}

#[tokio::test]
async fn a_refresh_returns_a_new_pair_of_the_same_session() {
    let app = TestApp::spawn().await;
    app.register("alice", GOOD_PASSWORD).await;
    let first = app.login_tokens("alice").await;

    let response = app.refresh(&s(&first, "refresh_token")).await;

    assert_eq!(response.status, Status::Ok, "{}", response.body);
    let second = response.json();
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert_eq!(second["token"], second["access_token"]);
    let (a, b) = (
        app.claims(&s(&first, "access_token")),
        app.claims(&s(&second, "access_token")),
    );
    assert_eq!((a.sid, a.sub), (b.sid, b.sub));
    assert_eq!(
        app.get_with_bearer("/protected", &s(&second, "access_token"))
            .await
            .status,
        Status::Ok
    );
}

#[tokio::test]
async fn parallel_refreshes_inside_the_grace_window_both_succeed() {
    let app = TestApp::spawn().await;
    app.register("alice", GOOD_PASSWORD).await;
    let tokens = app.login_tokens("alice").await;
    let refresh_token = s(&tokens, "refresh_token");

    let (one, two) = tokio::join!(app.refresh(&refresh_token), app.refresh(&refresh_token));

    for response in [&one, &two] {
        assert_eq!(response.status, Status::Ok, "{}", response.body);
    }
    // Both tabs hold working refresh tokens of the same session.
    for response in [one, two] {
        let next = app.refresh(&s(&response.json(), "refresh_token")).await;
        assert_eq!(next.status, Status::Ok, "{}", next.body);
    }
}

/// docs/api.md §3: inside the grace window a spent token gets the *same* successor again,
/// never a second, independent chain that reuse detection would not see.
#[tokio::test]
async fn replays_inside_the_grace_window_get_the_same_successor_never_a_second_chain() {
    let app = TestApp::spawn().await;
    let other = app.another_instance().await;
    app.register("alice", GOOD_PASSWORD).await;
    let first = s(&app.login_tokens("alice").await, "refresh_token");

    let replays = futures::future::join_all((0..10).map(|i| {
        let instance = if i % 2 == 0 { &app } else { &other };
        instance.refresh(&first)
    }))
    .await;

    let successors: std::collections::BTreeSet<String> = replays
        .iter()
        .map(|r| {
            assert_eq!(r.status, Status::Ok, "{}", r.body);
            s(&r.json(), "refresh_token")
        })
        .collect();
    assert_eq!(successors.len(), 1, "one chain: {successors:?}");
    let access: std::collections::BTreeSet<String> = replays
        .iter()
        .map(|r| s(&r.json(), "access_token"))
        .collect();
    assert_eq!(access.len(), 10, "each answer carries a fresh access token");
    assert_eq!(app.count("refresh_tokens").await, 2);

    // A thief replaying after the window ends the one chain, the victim's included.
    sqlx::query(
        "UPDATE refresh_tokens SET spent_at = now() - interval '1 hour' WHERE spent_at IS NOT NULL",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    app.refresh(&first)
        .await
        .assert_error(Status::Unauthorized, "invalid_token");
    let successor = successors.into_iter().next().unwrap();
    app.refresh(&successor)
        .await
        .assert_error(Status::Unauthorized, "invalid_token");
}

/// Housekeeping never turns a reuse into a plain unknown token: spent tokens live as long as
/// their session.
#[tokio::test]
async fn a_spent_refresh_token_is_recognised_after_housekeeping_for_the_sessions_life() {
    let app = TestApp::spawn().await;
    app.register("alice", GOOD_PASSWORD).await;
    let stolen = s(&app.login_tokens("alice").await, "refresh_token");
    let victim = app.refresh(&stolen).await.json();
    sqlx::query("UPDATE refresh_tokens SET spent_at = now() - interval '40 days' WHERE spent_at IS NOT NULL")
        .execute(&app.pool)
        .await
        .unwrap();

    gatehouse::db::sessions::purge_ended(&app.pool, std::time::Duration::from_secs(86_400))
        .await
        .unwrap();
    let replay = app.refresh(&stolen).await;

    replay.assert_error(Status::Unauthorized, "invalid_token");
    app.get_with_bearer("/protected", &s(&victim, "access_token"))
        .await
        .assert_error(Status::Unauthorized, "invalid_token");
    let events = app.security_events();
    assert!(
        events
            .iter()
            .any(|e| e["outcome"] == "reuse_detected_session_revoked"),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_spent_refresh_token_reused_after_the_grace_window_revokes_the_session() {
    let app = TestApp::spawn_with(|f| f.merge(("refresh_grace_period", 0))).await;
    app.register("alice", GOOD_PASSWORD).await;
    let stolen = s(&app.login_tokens("alice").await, "refresh_token");
    let victim = app.refresh(&stolen).await.json();

    let replay = app.refresh(&stolen).await;

    replay.assert_error(Status::Unauthorized, "invalid_token");
    // The whole session is over, for the victim as much as for the thief.
    app.get_with_bearer("/protected", &s(&victim, "access_token"))
        .await
        .assert_error(Status::Unauthorized, "invalid_token");
    app.refresh(&s(&victim, "refresh_token"))
        .await
        .assert_error(Status::Unauthorized, "invalid_token");
}

#[tokio::test]
async fn unknown_expired_and_malformed_refresh_tokens_are_refused() {
    let app = TestApp::spawn().await;
    app.register("alice", GOOD_PASSWORD).await;
    let tokens = app.login_tokens("alice").await;
    sqlx::query("UPDATE sessions SET expires_at = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .unwrap();

    app.refresh(&s(&tokens, "refresh_token"))
        .await
        .assert_error(Status::Unauthorized, "invalid_token");
    app.refresh("not-a-refresh-token")
        .await
        .assert_error(Status::Unauthorized, "invalid_token");
    app.refresh(&"x".repeat(10_000))
        .await
        .assert_error(Status::Unauthorized, "invalid_token");
    app.post_json("/token/refresh", &json!({}))
        .await
        .assert_error(Status::UnprocessableEntity, "invalid_input");
}

#[tokio::test]
async fn logout_ends_the_access_and_the_refresh_token() {
    let app = TestApp::spawn().await;
    app.register("alice", GOOD_PASSWORD).await;
    let tokens = app.login_tokens("alice").await;
    let access = s(&tokens, "access_token");

    let response = app.bearer(Method::Post, "/logout", &access, None).await;

    assert_eq!(response.status, Status::NoContent);
    app.get_with_bearer("/protected", &access)
        .await
        .assert_error(Status::Unauthorized, "invalid_token");
    app.refresh(&s(&tokens, "refresh_token"))
        .await
        .assert_error(Status::Unauthorized, "invalid_token");
}

/// Another instance learns of a revocation through a PostgreSQL notification, sent at commit:
/// within milliseconds, with no database round trip on its requests.
#[tokio::test]
async fn logout_through_one_instance_ends_the_token_on_another_within_milliseconds() {
    let app = TestApp::spawn().await;
    let other = app.another_instance().await;
    let token = app.signed_in("alice").await;
    assert_eq!(
        other.get_with_bearer("/protected", &token).await.status,
        Status::Ok
    );

    app.bearer(Method::Post, "/logout", &token, None).await;

    // The instance that revoked refuses the token at once; the other one within milliseconds.
    assert_eq!(
        app.get_with_bearer("/protected", &token).await.status,
        Status::Unauthorized
    );
    let took = other.until_refused(&token).await;
    assert!(took < std::time::Duration::from_millis(500), "{took:?}");
}

#[tokio::test]
async fn the_session_list_shows_the_users_own_live_sessions_and_marks_this_one() {
    let app = TestApp::spawn().await;
    app.register("alice", GOOD_PASSWORD).await;
    app.register("bob", GOOD_PASSWORD).await;
    let first = s(&app.login_tokens("alice").await, "access_token");
    let second = s(&app.login_tokens("alice").await, "access_token");
    app.login_tokens("bob").await;

    let response = app.get_with_bearer("/sessions", &second).await;

    assert_eq!(response.status, Status::Ok, "{}", response.body);
    let sessions = response.json();
    let sessions = sessions.as_array().unwrap();
    assert_eq!(sessions.len(), 2, "only alice's sessions: {sessions:?}");
    let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["id"], app.claims(&second).sid.to_string());
    for session in sessions {
        for key in [
            "id",
            "created_at",
            "last_used_at",
            "user_agent",
            "ip",
            "current",
        ] {
            assert!(session.get(key).is_some(), "{key} missing in {session}");
        }
    }
    assert!(
        sessions
            .iter()
            .any(|s| s["id"] == app.claims(&first).sid.to_string())
    );
}

#[tokio::test]
async fn a_user_revokes_one_of_their_sessions_but_never_another_users() {
    let app = TestApp::spawn().await;
    app.register("alice", GOOD_PASSWORD).await;
    app.register("bob", GOOD_PASSWORD).await;
    let laptop = s(&app.login_tokens("alice").await, "access_token");
    let phone = s(&app.login_tokens("alice").await, "access_token");
    let bob = s(&app.login_tokens("bob").await, "access_token");
    let phone_sid = app.claims(&phone).sid;

    let by_bob = app
        .bearer(
            Method::Delete,
            &format!("/sessions/{phone_sid}"),
            &bob,
            None,
        )
        .await;
    let garbage = app
        .bearer(Method::Delete, "/sessions/not-a-uuid", &laptop, None)
        .await;
    let by_alice = app
        .bearer(
            Method::Delete,
            &format!("/sessions/{phone_sid}"),
            &laptop,
            None,
        )
        .await;

    by_bob.assert_error(Status::NotFound, "not_found");
    garbage.assert_error(Status::NotFound, "not_found");
    assert_eq!(by_alice.status, Status::NoContent);
    assert_eq!(
        app.get_with_bearer("/protected", &phone).await.status,
        Status::Unauthorized
    );
    assert_eq!(
        app.get_with_bearer("/protected", &laptop).await.status,
        Status::Ok
    );
    app.bearer(
        Method::Delete,
        &format!("/sessions/{phone_sid}"),
        &laptop,
        None,
    )
    .await
    .assert_error(Status::NotFound, "not_found");
}

#[tokio::test]
async fn signing_out_everywhere_else_keeps_only_this_session() {
    let app = TestApp::spawn().await;
    app.register("alice", GOOD_PASSWORD).await;
    let others = [
        app.login_tokens("alice").await,
        app.login_tokens("alice").await,
    ];
    let this = s(&app.login_tokens("alice").await, "access_token");

    let response = app
        .bearer(Method::Post, "/sessions/revoke-others", &this, None)
        .await;

    assert_eq!(response.status, Status::NoContent);
    for other in others {
        assert_eq!(
            app.get_with_bearer("/protected", &s(&other, "access_token"))
                .await
                .status,
            Status::Unauthorized
        );
    }
    assert_eq!(
        app.get_with_bearer("/protected", &this).await.status,
        Status::Ok
    );
}

#[tokio::test]
async fn changing_the_password_ends_every_other_session_and_keeps_this_one() {
    let app = TestApp::spawn().await;
    app.register("alice", GOOD_PASSWORD).await;
    let other = s(&app.login_tokens("alice").await, "access_token");
    let this = s(&app.login_tokens("alice").await, "access_token");

    let wrong = app
        .bearer(
            Method::Post,
            "/me/password",
            &this,
            Some(json!({"current_password": "not my password", "new_password": NEW_PASSWORD})),
        )
        .await;
    let weak = app
        .bearer(
            Method::Post,
            "/me/password",
            &this,
            Some(json!({"current_password": GOOD_PASSWORD, "new_password": "short"})),
        )
        .await;
    let changed = app
        .bearer(
            Method::Post,
            "/me/password",
            &this,
            Some(json!({"current_password": GOOD_PASSWORD, "new_password": NEW_PASSWORD})),
        )
        .await;

    wrong.assert_error(Status::Forbidden, "invalid_credentials");
    weak.assert_error(Status::UnprocessableEntity, "invalid_input");
    assert!(weak.json()["fields"]["new_password"].is_array());
    assert_eq!(changed.status, Status::NoContent, "{}", changed.body);
    assert_eq!(
        app.get_with_bearer("/protected", &other).await.status,
        Status::Unauthorized
    );
    assert_eq!(
        app.get_with_bearer("/protected", &this).await.status,
        Status::Ok
    );
    assert_eq!(
        app.login("alice", GOOD_PASSWORD).await.status,
        Status::Unauthorized
    );
    assert_eq!(app.login("alice", NEW_PASSWORD).await.status, Status::Ok);
}

#[tokio::test]
async fn deleting_the_account_needs_the_password_and_ends_everything_at_once() {
    let app = TestApp::spawn().await;
    app.register("alice", GOOD_PASSWORD).await;
    let tokens = app.login_tokens("alice").await;
    let token = s(&tokens, "access_token");

    let wrong = app
        .bearer(
            Method::Delete,
            "/me",
            &token,
            Some(json!({"password": "not my password"})),
        )
        .await;
    let deleted = app
        .bearer(
            Method::Delete,
            "/me",
            &token,
            Some(json!({"password": GOOD_PASSWORD})),
        )
        .await;

    wrong.assert_error(Status::Forbidden, "invalid_credentials");
    assert_eq!(deleted.status, Status::NoContent, "{}", deleted.body);
    app.get_with_bearer("/protected", &token)
        .await
        .assert_error(Status::Unauthorized, "invalid_token");
    app.refresh(&s(&tokens, "refresh_token"))
        .await
        .assert_error(Status::Unauthorized, "invalid_token");
    app.login("alice", GOOD_PASSWORD)
        .await
        .assert_error(Status::Unauthorized, "invalid_credentials");
    let left = app.count("sessions").await;
    assert_eq!(left, 0);
}

#[tokio::test]
async fn housekeeping_purges_sessions_that_ended_long_ago_and_keeps_live_ones() {
    let app = TestApp::spawn().await;
    app.register("alice", GOOD_PASSWORD).await;
    let live = app
        .claims(&s(&app.login_tokens("alice").await, "access_token"))
        .sid;
    let old = app
        .claims(&s(&app.login_tokens("alice").await, "access_token"))
        .sid;
    let pool = app.pool.clone();
    sqlx::query("UPDATE sessions SET revoked_at = now() - interval '2 days' WHERE id = $1")
        .bind(old)
        .execute(&pool)
        .await
        .unwrap();

    let purged =
        gatehouse::db::sessions::purge_ended(&pool, std::time::Duration::from_secs(86_400))
            .await
            .unwrap();

    assert_eq!(purged, 1);
    let left: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT id FROM sessions")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(left, [live]);
}

#[tokio::test]
async fn a_browser_without_an_access_cookie_is_renewed_from_its_refresh_cookie() {
    let app = TestApp::spawn().await;
    app.register("alice", GOOD_PASSWORD).await;
    let tokens = app.login_tokens("alice").await;
    let browser = app.another_instance().await;

    let response = browser
        .client
        .get("/dashboard")
        .header(Header::new("Accept", BROWSER_ACCEPT))
        .cookie(Cookie::new("gatehouse_rt", s(&tokens, "refresh_token")))
        .dispatch()
        .await;

    assert_eq!(response.status(), Status::Ok);
    let set: Vec<String> = response
        .headers()
        .get("Set-Cookie")
        .map(str::to_owned)
        .collect();
    assert!(
        set.iter()
            .any(|c| c.starts_with("gatehouse_at=") && c.contains("HttpOnly")),
        "{set:?}"
    );
    let rotated = set
        .iter()
        .find(|c| c.starts_with("gatehouse_rt="))
        .expect("a rotated refresh cookie");
    assert!(!rotated.contains(&s(&tokens, "refresh_token")));
    assert!(
        response
            .into_string()
            .await
            .unwrap()
            .contains("Welcome, alice")
    );
}

#[tokio::test]
async fn an_expired_access_cookie_is_renewed_but_a_forged_one_is_not() {
    let app = TestApp::spawn().await;
    app.register("alice", GOOD_PASSWORD).await;
    let tokens = app.login_tokens("alice").await;
    let mut claims = app.claims(&s(&tokens, "access_token"));
    claims.exp = time::OffsetDateTime::now_utc().unix_timestamp() - 300;
    let expired = crate::support::app::test_keys().sign(&claims);
    let refresh = s(&tokens, "refresh_token");

    let renewed = app
        .client
        .get("/protected")
        .cookie(Cookie::new("gatehouse_at", expired))
        .cookie(Cookie::new("gatehouse_rt", refresh.clone()))
        .dispatch()
        .await;
    assert_eq!(renewed.status(), Status::Ok);

    let fresh_browser = app.another_instance().await;
    let forged = fresh_browser
        .client
        .get("/protected")
        .cookie(Cookie::new("gatehouse_at", "forged.token.value"))
        .cookie(Cookie::new("gatehouse_rt", refresh))
        .dispatch()
        .await;
    assert_eq!(forged.status(), Status::Unauthorized);
}

#[tokio::test]
async fn the_dashboard_lists_sessions_and_its_buttons_work() {
    let app = TestApp::spawn().await;
    app.register("alice", GOOD_PASSWORD).await;
    let elsewhere = s(&app.login_tokens("alice").await, "access_token");
    app.register_in_browser("bob", GOOD_PASSWORD).await;
    // Sign the browser in as alice instead.
    app.login_in_browser("alice", GOOD_PASSWORD)
        .await
        .assert_redirect("/dashboard");

    let dashboard = app.page("/dashboard").await;
    assert!(dashboard.body.contains("this device"));
    let other_sid = app.claims(&elsewhere).sid.to_string();
    assert!(dashboard.body.contains(&other_sid));

    let csrf = dashboard.csrf_token();
    let revoked = app
        .form(
            &format!("/sessions/{other_sid}"),
            &[("_method", "delete"), ("csrf_token", &csrf)],
        )
        .await;
    revoked.assert_redirect("/dashboard");
    assert_eq!(
        app.get_with_bearer("/protected", &elsewhere).await.status,
        Status::Unauthorized
    );

    let wrong = app
        .form(
            "/me/password",
            &[
                ("csrf_token", &csrf),
                ("current_password", "nope nope nope nope"),
                ("new_password", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(wrong.status, Status::Forbidden);
    assert!(wrong.body.contains("the password is incorrect"));
    let changed = app
        .form(
            "/me/password",
            &[
                ("csrf_token", &csrf),
                ("current_password", GOOD_PASSWORD),
                ("new_password", NEW_PASSWORD),
            ],
        )
        .await;
    changed.assert_redirect("/dashboard");
    assert!(
        app.page("/dashboard")
            .await
            .body
            .contains("Your password was changed")
    );

    let deleted = app
        .form(
            "/me",
            &[
                ("_method", "delete"),
                ("csrf_token", &csrf),
                ("password", NEW_PASSWORD),
            ],
        )
        .await;
    deleted.assert_redirect("/");
    assert!(
        app.page("/")
            .await
            .body
            .contains("Your account was deleted.")
    );
    app.page("/dashboard")
        .await
        .assert_redirect("/login?next=/dashboard");
    assert_eq!(
        app.login("alice", NEW_PASSWORD).await.status,
        Status::Unauthorized
    );
}
