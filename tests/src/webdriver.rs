//! A minimal W3C WebDriver client: the JSON-over-HTTP calls the tests need, nothing more.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::encoding::base64_standard_decode;
use crate::http::loopback_agent;

/// The largest answer read from chromedriver (a screenshot, a performance log), bytes.
const RESPONSE_LIMIT: u64 = 256 * 1024 * 1024;

/// The key under which WebDriver returns element references.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long one WebDriver command may take (page loads included).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// A failed WebDriver command: the transport failed or the driver answered with an error.
#[derive(Debug, Clone)]
pub struct WebDriverError {
    /// The command, e.g. `POST /session/{id}/url`.
    pub command: String,
    /// The WebDriver error code (`no such element`, ...) or `transport`.
    pub error: String,
    /// The driver's message.
    pub message: String,
}

impl fmt::Display for WebDriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Chromedriver appends a native stack trace to messages; the first line is the news.
        let first_line = self.message.lines().next().unwrap_or_default();
        write!(f, "{} failed: {}: {first_line}", self.command, self.error)
    }
}

impl std::error::Error for WebDriverError {}

/// A reference to an element in the page, valid until the page changes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementId(pub String);

/// One browser console message, as chromedriver's log endpoint reports it.
#[derive(Debug, Clone, Deserialize)]
pub struct LogEntry {
    /// `SEVERE`, `WARNING`, `INFO`, `DEBUG`.
    pub level: String,
    /// The message with its source location.
    pub message: String,
    /// `console-api`, `network`, `javascript`, ...
    #[serde(default)]
    pub source: String,
}

/// One WebDriver session on a running driver.
pub struct WebDriver {
    agent: ureq::Agent,
    session_url: String,
}

impl WebDriver {
    /// Creates a session on the driver at `driver_url` (`http://127.0.0.1:PORT`).
    pub fn new_session(driver_url: &str, capabilities: Value) -> Result<WebDriver, WebDriverError> {
        let agent = loopback_agent(COMMAND_TIMEOUT);
        let body = json!({ "capabilities": { "alwaysMatch": capabilities } });
        let value = send(&agent, "POST", &format!("{driver_url}/session"), Some(body))?;
        let session_id = value["sessionId"]
            .as_str()
            .ok_or_else(|| WebDriverError {
                command: "POST /session".into(),
                error: "bad response".into(),
                message: format!("no sessionId in {value}"),
            })?
            .to_string();
        Ok(WebDriver {
            agent,
            session_url: format!("{driver_url}/session/{session_id}"),
        })
    }

