//! The scanner benchmark page (`bench/page/index.html`, built by trunk for wasm32).
//!
//! Streams a layer file from the page's own origin through the Fetch API's
//! body reader into `layerscope_core::engine::scan::Scanner`, times each run with
//! `performance.now()`, and writes the figures as JSON into the element with
//! `data-testid="bench-result"` (or a message into `data-testid="bench-error"`).
//! `bench/src/bin/wasm-bench.rs` drives it; `scripts/bench.sh` builds and runs both.
//!
//! Query parameters: `file` (path relative to the page, required), `reps`
//! (timed runs, default 1), `chunk` (bytes per `Scanner::push`, default
//! 65536), `mode` (`scan`, the default, or `drain`: read and copy the body
//! without scanning, to show what fetching alone costs), `reader` (`byob`, the
//! default: one reused buffer, no garbage per chunk; `default`; or `worker`: a
//! worker reads the body and posts the chunks, so receiving overlaps scanning), and
//! `readBuffer` (the BYOB buffer's size, default 1 MiB).
//!
//! Fetch hands over chunks of whatever size the network stack chose; they are
//! copied into a fixed buffer and pushed in `chunk`-sized pieces, exactly the
//! pieces the native benchmark (`bench/src/bin/scan-layer.rs`) pushes
//! from its file reads, so both run the same scanner on the same calls.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Object, Promise, Reflect, Uint8Array};
use layerscope_bench::{describe_layer, DEFAULT_CHUNK, MAX_CHUNK};
use layerscope_core::engine::scan::{LayerSummary, ScanOptions, Scanner};
use serde_json::{json, Value};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// Most timed runs one page load does.
const MAX_REPS: u32 = 100;

#[wasm_bindgen]
extern "C" {
    /// A fetch `Response`, seen only through its body stream (web-sys's
    /// `ReadableStream` types are not among the package's enabled features).
    type StreamingResponse;
    #[wasm_bindgen(method, getter)]
    fn body(this: &StreamingResponse) -> Option<BodyStream>;
    #[wasm_bindgen(method, getter)]
    fn ok(this: &StreamingResponse) -> bool;
    #[wasm_bindgen(method, getter)]
    fn status(this: &StreamingResponse) -> u16;

    /// A `ReadableStream` of `Uint8Array` chunks.
    type BodyStream;
    #[wasm_bindgen(method, js_name = getReader)]
    fn get_reader(this: &BodyStream) -> DefaultReader;
    /// `getReader({mode: "byob"})`; throws where the body is not a byte stream.
    #[wasm_bindgen(method, catch, js_name = getReader)]
    fn get_reader_with(this: &BodyStream, options: &Object) -> Result<ByobReader, JsValue>;

    /// A `ReadableStreamDefaultReader`: each read hands over a freshly allocated chunk.
    type DefaultReader;
    #[wasm_bindgen(method)]
    fn read(this: &DefaultReader) -> Promise;

    /// A `ReadableStreamBYOBReader`: reads into a buffer the page supplies and gets back.
    type ByobReader;
    #[wasm_bindgen(method, js_name = read)]
    fn read_into(this: &ByobReader, view: &Uint8Array) -> Promise;
}

/// Bytes a bring-your-own-buffer read may fill at once, unless told otherwise.
const DEFAULT_READ_BUFFER: u32 = 1024 * 1024;
/// Largest read buffer the page accepts.
const MAX_READ_BUFFER: u32 = 256 * 1024 * 1024;

/// What the page was asked to do, from its query string.
struct BenchParams {
    file: String,
    reps: u32,
    chunk: usize,
    scan: bool,
    /// Read the body with a BYOB reader (reusing one buffer) rather than the default reader.
    byob: bool,
    /// Size of the BYOB reader's buffer.
    read_buffer: u32,
    /// Read the body in a worker that posts the chunks to the page.
    fetch_in_worker: bool,
}

