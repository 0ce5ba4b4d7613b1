//! Column widths sized by what the cells hold, for a table that must fit a
//! width: the columns that matter most are kept, each gets what its content
//! needs, and when space runs out the flexible ones shrink to their minimum
//! (a name keeps its distinguishing end, `…` marks the cut). An address is
//! never cut: a shortened port is a valid but wrong port.

use unicode_width::UnicodeWidthStr;

/// One column's needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need {
    /// Widest cell or title.
    pub content: u16,
    /// Narrowest it may become (its content when it must not be cut).
    pub min: u16,
    /// 0 always kept; higher dropped first.
    pub priority: u8,
    /// Order in which spare space is handed out (lower first).
    pub grow_order: u8,
}

/// The width of each column that fits in `width`, None for those dropped.
/// One cell of spacing separates columns.
pub fn fit(needs: &[Need], width: u16) -> Vec<Option<u16>> {
    let mut widths: Vec<Option<u16>> = vec![None; needs.len()];
    let mut used: u16 = 0;
    let max_priority = needs.iter().map(|n| n.priority).max().unwrap_or(0);
    // A column gets what it holds before a less needed one is added; only
    // when that does not fit does it settle for its minimum.
    for priority in 0..=max_priority {
        for (i, need) in needs.iter().enumerate() {
            let gap = u16::from(used > 0);
            // Nothing to show, not even a title: no column.
            if need.priority != priority || need.content == 0 {
                continue;
            }
            if let Some(w) = [need.content, need.min]
                .into_iter()
                .find(|w| used + gap + w <= width)
            {
                used += gap + w;
                widths[i] = Some(w);
            }
        }
    }
    let mut spare = width.saturating_sub(used);
    let mut order: Vec<usize> = (0..needs.len()).collect();
    order.sort_by_key(|&i| needs[i].grow_order);
    for i in order {
        if let Some(w) = widths[i].as_mut() {
            let more = needs[i].content.saturating_sub(*w).min(spare);
            *w += more;
            spare -= more;
        }
    }
    widths
}

/// Display width of a cell's text.
pub fn width_of(text: &str) -> u16 {
    u16::try_from(text.width()).unwrap_or(u16::MAX)
}

/// `text` in `width` columns, keeping its end (`…ab-bb8-redis-1`): names
/// of one cluster usually differ at the end.
pub fn keep_end(text: &str, width: u16) -> String {
    if width_of(text) <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut tail: Vec<char> = Vec::new();
    let mut used = 1;
    for c in text.chars().rev() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0) as u16;
        if used + w > width {
            break;
        }
        used += w;
        tail.push(c);
    }
    std::iter::once('…').chain(tail.into_iter().rev()).collect()
}

/// `text` in `width` columns, keeping its start (`promot…`): a word.
pub fn keep_start(text: &str, width: u16) -> String {
    if width_of(text) <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut head = String::new();
    let mut used = 1;
    for c in text.chars() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0) as u16;
        if used + w > width {
            break;
        }
        used += w;
        head.push(c);
    }
    head.push('…');
    head
}

/// Whether a cell holds an address (`10.0.0.5:6379`, `[fd00::1]:2379`),
/// which must be shown whole.
pub fn is_address(text: &str) -> bool {
    let Some((host, port)) = text.rsplit_once(':') else {
        return false;
    };
    !host.is_empty()
        && !port.is_empty()
        && port.chars().all(|c| c.is_ascii_digit())
        && (host.parse::<std::net::IpAddr>().is_ok()
            || host.starts_with('[')
            || host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn need(content: u16, min: u16, priority: u8, grow_order: u8) -> Need {
        Need {
            content,
            min,
            priority,
            grow_order,
        }
    }

    #[test]
    fn columns_get_their_content_when_it_fits() {
        let needs = [need(6, 6, 0, 9), need(15, 8, 0, 0), need(6, 4, 1, 1)];
        assert_eq!(fit(&needs, 80), [Some(6), Some(15), Some(6)]);
    }

    #[test]
    fn when_space_runs_out_the_flexible_shrink_then_the_least_needed_go() {
        let needs = [need(6, 6, 0, 9), need(30, 10, 0, 0), need(20, 8, 1, 1)];
        assert_eq!(fit(&needs, 30), [Some(6), Some(14), Some(8)]);
        assert_eq!(fit(&needs, 20), [Some(6), Some(13), None]);
        // The more needed column is whole before a less needed one comes in.
        let needs = [need(10, 10, 0, 9), need(12, 6, 1, 1), need(8, 8, 2, 9)];
        assert_eq!(fit(&needs, 24), [Some(10), Some(12), None]);
    }

    #[test]
    fn a_cut_name_keeps_its_end_and_says_so() {
        assert_eq!(keep_end("clusterdeck-lab-bb8c-redis-1", 10), "…c-redis-1");
        assert_eq!(keep_end("short", 10), "short");
        assert_eq!(keep_start("promoting", 6), "promo…");
        assert_eq!(width_of(&keep_end("ねこねこねこ", 5)), 5);
    }

    #[test]
    fn addresses_are_told_from_names() {
        for address in ["127.0.0.1:44347", "[fd00::1]:2379", "redis-0.redis:6379"] {
            assert!(is_address(address), "{address}");
        }
        for name in ["redis-0", "pod@node-1", "a:b", "10.0.0.1:"] {
            assert!(!is_address(name), "{name}");
        }
    }
}
