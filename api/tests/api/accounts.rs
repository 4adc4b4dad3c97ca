//! Sign-up, sign-in, sign-out, throttling and personal access tokens.

use crate::db_test;
use crate::harness::{spawn_app, spawn_app_with};
use api_types::*;
use client::Client;
use serde_json::json;

db_test!(
    async fn signing_up_sets_a_safe_cookie_and_logging_out_revokes_it(backend) {
        let app = spawn_app(backend).await;
        let http = reqwest::Client::new();
        let response = http
            .post(app.url("/api/auth/signup"))
            .json(&json!({"email": " Ann@Example.TEST ", "password": "long enough", "display_name": " Ann "}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 201);
        let cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(cookie.starts_with("kosuke_session="), "{cookie}");
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"), "{cookie}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["email"], "ann@example.test");
        assert_eq!(body["display_name"], "Ann");
        assert!(!body.to_string().contains("argon2") && body.get("password_hash").is_none());

        let session_cookie = cookie.split(';').next().unwrap().to_owned();
        let me = |cookie: String| {
            let http = http.clone();
            let url = app.url("/api/me");
            async move { http.get(url).header("cookie", cookie).send().await.unwrap().status().as_u16() }
        };
        assert_eq!(me(session_cookie.clone()).await, 200);
        let logout = http
            .post(app.url("/api/auth/logout"))
            .header("cookie", &session_cookie)
            .header("sec-fetch-site", "same-origin")
            .send()
            .await
            .unwrap();
        assert_eq!(logout.status().as_u16(), 204);
        assert_eq!(me(session_cookie).await, 401, "the old cookie no longer works");

        let again = Client::new(&app.address)
            .signup(&SignupRequest { email: "ANN@example.test".into(), password: "another one".into(), display_name: "A".into() })
            .await
            .unwrap_err();
        assert_eq!((again.status(), again.code()), (Some(409), Some(ErrorCode::EmailTaken)));
        let short = Client::new(&app.address)
            .signup(&SignupRequest { email: "bo@example.test".into(), password: "short".into(), display_name: "Bo".into() })
            .await
            .unwrap_err();
        assert_eq!((short.status(), short.code()), (Some(422), Some(ErrorCode::ValidationFailed)));

        let signed_in = Client::new(&app.address);
        let user = signed_in.login(&LoginRequest { email: "ann@example.test".into(), password: "long enough".into() }).await.unwrap();
        assert_eq!(signed_in.me().await.unwrap(), user);
    }
);