/// Timings of one run, in milliseconds.
struct RunTimes {
    /// From calling `fetch` to the end of `finish()`.
    total_ms: f64,
    /// From the first body byte to the end of `finish()`.
    first_byte_to_finish_ms: f64,
    /// Time spent inside `push` and `finish` (the scanner's own work).
    scanner_ms: f64,
    /// After the first byte, time spent waiting for the body reader's next chunk.
    wait_ms: f64,
    /// Chunks the body reader delivered.
    fetch_chunks: u64,
}

fn main() {
    wasm_bindgen_futures::spawn_local(async {
        let outcome = match read_params() {
            Ok(params) => run_bench(&params).await,
            Err(message) => Err(message),
        };
        match outcome {
            Ok(result) => show("bench-result", &result.to_string()),
            Err(message) => show("bench-error", &message),
        }
    });
}

fn read_params() -> Result<BenchParams, String> {
    let search = window()
        .location()
        .search()
        .map_err(|e| format!("reading location.search: {e:?}"))?;
    let query = parse_query(&search)?;
    let get = |name: &str| {
        query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    let file = get("file")
        .filter(|file| !file.is_empty())
        .ok_or("the query names no file (bench.html?file=NAME)")?
        .to_string();
    let reps = parse_number("reps", get("reps"), 1u32)?;
    let chunk = parse_number("chunk", get("chunk"), DEFAULT_CHUNK)?;
    if reps == 0 || reps > MAX_REPS {
        return Err(format!("reps={reps} is outside 1..={MAX_REPS}"));
    }
    if chunk == 0 || chunk > MAX_CHUNK {
        return Err(format!("chunk={chunk} is outside 1..={MAX_CHUNK}"));
    }
    let scan = match get("mode") {
        None | Some("scan") => true,
        Some("drain") => false,
        Some(other) => return Err(format!("mode={other} is neither scan nor drain")),
    };
    let read_buffer = parse_number("readBuffer", get("readBuffer"), DEFAULT_READ_BUFFER)?;
    if read_buffer == 0 || read_buffer > MAX_READ_BUFFER {
        return Err(format!(
            "readBuffer={read_buffer} is outside 1..={MAX_READ_BUFFER}"
        ));
    }
    let (byob, fetch_in_worker) = match get("reader") {
        None | Some("byob") => (true, false),
        Some("default") => (false, false),
        Some("worker") => (false, true),
        Some(other) => {
            return Err(format!(
                "reader={other} is none of byob, default and worker"
            ))
        }
    };
    Ok(BenchParams {
        file,
        reps,
        chunk,
        scan,
        byob,
        read_buffer,
        fetch_in_worker,
    })
}

/// `?a=1&b=x%20y` as decoded pairs.
fn parse_query(search: &str) -> Result<Vec<(String, String)>, String> {
    let decode = |text: &str| {
        js_sys::decode_uri_component(&text.replace('+', " "))
            .map(String::from)
            .map_err(|_| format!("the query {search:?} has a bad %-escape in {text:?}"))
    };
    search
        .trim_start_matches('?')
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((decode(key)?, decode(value)?))
        })
        .collect()
}

fn parse_number<T: std::str::FromStr>(
    name: &str,
    text: Option<&str>,
    default: T,
) -> Result<T, String> {
    match text {
        None => Ok(default),
        Some(text) => text
            .parse()
            .map_err(|_| format!("query parameter {name}={text:?} is not a number")),
    }
}

async fn run_bench(params: &BenchParams) -> Result<Value, String> {
    let mut runs = Vec::new();
    let mut layer = Value::Null;
    let mut reader_kind = "";
    let mut buffer = vec![0u8; params.chunk].into_boxed_slice();
    for rep in 0..params.reps {
        show(
            "bench-status",
            &format!("run {} of {}: {}", rep + 1, params.reps, params.file),
        );
        let (times, summary, kind) = run_once(params, &mut buffer).await?;
        reader_kind = kind;
        if let Some(summary) = summary {
            layer = describe_layer(&summary);
        }
        runs.push(json!({
            "totalMs": times.total_ms,
            "firstByteToFinishMs": times.first_byte_to_finish_ms,
            "scannerMs": times.scanner_ms,
            "readWaitMs": times.wait_ms,
            "fetchChunks": times.fetch_chunks,
        }));
    }
    Ok(json!({
        "file": params.file,
        "mode": if params.scan { "scan" } else { "drain" },
        "chunk": params.chunk,
        "reader": reader_kind,
        "runs": runs,
        "layer": layer,
        "wasmMemoryBytes": wasm_memory_bytes(),
        "jsHeapUsedBytes": js_heap_used_bytes(),
    }))
}