    fn command(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, WebDriverError> {
        send(
            &self.agent,
            method,
            &format!("{}{path}", self.session_url),
            body,
        )
    }

    /// Loads `url` and waits for the document to finish loading.
    pub fn navigate(&self, url: &str) -> Result<(), WebDriverError> {
        self.command("POST", "/url", Some(json!({ "url": url })))
            .map(drop)
    }

    /// The current page URL.
    pub fn current_url(&self) -> Result<String, WebDriverError> {
        let value = self.command("GET", "/url", None)?;
        Ok(value.as_str().unwrap_or_default().to_string())
    }

    /// The first element matching a CSS selector.
    pub fn find_element(&self, css: &str) -> Result<ElementId, WebDriverError> {
        let value = self.command("POST", "/element", Some(locator(css)))?;
        element_id(&value).ok_or_else(|| bad_element("POST /element", &value))
    }

    /// Every element matching a CSS selector (possibly none).
    pub fn find_elements(&self, css: &str) -> Result<Vec<ElementId>, WebDriverError> {
        let value = self.command("POST", "/elements", Some(locator(css)))?;
        elements_from(&value, "POST /elements")
    }

    /// Elements matching a CSS selector below `parent`.
    pub fn find_elements_in(
        &self,
        parent: &ElementId,
        css: &str,
    ) -> Result<Vec<ElementId>, WebDriverError> {
        let path = format!("/element/{}/elements", parent.0);
        let value = self.command("POST", &path, Some(locator(css)))?;
        elements_from(&value, &path)
    }

    /// The rendered text of an element.
    pub fn element_text(&self, element: &ElementId) -> Result<String, WebDriverError> {
        let value = self.command("GET", &format!("/element/{}/text", element.0), None)?;
        Ok(value.as_str().unwrap_or_default().to_string())
    }

    /// An attribute of an element, `None` when absent.
    pub fn element_attribute(
        &self,
        element: &ElementId,
        name: &str,
    ) -> Result<Option<String>, WebDriverError> {
        let value = self.command(
            "GET",
            &format!("/element/{}/attribute/{name}", element.0),
            None,
        )?;
        Ok(value.as_str().map(str::to_string))
    }

    /// The lower-case tag name of an element.
    pub fn element_tag_name(&self, element: &ElementId) -> Result<String, WebDriverError> {
        let value = self.command("GET", &format!("/element/{}/name", element.0), None)?;
        Ok(value.as_str().unwrap_or_default().to_ascii_lowercase())
    }

    /// Clicks an element.
    pub fn click(&self, element: &ElementId) -> Result<(), WebDriverError> {
        self.command(
            "POST",
            &format!("/element/{}/click", element.0),
            Some(json!({})),
        )
        .map(drop)
    }

    /// Types text into an element; for `<input type=file>` the text is a file path.
    pub fn send_keys(&self, element: &ElementId, text: &str) -> Result<(), WebDriverError> {
        self.command(
            "POST",
            &format!("/element/{}/value", element.0),
            Some(json!({ "text": text })),
        )
        .map(drop)
    }

    /// Runs a synchronous script (`return ...;`) with arguments and returns its result.
    pub fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value, WebDriverError> {
        self.command(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
    }

    /// Browser console messages since the last call (chromedriver's `se/log` extension; the
    /// session must have been created with `goog:loggingPrefs: {browser: ALL}`).
    pub fn browser_log(&self) -> Result<Vec<LogEntry>, WebDriverError> {
        self.log("browser")
    }

    /// Entries of one chromedriver log (`browser`, `performance`, `driver`) since the last call;
    /// the log must be enabled in `goog:loggingPrefs`.
    pub fn log(&self, log_type: &str) -> Result<Vec<LogEntry>, WebDriverError> {
        let value = self.command("POST", "/se/log", Some(json!({ "type": log_type })))?;
        serde_json::from_value(value.clone()).map_err(|error| WebDriverError {
            command: "POST /se/log".into(),
            error: "bad response".into(),
            message: format!("{error}: {value}"),
        })
    }

    /// Resizes the browser window (the viewport follows; headless Chromium honours it).
    pub fn set_window_size(&self, width: u32, height: u32) -> Result<(), WebDriverError> {
        self.command(
            "POST",
            "/window/rect",
            Some(json!({ "width": width, "height": height })),
        )
        .map(drop)
    }

    /// Presses and releases each key of `keys` in turn on whatever has the focus, as a user
    /// at the keyboard would (W3C key actions; `\u{E00C}` is Escape).
    pub fn press_keys(&self, keys: &str) -> Result<(), WebDriverError> {
        let actions: Vec<Value> = keys
            .chars()
            .flat_map(|key| {
                let key = key.to_string();
                [
                    json!({ "type": "keyDown", "value": key }),
                    json!({ "type": "keyUp", "value": key }),
                ]
            })
            .collect();
        self.command(
            "POST",
            "/actions",
            Some(json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": actions }] })),
        )
        .map(drop)
    }

    /// Runs a DevTools protocol command through chromedriver (`goog/cdp/execute`), e.g.
    /// `Emulation.setEmulatedMedia`.
    pub fn cdp(&self, command: &str, params: Value) -> Result<Value, WebDriverError> {
        self.command(
            "POST",
            "/goog/cdp/execute",
            Some(json!({ "cmd": command, "params": params })),
        )
    }

    /// A PNG of the current viewport.
    pub fn screenshot_png(&self) -> Result<Vec<u8>, WebDriverError> {
        let value = self.command("GET", "/screenshot", None)?;
        value
            .as_str()
            .and_then(base64_standard_decode)
            .ok_or_else(|| WebDriverError {
                command: "GET /screenshot".into(),
                error: "bad response".into(),
                message: "the screenshot is not base64".into(),
            })
    }

    /// Ends the session (closes the browser).
    pub fn delete_session(&self) -> Result<(), WebDriverError> {
        self.command("DELETE", "", None).map(drop)
    }
}

fn locator(css: &str) -> Value {
    json!({ "using": "css selector", "value": css })
}

fn element_id(value: &Value) -> Option<ElementId> {
    value[ELEMENT_KEY]
        .as_str()
        .map(|id| ElementId(id.to_string()))
}

fn bad_element(command: &str, value: &Value) -> WebDriverError {
    WebDriverError {
        command: command.into(),
        error: "bad response".into(),
        message: format!("no element reference in {value}"),
    }
}

fn elements_from(value: &Value, command: &str) -> Result<Vec<ElementId>, WebDriverError> {
    value
        .as_array()
        .ok_or_else(|| bad_element(command, value))?
        .iter()
        .map(|item| element_id(item).ok_or_else(|| bad_element(command, item)))
        .collect()
}

/// Sends one command and unwraps WebDriver's `{"value": ...}` envelope.
fn send(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    body: Option<Value>,
) -> Result<Value, WebDriverError> {
    let path = url.find("/session").map_or(url, |start| &url[start..]);
    let command = format!("{method} {path}");
    let transport = |error: ureq::Error| WebDriverError {
        command: command.clone(),
        error: "transport".into(),
        message: error.to_string(),
    };
    let response = match (method, body) {
        ("GET", _) => agent.get(url).call(),
        ("DELETE", _) => agent.delete(url).call(),
        (_, Some(body)) => agent.post(url).send_json(body),
        (_, None) => agent.post(url).send_empty(),
    };
    let mut response = response.map_err(transport)?;
    let status = response.status().as_u16();
    // A performance log with a trace in it runs past ureq's default 10 MiB.
    let envelope: Value = response
        .body_mut()
        .with_config()
        .limit(RESPONSE_LIMIT)
        .read_json()
        .map_err(transport)?;
    let value = envelope.get("value").cloned().unwrap_or(Value::Null);
    if status >= 400 || value.get("error").is_some_and(Value::is_string) {
        return Err(WebDriverError {
            command,
            error: value["error"].as_str().unwrap_or("http error").to_string(),
            message: value["message"]
                .as_str()
                .map_or_else(|| format!("HTTP {status}: {value}"), str::to_string),
        });
    }
    Ok(value)
}
