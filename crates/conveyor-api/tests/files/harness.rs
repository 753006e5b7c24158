//! A real Conveyor HTTP server on a free loopback port, on the local store (with Conveyor's S3
//! endpoint beside it, as `conveyor serve` runs it, for presigned URLs) or on S3 (a real
//! `moto_server`), and a client that talks to it as a tenant would.

use std::sync::Arc;

use conveyor_api::{router, ApiLimits, ApiState};
use conveyor_queue::{EmbeddedEngine, EngineOptions, SystemClock};
use conveyor_store::Store;
use reqwest::multipart::{Form, Part};
use serde_json::json;

pub const SECRET: &str = "files-test-secret-files-test-secret-0123456789";

pub struct App {
    pub base: String,
    pub http: reqwest::Client,
    pub store: Store,
    pub s3: bool,
    server: tokio::task::JoinHandle<()>,
    /// Conveyor's S3 endpoint, on the local store.
    s3_endpoint: Option<tokio::task::JoinHandle<()>>,
    _moto: Option<conveyor_aws::testing::Moto>,
    _dir: tempfile::TempDir,
}

impl Drop for App {
    fn drop(&mut self) {
        self.server.abort();
        if let Some(endpoint) = &self.s3_endpoint {
            endpoint.abort();
        }
    }
}

fn variables(dir: &tempfile::TempDir, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut vars = vec![
        (
            "CONVEYOR_DATA_DIR".to_string(),
            dir.path().display().to_string(),
        ),
        ("CONVEYOR_JWT_SECRET".to_string(), SECRET.to_string()),
        // Small limits, so the oversized cases stay small.
        (
            "CONVEYOR_ENVIRONMENTS__LOCAL__FILES__MAX_FILE_BYTES".to_string(),
            (1024 * 1024).to_string(),
        ),
        (
            "CONVEYOR_ENVIRONMENTS__LOCAL__FILES__MAX_REQUEST_BYTES".to_string(),
            (3 * 1024 * 1024).to_string(),
        ),
    ];
    // An extra setting replaces a default of the same name.
    vars.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    vars
}

/// The key a caller of the local S3 endpoint other than the files API would hold.
pub const S3_KEY: (&str, &str) = ("test-key", "test-secret-test-secret");

/// Conveyor's S3 endpoint on the local store under `dir`, verifying every signature (the
/// files API's key and [`S3_KEY`]), and the store signing the files API's URLs for it.
async fn serve_s3(
    settings: &conveyor_config::Settings,
    dir: &tempfile::TempDir,
) -> (Store, tokio::task::JoinHandle<()>) {
    let secret = settings.files.jwt_secret.as_ref().map(|s| s.expose());
    let files_key = secret.map(|s| conveyor_api::files::endpoint_key(s.as_bytes()));
    let mut keys = vec![(S3_KEY.0.to_string(), S3_KEY.1.to_string())];
    keys.extend(
        files_key
            .iter()
            .map(|(id, secret)| (id.clone(), secret.expose().to_string())),
    );
    let endpoint = conveyor_s3::router(conveyor_s3::S3Options {
        layout: conveyor_s3::BucketsLayout {
            env_bucket: settings.bucket.clone(),
            env_root: dir.path().join("objects"),
            created_root: dir.path().join("buckets"),
            sidecar: dir.path().join("s3.db"),
            uploads_root: dir.path().join("s3-uploads"),
        },
        region: settings.region.clone(),
        credentials: conveyor_s3::Credentials::Keys(keys),
        domains: Vec::new(),
        cors_origins: settings.files.cors_origins.clone(),
    })
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        axum::serve(listener, endpoint).await.unwrap();
    });
    let mut store = Store::local(dir.path().join("objects")).unwrap();
    if let Some((id, secret)) = &files_key {
        let signer = conveyor_aws::static_s3_signer(
            &url,
            &settings.region,
            id,
            secret.expose(),
            &settings.bucket,
        )
        .unwrap();
        store = store.with_url_signer(signer);
    }
    (store, server)
}

impl App {
    pub async fn local() -> App {
        App::local_with(&[]).await
    }

