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
            for (method, operation) in item.as_object().unwrap() {
                operations += 1;
                let concrete = path.replace("{id}", "1").replace("{session_pk}", "1").replace("{token_id}", "1").replace("{user_id}", "u_x").replace("{path}", "README.md").replace("{key}", "API_URL");
                let response = http.request(method.to_uppercase().parse().unwrap(), app.url(&concrete)).send().await.unwrap();
                let status = response.status().as_u16();
                let body: Value = response.json().await.unwrap_or(Value::Null);
                let unknown_route = status == 404 && body["error"] == "There is no API endpoint at this path.";
                assert!(!unknown_route && status != 405, "{method} {path} is documented but not served ({status})");
                // Without credentials: 401 exactly where the document asks for them.
                let secured = operation["security"].as_array().is_some_and(|s| !s.is_empty());
                assert_eq!(status == 401, secured, "{method} {path}: answered {status}, security documented: {secured}");
                let responses = operation["responses"].as_object().unwrap();
                let documents = |code: &str| responses.contains_key(code);
                if secured {
                    assert!(documents("401"), "{method} {path} documents 401");
                }
                if operation.get("requestBody").is_some() {
                    for code in ["400", "413", "415", "422"] {
                        assert!(documents(code), "{method} {path} with a body documents {code}");
                    }
                }
                if path.contains('{') {
                    assert!(documents("400") && documents("404"), "{method} {path} with ids documents 400 and 404");
                }
                for parameter in operation["parameters"].as_array().into_iter().flatten() {
                    let schema = &parameter["schema"];
                    if parameter["name"] == "limit" {
                        assert_eq!((schema["minimum"].as_i64(), schema["maximum"].as_i64()), (Some(1), Some(100)), "{path}");
                    } else if parameter["in"] == "path" && schema["type"] == "integer" {
                        assert_eq!(schema["minimum"].as_i64(), Some(1), "{path} {}", parameter["name"]);
                    }
                }
            }
        }
        let schemes = &doc["components"]["securitySchemes"];
        assert_eq!((schemes["cookie"]["in"].as_str(), schemes["cookie"]["name"].as_str()), (Some("cookie"), Some("kosuke_session")));
        assert_eq!(schemes["bearer"]["scheme"].as_str(), Some("bearer"));
        assert_eq!(operations, 78, "every route is documented");
        let session = &doc["components"]["schemas"]["ChatSession"];
        let required: Vec<&str> = session["required"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        for field in ["id", "session_id", "github_branch_name", "status", "message_count", "is_default"] {
            assert!(required.contains(&field), "{field}");
        }
        assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    }
);
