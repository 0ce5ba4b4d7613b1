//! The members list's order on request (`o` cycles it): by name, role,
//! health (worst first), lag (largest first) or place, then back to the
//! cluster's own order (masters first, the leader first among them).

use std::cmp::Ordering;

use crate::model::topology::natural_cmp;
use crate::model::{Health, Member};

/// A column the members can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    Name,
    Role,
    Health,
    Lag,
    Where,
}

impl SortBy {
    /// The next order `o` gives: name, role, health, lag, where, then none.
    pub fn after(current: Option<SortBy>) -> Option<SortBy> {
        match current {
            None => Some(SortBy::Name),
            Some(SortBy::Name) => Some(SortBy::Role),
            Some(SortBy::Role) => Some(SortBy::Health),
            Some(SortBy::Health) => Some(SortBy::Lag),
            Some(SortBy::Lag) => Some(SortBy::Where),
            Some(SortBy::Where) => None,
        }
    }

    /// How the order reads on screen.
    pub fn label(self) -> &'static str {
        match self {
            SortBy::Name => "name",
            SortBy::Role => "role",
            SortBy::Health => "health, worst first",
            SortBy::Lag => "lag, largest first",
            SortBy::Where => "where",
        }
    }

    /// Sorts `members` (stable: equals keep the cluster's order).
    pub fn sort(self, members: &mut [&Member]) {
        members.sort_by(|a, b| self.compare(a, b));
    }

    fn compare(self, a: &Member, b: &Member) -> Ordering {
        match self {
            SortBy::Name => natural_cmp(&a.name, &b.name),
            SortBy::Role => natural_cmp(role(a), role(b)),
            SortBy::Health => badness(b.health).cmp(&badness(a.health)),
            SortBy::Lag => lag(b).cmp(&lag(a)),
            SortBy::Where => natural_cmp(&a.placement.short(), &b.placement.short()),
        }
    }
}

fn role(m: &Member) -> &str {
    m.native_role.as_deref().unwrap_or("")
}

fn badness(health: Health) -> u8 {
    match health {
        Health::Ok => 0,
        Health::Unknown => 1,
        Health::Degraded => 2,
        Health::Down => 3,
    }
}

/// Bytes where known, else the system's own unit, else seconds in
/// milliseconds; a dead member's stale lag counts as none.
fn lag(m: &Member) -> u64 {
    if m.health == Health::Down {
        return 0;
    }
    m.lag_bytes
        .or(m.lag.as_ref().map(|l| l.value))
        .or(m.lag_seconds.map(|s| (s * 1000.0) as u64))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str, health: Health, lag: Option<u64>) -> Member {
        Member {
            id: name.into(),
            name: name.into(),
            health,
            lag_bytes: lag,
            ..Member::default()
        }
    }

    #[test]
    fn o_cycles_through_the_orders_and_back_to_none() {
        let mut order = None;
        let mut seen = Vec::new();
        for _ in 0..6 {
            order = SortBy::after(order);
            seen.push(order.map(SortBy::label));
        }
        assert_eq!(seen.first(), Some(&Some("name")));
        assert_eq!(seen.last(), Some(&None));
    }

    #[test]
    fn lag_is_largest_first_and_health_worst_first() {
        let a = member("db-10", Health::Ok, Some(5));
        let b = member("db-2", Health::Down, Some(900));
        let c = member("db-1", Health::Degraded, Some(70));
        let mut list = vec![&a, &b, &c];
        SortBy::Lag.sort(&mut list);
        let names: Vec<&str> = list.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            ["db-1", "db-10", "db-2"],
            "a dead member's lag counts as none"
        );
        SortBy::Health.sort(&mut list);
        assert_eq!(list[0].name, "db-2");
        SortBy::Name.sort(&mut list);
        let names: Vec<&str> = list.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["db-1", "db-2", "db-10"], "natural order");
    }
}
