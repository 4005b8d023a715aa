//! A scan worker of the owner's pool ([`layerscope_web::pool`]): runs one pass over one
//! layer of a dropped archive at a time.
//!
//! The owner (the layer worker) posts the archive's `Blob` and a [`ScanTask`]; this worker
//! reads the task's byte range with `FileReaderSync` over `Blob.slice`, one chunk at a time
//! (the only input buffer it holds), pushes it through the core's scanner (the entries
//! pass) or digest scanner (the digest pass), and posts the result to the owner as one
//! transferred buffer. It knows nothing about formats: it moves bytes.

use js_sys::Uint8Array;
use layerscope_core::archive::LAYER_CHUNK_BYTES;
use layerscope_core::engine::scan::{DigestScanner, LayerError, Scanner};
use layerscope_web::pool::{Pass, PassResult, ScanReply, ScanTask};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Blob, DedicatedWorkerGlobalScope, FileReaderSync, MessageEvent};

/// Least time between two progress replies for one pass.
const PROGRESS_INTERVAL_MS: f64 = 60.0;

fn main() {
    std::panic::set_hook(Box::new(|info| {
        post(
            &ScanReply::Failed {
                layer: None,
                message: format!("a scan worker stopped on an internal error: {info}"),
            },
            None,
        );
    }));
    let onmessage = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        match ScanTask::from_message(&event.data()) {
            Ok((blob, task)) => run(&blob, &task),
            Err(message) => post(
                &ScanReply::Failed {
                    layer: None,
                    message,
                },
                None,
            ),
        }
    });
    scope().set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
    // The handler lives as long as the worker; the owner terminates the worker to stop it.
    onmessage.forget();
    post(&ScanReply::Ready, None);
}

fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

fn post(reply: &ScanReply, bytes: Option<&[u8]>) {
    let (message, transfer) = reply.message(bytes);
    // Posting to the owner cannot fail while this worker runs.
    let _ = scope().post_message_with_transfer(&message, &transfer);
}

/// Runs `task` over the archive in `blob` and posts its result (or why there is none).
fn run(blob: &Blob, task: &ScanTask) {
    let layer = task.job.index;
    let outcome = match task.pass {
        Pass::Entries => {
            let mut scanner = Scanner::new(task.options());
            read_range(blob, task, |chunk| scanner.push(chunk))
                .map(|()| PassResult::Entries(scanner.finish()))
        }
        Pass::Digests => {
            let mut scanner = DigestScanner::new(task.options());
            read_range(blob, task, |chunk| scanner.push(chunk))
                .map(|()| PassResult::Digests(scanner.finish()))
        }
    };
    match outcome {
        Ok(result) => {
            let (ok, bytes) = result.to_bytes();
            post(
                &ScanReply::Finished {
                    layer,
                    pass: task.pass,
                    ok,
                },
                Some(&bytes),
            );
        }
        Err(Stopped::Read(message)) => post(
            &ScanReply::Failed {
                layer: Some(layer),
                message,
            },
            None,
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
                Some(&bytes),
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

/// Feeds the task's byte range to `push` a chunk at a time, posting progress on the way.
fn read_range(
    blob: &Blob,
    task: &ScanTask,
    mut push: impl FnMut(&[u8]) -> Result<(), LayerError>,
) -> Result<(), Stopped> {
    let reader = FileReaderSync::new().map_err(|error| {
        Stopped::Read(format!(
            "this browser offers no FileReaderSync in workers: {}",
            layerscope_web::pull::describe(&error)
        ))
    })?;
    let (start, len) = (task.job.offset, task.job.len);
    let end = start.saturating_add(len);
    let mut buffer = Vec::new();
    let mut offset = start;
    let mut last_progress = js_sys::Date::now();
    while offset < end {
        let chunk_end = end.min(offset.saturating_add(LAYER_CHUNK_BYTES));
        let failed = |error: JsValue| {
            Stopped::Read(format!(
                "reading bytes {offset}..{chunk_end} of the archive ({}) failed: {} (was the file changed or removed?)",
                task.job.member,
                layerscope_web::pull::describe(&error)
            ))
        };
        let slice = blob
            .slice_with_f64_and_f64(offset as f64, chunk_end as f64)
            .map_err(failed)?;
        let chunk_buffer = reader.read_as_array_buffer(&slice).map_err(failed)?;
        let bytes = Uint8Array::new(&chunk_buffer);
        let read = bytes.length() as u64;
        if read == 0 {
            return Err(Stopped::Read(format!(
                "the archive ends at byte {offset}, inside {} (bytes {start}..{end}): was the file changed?",
                task.job.member
            )));
        }
        buffer.resize(read as usize, 0);
        bytes.copy_to(&mut buffer);
        push(&buffer).map_err(Stopped::Scan)?;
        offset += read;
        let now = js_sys::Date::now();
        if now - last_progress >= PROGRESS_INTERVAL_MS {
            last_progress = now;
            post(
                &ScanReply::Progress {
                    layer: task.job.index,
                    pass: task.pass,
                    done: offset - start,
                },
                None,
            );
        }
    }
    Ok(())
}
