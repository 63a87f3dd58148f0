//! The lab's scenarios: one per system, each measuring how that system works and performs.
//!
//! A scenario is listed here from the start so `appnet lab --list` shows the whole plan, and
//! says plainly which parts are not built yet instead of pretending to measure them.

/// Whether a scenario can run in this build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Built and runnable.
    Ready,
    /// Not built yet; the issue that builds it.
    Planned {
        /// The tracker issue number.
        issue: u32,
    },
}

/// One experiment of the lab.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scenario {
    /// The name used with `--only`.
    pub name: &'static str,
    /// What it measures, in one line.
    pub measures: &'static str,
    /// Whether it runs in this build.
    pub status: Status,
}

/// Every scenario, in the order the lab runs them.
pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "dns",
        measures: "iterative resolution from the lab's roots, cache hit ratio, replica failover, \
                   NOTIFY propagation",
        status: Status::Ready,
    },
    Scenario {
        name: "origin",
        measures: "the HTTP origin with a generated site: page and catalogue loads per client \
                   group, and the requests, bytes and connections the origin served each",
        status: Status::Ready,
    },
    Scenario {
        name: "http",
        measures: "page load time under HTTP/1.0, parallel, persistent, pipelined and HTTP/2 at \
                   several RTTs and bandwidths, with waterfalls, and what compression saves",
        status: Status::Ready,
    },
    Scenario {
        name: "cache",
        measures: "clients behind the shared cache (forward proxy) playing a Zipf workload: hit \
                   and byte hit ratio over time, load taken off the origin, hit against miss \
                   latency, revalidations against full fetches",
        status: Status::Ready,
    },
];

/// Why a scenario selection is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SelectError {
    /// A name in `--only` is not a scenario.
    #[error("no scenario named `{name}`; scenarios are: {known}")]
    Unknown {
        /// The name given.
        name: String,
        /// The valid names, comma-separated.
        known: String,
    },
}

/// The scenarios named in `only` (comma-separated names, as `--only dns,http` gives them), or
/// all of them when `only` is empty. Order follows [`SCENARIOS`], duplicates are dropped.
pub fn select(only: &[String]) -> Result<Vec<Scenario>, SelectError> {
    let names: Vec<&str> = only
        .iter()
        .flat_map(|list| list.split(','))
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .collect();
    if let Some(unknown) = names.iter().find(|name| !SCENARIOS.iter().any(|s| s.name == **name)) {
        let known = SCENARIOS.iter().map(|s| s.name).collect::<Vec<_>>().join(", ");
        return Err(SelectError::Unknown { name: (*unknown).to_owned(), known });
    }
    Ok(SCENARIOS
        .iter()
        .filter(|scenario| names.is_empty() || names.contains(&scenario.name))
        .copied()
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(selected: &[Scenario]) -> Vec<&str> {
        selected.iter().map(|s| s.name).collect()
    }

    #[test]
    fn empty_selection_is_everything() {
        assert_eq!(select(&[]).unwrap().len(), SCENARIOS.len());
    }

    #[test]
    fn selection_keeps_catalog_order_and_drops_duplicates() {
        let only = ["http,dns".to_owned(), "dns".to_owned()];
        assert_eq!(names(&select(&only).unwrap()), ["dns", "http"]);
    }

    #[test]
    fn unknown_name_is_an_error_listing_the_valid_ones() {
        let error = select(&["dns,bogus".to_owned()]).unwrap_err().to_string();
        assert_eq!(error, "no scenario named `bogus`; scenarios are: dns, origin, http, cache");
    }

    #[test]
    fn names_are_unique() {
        for (i, a) in SCENARIOS.iter().enumerate() {
            assert!(SCENARIOS[i + 1..].iter().all(|b| b.name != a.name), "{}", a.name);
        }
    }
}
