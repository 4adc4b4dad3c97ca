//! The OpenAPI document describes the routes the server really has.

use crate::db_test;
use crate::harness::spawn_app;
use serde_json::Value;

db_test!(
    async fn every_documented_operation_is_served(backend) {
        let app = spawn_app(backend).await;
        let http = reqwest::Client::new();
        let doc: Value = http.get(app.url("/api/openapi.json")).send().await.unwrap().json().await.unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        let paths = doc["paths"].as_object().unwrap();
        let mut operations = 0;
        for (path, item) in paths {
            for method in item.as_object().unwrap().keys() {
                operations += 1;
                let concrete = path.replace("{id}", "1").replace("{session_pk}", "1").replace("{token_id}", "1").replace("{user_id}", "u_x").replace("{path}", "README.md").replace("{key}", "API_URL");
                let response = http.request(method.to_uppercase().parse().unwrap(), app.url(&concrete)).send().await.unwrap();
                let status = response.status().as_u16();
                let body: Value = response.json().await.unwrap_or(Value::Null);
                let unknown_route = status == 404 && body["error"] == "There is no API endpoint at this path.";
                assert!(!unknown_route && status != 405, "{method} {path} is documented but not served ({status})");
            }
        }
        assert_eq!(operations, 53, "every route is documented");
        let session = &doc["components"]["schemas"]["ChatSession"];
        let required: Vec<&str> = session["required"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        for field in ["id", "session_id", "github_branch_name", "status", "message_count", "is_default"] {
            assert!(required.contains(&field), "{field}");
        }
        assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    }
);
