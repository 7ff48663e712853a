//! Turning an image in the Docker engine into registry blobs ourselves: the engine's export (`docker
//! save`) is read as a stream; each layer is hashed (its diff ID), gzip-compressed and hashed again in one
//! pass — the reading thread hashes the tar while its blocks compress, a writer thread hashes the
//! compressed bytes and writes them — and spooled to a temporary file so it can be checked against the
//! registry and uploaded with a known length and digest. Memory stays bounded by the buffers, whatever
//! the layer size.
//!
//! Compression is deterministic (fixed gzip header, a level chosen from the layer's first MiB), so the
//! same layer always gives the same blob digest, and a small cache maps diff IDs to blob descriptors
//! (and image IDs to config bytes): re-pushing an unchanged image needs no export at all.

use crate::reference::Digest;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use std::collections::BTreeMap;
use std::fs;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// The media types of a Docker v2 schema 2 image.
pub(crate) const MANIFEST_MEDIA_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// The config media type.
pub(crate) const CONFIG_MEDIA_TYPE: &str = "application/vnd.docker.container.image.v1+json";
/// The layer media type (gzip).
pub(crate) const LAYER_MEDIA_TYPE: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// Bytes sampled to choose the compression level.
const SAMPLE: usize = 1 << 20;
/// The policy's version: part of the cache, since another policy gives other digests.
const POLICY: u32 = 1;

/// A layer as a registry blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Blob {
    /// sha256 of the compressed bytes.
    pub(crate) digest: Digest,
    /// Compressed size.
    pub(crate) size: u64,
    /// sha256 of the uncompressed tar.
    pub(crate) diff_id: Digest,
    /// Uncompressed size.
    pub(crate) uncompressed: u64,
    /// The gzip level used (0 = stored, for incompressible data).
    pub(crate) level: u32,
}

/// A compressed layer waiting in a spool file.
#[derive(Debug)]
pub(crate) struct Spooled {
    /// The blob.
    pub(crate) blob: Blob,
    /// Where its bytes are (deleted with the spool directory).
    pub(crate) path: PathBuf,
}

/// Writes to the spool file and, while it accepts bytes, to a second sink (a streaming upload). A
/// failing second sink is dropped: the spool file still gets everything, for a retry.
struct Tee {
    file: BufWriter<fs::File>,
    extra: Option<Box<dyn Write + Send>>,
}

impl Write for Tee {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        if let Some(extra) = &mut self.extra
            && extra.write_all(&buf[..n]).is_err()
        {
            self.extra = None;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        if let Some(extra) = &mut self.extra
            && extra.flush().is_err()
        {
            self.extra = None;
        }
        self.file.flush()
    }
}

