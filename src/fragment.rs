//! The page's URL fragment: which image is shown and how.
//!
//! ```text
//! #/image/REF?platform=os/arch[/variant]&tab=&layer=&path=&filter=&mode=&sort=
//! #/archive/NAME?digest=MANIFEST_OR_CONFIG_DIGEST&tab=...
//! #/demo?tab=...
//! ```
//!
//! Everything after `#` stays in the browser, so a reference can live there without any host
//! seeing it; opening the link in a fresh browser opens the same image in the same view. A
//! dropped archive is never in a URL: its link names the file and the image's digest, and the
//! page asks for the file again. Keys the page does not know are ignored, and values that do
//! not read (a layer that is not a number) fall back to the default, so an old or hand-edited
//! link still opens.

use layerscope_core::registry::http::percent_decode;

/// The tabs of an image, in the order the tab bar shows them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Tab {
    /// Layers and the tree of the selected one.
    #[default]
    Files,
    /// `docker history`, and the history as a Dockerfile.
    History,
    /// The container defaults.
    Config,
    /// `docker image inspect`, the raw manifest and config.
    Inspect,
    /// dive's efficiency figures and the wasted files.
    Efficiency,
    /// The repository's tags (registry images only).
    Tags,
}

impl Tab {
    /// Every tab, in tab-bar order.
    pub const ALL: [Tab; 6] = [
        Tab::Files,
        Tab::History,
        Tab::Config,
        Tab::Inspect,
        Tab::Efficiency,
        Tab::Tags,
    ];

    /// The name in the fragment and in test ids (`tab-history`).
    pub fn key(self) -> &'static str {
        match self {
            Tab::Files => "files",
            Tab::History => "history",
            Tab::Config => "config",
            Tab::Inspect => "inspect",
            Tab::Efficiency => "efficiency",
            Tab::Tags => "tags",
        }
    }

    /// The label on the tab.
    pub fn label(self) -> &'static str {
        match self {
            Tab::Files => "Files",
            Tab::History => "History",
            Tab::Config => "Config",
            Tab::Inspect => "Inspect",
            Tab::Efficiency => "Efficiency",
            Tab::Tags => "Tags",
        }
    }

    fn from_key(key: &str) -> Option<Tab> {
        Tab::ALL.into_iter().find(|tab| tab.key() == key)
    }
}

/// Which entries of a layer the tree shows: dive's two views.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TreeMode {
    /// Everything up to and including the selected layer (dive's aggregated view).
    #[default]
    All,
    /// Only what the selected layer changes.
    Changes,
}

impl TreeMode {
    fn key(self) -> &'static str {
        match self {
            TreeMode::All => "all",
            TreeMode::Changes => "changes",
        }
    }
}

/// How the tree's entries are ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SortOrder {
    /// By name, directories and files together, as `ls` does.
    #[default]
    Name,
    /// Largest first.
    Size,
}

impl SortOrder {
    fn key(self) -> &'static str {
        match self {
            SortOrder::Name => "name",
            SortOrder::Size => "size",
        }
    }
}

/// Which change marks the tree shows; letters `a` added, `m` modified, `r` removed,
/// `u` unchanged. All of them unless the link says otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MarkFilter {
    pub added: bool,
    pub modified: bool,
    pub removed: bool,
    pub unchanged: bool,
}

impl Default for MarkFilter {
    fn default() -> MarkFilter {
        MarkFilter {
            added: true,
            modified: true,
            removed: true,
            unchanged: true,
        }
    }
}

impl MarkFilter {
    /// The letters of the marks shown, in `amru` order.
    pub fn letters(self) -> String {
        [
            (self.added, 'a'),
            (self.modified, 'm'),
            (self.removed, 'r'),
            (self.unchanged, 'u'),
        ]
        .iter()
        .filter(|(shown, _)| *shown)
        .map(|(_, letter)| *letter)
        .collect()
    }

