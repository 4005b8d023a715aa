//! A scan worker of the owner's pool ([`layerscope_web::pool`]): runs one pass over one
//! layer of a dropped archive or of a registry image at a time.
//!
//! The owner (the layer worker) posts the archive's `Blob` and a [`ScanTask`]; this worker
//! reads the task's byte range a chunk at a time with `Blob.slice(...).arrayBuffer()`,
//! asking for the next chunk before it scans the one it has, so the browser reads the file
//! while the scanner works (a blocking `FileReaderSync` read leaves the scanner idle for a
//! third of an entries pass). It pushes each chunk through the core's scanner (the entries
//! pass) or digest scanner (the digest pass), and posts the result to the owner as one
//! transferred buffer. For a registry layer the owner posts the blob's authorized `GET`
//! ([`LayerFetch`]) instead, and the response body is read a chunk at a time the same way.
//! It knows nothing about formats: it moves bytes.

use js_sys::{Promise, Uint8Array};
use layerscope_core::archive::LAYER_CHUNK_BYTES;
use layerscope_core::engine::scan::{DigestScanner, LayerError, Scanner};
use layerscope_core::registry::pull::{blob_read_limit, oversized_layer};
use layerscope_web::pool::{LayerFetch, Pass, PassResult, ScanReply, ScanTask, TaskSource};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    Blob, DedicatedWorkerGlobalScope, MessageEvent, ReadableStreamByobReader,
    ReadableStreamDefaultReader, ReadableStreamGetReaderOptions, ReadableStreamReaderMode,
    RequestCredentials, RequestInit, RequestMode, Response,
};

/// Least time between two progress replies for one pass.
const PROGRESS_INTERVAL_MS: f64 = 60.0;

fn main() {
    std::panic::set_hook(Box::new(|info| {
        post(
            &ScanReply::Failed {
                layer: None,
                message: format!("a scan worker stopped on an internal error: {info}"),
            },
            &[],
        );
    }));
    let onmessage = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        match ScanTask::from_message(&event.data()) {
            // The owner sends the next task only once this one is answered.
            Ok((source, task)) => wasm_bindgen_futures::spawn_local(async move {
                run(&source, &task).await;
            }),
            Err(message) => post(
                &ScanReply::Failed {
                    layer: None,
                    message,
                },
                &[],
            ),
        }
    });
    scope().set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
    // The handler lives as long as the worker; the owner terminates the worker to stop it.
    onmessage.forget();
    post(&ScanReply::Ready, &[]);
}

fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

fn post(reply: &ScanReply, parts: &[&[u8]]) {
    let (message, transfer) = reply.message(parts);
    // Posting to the owner cannot fail while this worker runs.
    let _ = scope().post_message_with_transfer(&message, &transfer);
}

/// Runs `task` over its layer's bytes and posts its result (or why there is none).
async fn run(source: &TaskSource, task: &ScanTask) {
    let layer = task.job.index;
    let outcome = match task.pass {
        Pass::Entries => {
            let mut scanner = Scanner::new(task.options());
            read(source, task, |chunk| scanner.push(chunk))
                .await
                .map(|()| PassResult::Entries(scanner.finish()))
        }
        Pass::Digests => {
            let mut scanner = DigestScanner::new(task.options());
            read(source, task, |chunk| scanner.push(chunk))
                .await
                .map(|()| PassResult::Digests(scanner.finish()))
        }
    };
    match outcome {
        Ok(result) => {
            let (ok, head, entries) = result.to_byte_parts();
            post(
                &ScanReply::Finished {
                    layer,
                    pass: task.pass,
                    ok,
                },
                &[&head, entries],
            );
        }
        Err(Stopped::Read(message)) => post(
            &ScanReply::Failed {
                layer: Some(layer),
                message,
            },
            &[],
        ),
        // The scanner refused the bytes: its error is the pass's result.
        Err(Stopped::Scan(error)) => {
            let result = match task.pass {
                Pass::Entries => PassResult::Entries(Err(error)),
                Pass::Digests => PassResult::Digests(Err(error)),
            };
            let (ok, bytes) = result.to_bytes();
            post(
                &ScanReply::Finished {
                    layer,
                    pass: task.pass,
                    ok,
                },
                &[&bytes],
            );
        }
    }
}

/// Why a pass stopped before its scanner finished.
enum Stopped {
    /// The archive's bytes could not be read (the file changed or went away).
    Read(String),
    /// The scanner refused them.
    Scan(LayerError),
}

/// Feeds the task's layer to `push` a chunk at a time, from the archive or the registry.
async fn read(
    source: &TaskSource,
    task: &ScanTask,
    push: impl FnMut(&[u8]) -> Result<(), LayerError>,
) -> Result<(), Stopped> {
    match source {
        TaskSource::Archive(blob) => read_range(blob, task, push).await,
        TaskSource::Registry(fetch) => read_fetch(fetch, task, push).await,
    }
}