struct HashingWriter<W: Write> {
    inner: W,
    hasher: sha2::Sha256,
    written: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn digest_of(hasher: sha2::Sha256) -> Digest {
    let hex = crate::reference::hex_lower(&hasher.finalize());
    format!("sha256:{hex}")
        .parse()
        .expect("a sha256 hex digest is a digest")
}

/// The level for a layer from its first bytes: 0 (stored) when level 1 saves under 5 % — random or
/// already-compressed data, where deflate costs seconds and gains nothing — else 1.
pub(crate) fn choose_level(sample: &[u8]) -> u32 {
    if sample.len() < 4096 {
        return 1;
    }
    let mut enc = flate2::write::DeflateEncoder::new(
        Vec::with_capacity(sample.len()),
        flate2::Compression::new(1),
    );
    if enc.write_all(sample).is_err() {
        return 1;
    }
    let compressed = enc.finish().map_or(sample.len(), |v| v.len());
    u32::from(compressed * 100 <= sample.len() * 95)
}

/// Reads until `buf` is full or the input ends; returns the bytes read. The compressor always gets
/// whole buffers, so its output does not depend on how the input happened to arrive (deflate's output
/// can depend on the write sizes it is fed).
fn fill<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// The gzip header: deflate, no name, mtime 0, no extra flags, OS "unknown" (deterministic).
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
/// Blocks compressed at once (the machine has two cores; more threads only add contention).
const PARALLEL: usize = 4;

/// One block as raw deflate: a sync flush ends it byte-aligned, or a final block ends the stream.
/// `out` is a buffer to reuse (emptied here).
fn compress_block(block: &[u8], level: u32, last: bool, mut out: Vec<u8>) -> io::Result<Vec<u8>> {
    let mut c = flate2::Compress::new(flate2::Compression::new(level), false);
    out.clear();
    out.reserve(block.len() + block.len() / 16 + 64);
    let flush = if last {
        flate2::FlushCompress::Finish
    } else {
        flate2::FlushCompress::Sync
    };
    let mut input = block;
    loop {
        let before_in = c.total_in();
        let status = c
            .compress_vec(input, &mut out, flush)
            .map_err(io::Error::other)?;
        let consumed = usize::try_from(c.total_in() - before_in).unwrap_or(input.len());
        input = &input[consumed..];
        match status {
            flate2::Status::StreamEnd => break,
            _ if input.is_empty() && !last && out.len() < out.capacity() => break,
            _ => out.reserve(64 * 1024),
        }
    }
    Ok(out)
}

/// Compresses blocks in parallel, in order; the last block of the batch ends the stream if `end`.
/// `outs` are the output buffers to reuse, one per block; `meanwhile` runs on the calling thread
/// while the blocks compress (the uncompressed bytes' hashes).
fn compress_blocks(
    blocks: &[Vec<u8>],
    outs: Vec<Vec<u8>>,
    level: u32,
    end: bool,
    meanwhile: impl FnOnce(),
) -> io::Result<Vec<Vec<u8>>> {
    let n = blocks.len();
    std::thread::scope(|scope| {
        let handles: Vec<_> = blocks
            .iter()
            .zip(outs)
            .enumerate()
            .map(|(i, (b, out))| {
                scope.spawn(move || compress_block(b, level, end && i + 1 == n, out))
            })
            .collect();
        meanwhile();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(io::Error::other("a compression thread panicked")))
            })
            .collect()
    })
}

/// Compressed batches in flight between the reading thread and the writing one (each at most
/// `PARALLEL` blocks of about a MiB).
const WRITE_QUEUE: usize = 2;

/// The thread that writes compressed batches to `out` (hashing them, into the spool file and the
/// upload), so that this hash and those writes overlap the reading, the compression and the
/// uncompressed bytes' hash of the next batches; each written buffer goes back to the reading
/// thread for reuse, so the buffers are allocated once per layer, not once per MiB (fewer page
/// faults, and memory that stays at what the pipeline holds). `finish` ends it, handing `out` back.
struct Writer<W> {
    batches: std::sync::mpsc::SyncSender<Vec<Vec<u8>>>,
    returned: std::sync::mpsc::Receiver<Vec<u8>>,
    thread: std::thread::JoinHandle<io::Result<W>>,
}

impl<W: Write + Send + 'static> Writer<W> {
    fn start(mut out: W) -> Writer<W> {
        let (batches, to_write) = std::sync::mpsc::sync_channel::<Vec<Vec<u8>>>(WRITE_QUEUE);
        let (give_back, returned) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            for batch in to_write {
                for compressed in batch {
                    out.write_all(&compressed)?;
                    // The reader may be done: then the buffer is simply dropped.
                    let _ = give_back.send(compressed);
                }
            }
            Ok(out)
        });
        Writer {
            batches,
            returned,
            thread,
        }
    }

    /// A written buffer back, or a new one.
    fn buffer(&self) -> Vec<u8> {
        self.returned.try_recv().unwrap_or_default()
    }

    /// Queues a batch; `false` when the thread has stopped (its error is [`Writer::finish`]'s).
    fn write(&self, batch: Vec<Vec<u8>>) -> bool {
        self.batches.send(batch).is_ok()
    }

    /// Waits for everything queued to be written.
    fn finish(self) -> io::Result<W> {
        drop(self.batches);
        self.thread
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the spool writer panicked")))
    }
}

/// What the reading thread computes over a layer's tar.
struct TarSums {
    crc: flate2::Crc,
    diff: sha2::Sha256,
    uncompressed: u64,
}

