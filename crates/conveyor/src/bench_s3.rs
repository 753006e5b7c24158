//! `conveyor bench s3`: PUT and GET throughput of one object size against any S3 endpoint
//! (Conveyor's, moto, AWS), through object_store's S3 client: a single PUT per object up to
//! 5 MiB, multipart in 5 MiB parts above (as object_store uploads), streamed GETs. Each figure
//! is from the first request to the last answer of the phase.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use bytes::Bytes;
use clap::Args;
use futures_util::StreamExt;

#[derive(Debug, Args)]
pub struct S3Bench {
    /// The S3 endpoint, e.g. http://127.0.0.1:9000.
    #[arg(long)]
    pub endpoint: String,
    /// An existing bucket there.
    #[arg(long)]
    pub bucket: String,
    /// Object size in bytes.
    #[arg(long, default_value_t = 1024 * 1024)]
    pub object_bytes: usize,
    /// Objects to PUT, then GET.
    #[arg(long, default_value_t = 200)]
    pub objects: u64,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8)]
    pub clients: usize,
    /// Region to sign for; keys come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (any value
    /// works against an endpoint without access keys).
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
}

/// Run `work(i)` for i in 0..n with `clients` at once; the seconds it took.
async fn phase<F, Fut>(n: u64, clients: usize, work: F) -> anyhow::Result<f64>
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (next, work) = (next.clone(), work.clone());
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<(), anyhow::Error>(());
                }
                work(i).await?;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(started.elapsed().as_secs_f64())
}

pub async fn run(b: S3Bench) -> anyhow::Result<()> {
    if b.clients == 0 || b.objects == 0 || b.object_bytes == 0 {
        bail!("--clients, --objects and --object-bytes must be at least 1");
    }
    let key = std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_else(|_| "conveyor".into());
    let secret = std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|_| "conveyor".into());
    let store = conveyor_aws::static_s3_store(&b.endpoint, &b.region, &key, &secret, &b.bucket)?;
    let body = Bytes::from(
        (0..b.object_bytes)
            .map(|i| (i % 251) as u8)
            .collect::<Vec<u8>>(),
    );
    let run = uuid::Uuid::new_v4().simple().to_string();
    let name = move |i: u64| format!("bench/{run}/{i:06}");
    let size = b.object_bytes as u64;

    let (put_store, put_name, put_body) = (store.clone(), name.clone(), body.clone());
    let put_seconds = phase(b.objects, b.clients, move |i| {
        let (store, key, body) = (put_store.clone(), put_name(i), put_body.clone());
        async move {
            let mut upload = store.upload(&key, None)?;
            // Written in 1 MiB pieces, as a client streams a file.
            for piece in body.chunks(1024 * 1024) {
                upload.write(body.slice_ref(piece)).await?;
            }
            upload.finish().await?;
            Ok(())
        }
    })
    .await
    .with_context(|| format!("PUT to {} (bucket {})", b.endpoint, b.bucket))?;

    let (get_store, get_name) = (store.clone(), name.clone());
    let get_seconds = phase(b.objects, b.clients, move |i| {
        let (store, key) = (get_store.clone(), get_name(i));
        async move {
            let mut download = store.download(&key, None).await?;
            let mut read = 0u64;
            while let Some(chunk) = download.body.next().await {
                read += chunk?.len() as u64;
            }
            if read != size {
                bail!("GET {key} returned {read} bytes of {size}");
            }
            Ok(())
        }
    })
    .await
    .with_context(|| format!("GET from {}", b.endpoint))?;

    let total_mib = (size * b.objects) as f64 / (1024.0 * 1024.0);
    println!(
        "{} x {} B, {} clients: PUT {:.1} objects/s {:.1} MiB/s, GET {:.1} objects/s {:.1} MiB/s",
        b.objects,
        size,
        b.clients,
        b.objects as f64 / put_seconds,
        total_mib / put_seconds,
        b.objects as f64 / get_seconds,
        total_mib / get_seconds,
    );
    store
        .delete_prefix(
            &name(0)
                .rsplit_once('/')
                .map(|(p, _)| p.to_string())
                .unwrap_or_default(),
        )
        .await
        .context("deleting the benchmark's objects")?;
    Ok(())
}
