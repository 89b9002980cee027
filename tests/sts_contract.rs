//! STS contract tests (being written).