/// Reads the rest of a layer after its first block (`sample`), compresses it in batches of blocks
/// queued on `writer`, and hashes the tar while each batch compresses. A writer that stopped ends
/// the reading; its error is [`Writer::finish`]'s.
fn compress_into<R: Read, W: Write + Send + 'static>(
    reader: &mut R,
    sample: Vec<u8>,
    level: u32,
    writer: &Writer<W>,
) -> io::Result<TarSums> {
    let mut sums = TarSums {
        crc: flate2::Crc::new(),
        diff: sha2::Sha256::new(),
        uncompressed: 0,
    };
    // Blocks read but not yet compressed; reading one block ahead says whether a batch ends the stream.
    let mut pending: Vec<Vec<u8>> = vec![sample];
    // The reader's own blocks, reused once compressed and hashed.
    let mut free: Vec<Vec<u8>> = Vec::new();
    let mut eof = false;
    loop {
        while !eof && pending.len() <= PARALLEL {
            let mut buf = free.pop().unwrap_or_default();
            buf.resize(SAMPLE, 0);
            let n = fill(reader, &mut buf)?;
            if n == 0 {
                eof = true;
            } else {
                buf.truncate(n);
                pending.push(buf);
            }
        }
        let take = pending.len().min(PARALLEL);
        let end = eof && take == pending.len();
        let batch: Vec<Vec<u8>> = pending.drain(..take).collect();
        let outs = batch.iter().map(|_| writer.buffer()).collect();
        let compressed = compress_blocks(&batch, outs, level, end, || {
            for block in &batch {
                sums.diff.update(block);
                sums.crc.update(block);
                sums.uncompressed += block.len() as u64;
            }
        })?;
        free.extend(batch);
        if !writer.write(compressed) || end {
            return Ok(sums);
        }
    }
}

/// Compresses one layer tar from `reader` into a new file in `dir`.
pub(crate) fn compress<R: Read>(reader: R, dir: &Path) -> io::Result<Spooled> {
    compress_tee(reader, dir, None)
}

/// As [`compress`], also writing the compressed bytes to `extra` as they are produced.
pub(crate) fn compress_tee<R: Read>(
    mut reader: R,
    dir: &Path,
    extra: Option<Box<dyn Write + Send>>,
) -> io::Result<Spooled> {
    let mut sample = vec![0u8; SAMPLE];
    let filled = fill(&mut reader, &mut sample)?;
    sample.truncate(filled);
    let level = choose_level(&sample);
    let file = tempfile::Builder::new()
        .prefix("layer-")
        .suffix(".gz")
        .tempfile_in(dir)?;
    let (file, path) = file.keep().map_err(|e| e.error)?;
    let mut out = HashingWriter {
        inner: Tee {
            file: BufWriter::with_capacity(1 << 20, file),
            extra,
        },
        hasher: sha2::Sha256::new(),
        written: 0,
    };
    // A single gzip member whose deflate stream is made of independently compressed 1 MiB blocks,
    // each ended with a sync flush (byte-aligned, not final) and the last with a final block: any
    // gzip reader decodes it, and the blocks compress in parallel (pigz's layout, without priming).
    out.write_all(&GZIP_HEADER)?;
    let writer = Writer::start(out);
    let read = compress_into(&mut reader, sample, level, &writer);
    let written = writer.finish();
    let TarSums {
        crc,
        diff,
        uncompressed,
    } = read?;
    let mut out = written?;
    out.write_all(&crc.sum().to_le_bytes())?;
    #[expect(
        clippy::cast_possible_truncation,
        reason = "gzip's ISIZE is the uncompressed size modulo 2^32 (RFC 1952)"
    )]
    out.write_all(&(uncompressed as u32).to_le_bytes())?;
    out.flush()?;
    // Closing the second sink ends the streamed upload's body.
    out.inner.extra = None;
    Ok(Spooled {
        blob: Blob {
            digest: digest_of(out.hasher.clone()),
            size: out.written,
            diff_id: digest_of(diff),
            uncompressed,
            level,
        },
        path,
    })
}