    /// Reads letters; `None` when a letter is not one of `amru`.
    fn from_letters(text: &str) -> Option<MarkFilter> {
        let mut filter = MarkFilter {
            added: false,
            modified: false,
            removed: false,
            unchanged: false,
        };
        for letter in text.chars() {
            match letter {
                'a' => filter.added = true,
                'm' => filter.modified = true,
                'r' => filter.removed = true,
                'u' => filter.unchanged = true,
                _ => return None,
            }
        }
        Some(filter)
    }
}

/// How an image is looked at: everything in the fragment but which image it is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ViewState {
    pub tab: Tab,
    /// The selected layer (0 is the bottom one); the top layer when none is chosen.
    pub layer: Option<usize>,
    /// The path selected in the tree (`/etc/nginx`).
    pub path: Option<String>,
    pub filter: MarkFilter,
    pub mode: TreeMode,
    pub sort: SortOrder,
}

impl ViewState {
    /// The same view on another tab.
    pub fn with_tab(&self, tab: Tab) -> ViewState {
        ViewState {
            tab,
            ..self.clone()
        }
    }

    /// The Files tab on `layer`.
    pub fn on_layer(&self, layer: usize) -> ViewState {
        ViewState {
            tab: Tab::Files,
            layer: Some(layer),
            ..self.clone()
        }
    }

    /// The Files tab with `path` selected.
    pub fn on_path(&self, path: &str) -> ViewState {
        ViewState {
            tab: Tab::Files,
            path: Some(path.to_string()),
            ..self.clone()
        }
    }

    /// The query pairs of the non-default settings, in a fixed order.
    fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if self.tab != Tab::default() {
            pairs.push(("tab", self.tab.key().to_string()));
        }
        if let Some(layer) = self.layer {
            pairs.push(("layer", layer.to_string()));
        }
        if let Some(path) = &self.path {
            pairs.push(("path", path.clone()));
        }
        if self.filter != MarkFilter::default() {
            pairs.push(("filter", self.filter.letters()));
        }
        if self.mode != TreeMode::default() {
            pairs.push(("mode", self.mode.key().to_string()));
        }
        if self.sort != SortOrder::default() {
            pairs.push(("sort", self.sort.key().to_string()));
        }
        pairs
    }

    /// Takes the view's keys from decoded query pairs; others are left alone.
    fn read(pairs: &[(String, String)]) -> ViewState {
        let mut view = ViewState::default();
        for (key, value) in pairs {
            match key.as_str() {
                "tab" => view.tab = Tab::from_key(value).unwrap_or_default(),
                "layer" => view.layer = value.parse().ok(),
                "path" => view.path = Some(value.clone()).filter(|p| !p.is_empty()),
                "filter" => view.filter = MarkFilter::from_letters(value).unwrap_or_default(),
                "mode" => {
                    view.mode = match value.as_str() {
                        "changes" => TreeMode::Changes,
                        _ => TreeMode::All,
                    }
                }
                "sort" => {
                    view.sort = match value.as_str() {
                        "size" => SortOrder::Size,
                        _ => SortOrder::Name,
                    }
                }
                _ => {}
            }
        }
        view
    }
}

/// What a fragment names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// No image: the drop zone and the suggestions.
    Home,
    /// An image in a registry, for a platform when the link names one.
    Image {
        reference: String,
        platform: Option<String>,
        view: ViewState,
    },
    /// A dropped archive, by its file name and the shown image's digest (the manifest's, or
    /// the config's for a legacy `docker save`).
    Archive {
        name: String,
        digest: Option<String>,
        view: ViewState,
    },
    /// The demo image the page ships.
    Demo { view: ViewState },
}

const IMAGE: &str = "#/image/";
const ARCHIVE: &str = "#/archive/";
const DEMO: &str = "#/demo";