/// Posts the task's progress at most every [`PROGRESS_INTERVAL_MS`].
struct ProgressPost {
    layer: usize,
    pass: Pass,
    last: f64,
}

impl ProgressPost {
    /// Posts that nothing is read yet, at once, so the page shows the layer as being read
    /// from the start.
    fn start(task: &ScanTask) -> ProgressPost {
        let progress = ProgressPost {
            layer: task.job.index,
            pass: task.pass,
            last: js_sys::Date::now(),
        };
        progress.post(0);
        progress
    }

    fn offer(&mut self, done: u64) {
        let now = js_sys::Date::now();
        if now - self.last >= PROGRESS_INTERVAL_MS {
            self.last = now;
            self.post(done);
        }
    }

    fn post(&self, done: u64) {
        post(
            &ScanReply::Progress {
                layer: self.layer,
                pass: self.pass,
                done,
            },
            &[],
        );
    }
}

/// Fetches the registry blob and feeds its body to `push` a chunk at a time as it arrives
/// (the stream is read no faster than the scanner takes it), posting progress on the way.
async fn read_fetch(
    fetch: &LayerFetch,
    task: &ScanTask,
    mut push: impl FnMut(&[u8]) -> Result<(), LayerError>,
) -> Result<(), Stopped> {
    let layer = &task.job.member;
    let failed = |what: &str, error: &JsValue| {
        Stopped::Read(format!(
            "{what} layer {layer} from {}: {}",
            fetch.registry,
            layerscope_web::pull::describe(error)
        ))
    };
    let mut progress = ProgressPost::start(task);
    let init = RequestInit::new();
    init.set_method("GET");
    init.set_mode(RequestMode::Cors);
    // Cookies of the page's origin have no business with a registry.
    init.set_credentials(RequestCredentials::Omit);
    let headers = web_sys::Headers::new().map_err(|error| failed("fetching", &error))?;
    for (name, value) in &fetch.headers {
        headers
            .append(name, value)
            .map_err(|error| failed("fetching", &error))?;
    }
    init.set_headers(&headers);
    let response: Response = JsFuture::from(scope().fetch_with_str_and_init(&fetch.url, &init))
        .await
        .map_err(|error| failed("fetching", &error))?
        .unchecked_into();
    if response.status() != 200 {
        return Err(Stopped::Read(format!(
            "{} answered {} for layer {layer}",
            fetch.registry,
            response.status()
        )));
    }
    let Some(body) = response.body() else {
        return Ok(());
    };
    let reader: ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let mut buffer = Vec::new();
    let mut received = 0u64;
    loop {
        let result = JsFuture::from(reader.read())
            .await
            .map_err(|error| failed("reading", &error))?;
        let done = js_sys::Reflect::get(&result, &"done".into())
            .ok()
            .and_then(|done| done.as_bool())
            .unwrap_or(true);
        if done {
            return Ok(());
        }
        let Ok(value) = js_sys::Reflect::get(&result, &"value".into()) else {
            return Ok(());
        };
        let bytes: Uint8Array = value.unchecked_into();
        buffer.resize(bytes.length() as usize, 0);
        bytes.copy_to(&mut buffer);
        received += buffer.len() as u64;
        // A registry job's length is the size its manifest declares.
        if received > blob_read_limit(task.job.len) {
            let _ = reader.cancel();
            return Err(Stopped::Read(oversized_layer(
                task.job.index,
                layer,
                task.job.len,
                received,
            )));
        }
        if let Err(error) = push(&buffer) {
            let _ = reader.cancel();
            return Err(Stopped::Scan(error));
        }
        progress.offer(received);
    }
}

/// Feeds the task's byte range to `push` a chunk at a time, posting progress on the way;
/// the next chunk is being read while `push` scans the one before.
///
/// The range is read as a byte stream into one reused buffer where the browser can (a
/// "BYOB" reader): one `arrayBuffer()` per chunk leaves each chunk's buffer to the garbage
/// collector, and a layer of gigabytes read that way held over 100 MiB of them at once.
async fn read_range(
    blob: &Blob,
    task: &ScanTask,
    push: impl FnMut(&[u8]) -> Result<(), LayerError>,
) -> Result<(), Stopped> {
    let (start, len) = (task.job.offset, task.job.len);
    let end = start.saturating_add(len);
    if start < end {
        if let Some(reader) = byob_reader(blob, start, end) {
            return read_stream(reader, task, push).await;
        }
    }
    read_slices(blob, task, push).await
}

/// A BYOB reader of the archive's bytes `start..end`, when the browser gives one.
fn byob_reader(blob: &Blob, start: u64, end: u64) -> Option<ReadableStreamByobReader> {
    let stream = blob
        .slice_with_f64_and_f64(start as f64, end as f64)
        .ok()?
        .stream();
    let options = ReadableStreamGetReaderOptions::new();
    options.set_mode(ReadableStreamReaderMode::Byob);
    stream
        .get_reader_with_options(&options)
        .dyn_into::<ReadableStreamByobReader>()
        .ok()
}