/// What the engine's export held for one image.
#[derive(Debug, Default)]
pub(crate) struct Exported {
    /// The config JSON, byte for byte (its sha256 is the image ID).
    pub(crate) config: Vec<u8>,
    /// The layers, in order.
    pub(crate) layers: Vec<Spooled>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SaveManifest {
    config: String,
    layers: Vec<String>,
}

/// Reads a `docker save` tar (the classic `ID/layer.tar` layout, or the OCI layout of newer engines)
/// and compresses every layer into `dir`. `on_start` may give a sink for a large layer's compressed
/// bytes as they are produced (a streaming upload); `on_layer` is told about each layer as it is done.
pub(crate) fn read_export<R: Read>(
    reader: R,
    dir: &Path,
    mut on_start: impl FnMut() -> Option<Box<dyn Write + Send>>,
    mut on_layer: impl FnMut(&Spooled),
) -> io::Result<Exported> {
    let mut archive = tar::Archive::new(reader);
    let mut blobs: BTreeMap<String, Spooled> = BTreeMap::new();
    let mut small: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut manifest: Option<Vec<SaveManifest>> = None;
    for entry in archive.entries()? {
        let mut entry = entry?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry.path()?.to_string_lossy().into_owned();
        let size = entry.header().size()?;
        if path == "manifest.json" {
            let mut text = Vec::new();
            entry.read_to_end(&mut text)?;
            manifest = Some(serde_json::from_slice(&text).map_err(io::Error::other)?);
        } else if read_whole(&path, size) {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes)?;
            if path.starts_with("blobs/") {
                // Small OCI-layout blobs may be configs or tiny layers: keep both views.
                let spooled = compress(&bytes[..], dir)?;
                blobs.insert(path.clone(), spooled);
            }
            small.insert(path, bytes);
        } else if path.ends_with("/layer.tar") || path.starts_with("blobs/") {
            let spooled = compress_tee(&mut entry, dir, on_start())?;
            on_layer(&spooled);
            blobs.insert(path, spooled);
        }
    }
    let (manifest, config) = config_of(manifest, &mut small)?;
    let mut layers = Vec::with_capacity(manifest.layers.len());
    for l in &manifest.layers {
        let spooled = blobs
            .remove(l)
            .ok_or_else(|| io::Error::other(format!("the export lacks the layer {l}")))?;
        layers.push(spooled);
    }
    Ok(Exported { config, layers })
}

/// Reads only the config JSON of a `docker save` tar (either layout): no layer is hashed or
/// compressed, their bytes are skipped as they pass.
pub(crate) fn read_config<R: Read>(reader: R) -> io::Result<Vec<u8>> {
    let mut archive = tar::Archive::new(reader);
    let mut small: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut manifest: Option<Vec<SaveManifest>> = None;
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.to_string_lossy().into_owned();
        if !entry.header().entry_type().is_file() || !read_whole(&path, entry.header().size()?) {
            continue;
        }
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes)?;
        if path == "manifest.json" {
            manifest = Some(serde_json::from_slice(&bytes).map_err(io::Error::other)?);
        } else {
            small.insert(path, bytes);
        }
    }
    Ok(config_of(manifest, &mut small)?.1)
}

/// Whether an export's entry is read into memory: JSON files (the manifest, the classic layout's
/// config) and small OCI-layout blobs (configs, or tiny layers).
fn read_whole(path: &str, size: u64) -> bool {
    Path::new(path)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        && size < (8 << 20)
        || path.starts_with("blobs/") && size < 64 * 1024
}

/// The export's image (the first of its `manifest.json`) and its config, taken from the entries
/// read whole.
fn config_of(
    manifest: Option<Vec<SaveManifest>>,
    small: &mut BTreeMap<String, Vec<u8>>,
) -> io::Result<(SaveManifest, Vec<u8>)> {
    let manifest = manifest
        .and_then(|m| m.into_iter().next())
        .ok_or_else(|| io::Error::other("the export has no manifest.json"))?;
    let config = small.remove(&manifest.config).ok_or_else(|| {
        io::Error::other(format!("the export lacks the config {}", manifest.config))
    })?;
    Ok((manifest, config))
}

