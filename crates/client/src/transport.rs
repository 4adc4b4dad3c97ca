//! The one place that sends bytes: natively through reqwest (with a cookie store), in the
//! browser through `fetch` (the browser keeps the sign-in cookie). Everything above it speaks
//! JSON text, so the web bundle carries neither reqwest nor the `http` types.

/// An HTTP method the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

/// One request: the URL already carries its query; the body, when present, is JSON.
pub(crate) struct Call<'a> {
    pub method: Method,
    pub url: String,
    pub token: Option<&'a str>,
    pub json: Option<String>,
}

/// What came back: the status and the whole body.
pub(crate) struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use super::{Answer, Call, Method};

    /// A reqwest client with a cookie store; TLS by rustls with ring (no other provider).
    #[derive(Debug, Clone)]
    pub(crate) struct Http(reqwest::Client);

    impl Http {
        pub(crate) fn new() -> Self {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let client =
                reqwest::Client::builder().cookie_store(true).build().unwrap_or_else(|_| reqwest::Client::new());
            Http(client)
        }

        pub(crate) async fn send(&self, call: Call<'_>) -> Result<Answer, String> {
            let method = reqwest::Method::from_bytes(call.method.as_str().as_bytes()).map_err(|e| e.to_string())?;
            let mut request = self.0.request(method, call.url);
            if let Some(token) = call.token {
                request = request.bearer_auth(token);
            }
            // Every change is declared JSON, with a body or without (the server's CSRF rule).
            if call.method != Method::Get {
                request = request.header(reqwest::header::CONTENT_TYPE, "application/json");
            }
            if let Some(json) = call.json {
                request = request.body(json);
            }
            let response = request.send().await.map_err(|e| e.to_string())?;
            let status = response.status().as_u16();
            let body = response.bytes().await.map_err(|e| e.to_string())?.to_vec();
            Ok(Answer { status, body })
        }
    }
}

#[cfg(target_arch = "wasm32")]
mod browser {
    use super::{Answer, Call, Method};
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;

    /// `fetch` from the page: same-origin requests carry the sign-in cookie.
    #[derive(Debug, Clone)]
    pub(crate) struct Http;

    impl Http {
        pub(crate) fn new() -> Self {
            Http
        }

        pub(crate) async fn send(&self, call: Call<'_>) -> Result<Answer, String> {
            let said = |err: JsValue| err.as_string().unwrap_or_else(|| format!("{err:?}"));
            let init = web_sys::RequestInit::new();
            init.set_method(call.method.as_str());
            let headers = web_sys::Headers::new().map_err(said)?;
            if let Some(token) = call.token {
                headers.set("authorization", &format!("Bearer {token}")).map_err(said)?;
            }
            if call.method != Method::Get {
                headers.set("content-type", "application/json").map_err(said)?;
            }
            if let Some(json) = &call.json {
                init.set_body(&JsValue::from_str(json));
            }
            init.set_headers(&headers);
            let window = web_sys::window().ok_or("no window")?;
            let response = JsFuture::from(window.fetch_with_str_and_init(&call.url, &init)).await.map_err(said)?;
            let response: web_sys::Response = response.dyn_into().map_err(said)?;
            let buffer = JsFuture::from(response.array_buffer().map_err(said)?).await.map_err(said)?;
            Ok(Answer { status: response.status(), body: js_sys::Uint8Array::new(&buffer).to_vec() })
        }
    }
}

#[cfg(target_arch = "wasm32")]
pub(crate) use browser::Http;
#[cfg(not(target_arch = "wasm32"))]
pub(crate) use native::Http;
