//! The full path's uploads. The engine's export is read on a blocking thread that compresses each
//! layer ([`layers::read_export`]); a large layer's compressed bytes travel in [`CHUNK`]s through a
//! channel to a concurrent upload (one streamed `PATCH`) while a spool file keeps a copy, and the upload
//! is finished with the digest once the layer is done. When the stream fails, the spooled copy is
//! uploaded instead (a monolithic `PUT`, with retries). Layers the export gives in one piece (the
//! small-blob path) are uploaded afterwards from their spool files.

use crate::adapters::docker::Engine;
use crate::adapters::registry::Registry;
use crate::cli::Context;
use crate::error::{Error, TaskFailed};
use crate::layers::{self, Blob};
use crate::output::Output;
use crate::output::progress::{Meter, Progress, human_bytes};
use crate::reference::Digest;
use crate::steps::build_push::error::BuildPushError;
use crate::steps::build_push::report::LayerStatus;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Compressed bytes travel to the upload in chunks of this size.
const CHUNK: usize = 1 << 20;

/// Told the layer's blob and spool file once it is compressed.
type Finished = tokio::sync::oneshot::Receiver<(Blob, PathBuf)>;

/// One chunk of a byte stream, or why it stopped.
type Chunk = Result<bytes::Bytes, std::io::Error>;

/// What the export and its streamed uploads left.
#[derive(Debug)]
pub(super) struct Streamed {
    /// The image's config and its layers' blobs and spool files.
    pub(super) exported: layers::Exported,
    /// How each streamed layer got to the registry.
    pub(super) statuses: HashMap<Digest, LayerStatus>,
    /// The spool directory (removed when dropped).
    _spool: tempfile::TempDir,
}

/// Exports the image and compresses its layers; with `stream`, each large layer streams to the
/// registry while it is compressed (the engine's export is the slow part) and is kept in a spool file
/// to upload again if the stream fails. Without, every layer is only spooled (for [`remaining`]).
pub(super) async fn export_and_upload(
    engine: &Engine,
    registry: &Arc<Registry>,
    repo: &str,
    image_id: &str,
    stream: bool,
    ctx: &Context,
) -> Result<Streamed, Error> {
    let spool = tempfile::Builder::new()
        .prefix("build-push-")
        .tempdir()
        .map_err(BuildPushError::Export)?;
    let (compressor, mut started) = spawn_compressor(
        engine,
        image_id,
        spool.path().to_path_buf(),
        stream,
        ctx.out.clone(),
    );
    let progress = Progress::for_output(&ctx.out);
    let mut uploads = tokio::task::JoinSet::new();
    let mut layer = 0;
    while let Some((body, done)) = started.recv().await {
        layer += 1;
        let meter = progress.meter(&format!("layer {layer} → {}", registry.host()));
        uploads.spawn(upload_layer(
            Arc::clone(registry),
            repo.to_string(),
            body,
            done,
            meter,
        ));
    }
    let exported = compressor
        .await
        .map_err(|e| TaskFailed(e.to_string()))?
        .map_err(BuildPushError::Export)?;
    let mut statuses = HashMap::new();
    while let Some(done) = uploads.join_next().await {
        if let Some((d, s)) = done.map_err(|e| TaskFailed(e.to_string()))?? {
            statuses.insert(d, s);
        }
    }
    Ok(Streamed {
        exported,
        statuses,
        _spool: spool,
    })
}

