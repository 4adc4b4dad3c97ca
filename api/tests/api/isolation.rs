//! Isolation, tried as an attacker would: an agent run is untrusted code. Each row of the
//! escape table is something a command agent tried inside a turn on the real `kosuke` binary,
//! and what must hold. The table grows with the sandbox (reading other checkouts, the data
//! dir, signalling the server…); today it holds what the cleared environment enforces.

use crate::chat::{chat, finished, setup};
use crate::db_test;
use crate::harness::spawn_binary;
use api_types::*;

const SECRET_KEY: &str = "a29zdWtlLXRlc3Qtc2VjcmV0LWtleS0zMi1ieXRlcyE=";
const PROVIDER_KEY: &str = "sk-ant-api03-leak-me-if-you-can";

db_test!(
    async fn a_command_agent_sees_none_of_the_servers_settings_or_secrets(backend) {
        let app = spawn_binary(backend, &[
            ("KOSUKE_SECRET_KEY", SECRET_KEY),
            ("KOSUKE_AGENT_PROVIDER", "command"),
            ("KOSUKE_AGENT_API_KEY", PROVIDER_KEY),
            ("KOSUKE_AGENT_COMMAND", "env > seen-env.txt; printf '%s' \"$HOME\" > seen-home.txt"),
        ])
        .await;
        let (owner, project, session) = setup(&app).await;
        owner.set_env_var(project.id, "DEPLOY_TARGET", "staging").await.unwrap();
        owner.send_chat(&chat(&project, &session, "Show me your environment")).await.unwrap();
        let run = finished(&owner, project.id, session.id).await;
        assert_eq!(run.status, RunStatus::Succeeded, "{:?}", run.error);
        let env = owner.get_file(project.id, session.id, "seen-env.txt").await.unwrap().content.unwrap();

        // The escape table: what the command tried to print, and the value it must not see.
        let database_url = app.database.url.clone();
        let server_home = std::env::var("HOME").unwrap_or_default();
        let rows: [(&str, &str); 3] = [
            ("the key that seals every stored secret (KOSUKE_SECRET_KEY)", SECRET_KEY),
            ("the model provider's API key (KOSUKE_AGENT_API_KEY)", PROVIDER_KEY),
            ("the database URL (DATABASE_URL)", &database_url),
        ];
        for (what, value) in rows {
            assert!(!env.contains(value), "{what} reached the agent's command:\n{env}");
        }
        let names: Vec<&str> = env.lines().filter_map(|line| line.split_once('=').map(|(name, _)| name)).collect();
        let kosukes: Vec<&&str> = names.iter().filter(|n| n.starts_with("KOSUKE_")).collect();
        assert_eq!(kosukes, [&"KOSUKE_PROMPT"], "no kosuke setting reaches a child:\n{env}");
        assert!(names.contains(&"PATH") && env.contains("DEPLOY_TARGET=staging"), "{env}");
        let home = owner.get_file(project.id, session.id, "seen-home.txt").await.unwrap().content.unwrap();
        assert!(!home.is_empty() && home != server_home, "a HOME of its own, not the server's ({home})");
        assert!(!std::path::Path::new(&home).exists(), "its HOME is removed after the turn");
    }
);

db_test!(
    async fn project_variables_that_change_the_loader_or_the_shell_are_refused(backend) {
        let app = crate::harness::spawn_app(backend).await;
        let (owner, _) = app.user("ann").await;
        let project = app.project(&owner, "env").await;
        for name in ["LD_PRELOAD", "LD_LIBRARY_PATH", "BASH_ENV", "ENV", "PATH", "HOME", "IFS", "DYLD_INSERT_LIBRARIES"] {
            let err = owner.set_env_var(project.id, name, "/tmp/evil.so").await.unwrap_err();
            assert_eq!((err.status(), err.code()), (Some(422), Some(ErrorCode::ValidationFailed)), "{name}");
            assert!(err.to_string().contains(name), "{name}: {err}");
        }
        assert!(owner.list_env_vars(project.id).await.unwrap().variables.is_empty(), "nothing stored");
        owner.set_env_var(project.id, "LDAP_URL", "ldap://example.test").await.unwrap();
    }
);
