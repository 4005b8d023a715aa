//! CI rules in dive's `.dive-ci` format, evaluated against a report.
//!
//! The file is a small YAML document; only its `rules:` block matters:
//!
//! ```text
//! rules:
//!   lowestEfficiency: 0.95          # fail when efficiency < 0.95
//!   highestWastedBytes: 20MB        # fail when wasted bytes > 20 MB
//!   highestUserWastedPercent: 0.5   # fail when wasted / user bytes > 0.5
//! ```
//!
//! Keys may be camelCase or kebab-case (`lowest-efficiency`). `disabled`, `off`, `false` or
//! an empty value switch a rule off. Rules the file leaves out keep dive's defaults
//! (`lowestEfficiency: 0.9`, `highestWastedBytes: disabled`, `highestUserWastedPercent: 0.1`).
//! Sizes are read as dive reads them (go-humanize): `KB`/`MB`/`GB` are powers of 1000,
//! `KiB`/`MiB`/`GiB` powers of 1024, case-insensitive, a bare number is bytes.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::present::report::EfficiencyReport;

/// Largest rules file accepted; real ones are a few hundred bytes.
pub const MAX_CONFIG_BYTES: usize = 64 * 1024;

/// The three rules dive knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RuleKind {
    /// Fail when the efficiency score is below the threshold (0..=1).
    LowestEfficiency,
    /// Fail when the wasted bytes exceed the threshold (a size).
    HighestWastedBytes,
    /// Fail when wasted bytes / user bytes exceed the threshold (0..=1).
    HighestUserWastedPercent,
}

impl RuleKind {
    /// All rules, in the order dive prints them (sorted by name).
    pub const ALL: [RuleKind; 3] = [
        RuleKind::HighestUserWastedPercent,
        RuleKind::HighestWastedBytes,
        RuleKind::LowestEfficiency,
    ];

    /// The camelCase key.
    pub fn key(self) -> &'static str {
        match self {
            RuleKind::LowestEfficiency => "lowestEfficiency",
            RuleKind::HighestWastedBytes => "highestWastedBytes",
            RuleKind::HighestUserWastedPercent => "highestUserWastedPercent",
        }
    }

    fn kebab(self) -> &'static str {
        match self {
            RuleKind::LowestEfficiency => "lowest-efficiency",
            RuleKind::HighestWastedBytes => "highest-wasted-bytes",
            RuleKind::HighestUserWastedPercent => "highest-user-wasted-percent",
        }
    }

    fn default_value(self) -> &'static str {
        match self {
            RuleKind::LowestEfficiency => "0.9",
            RuleKind::HighestWastedBytes => "disabled",
            RuleKind::HighestUserWastedPercent => "0.1",
        }
    }

    fn from_key(key: &str) -> Option<RuleKind> {
        RuleKind::ALL
            .into_iter()
            .find(|k| k.key() == key || k.kebab() == key)
    }
}

/// One rule's configured value, as written (or dive's default).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleConfig {
    /// Which rule.
    pub kind: RuleKind,
    /// The threshold as written, or a disabling word.
    pub value: String,
}

impl RuleConfig {
    /// Whether the value switches the rule off.
    pub fn disabled(&self) -> bool {
        matches!(
            self.value.trim().to_ascii_lowercase().as_str(),
            "" | "disabled" | "off" | "false"
        )
    }
}

/// A parsed rules file: one entry per rule, in [`RuleKind::ALL`] order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CiConfig {
    /// Every rule with its configured value.
    pub rules: Vec<RuleConfig>,
}

impl Default for CiConfig {
    fn default() -> Self {
        CiConfig {
            rules: RuleKind::ALL
                .into_iter()
                .map(|kind| RuleConfig {
                    kind,
                    value: kind.default_value().to_string(),
                })
                .collect(),
        }
    }
}

/// Why a rules file could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CiConfigError {
    /// 1-based line, when the problem is on one line.
    pub line: Option<usize>,
    /// What is wrong.
    pub detail: String,
}

impl fmt::Display for CiConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "CI rules file, line {line}: {}", self.detail),
            None => write!(f, "CI rules file: {}", self.detail),
        }
    }
}

impl std::error::Error for CiConfigError {}

impl CiConfig {
    /// Reads the `rules:` block of a `.dive-ci` file. Other top-level keys (`plugins:`) and
    /// unknown rule keys are ignored, as dive ignores them.
    pub fn parse(text: &str) -> Result<CiConfig, CiConfigError> {
        if text.len() > MAX_CONFIG_BYTES {
            return Err(CiConfigError {
                line: None,
                detail: format!("larger than {MAX_CONFIG_BYTES} bytes"),
            });
        }
        let mut config = CiConfig::default();
        let mut in_rules = false;
        for (number, raw) in text.lines().enumerate() {
            let line = strip_comment(raw);
            if line.trim().is_empty() {
                continue;
            }
            let indented = line.starts_with(' ') || line.starts_with('\t');
            if !indented {
                in_rules = line.trim_end() == "rules:";
                continue;
            }
            if !in_rules {
                continue;
            }
            let Some((key, value)) = line.trim().split_once(':') else {
                return Err(CiConfigError {
                    line: Some(number + 1),
                    detail: format!("expected `key: value`, found {:?}", line.trim()),
                });
            };
            if let Some(kind) = RuleKind::from_key(key.trim()) {
                let value = unquote(value.trim()).to_string();
                config
                    .rules
                    .iter_mut()
                    .find(|r| r.kind == kind)
                    .expect("every kind present")
                    .value = value;
            }
        }
        Ok(config)
    }