/// Reads the export on a blocking thread, compressing each layer into `spool`; with `stream`,
/// announces each large layer as it starts (its byte stream, and when it will be finished) on the
/// returned receiver.
fn spawn_compressor(
    engine: &Engine,
    image_id: &str,
    spool: PathBuf,
    stream: bool,
    out: Output,
) -> (
    tokio::task::JoinHandle<std::io::Result<layers::Exported>>,
    tokio::sync::mpsc::UnboundedReceiver<(StreamBody, Finished)>,
) {
    let export = engine.export(image_id);
    let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(export));
    let (events, started) = tokio::sync::mpsc::unbounded_channel::<(StreamBody, Finished)>();
    let compressor = tokio::task::spawn_blocking(move || {
        let pending =
            std::cell::RefCell::new(None::<tokio::sync::oneshot::Sender<(Blob, PathBuf)>>);
        layers::read_export(
            reader,
            &spool,
            || {
                if !stream {
                    return None;
                }
                let (tx, rx) = tokio::sync::mpsc::channel::<Chunk>(8);
                let (done_tx, done_rx) = tokio::sync::oneshot::channel();
                *pending.borrow_mut() = Some(done_tx);
                let _ = events.send((StreamBody(rx), done_rx));
                Some(Box::new(ChunkWriter {
                    tx,
                    buf: Vec::with_capacity(CHUNK),
                }) as Box<dyn std::io::Write + Send>)
            },
            |spooled| {
                out.info(&format!(
                    "layer {}: {} → {} (gzip level {})",
                    &spooled.blob.digest.hex()[..12],
                    human_bytes(spooled.blob.uncompressed as f64),
                    human_bytes(spooled.blob.size as f64),
                    spooled.blob.level
                ));
                if let Some(done) = pending.borrow_mut().take() {
                    let _ = done.send((spooled.blob.clone(), spooled.path.clone()));
                }
            },
        )
    });
    (compressor, started)
}

/// Streams one layer's compressed bytes to `repo` and finishes the upload once the layer is done;
/// when the stream failed, uploads the spooled copy unless the registry has the blob. `None` when the
/// compressor gave up on the layer (its error is the export's).
async fn upload_layer(
    registry: Arc<Registry>,
    repo: String,
    body: StreamBody,
    done: Finished,
    meter: Meter,
) -> Result<Option<(Digest, LayerStatus)>, Error> {
    let streamed = registry
        .stream_upload(&repo, body.into_stream(meter.clone()))
        .await;
    meter.done();
    let Ok((blob, path)) = done.await else {
        return Ok(None);
    };
    if let Ok(location) = streamed
        && registry
            .finish_upload(&location, &blob.digest)
            .await
            .is_ok()
    {
        let _ = std::fs::remove_file(&path);
        return Ok(Some((blob.digest, LayerStatus::Uploaded)));
    }
    // The stream failed: the spool file has the bytes.
    if registry.blob_exists(&repo, &blob.digest).await? {
        return Ok(Some((blob.digest, LayerStatus::Present)));
    }
    registry
        .upload_file(&repo, &blob.digest, &path, blob.size)
        .await?;
    let _ = std::fs::remove_file(&path);
    Ok(Some((blob.digest, LayerStatus::Uploaded)))
}

/// Uploads the layers seen only through the small-blob path (OCI layout), which no stream carried,
/// and records how each got there.
pub(super) async fn remaining(
    registry: &Registry,
    repo: &str,
    exported: &layers::Exported,
    statuses: &mut HashMap<Digest, LayerStatus>,
) -> Result<(), Error> {
    for l in &exported.layers {
        if !statuses.contains_key(&l.blob.digest) {
            let s = if registry.blob_exists(repo, &l.blob.digest).await? {
                LayerStatus::Present
            } else {
                registry
                    .upload_file(repo, &l.blob.digest, &l.path, l.blob.size)
                    .await?;
                LayerStatus::Uploaded
            };
            statuses.insert(l.blob.digest.clone(), s);
        }
    }
    Ok(())
}

/// The receiving end of a layer's compressed bytes.
struct StreamBody(tokio::sync::mpsc::Receiver<Chunk>);

impl StreamBody {
    /// The bytes as a request body, counted on `meter` as they go.
    fn into_stream(self, meter: Meter) -> impl futures_util::Stream<Item = Chunk> + Send + 'static {
        futures_util::stream::unfold((self.0, meter), |(mut rx, meter)| async move {
            let item = rx.recv().await?;
            if let Ok(chunk) = &item {
                meter.add(chunk.len() as u64);
            }
            Some((item, (rx, meter)))
        })
    }
}

/// Buffers compressed bytes into [`CHUNK`]s for the upload; fails once the upload has gone away.
struct ChunkWriter {
    tx: tokio::sync::mpsc::Sender<Chunk>,
    buf: Vec<u8>,
}

impl std::io::Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = bytes::Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the upload stopped"))
    }
}

impl Drop for ChunkWriter {
    fn drop(&mut self) {
        let _ = std::io::Write::flush(self);
    }
}