impl Route {
    /// Reads a fragment as `location.hash` gives it (percent-encoded or not); anything
    /// unknown is [`Route::Home`].
    pub fn parse(hash: &str) -> Route {
        let (head, query) = match hash.split_once('?') {
            Some((head, query)) => (head, query),
            None => (hash, ""),
        };
        let pairs: Vec<(String, String)> = query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| match pair.split_once('=') {
                Some((key, value)) => (percent_decode(key), percent_decode(value)),
                None => (percent_decode(pair), String::new()),
            })
            .collect();
        let value = |wanted: &str| {
            pairs
                .iter()
                .find(|(key, _)| key == wanted)
                .map(|(_, value)| value.clone())
                .filter(|value| !value.is_empty())
        };
        let view = ViewState::read(&pairs);
        if let Some(reference) = head.strip_prefix(IMAGE) {
            let reference = percent_decode(reference).trim().to_string();
            if !reference.is_empty() {
                return Route::Image {
                    reference,
                    platform: value("platform"),
                    view,
                };
            }
        } else if let Some(name) = head.strip_prefix(ARCHIVE) {
            let name = percent_decode(name);
            if !name.trim().is_empty() {
                return Route::Archive {
                    name,
                    digest: value("digest"),
                    view,
                };
            }
        } else if head == DEMO {
            return Route::Demo { view };
        }
        Route::Home
    }

    /// The fragment, `#` included; default settings are left out.
    pub fn to_hash(&self) -> String {
        let (head, mut pairs, view) = match self {
            Route::Home => return "#/".to_string(),
            Route::Image {
                reference,
                platform,
                view,
            } => (
                format!("{IMAGE}{}", encode(reference)),
                platform
                    .iter()
                    .map(|p| ("platform", p.clone()))
                    .collect::<Vec<_>>(),
                view,
            ),
            Route::Archive { name, digest, view } => (
                format!("{ARCHIVE}{}", encode(name)),
                digest.iter().map(|d| ("digest", d.clone())).collect(),
                view,
            ),
            Route::Demo { view } => (DEMO.to_string(), Vec::new(), view),
        };
        pairs.extend(view.pairs());
        if pairs.is_empty() {
            return head;
        }
        let query: Vec<String> = pairs
            .iter()
            .map(|(key, value)| format!("{key}={}", encode(value)))
            .collect();
        format!("{head}?{}", query.join("&"))
    }

    /// The view the route names (the default one for [`Route::Home`]).
    pub fn view(&self) -> ViewState {
        match self {
            Route::Home => ViewState::default(),
            Route::Image { view, .. } | Route::Archive { view, .. } | Route::Demo { view } => {
                view.clone()
            }
        }
    }

    /// The same image in another view.
    pub fn with_view(&self, view: ViewState) -> Route {
        match self {
            Route::Home => Route::Home,
            Route::Image {
                reference,
                platform,
                ..
            } => Route::Image {
                reference: reference.clone(),
                platform: platform.clone(),
                view,
            },
            Route::Archive { name, digest, .. } => Route::Archive {
                name: name.clone(),
                digest: digest.clone(),
                view,
            },
            Route::Demo { .. } => Route::Demo { view },
        }
    }

    /// True when both routes name the same image, whatever their views.
    pub fn same_image(&self, other: &Route) -> bool {
        match (self, other) {
            (
                Route::Image {
                    reference,
                    platform,
                    ..
                },
                Route::Image {
                    reference: other_reference,
                    platform: other_platform,
                    ..
                },
            ) => reference == other_reference && platform == other_platform,
            (
                Route::Archive { name, digest, .. },
                Route::Archive {
                    name: other_name,
                    digest: other_digest,
                    ..
                },
            ) => name == other_name && digest == other_digest,
            (Route::Demo { .. }, Route::Demo { .. }) | (Route::Home, Route::Home) => true,
            _ => false,
        }
    }
}