    /// Checks every rule against the image's efficiency figures.
    pub fn evaluate(&self, efficiency: &EfficiencyReport) -> CiOutcome {
        let results: Vec<RuleResult> = self
            .rules
            .iter()
            .map(|rule| evaluate_rule(rule, efficiency))
            .collect();
        let passed = results
            .iter()
            .all(|r| !matches!(r.status, RuleStatus::Fail | RuleStatus::Misconfigured));
        CiOutcome { results, passed }
    }
}

/// How one rule came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RuleStatus {
    /// The image is within the threshold.
    Pass,
    /// The image crosses the threshold.
    Fail,
    /// Switched off in the rules file.
    Skip,
    /// The configured value cannot be read; counts as a failure.
    Misconfigured,
}

impl RuleStatus {
    /// `PASS`, `FAIL`, `SKIP`, `MISCONFIGURED`.
    pub fn label(self) -> &'static str {
        match self {
            RuleStatus::Pass => "PASS",
            RuleStatus::Fail => "FAIL",
            RuleStatus::Skip => "SKIP",
            RuleStatus::Misconfigured => "MISCONFIGURED",
        }
    }
}

/// One rule's result with a message saying why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleResult {
    /// Which rule.
    pub kind: RuleKind,
    /// How it came out.
    pub status: RuleStatus,
    /// Why it failed (with the figure and the threshold), or why it was skipped.
    pub message: String,
}

/// All rules' results; `passed` is false when any rule failed or is misconfigured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CiOutcome {
    /// One per rule, in [`RuleKind::ALL`] order.
    pub results: Vec<RuleResult>,
    /// True when no rule failed or was misconfigured.
    pub passed: bool,
}

fn evaluate_rule(rule: &RuleConfig, efficiency: &EfficiencyReport) -> RuleResult {
    let result = |status, message: String| RuleResult {
        kind: rule.kind,
        status,
        message,
    };
    if rule.disabled() {
        return result(RuleStatus::Skip, "rule disabled".into());
    }
    let value = rule.value.trim();
    match rule.kind {
        RuleKind::LowestEfficiency => match parse_fraction(value) {
            Err(e) => result(RuleStatus::Misconfigured, e),
            Ok(threshold) if threshold > efficiency.score => result(
                RuleStatus::Fail,
                format!("image efficiency is too low (efficiency={} < threshold={threshold})", efficiency.score),
            ),
            Ok(_) => result(RuleStatus::Pass, String::new()),
        },
        RuleKind::HighestWastedBytes => match parse_bytes(value) {
            Err(e) => result(RuleStatus::Misconfigured, e),
            Ok(threshold) if efficiency.wasted_bytes > threshold => result(
                RuleStatus::Fail,
                format!("too many bytes wasted (wasted-bytes={} > threshold={threshold})", efficiency.wasted_bytes),
            ),
            Ok(_) => result(RuleStatus::Pass, String::new()),
        },
        RuleKind::HighestUserWastedPercent => match parse_fraction(value) {
            Err(e) => result(RuleStatus::Misconfigured, e),
            Ok(threshold) if threshold < efficiency.wasted_user_percent => result(
                RuleStatus::Fail,
                format!(
                    "too many bytes wasted, relative to the user bytes added (%-user-wasted-bytes={} > threshold={threshold})",
                    efficiency.wasted_user_percent
                ),
            ),
            Ok(_) => result(RuleStatus::Pass, String::new()),
        },
    }
}

/// A ratio between 0 and 1, as dive's percentage rules take.
fn parse_fraction(value: &str) -> Result<f64, String> {
    let number: f64 = value
        .parse()
        .map_err(|_| format!("invalid config value {value:?}: not a number"))?;
    if !(0.0..=1.0).contains(&number) {
        return Err(format!(
            "invalid config value {value:?}: must be between 0 and 1"
        ));
    }
    Ok(number)
}

/// A size the way go-humanize's `ParseBytes` reads it: `20MB`, `20 mb`, `1.5GiB`, `512`.
pub fn parse_bytes(value: &str) -> Result<u64, String> {
    let compact: String = value
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ',')
        .collect();
    let split = compact
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(compact.len());
    let (number, unit) = compact.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("invalid size {value:?}: no number"))?;
    let multiplier: f64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "ki" | "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mi" | "mib" => 1024f64.powi(2),
        "g" | "gb" => 1e9,
        "gi" | "gib" => 1024f64.powi(3),
        "t" | "tb" => 1e12,
        "ti" | "tib" => 1024f64.powi(4),
        "p" | "pb" => 1e15,
        "pi" | "pib" => 1024f64.powi(5),
        "e" | "eb" => 1e18,
        "ei" | "eib" => 1024f64.powi(6),
        other => return Err(format!("invalid size {value:?}: unknown unit {other:?}")),
    };
    let bytes = number * multiplier;
    if bytes >= u64::MAX as f64 {
        return Err(format!("invalid size {value:?}: too large"));
    }
    Ok(bytes as u64)
}

fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    for (i, c) in line.char_indices() {
        match (c, quote) {
            ('"' | '\'', None) => quote = Some(c),
            (q, Some(open)) if q == open => quote = None,
            ('#', None) if i == 0 || line[..i].ends_with(char::is_whitespace) => return &line[..i],
            _ => {}
        }
    }
    line
}

fn unquote(value: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = value.strip_prefix(q).and_then(|v| v.strip_suffix(q)) {
            return inner;
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(config: &CiConfig, kind: RuleKind) -> &str {
        &config.rules.iter().find(|r| r.kind == kind).unwrap().value
    }

    #[test]
    fn reads_dives_own_file_shape() {
        let text = "plugins:\n  - plugin1\n\nrules:\n  # comment\n  lowestEfficiency: 0.95\n  highestWastedBytes: 20Mb\n  highestUserWastedPercent: 0.5\n  plugin1/rule1: error\n";
        let config = CiConfig::parse(text).unwrap();
        assert_eq!(value(&config, RuleKind::LowestEfficiency), "0.95");
        assert_eq!(value(&config, RuleKind::HighestWastedBytes), "20Mb");
        assert_eq!(value(&config, RuleKind::HighestUserWastedPercent), "0.5");
    }

    #[test]
    fn kebab_keys_quotes_and_disabling() {
        let text = "rules:\n  lowest-efficiency: \"off\"\n  highest-wasted-bytes: ''\n  highest-user-wasted-percent: false\n";
        let config = CiConfig::parse(text).unwrap();
        assert!(config.rules.iter().all(RuleConfig::disabled));
        let outcome = config.evaluate(&EfficiencyReport::default());
        assert!(outcome.passed);
        assert!(outcome.results.iter().all(|r| r.status == RuleStatus::Skip));
    }

    #[test]
    fn defaults_are_dives() {
        let config = CiConfig::parse("").unwrap();
        assert_eq!(value(&config, RuleKind::LowestEfficiency), "0.9");
        assert!(config
            .rules
            .iter()
            .find(|r| r.kind == RuleKind::HighestWastedBytes)
            .unwrap()
            .disabled());
        assert_eq!(value(&config, RuleKind::HighestUserWastedPercent), "0.1");
    }

    #[test]
    fn sizes_as_go_humanize_reads_them() {
        assert_eq!(parse_bytes("20Mb").unwrap(), 20_000_000);
        assert_eq!(parse_bytes("20 MiB").unwrap(), 20 * 1024 * 1024);
        assert_eq!(parse_bytes("1.5kb").unwrap(), 1500);
        assert_eq!(parse_bytes("512").unwrap(), 512);
        assert_eq!(parse_bytes("1,000 B").unwrap(), 1000);
        assert!(parse_bytes("12 parsecs").is_err());
        assert!(parse_bytes("MB").is_err());
    }

    #[test]
    fn thresholds_compare_as_dive_does() {
        let config = CiConfig::parse("rules:\n  lowestEfficiency: 0.95\n  highestWastedBytes: 1KB\n  highestUserWastedPercent: 0.5\n").unwrap();
        let efficiency = EfficiencyReport {
            score: 0.95,
            wasted_bytes: 1000,
            wasted_user_percent: 0.5,
            ..Default::default()
        };
        let outcome = config.evaluate(&efficiency);
        assert!(outcome.passed, "{outcome:?}");
        let worse = EfficiencyReport {
            score: 0.94,
            wasted_bytes: 1001,
            wasted_user_percent: 0.51,
            ..Default::default()
        };
        let outcome = config.evaluate(&worse);
        assert!(!outcome.passed);
        assert!(
            outcome.results.iter().all(|r| r.status == RuleStatus::Fail),
            "{outcome:?}"
        );
    }

    #[test]
    fn bad_values_are_misconfigured_and_fail() {
        let config =
            CiConfig::parse("rules:\n  lowestEfficiency: lots\n  highestUserWastedPercent: 2\n")
                .unwrap();
        let outcome = config.evaluate(&EfficiencyReport::default());
        assert!(!outcome.passed);
        let misconfigured = outcome
            .results
            .iter()
            .filter(|r| r.status == RuleStatus::Misconfigured)
            .count();
        assert_eq!(misconfigured, 2);
    }

    #[test]
    fn malformed_rule_line_names_its_line() {
        let error = CiConfig::parse("rules:\n  lowestEfficiency 0.9\n").unwrap_err();
        assert_eq!(error.line, Some(2));
    }
}
