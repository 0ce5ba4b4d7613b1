//! What the panes look at: the clusters and members the filter lets through,
//! the selection resolved against them, and small text formatters.
//!
//! The selection is kept by id so that it follows a cluster or member when a
//! report re-sorts the lists; the index is kept too, so that when the selected
//! thing disappears the selection stays at the same place instead of jumping
//! to the top. Both are resolved here, at draw and key time, without mutation.
//!
//! [`View`] does that resolution once per frame and hands it to every pane:
//! with a filter set, matching ten thousand members once instead of once per
//! pane is what keeps a frame inside its budget.

use std::cell::RefCell;
use std::ops::Deref;

use super::UiState;
use crate::app::AppState;
use crate::model::{Cluster, Member, Timestamp};

/// A selection in one list: the id that was chosen and where it was.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    id: Option<String>,
    index: usize,
}

impl Selection {
    /// The selected position in `ids`: the id's if present, else the old index
    /// clamped to the list.
    pub fn resolve<'a>(&self, mut ids: impl ExactSizeIterator<Item = &'a str>) -> Option<usize> {
        let len = ids.len();
        if len == 0 {
            return None;
        }
        let by_id = self
            .id
            .as_deref()
            .and_then(|wanted| ids.position(|id| id == wanted));
        Some(by_id.unwrap_or(self.index.min(len - 1)))
    }

    pub fn set(&mut self, index: usize, id: &str) {
        self.index = index;
        self.id = Some(id.to_string());
    }

    pub fn reset(&mut self) {
        *self = Selection::default();
    }
}

/// ASCII case-insensitive substring test against an already lower-cased
/// needle. It allocates nothing and checks the first byte before the rest,
/// because with a filter set it runs over every member on every frame.
pub fn contains_ignore_case(haystack: &str, needle_lower: &str) -> bool {
    let (h, n) = (haystack.as_bytes(), needle_lower.as_bytes());
    let Some((&first, rest)) = n.split_first() else {
        return true;
    };
    if h.len() < n.len() {
        return false;
    }
    (0..=h.len() - n.len()).any(|i| {
        h[i].to_ascii_lowercase() == first
            && h[i + 1..i + n.len()]
                .iter()
                .zip(rest)
                .all(|(a, b)| a.to_ascii_lowercase() == *b)
    })
}

/// The filter (lower-cased) matches a member's name, address, native role or
/// placement.
pub fn member_matches(member: &Member, needle_lower: &str) -> bool {
    if needle_lower.is_empty() {
        return true;
    }
    let p = &member.placement;
    let texts = [
        Some(member.name.as_str()),
        member.address.as_deref(),
        member.native_role.as_deref(),
        p.platform.map(crate::model::Platform::as_str),
        p.node.as_deref(),
        p.namespace.as_deref(),
        p.pod.as_deref(),
        p.service.as_deref(),
        p.task.as_deref(),
        p.container.as_deref(),
    ];
    texts
        .into_iter()
        .flatten()
        .any(|t| contains_ignore_case(t, needle_lower))
}

/// The clusters a filter let through, by index, for one topology
/// generation and one filter: with ten thousand members, matching them on
/// every frame and key cost more than the rest of the frame; they are
/// matched again only when the topology or the filter changes.
#[derive(Debug, Default)]
pub struct FilterCache(RefCell<Option<Filtered>>);

#[derive(Debug)]
struct Filtered {
    generation: u64,
    needle: String,
    clusters: Vec<usize>,
}

impl FilterCache {
    fn clusters<'a>(&self, app: &'a AppState, needle_lower: &str) -> Vec<&'a Cluster> {
        let all = &app.topology.clusters;
        let mut cached = self.0.borrow_mut();
        let fresh = cached
            .as_ref()
            .is_some_and(|f| f.generation == app.generation && f.needle == needle_lower);
        if !fresh {
            let clusters = (0..all.len())
                .filter(|&i| {
                    all[i]
                        .members
                        .iter()
                        .any(|m| member_matches(m, needle_lower))
                })
                .collect();
            *cached = Some(Filtered {
                generation: app.generation,
                needle: needle_lower.to_string(),
                clusters,
            });
        }
        let indices = cached.as_ref().map_or(&[][..], |f| &f.clusters);
        indices.iter().filter_map(|&i| all.get(i)).collect()
    }
}

/// Clusters to list: all of them, or those with a member the filter matches.
fn visible_clusters<'a>(app: &'a AppState, ui: &UiState, needle_lower: &str) -> Vec<&'a Cluster> {
    if needle_lower.is_empty() {
        return app.topology.clusters.iter().collect();
    }
    ui.filtered.clusters(app, needle_lower)
}

/// A cluster's members the filter lets through, in the topology's order.
fn visible_members<'a>(cluster: &'a Cluster, ui: &UiState, needle_lower: &str) -> Vec<&'a Member> {
    let mut members: Vec<&Member> = cluster
        .members
        .iter()
        .filter(|m| member_matches(m, needle_lower))
        .collect();
    if let Some(order) = ui.sort() {
        order.sort(&mut members);
    }
    members
}

pub fn selected_cluster<'a>(app: &'a AppState, ui: &UiState) -> Option<&'a Cluster> {
    let needle = ui.filter().to_ascii_lowercase();
    let clusters = visible_clusters(app, ui, &needle);
    let index = ui
        .cluster_selection()
        .resolve(clusters.iter().map(|c| c.id.as_str()))?;
    Some(clusters[index])
}

pub fn selected_member<'a>(app: &'a AppState, ui: &UiState) -> Option<&'a Member> {
    let needle = ui.filter().to_ascii_lowercase();
    let members = visible_members(selected_cluster(app, ui)?, ui, &needle);
    let index = ui
        .member_selection()
        .resolve(members.iter().map(|m| m.id.as_str()))?;
    Some(members[index])
}