/// Sets the config's `created` time, and its history's, to `created` (RFC 3339; the commit time), so
/// the image digest depends on the content and the commit, not on when the engine ran the build. Keys
/// keep their order; anything unreadable is returned unchanged.
pub(crate) fn normalise_config(raw: &[u8], created: Option<&str>) -> Vec<u8> {
    let Some(created) = created else {
        return raw.to_vec();
    };
    let Ok(serde_json::Value::Object(mut doc)) = serde_json::from_slice::<serde_json::Value>(raw)
    else {
        return raw.to_vec();
    };
    doc.insert(
        "created".into(),
        serde_json::Value::String(created.to_string()),
    );
    if let Some(history) = doc
        .get_mut("history")
        .and_then(serde_json::Value::as_array_mut)
    {
        for h in history
            .iter_mut()
            .filter_map(serde_json::Value::as_object_mut)
        {
            if h.contains_key("created") {
                h.insert(
                    "created".into(),
                    serde_json::Value::String(created.to_string()),
                );
            }
        }
    }
    serde_json::to_vec(&doc).unwrap_or_else(|_| raw.to_vec())
}

/// The Docker v2 schema 2 manifest for a config and layers, as bytes (its sha256 is the image digest).
pub(crate) fn manifest(config: &[u8], layers: &[Blob]) -> Vec<u8> {
    let doc = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": {
            "mediaType": CONFIG_MEDIA_TYPE,
            "size": config.len(),
            "digest": Digest::sha256_of(config).to_string(),
        },
        "layers": layers.iter().map(|b| serde_json::json!({
            "mediaType": LAYER_MEDIA_TYPE,
            "size": b.size,
            "digest": b.digest.to_string(),
        })).collect::<Vec<_>>(),
    });
    let mut bytes = serde_json::to_vec_pretty(&doc).expect("a JSON value serialises");
    bytes.push(b'\n');
    bytes
}

/// The local cache: diff ID → blob, image ID → config bytes.
#[derive(Debug, Clone)]
pub(crate) struct LayerCache {
    dir: PathBuf,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Index {
    policy: u32,
    layers: BTreeMap<String, Blob>,
    /// Blob digest → the `host/repository`s it was pushed to (for cross-repository mounts).
    #[serde(default)]
    locations: BTreeMap<String, std::collections::BTreeSet<String>>,
}

impl LayerCache {
    /// A cache in `dir`.
    pub(crate) fn new(dir: PathBuf) -> LayerCache {
        LayerCache { dir }
    }