    /// On the local store, with extra `CONVEYOR_` settings.
    pub async fn local_with(extra: &[(&str, &str)]) -> App {
        let dir = tempfile::tempdir().unwrap();
        let settings = conveyor_config::load(None, variables(&dir, extra))
            .unwrap()
            .selected;
        // As in `conveyor serve`, s3.listen = off serves no S3 endpoint, and nothing presigns.
        if settings.s3.listen.is_none() {
            let store = Store::local(dir.path().join("objects")).unwrap();
            return App::start(settings, store, None, dir).await;
        }
        let (store, endpoint) = serve_s3(&settings, &dir).await;
        let mut app = App::start(settings, store, None, dir).await;
        app.s3_endpoint = Some(endpoint);
        app
    }

    /// On a bucket of a fresh moto_server.
    pub async fn s3() -> App {
        App::s3_with(&[]).await
    }

    /// On a bucket of a fresh moto_server, with extra `CONVEYOR_` settings.
    pub async fn s3_with(extra: &[(&str, &str)]) -> App {
        let moto = conveyor_aws::testing::start_moto();
        let dir = tempfile::tempdir().unwrap();
        let (settings, store) =
            conveyor_aws::testing::s3_store_on(&moto, variables(&dir, extra)).await;
        App::start(settings, store, Some(moto), dir).await
    }

    async fn start(
        settings: conveyor_config::Settings,
        store: Store,
        moto: Option<conveyor_aws::testing::Moto>,
        dir: tempfile::TempDir,
    ) -> App {
        let engine = EmbeddedEngine::open(
            EngineOptions::new(dir.path().join("q.db")),
            Arc::new(SystemClock),
        )
        .unwrap();
        let state = ApiState {
            queue: Arc::new(engine),
            store: store.clone(),
            settings: Arc::new(settings),
            metrics: None,
            idempotency: Arc::new(conveyor_api::StoreKeys::new(store.clone())),
            finished_jobs: Default::default(),
            alarms: Default::default(),
            dashboard: Default::default(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = router(state, ApiLimits::default());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        App {
            base,
            // No pooled connections: a refused upload's connection is closed by the server
            // before its body is read, and must not be reused.
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(60))
                .pool_max_idle_per_host(0)
                .build()
                .unwrap(),
            s3: moto.is_some(),
            store,
            server,
            s3_endpoint: None,
            _moto: moto,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn get(&self, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.http.get(self.url(path)).bearer_auth(token)
    }

    pub fn post(&self, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.http.post(self.url(path)).bearer_auth(token)
    }

    pub fn delete(&self, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.http.delete(self.url(path)).bearer_auth(token)
    }

    /// Upload one file as a browser form would.
    pub async fn upload(
        &self,
        token: &str,
        folder: &str,
        name: &str,
        bytes: &[u8],
        content_type: &str,
    ) -> reqwest::Response {
        let part = Part::bytes(bytes.to_vec())
            .file_name(name.to_string())
            .mime_str(content_type)
            .unwrap();
        self.post(&format!("/files/upload?folder={folder}"), token)
            .multipart(Form::new().part("file", part))
            .send()
            .await
            .unwrap()
    }

    /// Every tenant object in the store and its bytes, to prove a refused request changed nothing.
    pub async fn snapshot(&self) -> Vec<(String, Vec<u8>)> {
        let mut keys = self.store.list("tenants").await.unwrap();
        keys.sort();
        let mut all = Vec::new();
        for key in keys {
            let bytes = self.store.get(&key).await.unwrap().to_vec();
            all.push((key, bytes));
        }
        all
    }
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A token for `tenant`, valid for ten minutes.
pub fn token(tenant: &str) -> String {
    token_with(json!({
        "sub": format!("user-of-{tenant}"),
        "exp": now() + 600,
        "role": "authenticated",
        "app_metadata": { "tenant_id": tenant },
    }))
}

pub fn token_with(claims: serde_json::Value) -> String {
    conveyor_api::files::sign_token(SECRET.as_bytes(), &claims).unwrap()
}

pub async fn json(response: reqwest::Response) -> serde_json::Value {
    response.json().await.unwrap()
}
