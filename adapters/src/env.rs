//! A snapshot of environment variables, handed to adapters as a value.
//!
//! Sources read variables from this snapshot rather than from the process, so tests can give
//! each case its own environment and run in parallel.

use std::collections::BTreeMap;

/// Environment variables, as the process saw them at start-up (non-UTF-8 values are dropped).
/// `Debug` lists the names only: any value may be a secret.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Environment(BTreeMap<String, String>);

impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Environment")
            .field(&self.0.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Environment {
    /// The current process environment.
    pub fn from_process() -> Self {
        Self(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        )
    }

    /// A value, treating the empty string as unset (as the Go tool does).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Sets a variable in this snapshot (the process environment is untouched).
    pub fn set(&mut self, name: &str, value: &str) {
        self.0.insert(name.to_owned(), value.to_owned());
    }

    /// All variables, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The first of `names` that is set, with the name that supplied it.
    pub fn first_of<'a>(&'a self, names: &[&'static str]) -> Option<(&'static str, &'a str)> {
        names.iter().find_map(|n| self.get(n).map(|v| (*n, v)))
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Environment {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_names_not_values() {
        let env: Environment = [("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "canary-7f3a")]
            .into_iter()
            .collect();
        let shown = format!("{env:?}");
        assert!(!shown.contains("canary-7f3a"), "{shown}");
        assert!(shown.contains("ALIBABA_CLOUD_ACCESS_KEY_SECRET"), "{shown}");
    }

    #[test]
    fn empty_values_count_as_unset() {
        let env: Environment = [("A", ""), ("B", "b")].into_iter().collect();
        assert_eq!(env.get("A"), None);
        assert_eq!(env.first_of(&["A", "B"]), Some(("B", "b")));
    }
}