    fn index(&self) -> Index {
        fs::read(self.dir.join("layers.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<Index>(&b).ok())
            .filter(|i| i.policy == POLICY)
            .unwrap_or_default()
    }

    /// The blob for a diff ID, if known.
    pub(crate) fn layer(&self, diff_id: &Digest) -> Option<Blob> {
        self.index().layers.get(&diff_id.to_string()).cloned()
    }

    /// The config bytes of an image ID, if known (checked against the ID).
    pub(crate) fn config(&self, image_id: &Digest) -> Option<Vec<u8>> {
        let bytes = fs::read(self.dir.join("configs").join(image_id.hex())).ok()?;
        (Digest::sha256_of(&bytes) == *image_id).then_some(bytes)
    }

    /// The `host/repository`s a blob was pushed to by this machine.
    pub(crate) fn locations(&self, digest: &Digest) -> Vec<String> {
        self.index()
            .locations
            .get(&digest.to_string())
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Records that `digests` are now in `repository` (`host/path`).
    pub(crate) fn remember_location(&self, repository: &str, digests: &[Digest]) {
        let mut index = self.index();
        index.policy = POLICY;
        for d in digests {
            index
                .locations
                .entry(d.to_string())
                .or_default()
                .insert(repository.to_string());
        }
        if let Ok(bytes) = serde_json::to_vec(&index) {
            let _ = fs::create_dir_all(&self.dir);
            let _ = crate::atomic::write(&self.dir.join("layers.json"), &bytes, 0o644);
        }
    }

    /// Records what an export produced. Failures only cost speed next time, so they are ignored.
    pub(crate) fn remember(&self, config: &[u8], layers: &[Blob]) {
        let _ = fs::create_dir_all(self.dir.join("configs"));
        let id = Digest::sha256_of(config);
        let _ = crate::atomic::write(&self.dir.join("configs").join(id.hex()), config, 0o644);
        let mut index = self.index();
        index.policy = POLICY;
        for b in layers {
            index.layers.insert(b.diff_id.to_string(), b.clone());
        }
        if let Ok(bytes) = serde_json::to_vec(&index) {
            let _ = crate::atomic::write(&self.dir.join("layers.json"), &bytes, 0o644);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out its bytes in odd, varying amounts.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.1 = self.1 % 7919 + 1;
            let n = self.1.min(buf.len()).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn pseudo_random(n: usize) -> Vec<u8> {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x.to_le_bytes()[3]
            })
            .collect()
    }

    #[test]
    fn level_follows_compressibility() {
        assert_eq!(choose_level(&pseudo_random(1 << 20)), 0);
        assert_eq!(choose_level(&b"hello world ".repeat(100_000)), 1);
    }

    #[test]
    fn compression_is_deterministic_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let mut data = b"text ".repeat(300_000);
        data.extend(pseudo_random(2 << 20));
        let a = compress(&data[..], dir.path()).unwrap();
        // The same bytes arriving in odd-sized reads give the same blob.
        let b = compress(Trickle(&data, 0), dir.path()).unwrap();
        assert_eq!(a.blob, b.blob);
        assert_eq!(a.blob.diff_id, Digest::sha256_of(&data));
        assert_eq!(a.blob.uncompressed, data.len() as u64);
        let bytes = fs::read(&a.path).unwrap();
        assert_eq!(Digest::sha256_of(&bytes), a.blob.digest);
        assert_eq!(bytes.len() as u64, a.blob.size);
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn a_layer_of_many_batches_round_trips_through_reused_buffers() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = words(9 << 20);
        text.extend(pseudo_random(3 << 20));
        text.extend(b"the end");
        // Level 1 (text first) and stored (random first), each over several batches of blocks.
        for (data, level) in [(text, 1), (pseudo_random((11 << 20) + 5), 0)] {
            let spooled = compress(Trickle(&data, 0), dir.path()).unwrap();
            assert_eq!(spooled.blob.level, level);
            assert_eq!(spooled.blob.diff_id, Digest::sha256_of(&data));
            let bytes = fs::read(&spooled.path).unwrap();
            assert_eq!(Digest::sha256_of(&bytes), spooled.blob.digest);
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(&bytes[..])
                .read_to_end(&mut back)
                .unwrap();
            assert!(
                back == data,
                "level {level}: the bytes decompress to another layer"
            );
        }
    }

    /// Text-like bytes: words of a small vocabulary in a pseudo-random order, so deflate finds
    /// matches of every length and distance.
    fn words(n: usize) -> Vec<u8> {
        const VOCABULARY: [&str; 16] = [
            "layer ",
            "image ",
            "manifest ",
            "digest ",
            "registry ",
            "config ",
            "tag ",
            "push ",
            "build ",
            "index ",
            "platform ",
            "blob ",
            "sha256 ",
            "gzip ",
            "tar ",
            "\n",
        ];
        let choice = pseudo_random(n);
        let mut out = Vec::with_capacity(n + 16);
        let mut i = 0;
        while out.len() < n {
            out.extend_from_slice(VOCABULARY[usize::from(choice[i] & 15)].as_bytes());
            i += 1;
        }
        out.truncate(n);
        out
    }

    #[test]
    fn the_blob_is_the_same_bytes_on_every_machine() {
        // The digests a layer compresses to are part of what we promise: the same layer gives the
        // same blob on any host and with any CPU features deflate and the CRC choose at run time
        // (and a new compressor version that changes them needs a new POLICY).
        let dir = tempfile::tempdir().unwrap();
        let text = compress(&words(3 << 20)[..], dir.path()).unwrap();
        let random = compress(&pseudo_random(3 << 20)[..], dir.path()).unwrap();
        assert_eq!((text.blob.level, random.blob.level), (1, 0));
        assert_eq!(
            (text.blob.digest.to_string(), text.blob.size),
            (
                "sha256:2ece59354b6f84a6e72c73bb7d09dfbd36755f699a3917fa10c51d13e437417d".into(),
                982_459
            )
        );
        assert_eq!(
            (random.blob.digest.to_string(), random.blob.size),
            (
                "sha256:191ee954d8a2a46d0724bc5e5d779c92bdfa030928ce03a92d4247465e728946".into(),
                3_146_011
            )
        );
    }

    #[test]
    fn cache_round_trip_checks_the_config_id() {
        let dir = tempfile::tempdir().unwrap();
        let cache = LayerCache::new(dir.path().to_path_buf());
        let blob = Blob {
            digest: Digest::sha256_of(b"gz"),
            size: 2,
            diff_id: Digest::sha256_of(b"tar"),
            uncompressed: 3,
            level: 1,
        };
        cache.remember(b"{\"config\":1}", std::slice::from_ref(&blob));
        assert_eq!(cache.layer(&blob.diff_id), Some(blob));
        let id = Digest::sha256_of(b"{\"config\":1}");
        assert_eq!(cache.config(&id).unwrap(), b"{\"config\":1}");
        fs::write(dir.path().join("configs").join(id.hex()), "tampered").unwrap();
        assert_eq!(cache.config(&id), None);
    }

    #[test]
    fn configs_are_normalised_to_the_commit_time() {
        let raw = br#"{"architecture":"amd64","created":"2026-11-22T02:53:20.1Z","history":[{"created":"2020-01-01T00:00:00Z","created_by":"x"},{"created_by":"y"}]}"#;
        let out = normalise_config(raw, Some("2026-01-01T00:00:00Z"));
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            r#"{"architecture":"amd64","created":"2026-01-01T00:00:00Z","history":[{"created":"2026-01-01T00:00:00Z","created_by":"x"},{"created_by":"y"}]}"#
        );
        assert_eq!(normalise_config(raw, None), raw.to_vec());
        assert_eq!(
            normalise_config(b"not json", Some("x")),
            b"not json".to_vec()
        );
    }

    /// A `docker save` tar of either layout: the config, one layer, and the manifest naming them.
    fn save_tar(oci: bool, config: &[u8], layer: &[u8]) -> Vec<u8> {
        let config_name = if oci {
            format!("blobs/sha256/{}", Digest::sha256_of(config).hex())
        } else {
            format!("{}.json", Digest::sha256_of(config).hex())
        };
        let layer_name = if oci {
            format!("blobs/sha256/{}", Digest::sha256_of(layer).hex())
        } else {
            "0123abcd/layer.tar".to_string()
        };
        let manifest = format!(r#"[{{"Config":"{config_name}","Layers":["{layer_name}"]}}]"#);
        let mut out = tar::Builder::new(Vec::new());
        for (name, bytes) in [
            (layer_name.as_str(), layer),
            (config_name.as_str(), config),
            ("manifest.json", manifest.as_bytes()),
        ] {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            out.append_data(&mut header, name, bytes).unwrap();
        }
        out.into_inner().unwrap()
    }

    #[test]
    fn the_config_is_read_from_an_export_without_its_layers() {
        let config = br#"{"architecture":"arm64","os":"linux"}"#;
        let layer = pseudo_random(3 << 20);
        for oci in [false, true] {
            let tar = save_tar(oci, config, &layer);
            assert_eq!(read_config(&tar[..]).unwrap(), config, "oci: {oci}");
            let dir = tempfile::tempdir().unwrap();
            let full = read_export(&tar[..], dir.path(), || None, |_| {}).unwrap();
            assert_eq!(full.config, config, "oci: {oci}");
        }
        let no_manifest = {
            let mut out = tar::Builder::new(Vec::new());
            let mut header = tar::Header::new_gnu();
            header.set_size(2);
            header.set_cksum();
            out.append_data(&mut header, "x.json", &b"{}"[..]).unwrap();
            out.into_inner().unwrap()
        };
        let e = read_config(&no_manifest[..]).unwrap_err();
        assert!(e.to_string().contains("no manifest.json"), "{e}");
    }

    #[test]
    fn the_manifest_names_config_and_layers() {
        let blob = Blob {
            digest: Digest::sha256_of(b"gz"),
            size: 2,
            diff_id: Digest::sha256_of(b"tar"),
            uncompressed: 3,
            level: 1,
        };
        let m: serde_json::Value =
            serde_json::from_slice(&manifest(b"{}", std::slice::from_ref(&blob))).unwrap();
        assert_eq!(m["mediaType"], MANIFEST_MEDIA_TYPE);
        assert_eq!(m["config"]["digest"], Digest::sha256_of(b"{}").to_string());
        assert_eq!(m["layers"][0]["digest"], blob.digest.to_string());
        assert_eq!(m["layers"][0]["size"], 2);
    }
}