/// The app state with the filter applied and the selection resolved, and
/// the UI state beside it; what every pane's `draw` gets. Derefs to
/// [`AppState`].
#[derive(Debug)]
pub struct View<'a> {
    pub app: &'a AppState,
    /// Focus, filter, dialogs, theme: what only the UI keeps.
    pub ui: &'a UiState,
    /// Clusters the filter lets through.
    pub clusters: Vec<&'a Cluster>,
    pub cluster_index: Option<usize>,
    /// The selected cluster's members the filter lets through.
    pub members: Vec<&'a Member>,
    pub member_index: Option<usize>,
}

impl<'a> View<'a> {
    pub fn new(app: &'a AppState, ui: &'a UiState) -> Self {
        let needle = ui.filter().to_ascii_lowercase();
        let clusters = visible_clusters(app, ui, &needle);
        let cluster_index = ui
            .cluster_selection()
            .resolve(clusters.iter().map(|c| c.id.as_str()));
        let members = cluster_index
            .map(|i| visible_members(clusters[i], ui, &needle))
            .unwrap_or_default();
        let member_index = ui
            .member_selection()
            .resolve(members.iter().map(|m| m.id.as_str()));
        View {
            app,
            ui,
            clusters,
            cluster_index,
            members,
            member_index,
        }
    }

    pub fn cluster(&self) -> Option<&'a Cluster> {
        self.cluster_index.map(|i| self.clusters[i])
    }

    pub fn member(&self) -> Option<&'a Member> {
        self.member_index.map(|i| self.members[i])
    }
}

impl Deref for View<'_> {
    type Target = AppState;

    fn deref(&self) -> &AppState {
        self.app
    }
}

/// The first row to show so that `selected` sits in the middle of `height`
/// rows. Centring needs no remembered scroll offset, so drawing stays pure.
pub fn window_start(len: usize, selected: Option<usize>, height: usize) -> usize {
    if height == 0 || len <= height {
        return 0;
    }
    let selected = selected.unwrap_or(0);
    selected.saturating_sub(height / 2).min(len - height)
}

/// `1.2K`, `34.5M`: byte counts short enough for a table cell.
/// A member's lag in a few characters: bytes where known, else the
/// system's own unit abbreviated (`12e` entries, `3t` transactions).
pub fn lag(member: &crate::model::Member) -> String {
    match (&member.lag_bytes, &member.lag) {
        (Some(b), _) => bytes(*b),
        (None, Some(native)) => {
            let unit = native.unit.chars().next().unwrap_or(' ');
            format!("{}{unit}", native.value)
        }
        (None, None) => "-".into(),
    }
}

pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["K", "M", "G", "T", "P"];
    if n < 1024 {
        return format!("{n}B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value < 10.0 {
        format!("{value:.1}{}", UNITS[unit])
    } else {
        format!("{value:.0}{}", UNITS[unit])
    }
}

/// `0.4s`, `12s`, `5m03s`, `2h10m`.
pub fn seconds(s: f64) -> String {
    if !s.is_finite() || s < 0.0 {
        return "?".into();
    }
    if s < 10.0 {
        return format!("{s:.1}s");
    }
    let whole = s.round() as u64;
    match whole {
        0..60 => format!("{whole}s"),
        60..3600 => format!("{}m{:02}s", whole / 60, whole % 60),
        _ => format!("{}h{:02}m", whole / 3600, (whole % 3600) / 60),
    }
}

/// How long since `since`, as [`seconds`] writes it.
pub fn elapsed(since: Timestamp, now: Timestamp) -> String {
    seconds((now - since).as_seconds_f64().max(0.0))
}

/// `HH:MM:SS` in UTC.
pub fn clock(at: Timestamp) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!("{:02}:{:02}:{:02}", at.hour(), at.minute(), at.second())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_follows_the_id_and_falls_back_to_the_index() {
        let mut sel = Selection::default();
        assert_eq!(sel.resolve(["a", "b"].into_iter()), Some(0));
        sel.set(1, "b");
        assert_eq!(sel.resolve(["b", "a", "c"].into_iter()), Some(0));
        assert_eq!(sel.resolve(["a", "c", "d"].into_iter()), Some(1));
        assert_eq!(sel.resolve(["a"].into_iter()), Some(0));
        assert_eq!(sel.resolve(std::iter::empty()), None);
    }

    #[test]
    fn case_insensitive_substring() {
        assert!(contains_ignore_case("Redis-1-0", "redis-1"));
        assert!(contains_ignore_case("xREDIS", "redis"));
        assert!(!contains_ignore_case("redi", "redis"));
        assert!(contains_ignore_case("abc", ""));
        assert!(!contains_ignore_case("ab", "abc"));
    }

    #[test]
    fn window_keeps_the_selection_in_the_middle() {
        assert_eq!(window_start(5, Some(4), 10), 0);
        assert_eq!(window_start(100, Some(0), 10), 0);
        assert_eq!(window_start(100, Some(50), 10), 45);
        assert_eq!(window_start(100, Some(99), 10), 90);
    }

    #[test]
    fn formats() {
        assert_eq!(bytes(0), "0B");
        assert_eq!(bytes(1023), "1023B");
        assert_eq!(bytes(1536), "1.5K");
        assert_eq!(bytes(50 * 1024 * 1024), "50M");
        assert_eq!(seconds(0.44), "0.4s");
        assert_eq!(seconds(42.0), "42s");
        assert_eq!(seconds(303.0), "5m03s");
        assert_eq!(seconds(7800.0), "2h10m");
    }
}