/// [`read_range`] through a BYOB reader: each read fills the buffer the last one returned.
async fn read_stream(
    reader: ReadableStreamByobReader,
    task: &ScanTask,
    mut push: impl FnMut(&[u8]) -> Result<(), LayerError>,
) -> Result<(), Stopped> {
    let (start, len) = (task.job.offset, task.job.len);
    let failed = |got: u64, error: &JsValue| {
        read_failed(task, start + got, start.saturating_add(len), error)
    };
    let mut buffer = Vec::new();
    let mut progress = ProgressPost::start(task);
    let chunk = LAYER_CHUNK_BYTES.min(len) as u32;
    let mut next = reader.read_with_array_buffer_view(&Uint8Array::new_with_length(chunk));
    let mut got = 0u64;
    loop {
        let result = JsFuture::from(next)
            .await
            .map_err(|error| failed(got, &error))?;
        let done = js_sys::Reflect::get(&result, &"done".into())
            .ok()
            .and_then(|done| done.as_bool())
            .unwrap_or(true);
        let value = js_sys::Reflect::get(&result, &"value".into())
            .ok()
            .and_then(|value| value.dyn_into::<Uint8Array>().ok());
        let (false, Some(bytes)) = (done, value) else {
            break;
        };
        buffer.resize(bytes.length() as usize, 0);
        bytes.copy_to(&mut buffer);
        got += buffer.len() as u64;
        // The bytes are copied out: the browser fills the same memory while they are scanned.
        let view = Uint8Array::new_with_byte_offset_and_length(&bytes.buffer(), 0, chunk);
        next = reader.read_with_array_buffer_view(&view);
        if let Err(error) = push(&buffer) {
            let _ = reader.cancel();
            return Err(Stopped::Scan(error));
        }
        progress.offer(got);
    }
    if got != len {
        return Err(Stopped::Read(format!(
            "the archive ends inside {} (bytes {}..{} gave {got} bytes): was the file changed?",
            task.job.member,
            start,
            start.saturating_add(len),
        )));
    }
    Ok(())
}

/// [`read_range`] one `Blob.slice(...).arrayBuffer()` at a time, for a browser without
/// BYOB readers of a `Blob`'s stream.
async fn read_slices(
    blob: &Blob,
    task: &ScanTask,
    mut push: impl FnMut(&[u8]) -> Result<(), LayerError>,
) -> Result<(), Stopped> {
    let (start, len) = (task.job.offset, task.job.len);
    let end = start.saturating_add(len);
    let mut buffer = Vec::new();
    let mut progress = ProgressPost::start(task);
    let mut next = (start < end)
        .then(|| ask(blob, task, start, end))
        .transpose()?;
    while let Some(chunk) = next.take() {
        let bytes = chunk.bytes().await?;
        if chunk.end < end {
            next = Some(ask(blob, task, chunk.end, end)?);
        }
        buffer.resize(bytes.length() as usize, 0);
        bytes.copy_to(&mut buffer);
        push(&buffer).map_err(Stopped::Scan)?;
        progress.offer(chunk.end - start);
    }
    Ok(())
}

/// A chunk of the archive being read.
struct Chunk<'a> {
    task: &'a ScanTask,
    offset: u64,
    end: u64,
    read: Promise,
}

/// Asks the browser for the chunk of the task's range that starts at `offset` (at most
/// [`LAYER_CHUNK_BYTES`], not past `end`).
fn ask<'a>(blob: &Blob, task: &'a ScanTask, offset: u64, end: u64) -> Result<Chunk<'a>, Stopped> {
    let chunk_end = end.min(offset.saturating_add(LAYER_CHUNK_BYTES));
    let slice = blob
        .slice_with_f64_and_f64(offset as f64, chunk_end as f64)
        .map_err(|error| read_failed(task, offset, chunk_end, &error))?;
    Ok(Chunk {
        task,
        offset,
        end: chunk_end,
        read: slice.array_buffer(),
    })
}

impl Chunk<'_> {
    /// The chunk's bytes, all of them (the archive is shorter than the reader planned when
    /// they are not).
    async fn bytes(&self) -> Result<Uint8Array, Stopped> {
        let buffer = JsFuture::from(self.read.clone())
            .await
            .map_err(|error| read_failed(self.task, self.offset, self.end, &error))?;
        let bytes = Uint8Array::new(&buffer);
        if u64::from(bytes.length()) != self.end - self.offset {
            return Err(Stopped::Read(format!(
                "the archive ends inside {} (bytes {}..{} gave {} bytes): was the file changed?",
                self.task.job.member,
                self.offset,
                self.end,
                bytes.length()
            )));
        }
        Ok(bytes)
    }
}

fn read_failed(task: &ScanTask, offset: u64, end: u64, error: &JsValue) -> Stopped {
    Stopped::Read(format!(
        "reading bytes {offset}..{end} of the archive ({}) failed: {} (was the file changed or removed?)",
        task.job.member,
        layerscope_web::pull::describe(error)
    ))
}
