//! A fake GitHub REST API on loopback, serving GitHub's own example bodies
//! (`crates/fakes/fixtures/github/`, see its README for provenance) with the fields each test needs
//! patched, and recording every request it receives.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One of the GitHub fixtures (`fixtures/github/`), parsed.
pub fn fixture(name: &str) -> Value {
    let path = format!("{}/fixtures/github/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture file")).expect("fixture JSON")
}

/// How the next `POST /repos/{o}/{r}/pulls` fails, if it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullFailure {
    BadCredentials,
    ForbiddenToken,
    RateLimited,
    NoCommits,
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub authorization: Option<String>,
    pub body: Value,
}

#[derive(Default)]
struct State {
    requests: Vec<Recorded>,
    /// token → (login, X-OAuth-Scopes)
    tokens: HashMap<String, (String, String)>,
    /// Names of the branches the repository has, served 100 a page at most (or `page_size`).
    branches: Vec<String>,
    page_size: usize,
    /// Open pull requests by head branch: (number, base, title).
    open_pulls: HashMap<String, (u64, String, String)>,
    failure: Option<PullFailure>,
    next_number: u64,
    /// What `GET …/pulls/{n}` says of each pull request.
    pulls: HashMap<u64, PullFacts>,
    /// The head commit's check run (status, conclusion) and combined commit status.
    check_run: (String, Option<String>),
    combined_status: String,
    /// The one review's state (`APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`), or none.
    review: Option<String>,
    /// Conditional requests answered 304 (unchanged).
    not_modified: usize,
}

/// A pull request as the fake serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullFacts {
    /// `open` or `closed`.
    pub state: String,
    pub merged: bool,
    pub draft: bool,
    pub head_sha: String,
}

