//! IMDS, credentials URI and credential process contract tests (being written).