/// Percent-encodes what would break the fragment's structure (`%`, `&`, `#`, `?` in a
/// name, spaces, controls) and what browsers encode anyway (non-ASCII, quotes, `<>`), and
/// leaves the rest readable: `/`, `:` and `@` of references and paths stay as they are.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        let keep = byte.is_ascii_alphanumeric()
            || matches!(
                byte,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'/'
                    | b':'
                    | b'@'
                    | b'!'
                    | b'$'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b','
                    | b';'
                    | b'='
                    | b'+'
            );
        if keep {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(reference: &str, platform: Option<&str>, view: ViewState) -> Route {
        Route::Image {
            reference: reference.into(),
            platform: platform.map(str::to_string),
            view,
        }
    }

    #[test]
    fn a_fragment_names_a_reference_and_maybe_a_platform() {
        assert_eq!(
            Route::parse("#/image/127.0.0.1:5000/demo/app:1.0"),
            image("127.0.0.1:5000/demo/app:1.0", None, ViewState::default())
        );
        let route = Route::parse("#/image/nginx@sha256:ab?platform=linux/arm64/v8");
        assert_eq!(
            route,
            image(
                "nginx@sha256:ab",
                Some("linux/arm64/v8"),
                ViewState::default()
            )
        );
        assert_eq!(
            route.to_hash(),
            "#/image/nginx@sha256:ab?platform=linux/arm64/v8"
        );
        assert_eq!(Route::parse("#/image/"), Route::Home);
        assert_eq!(Route::parse("#/other"), Route::Home);
        assert_eq!(Route::parse(""), Route::Home);
        assert_eq!(Route::parse("#/"), Route::Home);
    }

    #[test]
    fn every_view_setting_round_trips() {
        let view = ViewState {
            tab: Tab::Efficiency,
            layer: Some(3),
            path: Some("/etc/my file&more#x?.conf".into()),
            filter: MarkFilter {
                added: true,
                modified: true,
                removed: true,
                unchanged: false,
            },
            mode: TreeMode::Changes,
            sort: SortOrder::Size,
        };
        let route = image("docker.io/library/nginx:1.17.6", Some("linux/amd64"), view);
        let hash = route.to_hash();
        assert_eq!(
            hash,
            "#/image/docker.io/library/nginx:1.17.6?platform=linux/amd64&tab=efficiency&layer=3\
             &path=/etc/my%20file%26more%23x%3F.conf&filter=amr&mode=changes&sort=size"
        );
        assert_eq!(Route::parse(&hash), route);
        for tab in Tab::ALL {
            let route = Route::Demo {
                view: ViewState::default().with_tab(tab),
            };
            assert_eq!(Route::parse(&route.to_hash()), route, "{tab:?}");
        }
    }

    #[test]
    fn defaults_are_left_out_and_unknown_keys_ignored() {
        let route = Route::parse("#/demo?tab=files&mode=all&sort=name&filter=amru&utm=x&layer");
        assert_eq!(
            route,
            Route::Demo {
                view: ViewState::default()
            }
        );
        assert_eq!(route.to_hash(), "#/demo");
        // Values that do not read fall back to the default.
        let route = Route::parse("#/demo?tab=nope&layer=-1&filter=xyz&mode=?");
        assert_eq!(route.view(), ViewState::default());
    }

    #[test]
    fn an_archive_link_names_the_file_and_the_digest() {
        let route = Route::Archive {
            name: "my image (1).tar".into(),
            digest: Some("sha256:abc".into()),
            view: ViewState::default().with_tab(Tab::History),
        };
        let hash = route.to_hash();
        assert_eq!(
            hash,
            "#/archive/my%20image%20(1).tar?digest=sha256:abc&tab=history"
        );
        assert_eq!(Route::parse(&hash), route);
        // The browser may hand the fragment back with more of it encoded.
        assert_eq!(
            Route::parse("#/archive/my%20image%20%281%29.tar?digest=sha256%3Aabc&tab=history"),
            route
        );
        assert!(route.same_image(&Route::Archive {
            name: "my image (1).tar".into(),
            digest: Some("sha256:abc".into()),
            view: ViewState::default(),
        }));
        assert!(!route.same_image(&Route::Demo {
            view: ViewState::default()
        }));
    }

    #[test]
    fn view_helpers_go_to_the_files_tab() {
        let view = ViewState::default().with_tab(Tab::Efficiency);
        assert_eq!(view.on_path("/a").tab, Tab::Files);
        assert_eq!(view.on_path("/a").path.as_deref(), Some("/a"));
        assert_eq!(view.on_layer(2).layer, Some(2));
    }
}