#[derive(Clone)]
pub struct FakeGitHub {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl FakeGitHub {
    pub async fn start() -> FakeGitHub {
        let state = Arc::new(Mutex::new(State {
            page_size: 100,
            next_number: 1347,
            check_run: ("in_progress".into(), None),
            combined_status: "pending".into(),
            ..Default::default()
        }));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind fake GitHub");
        let url = format!("http://127.0.0.1:{}", listener.local_addr().expect("address").port());
        let shared = web::Data::new(FakeGitHub { url: url.clone(), state: state.clone() });
        let server = actix_web::HttpServer::new(move || {
            actix_web::App::new().app_data(shared.clone()).default_service(web::to(handle))
        })
        .workers(1)
        .listen(listener)
        .expect("listen")
        .run();
        tokio::spawn(server);
        FakeGitHub { url, state }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// A token GitHub accepts, for `login`, with these classic scopes ("" for fine-grained).
    pub fn accept_token(&self, token: &str, login: &str, scopes: &str) {
        self.with(|s| s.tokens.insert(token.to_owned(), (login.to_owned(), scopes.to_owned())));
    }

    pub fn set_branches(&self, names: &[String], page_size: usize) {
        self.with(|s| {
            s.branches = names.to_vec();
            s.page_size = page_size;
        });
    }

    pub fn fail_next_pull(&self, failure: PullFailure) {
        self.with(|s| s.failure = Some(failure));
    }

    /// What the pull request `number` is now (its state, merged, draft, head).
    pub fn set_pull(&self, number: u64, facts: PullFacts) {
        self.with(|s| s.pulls.insert(number, facts));
    }

    pub fn pull(&self, number: u64) -> Option<PullFacts> {
        self.with(|s| s.pulls.get(&number).cloned())
    }

    /// The head's check run (`completed` and `success`, …) and its combined status (`success`).
    pub fn set_checks(&self, status: &str, conclusion: Option<&str>, combined: &str) {
        self.with(|s| {
            s.check_run = (status.to_owned(), conclusion.map(str::to_owned));
            s.combined_status = combined.to_owned();
        });
    }

    pub fn set_review(&self, state: Option<&str>) {
        self.with(|s| s.review = state.map(str::to_owned));
    }

    /// How many conditional requests were answered 304.
    pub fn not_modified(&self) -> usize {
        self.with(|s| s.not_modified)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.with(|s| s.requests.clone())
    }

    pub fn requests_to(&self, method: &str, path_suffix: &str) -> Vec<Recorded> {
        self.requests().into_iter().filter(|r| r.method == method && r.path.ends_with(path_suffix)).collect()
    }
}

fn error(status: u16, fixture_name: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("status")).json(fixture(fixture_name))
}

async fn handle(req: HttpRequest, body: web::Bytes, fake: web::Data<FakeGitHub>) -> HttpResponse {
    let authorization = req.headers().get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let path = req.path().to_owned();
    let query: HashMap<String, String> = web::Query::<HashMap<String, String>>::from_query(req.query_string())
        .map(|q| q.into_inner())
        .unwrap_or_default();
    fake.with(|s| {
        s.requests.push(Recorded {
            method: req.method().to_string(),
            path: path.clone(),
            query: req.query_string().to_owned(),
            authorization: authorization.clone(),
            body: body.clone(),
        })
    });
    let token = authorization.as_deref().and_then(|a| a.strip_prefix("Bearer ").or_else(|| a.strip_prefix("token ")));
    let known = token.and_then(|t| fake.with(|s| s.tokens.get(t).cloned()));
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();

    // The pull request page a person would open.
    if let [_, _, "pull", number] = segments.as_slice() {
        return HttpResponse::Ok().content_type("text/html").body(format!("<h1>Pull request #{number}</h1>"));
    }
    let Some((login, scopes)) = known else { return error(401, "error-bad-credentials.json") };
    match (req.method().as_str(), segments.as_slice()) {
        ("GET", ["user"]) => {
            let mut user = fixture("user.json");
            user["login"] = json!(login);
            HttpResponse::Ok().insert_header(("x-oauth-scopes", scopes)).json(user)
        }
        ("GET", ["repos", owner, repo, "branches"]) => {
            let page: usize = query.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
            let (names, size) = fake.with(|s| (s.branches.clone(), s.page_size.max(1)));
            let template = fixture("branches.json")[0].clone();
            let items: Vec<Value> = names
                .iter()
                .skip((page - 1) * size)
                .take(size)
                .enumerate()
                .map(|(n, name)| {
                    let mut branch = template.clone();
                    branch["name"] = json!(name);
                    branch["commit"]["sha"] = json!(format!("{:040x}", (page * 1000 + n)));
                    branch
                })
                .collect();
            let mut response = HttpResponse::Ok();
            let last = names.len().div_ceil(size);
            if page < last {
                let link = |p: usize| format!("{}/repos/{owner}/{repo}/branches?per_page={size}&page={p}", fake.url);
                response.insert_header((
                    "link",
                    format!("<{}>; rel=\"next\", <{}>; rel=\"last\"", link(page + 1), link(last)),
                ));
            }
            response.json(items)
        }
        ("GET", ["repos", owner, repo, "pulls"]) => {
            let head = query.get("head").cloned().unwrap_or_default();
            let branch = head.split_once(':').map(|(_, b)| b.to_owned()).unwrap_or(head);
            let open = fake.with(|s| s.open_pulls.get(&branch).cloned());
            let items: Vec<Value> = open
                .map(|(number, base, title)| {
                    let mut pull = fixture("pulls.json")[0].clone();
                    patch_pull(&mut pull, &fake.url, owner, repo, number, &branch, &base, &title);
                    pull
                })
                .into_iter()
                .collect();
            HttpResponse::Ok().json(items)
        }
        ("POST", ["repos", owner, repo, "pulls"]) => {
            match fake.with(|s| s.failure.take()) {
                Some(PullFailure::BadCredentials) => return error(401, "error-bad-credentials.json"),
                Some(PullFailure::ForbiddenToken) => return error(403, "error-forbidden-pat.json"),
                Some(PullFailure::NoCommits) => return error(422, "error-no-commits.json"),
                Some(PullFailure::RateLimited) => {
                    let reset = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_secs() + 90)
                        .unwrap_or(0);
                    return HttpResponse::Forbidden()
                        .insert_header(("x-ratelimit-remaining", "0"))
                        .insert_header(("x-ratelimit-reset", reset.to_string()))
                        .json(json!({"message": "API rate limit exceeded", "documentation_url": "https://docs.github.com/rest"}));
                }
                None => {}
            }
            let head = body["head"].as_str().unwrap_or_default().to_owned();
            let base = body["base"].as_str().unwrap_or_default().to_owned();
            let title = body["title"].as_str().unwrap_or_default().to_owned();
            if fake.with(|s| s.open_pulls.contains_key(&head)) {
                return error(422, "error-pr-exists.json");
            }
            let number = fake.with(|s| {
                let number = s.next_number;
                s.next_number += 1;
                s.open_pulls.insert(head.clone(), (number, base.clone(), title.clone()));
                let draft = body["draft"].as_bool().unwrap_or(false);
                let facts = PullFacts { state: "open".into(), merged: false, draft, head_sha: "0".repeat(40) };
                s.pulls.insert(number, facts);
                number
            });
            let mut pull = fixture("pull-created.json");
            patch_pull(&mut pull, &fake.url, owner, repo, number, &head, &base, &title);
            HttpResponse::Created().json(pull)
        }
        ("GET", ["repos", owner, repo, "pulls", number]) => {
            let Some((number, facts)) = number.parse::<u64>().ok().and_then(|n| Some((n, fake.pull(n)?))) else {
                return error(404, "error-not-found.json");
            };
            let mut pull = fixture("pull-created.json");
            let (head, base) = (pull["head"]["ref"].as_str().unwrap_or_default().to_owned(), "main".to_owned());
            patch_pull(&mut pull, &fake.url, owner, repo, number, &head, &base, "");
            pull["state"] = json!(facts.state);
            pull["merged"] = json!(facts.merged);
            pull["draft"] = json!(facts.draft);
            pull["head"]["sha"] = json!(facts.head_sha);
            if !facts.merged {
                pull["merged_at"] = Value::Null;
            }
            conditional(&req, &fake, pull)
        }
        ("GET", ["repos", _, _, "pulls", _, "reviews"]) => {
            let review = fake.with(|s| s.review.clone());
            let items: Vec<Value> = review
                .map(|state| {
                    let mut item = fixture("reviews.json")[0].clone();
                    item["state"] = json!(state);
                    item
                })
                .into_iter()
                .collect();
            conditional(&req, &fake, json!(items))
        }
        ("GET", ["repos", _, _, "commits", sha, "check-runs"]) => {
            let (status, conclusion) = fake.with(|s| s.check_run.clone());
            let mut runs = fixture("check-runs.json");
            runs["check_runs"][0]["head_sha"] = json!(sha);
            runs["check_runs"][0]["status"] = json!(status);
            runs["check_runs"][0]["conclusion"] = json!(conclusion);
            conditional(&req, &fake, runs)
        }
        ("GET", ["repos", _, _, "commits", sha, "status"]) => {
            let combined = fake.with(|s| s.combined_status.clone());
            let mut status = fixture("combined-status.json");
            status["sha"] = json!(sha);
            status["state"] = json!(combined);
            for entry in status["statuses"].as_array_mut().into_iter().flatten() {
                entry["state"] = json!(combined);
            }
            conditional(&req, &fake, status)
        }
        _ => error(404, "error-not-found.json"),
    }
}

/// A body with its `ETag`, or 304 when the request's `If-None-Match` names it (as GitHub
/// answers conditional requests).
fn conditional(req: &HttpRequest, fake: &FakeGitHub, body: Value) -> HttpResponse {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    body.to_string().hash(&mut hasher);
    let etag = format!("\"{:016x}\"", hasher.finish());
    let asked = req.headers().get("if-none-match").and_then(|v| v.to_str().ok());
    if asked == Some(etag.as_str()) {
        fake.with(|s| s.not_modified += 1);
        return HttpResponse::NotModified().insert_header(("etag", etag)).finish();
    }
    HttpResponse::Ok().insert_header(("etag", etag)).json(body)
}

#[allow(clippy::too_many_arguments)]
fn patch_pull(pull: &mut Value, url: &str, owner: &str, repo: &str, number: u64, head: &str, base: &str, title: &str) {
    pull["number"] = json!(number);
    pull["title"] = json!(title);
    pull["html_url"] = json!(format!("{url}/{owner}/{repo}/pull/{number}"));
    pull["url"] = json!(format!("{url}/repos/{owner}/{repo}/pulls/{number}"));
    pull["head"]["ref"] = json!(head);
    pull["base"]["ref"] = json!(base);
}
