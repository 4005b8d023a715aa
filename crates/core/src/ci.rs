//! CI rules in dive's `.dive-ci` format, evaluated against a report.