/// One fetch of the file, streamed through a fresh scanner (or only copied,
/// in drain mode). Also says how the body was read.
async fn run_once(
    params: &BenchParams,
    buffer: &mut Box<[u8]>,
) -> Result<(RunTimes, Option<LayerSummary>, &'static str), String> {
    if params.fetch_in_worker {
        return run_with_fetch_worker(params, buffer).await;
    }
    let clock = window()
        .performance()
        .ok_or("this page has no performance clock")?;
    let start = clock.now();
    let mut body = open_body(&params.file, params.byob.then_some(params.read_buffer)).await?;
    let mut feeder = Feeder::new(params, std::mem::take(buffer), clock.clone());
    let mut first_byte = None;
    let mut wait_ms = 0.0;
    loop {
        let before_read = clock.now();
        let Some(array) = body.next_chunk(&params.file).await? else {
            break;
        };
        if first_byte.is_some() {
            wait_ms += clock.now() - before_read;
        }
        if array.length() > 0 {
            first_byte.get_or_insert_with(|| clock.now());
            feeder.feed(&array)?;
        }
    }
    let (summary, scanner_ms, fetch_chunks, returned) = feeder.finish()?;
    *buffer = returned;
    let end = clock.now();
    let times = RunTimes {
        total_ms: end - start,
        first_byte_to_finish_ms: end - first_byte.unwrap_or(end),
        scanner_ms,
        wait_ms,
        fetch_chunks,
    };
    Ok((times, summary, body.kind()))
}

/// Copies body chunks into the fixed push buffer and pushes it whenever it is
/// full, so the scanner sees the same `chunk`-sized pushes as natively.
struct Feeder {
    file: String,
    scanner: Option<Scanner>,
    buffer: Box<[u8]>,
    filled: usize,
    clock: web_sys::Performance,
    scanner_ms: f64,
    chunks: u64,
}

impl Feeder {
    fn new(params: &BenchParams, buffer: Box<[u8]>, clock: web_sys::Performance) -> Feeder {
        Feeder {
            file: params.file.clone(),
            scanner: params.scan.then(|| Scanner::new(ScanOptions::default())),
            buffer,
            filled: 0,
            clock,
            scanner_ms: 0.0,
            chunks: 0,
        }
    }

    fn feed(&mut self, array: &Uint8Array) -> Result<(), String> {
        self.chunks += 1;
        let length = array.length() as usize;
        let mut offset = 0usize;
        while offset < length {
            let take = (self.buffer.len() - self.filled).min(length - offset);
            array
                .subarray(offset as u32, (offset + take) as u32)
                .copy_to(&mut self.buffer[self.filled..self.filled + take]);
            self.filled += take;
            offset += take;
            if self.filled == self.buffer.len() {
                self.push_buffer()?;
            }
        }
        Ok(())
    }

    fn push_buffer(&mut self) -> Result<(), String> {
        if let Some(scanner) = self.scanner.as_mut() {
            let before = self.clock.now();
            scanner
                .push(&self.buffer[..self.filled])
                .map_err(|e| format!("{}: {e}", self.file))?;
            self.scanner_ms += self.clock.now() - before;
        }
        self.filled = 0;
        Ok(())
    }

    /// Pushes the last partial chunk and finishes the scan. Returns the
    /// summary (none in drain mode), the time inside the scanner, the number
    /// of body chunks, and the push buffer for the next run.
    #[allow(clippy::type_complexity)]
    fn finish(mut self) -> Result<(Option<LayerSummary>, f64, u64, Box<[u8]>), String> {
        self.push_buffer()?;
        let summary = match self.scanner.take() {
            Some(scanner) => {
                let before = self.clock.now();
                let summary = scanner
                    .finish()
                    .map_err(|e| format!("{}: {e}", self.file))?;
                self.scanner_ms += self.clock.now() - before;
                Some(summary)
            }
            None => None,
        };
        Ok((summary, self.scanner_ms, self.chunks, self.buffer))
    }
}