db_test!(
    async fn repeated_wrong_passwords_are_throttled(backend) {
        let app = spawn_app_with(backend, |settings| settings.login_attempts = 3).await;
        app.user("ann").await;
        let client = Client::new(&app.address);
        let attempt = |password: &str| LoginRequest { email: "ann@example.test".into(), password: password.into() };
        for _ in 0..3 {
            let err = client.login(&attempt("wrong-password")).await.unwrap_err();
            assert_eq!((err.status(), err.code()), (Some(401), Some(ErrorCode::InvalidCredentials)));
        }
        let response = reqwest::Client::new()
            .post(app.url("/api/auth/login"))
            .json(&json!({"email": "ann@example.test", "password": "ann-password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 429, "even the right password waits");
        let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(retry_after > 0 && retry_after <= 15 * 60);
        let err = client.login(&attempt("x")).await.unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::RateLimited));
        let unknown = client.login(&LoginRequest { email: "nobody@example.test".into(), password: "whatever1".into() }).await;
        assert_eq!(unknown.unwrap_err().code(), Some(ErrorCode::InvalidCredentials), "other accounts are not blocked");
    }
);

db_test!(
    async fn personal_access_tokens_are_shown_once_and_can_be_revoked(backend) {
        let app = spawn_app(backend).await;
        let (ann, user) = app.user("ann").await;
        let (bob, _) = app.user("bob").await;
        let created = ann.create_api_token(&CreateApiTokenRequest { name: " ci ".into() }).await.unwrap();
        assert!(created.token.starts_with("kst_") && created.token.len() > 40);
        assert_eq!(created.name, "ci");
        let listed = ann.list_api_tokens().await.unwrap();
        assert_eq!(listed.tokens.len(), 1);
        assert!(!serde_json::to_string(&listed).unwrap().contains(&created.token), "the secret is never listed");

        let by_token = Client::new(&app.address).with_token(&created.token);
        assert_eq!(by_token.me().await.unwrap(), user);
        let project = app.project(&by_token, "via token").await;
        assert_eq!(ann.get_project(project.id).await.unwrap().name, "via token");
        assert!(ann.list_api_tokens().await.unwrap().tokens[0].last_used_at.is_some());

        assert_eq!(bob.delete_api_token(created.id).await.unwrap_err().status(), Some(404), "not bob's");
        ann.delete_api_token(created.id).await.unwrap();
        assert_eq!(by_token.me().await.unwrap_err().status(), Some(401));
        let empty = ann.create_api_token(&CreateApiTokenRequest { name: "  ".into() }).await.unwrap_err();
        assert_eq!(empty.status(), Some(422));
    }
);

fn signup_request(name: &str) -> SignupRequest {
    SignupRequest {
        email: format!("{name}@example.test"),
        password: format!("{name}-password"),
        display_name: name.to_owned(),
    }
}

db_test!(
    async fn the_first_account_is_the_admin_who_chooses_who_may_sign_up(backend) {
        let app = spawn_app(backend).await;
        let (ann, ann_user) = app.user("ann").await;
        let (bob, bob_user) = app.user("bob").await;
        assert!(ann_user.is_admin && !bob_user.is_admin, "the first account only");
        assert!(ann.me().await.unwrap().is_admin);
        for refused in [bob.admin_users().await.map(drop), bob.admin_settings().await.map(drop), bob.admin_create_invite().await.map(drop)] {
            assert_eq!(refused.unwrap_err().status(), Some(403), "a user is not an admin");
        }
        assert_eq!(ann.admin_settings().await.unwrap().signup, SignupMode::Open, "the default");

        ann.admin_set_settings(&ServerSettings { signup: SignupMode::Closed }).await.unwrap();
        let closed = app.client().signup(&signup_request("carol")).await.unwrap_err();
        assert_eq!((closed.status(), closed.code()), (Some(403), Some(ErrorCode::SignupClosed)));

        ann.admin_set_settings(&ServerSettings { signup: SignupMode::Invite }).await.unwrap();
        let uninvited = app.client().signup(&signup_request("carol")).await.unwrap_err();
        assert_eq!((uninvited.status(), uninvited.code()), (Some(403), Some(ErrorCode::SignupClosed)));
        let invite = ann.admin_create_invite().await.unwrap();
        assert!(invite.url.ends_with(&invite.token) && invite.expires_at > chrono::Utc::now());
        let carol = app.client();
        let made = carol.signup_with_invite(&signup_request("carol"), &invite.token).await.unwrap();
        assert!(!made.is_admin);
        let reused = app.client().signup_with_invite(&signup_request("dave"), &invite.token).await.unwrap_err();
        assert_eq!((reused.status(), reused.code()), (Some(422), Some(ErrorCode::InviteInvalid)), "one use");
        let made_up = app.client().signup_with_invite(&signup_request("dave"), "not-an-invite").await.unwrap_err();
        assert_eq!(made_up.code(), Some(ErrorCode::InviteInvalid));
        let emails: Vec<String> = ann.admin_users().await.unwrap().users.into_iter().map(|u| u.email).collect();
        assert_eq!(emails, ["ann@example.test", "bob@example.test", "carol@example.test"], "nobody else got in");
    }
);

db_test!(
    async fn a_disabled_account_loses_its_sign_ins_and_tokens_at_once(backend) {
        let app = spawn_app(backend).await;
        let (ann, _) = app.user("ann").await;
        let (bob, bob_user) = app.user("bob").await;
        let token = bob.create_api_token(&CreateApiTokenRequest { name: "cli".into() }).await.unwrap().token;
        let by_token = app.client().with_token(&token);
        assert!(bob.me().await.is_ok() && by_token.me().await.is_ok(), "both work (and are cached)");

        let shown = ann.admin_update_user(&bob_user.id, &UpdateUserRequest { disabled: true }).await.unwrap();
        assert!(shown.disabled);
        assert_eq!(bob.me().await.unwrap_err().status(), Some(401), "the cookie");
        assert_eq!(by_token.me().await.unwrap_err().status(), Some(401), "the token");
        let login = LoginRequest { email: "bob@example.test".into(), password: "bob-password".into() };
        let refused = app.client().login(&login).await.unwrap_err();
        assert_eq!((refused.status(), refused.code()), (Some(403), Some(ErrorCode::AccountDisabled)));
        let own = ann.admin_update_user(&ann.me().await.unwrap().id, &UpdateUserRequest { disabled: true }).await.unwrap_err();
        assert_eq!(own.status(), Some(422), "an admin cannot lock themselves out");

        ann.admin_update_user(&bob_user.id, &UpdateUserRequest { disabled: false }).await.unwrap();
        assert!(by_token.me().await.is_ok(), "enabled again");
        assert!(app.client().login(&login).await.is_ok());
    }
);

db_test!(
    async fn failures_on_one_account_never_lock_another_out_and_sign_ups_are_throttled(backend) {
        let app = spawn_app_with(backend, |s| s.signup_attempts = 3).await;
        let (_x, _) = app.user("xena").await;
        let (_y, _) = app.user("yann").await;
        let attacker = app.client();
        let wrong = LoginRequest { email: "xena@example.test".into(), password: "not-her-password".into() };
        let mut statuses = Vec::new();
        for _ in 0..25 {
            statuses.push(attacker.login(&wrong).await.unwrap_err().status());
        }
        assert!(statuses.iter().all(|s| matches!(s, Some(401 | 429))) && statuses.contains(&Some(429)), "{statuses:?}");
        // The same address, another account, the right password: it works.
        let yann = LoginRequest { email: "yann@example.test".into(), password: "yann-password".into() };
        assert_eq!(app.client().login(&yann).await.unwrap().email, "yann@example.test");
        // The attacked account is refused from the address that attacked it.
        let xena = LoginRequest { email: "xena@example.test".into(), password: "xena-password".into() };
        assert_eq!(app.client().login(&xena).await.unwrap_err().status(), Some(429));

        // Two sign-ups so far from this address, of three allowed in the window.
        app.client().signup(&signup_request("zoe")).await.unwrap();
        let throttled = app.client().signup(&signup_request("zack")).await.unwrap_err();
        assert_eq!((throttled.status(), throttled.code()), (Some(429), Some(ErrorCode::RateLimited)));
    }
);