/// A worker that fetches and reads the body and posts each chunk to the page,
/// receiving the body in parallel with the page's scanning. Buffers travel
/// both ways by transfer, never copied: the worker reads into one of `window`
/// buffers of `bufferSize` bytes (a BYOB reader), posts it, and the page gives
/// it back once scanned, so memory stays at `window` buffers and no garbage
/// piles up. Where the body is not a byte stream, the default reader's chunks
/// are posted instead and the buffers only count credit.
const FETCH_WORKER_JS: &str = r#"
let pool = [], wake = null;
onmessage = (event) => {
  const message = event.data;
  if (message.give) {
    pool.push(message.give);
    if (wake) { const resume = wake; wake = null; resume(); }
  } else if (message.url) {
    for (let i = 0; i < message.window; i++) pool.push(new ArrayBuffer(message.bufferSize));
    run(new URL(message.url, message.base));
  }
};
async function run(url) {
  try {
    const response = await fetch(url, { cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP status ${response.status}`);
    let reader, byob = true;
    try { reader = response.body.getReader({ mode: "byob" }); }
    catch { byob = false; reader = response.body.getReader(); }
    for (;;) {
      while (pool.length === 0) await new Promise((resume) => { wake = resume; });
      const buffer = pool.pop();
      const { done, value } = byob ? await reader.read(new Uint8Array(buffer)) : await reader.read();
      if (done) break;
      if (value.byteLength === 0) { pool.push(byob ? value.buffer : buffer); continue; }
      const whole = value.byteOffset === 0 && value.byteLength <= value.buffer.byteLength;
      const bytes = whole ? value : value.slice();
      postMessage({ chunk: bytes }, [bytes.buffer]);
    }
    postMessage({ done: true });
  } catch (error) {
    postMessage({ error: String(error) });
  }
}
"#;

/// Chunks the fetch worker may have posted and the page not yet scanned.
const FETCH_WORKER_WINDOW: u32 = 8;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = URL, js_name = createObjectURL)]
    fn create_object_url(blob: &web_sys::Blob) -> String;
    #[wasm_bindgen(js_namespace = URL, js_name = revokeObjectURL)]
    fn revoke_object_url(url: &str);
}

/// State the fetch worker's messages update.
struct WorkerRun {
    feeder: Option<Feeder>,
    first_byte: Option<f64>,
    /// When the page last finished handling a chunk; the gap to the next
    /// chunk is time spent waiting for the body.
    idle_since: Option<f64>,
    wait_ms: f64,
    error: Option<String>,
}

/// Like [`run_once`], with the body read by a fetch worker ([`FETCH_WORKER_JS`]).
async fn run_with_fetch_worker(
    params: &BenchParams,
    buffer: &mut Box<[u8]>,
) -> Result<(RunTimes, Option<LayerSummary>, &'static str), String> {
    let clock = window()
        .performance()
        .ok_or("this page has no performance clock")?;
    let start = clock.now();
    let worker = start_fetch_worker()?;
    let state = Rc::new(RefCell::new(WorkerRun {
        feeder: Some(Feeder::new(params, std::mem::take(buffer), clock.clone())),
        first_byte: None,
        idle_since: None,
        wait_ms: 0.0,
        error: None,
    }));
    let mut settle = None;
    let finished = Promise::new(&mut |resolve, _reject| settle = Some(resolve));
    let settle = settle.expect("the Promise executor runs at once");
    let on_message = {
        let state = Rc::clone(&state);
        let worker = worker.clone();
        let clock = clock.clone();
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
            let data = event.data();
            let mut run = state.borrow_mut();
            let field =
                |name: &str| Reflect::get(&data, &name.into()).unwrap_or(JsValue::UNDEFINED);
            let chunk = field("chunk");
            if let Some(array) = chunk.dyn_ref::<Uint8Array>() {
                let now = clock.now();
                run.first_byte.get_or_insert(now);
                if let Some(idle) = run.idle_since {
                    run.wait_ms += now - idle;
                }
                let fed = run.feeder.as_mut().map(|feeder| feeder.feed(array));
                if let Some(Err(message)) = fed {
                    run.error = Some(message);
                    let _ = settle.call0(&JsValue::NULL);
                    return;
                }
                let give = Object::new();
                let buffer = array.buffer();
                let _ = Reflect::set(&give, &"give".into(), &buffer);
                let _ = worker.post_message_with_transfer(&give, &js_sys::Array::of1(&buffer));
                run.idle_since = Some(clock.now());
            } else if let Some(message) = field("error").as_string() {
                run.error = Some(format!("fetch worker, {}: {message}", run_file(&run)));
                let _ = settle.call0(&JsValue::NULL);
            } else if field("done").is_truthy() {
                let _ = settle.call0(&JsValue::NULL);
            }
        })
    };
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    let start_message = Object::new();
    let base = window().location().href().unwrap_or_default();
    for (key, value) in [
        ("url", JsValue::from(params.file.as_str())),
        ("base", JsValue::from(base)),
        ("window", JsValue::from(FETCH_WORKER_WINDOW)),
        ("bufferSize", JsValue::from(params.read_buffer)),
    ] {
        Reflect::set(&start_message, &key.into(), &value)
            .map_err(|e| format!("building the fetch worker's message: {e:?}"))?;
    }
    worker
        .post_message(&start_message)
        .map_err(|e| format!("starting the fetch worker: {e:?}"))?;
    let settled = JsFuture::from(finished).await;
    worker.terminate();
    worker.set_onmessage(None);
    drop(on_message);
    settled.map_err(|e| format!("waiting for the fetch worker: {e:?}"))?;
    let mut run = state.borrow_mut();
    if let Some(message) = run.error.take() {
        return Err(message);
    }
    let feeder = run
        .feeder
        .take()
        .ok_or("the fetch worker's run lost its scanner")?;
    let (summary, scanner_ms, fetch_chunks, returned) = feeder.finish()?;
    *buffer = returned;
    let end = clock.now();
    let times = RunTimes {
        total_ms: end - start,
        first_byte_to_finish_ms: end - run.first_byte.unwrap_or(end),
        scanner_ms,
        wait_ms: run.wait_ms,
        fetch_chunks,
    };
    Ok((times, summary, "worker"))
}

fn run_file(run: &WorkerRun) -> String {
    run.feeder
        .as_ref()
        .map_or_else(String::new, |feeder| feeder.file.clone())
}

fn start_fetch_worker() -> Result<web_sys::Worker, String> {
    let parts = js_sys::Array::of1(&JsValue::from(FETCH_WORKER_JS));
    let options = Object::new();
    Reflect::set(&options, &"type".into(), &"text/javascript".into())
        .map_err(|e| format!("building the fetch worker: {e:?}"))?;
    let blob = web_sys::Blob::new_with_str_sequence_and_options(
        &parts,
        options.unchecked_ref::<web_sys::BlobPropertyBag>(),
    )
    .map_err(|e| format!("building the fetch worker: {e:?}"))?;
    let url = create_object_url(&blob);
    let worker =
        web_sys::Worker::new(&url).map_err(|e| format!("starting the fetch worker: {e:?}"));
    revoke_object_url(&url);
    worker
}

/// Fetches `file` from the page's origin, bypassing the HTTP cache (each run
/// must stream from the server, and a 100 MB cache write would skew it).
/// With `byob_buffer`, reads with a BYOB reader and a buffer of that size where the
/// browser allows it.
async fn open_body(file: &str, byob_buffer: Option<u32>) -> Result<Body, String> {
    let init = Object::new();
    Reflect::set(&init, &"cache".into(), &"no-store".into())
        .map_err(|e| format!("building fetch options: {e:?}"))?;
    let response = JsFuture::from(
        window().fetch_with_str_and_init(file, init.unchecked_ref::<web_sys::RequestInit>()),
    )
    .await
    .map_err(|e| format!("fetching {file}: {e:?}"))?
    .unchecked_into::<StreamingResponse>();
    if !response.ok() {
        return Err(format!(
            "fetching {file}: HTTP status {}",
            response.status()
        ));
    }
    let stream = response
        .body()
        .ok_or_else(|| format!("fetching {file}: the response has no body"))?;
    if let Some(size) = byob_buffer {
        let options = Object::new();
        Reflect::set(&options, &"mode".into(), &"byob".into())
            .map_err(|e| format!("building reader options: {e:?}"))?;
        if let Ok(reader) = stream.get_reader_with(&options) {
            let buffer = Uint8Array::new_with_length(size).buffer();
            return Ok(Body::Byob { reader, buffer });
        }
    }
    Ok(Body::Default(stream.get_reader()))
}

/// A response body being read.
enum Body {
    Default(DefaultReader),
    /// `buffer` is the one buffer every read fills and hands back (transferred).
    Byob {
        reader: ByobReader,
        buffer: js_sys::ArrayBuffer,
    },
}

impl Body {
    fn kind(&self) -> &'static str {
        match self {
            Body::Default(_) => "default",
            Body::Byob { .. } => "byob",
        }
    }

    /// The next chunk of the body, `None` at its end. A BYOB chunk is valid
    /// until the next call, which reuses its memory.
    async fn next_chunk(&mut self, file: &str) -> Result<Option<Uint8Array>, String> {
        let read = match self {
            Body::Default(reader) => reader.read(),
            Body::Byob { reader, buffer } => {
                let length = buffer.byte_length();
                reader.read_into(&Uint8Array::new_with_byte_offset_and_length(
                    buffer, 0, length,
                ))
            }
        };
        let failed = |e: JsValue| format!("reading the body of {file}: {e:?}");
        let result = JsFuture::from(read).await.map_err(failed)?;
        let value = Reflect::get(&result, &"value".into()).map_err(failed)?;
        if let (Body::Byob { buffer, .. }, Some(view)) = (&mut *self, value.dyn_ref::<Uint8Array>())
        {
            *buffer = view.buffer();
        }
        let done = Reflect::get(&result, &"done".into()).map_err(failed)?;
        if done.is_truthy() {
            return Ok(None);
        }
        value
            .dyn_into::<Uint8Array>()
            .map(Some)
            .map_err(|other| format!("the body of {file} yielded {other:?}, not bytes"))
    }
}

/// Size of the module's linear memory, which only grows: the peak the scanner needed.
fn wasm_memory_bytes() -> Value {
    let buffer = Reflect::get(&wasm_bindgen::memory(), &"buffer".into()).ok();
    buffer
        .and_then(|buffer| Reflect::get(&buffer, &"byteLength".into()).ok())
        .and_then(|length| length.as_f64())
        .map_or(Value::Null, Value::from)
}

/// Chromium's `performance.memory.usedJSHeapSize` (coarse unless Chromium runs
/// with `--enable-precise-memory-info`); null in other browsers.
fn js_heap_used_bytes() -> Value {
    let performance = Reflect::get(&window(), &"performance".into()).ok();
    performance
        .and_then(|p| Reflect::get(&p, &"memory".into()).ok())
        .filter(|memory| memory.is_object())
        .and_then(|memory| Reflect::get(&memory, &"usedJSHeapSize".into()).ok())
        .and_then(|used| used.as_f64())
        .map_or(Value::Null, Value::from)
}

fn window() -> web_sys::Window {
    web_sys::window().expect("the benchmark runs in a page, not a worker")
}

/// Puts `text` into the element with `data-testid`, creating it if needed.
fn show(testid: &str, text: &str) {
    let Some(document) = window().document() else {
        return;
    };
    let selector = format!("[data-testid=\"{testid}\"]");
    let element = match document.query_selector(&selector).ok().flatten() {
        Some(element) => element,
        None => {
            let Ok(element) = document.create_element("pre") else {
                return;
            };
            let _ = element.set_attribute("data-testid", testid);
            if let Some(body) = document.body() {
                let _ = body.append_child(&element);
            }
            element
        }
    };
    element.set_text_content(Some(text));
}
