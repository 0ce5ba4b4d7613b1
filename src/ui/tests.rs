//! Whole-screen snapshots and key handling, from the simulation with a fixed
//! seed. Per-pane snapshots and style checks live beside each pane.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::Color;

use super::testing::{self, LARGE, MEDIUM, SMALL, TestApp, char_key, handle_key, key, type_keys};
use super::*;
use crate::model::Tier;

#[test]
fn screen_80x24() {
    insta::assert_snapshot!(testing::render_screen(&testing::scenario(), SMALL));
}

#[test]
fn screen_160x48() {
    insta::assert_snapshot!(testing::render_screen(&testing::scenario(), LARGE));
}

#[test]
fn screen_120x36() {
    insta::assert_snapshot!(testing::render_screen(&testing::real_lengths(), MEDIUM));
}

#[test]
fn screen_120x36_lab_failover() {
    insta::assert_snapshot!(testing::render_screen(&testing::lab_failover(), MEDIUM));
}

#[test]
fn screen_80x24_lab_failover() {
    insta::assert_snapshot!(testing::render_screen(&testing::lab_failover(), SMALL));
}

/// Issue #13: a failover's row in the timeline keeps the new leader and the
/// time without one whole at every width from 80 columns, the kind word
/// long where it was long.
#[test]
fn a_failover_keeps_its_new_leader_and_leaderless_time_at_any_width() {
    let app = testing::lab_failover();
    for width in (80..=200).step_by(4).chain([MEDIUM.0]) {
        let screen = testing::text(&testing::screen_buffer(&app, (width, 36)));
        let timeline: Vec<&str> = screen
            .lines()
            .map(|l| l.rsplit('│').nth(1).unwrap_or(""))
            .collect();
        let row = timeline
            .iter()
            .position(|l| l.starts_with("00:00:03 leader") && l.contains("127.0.0.1:43775"))
            .unwrap_or_else(|| panic!("the new leader at {width} columns:\n{screen}"));
        // The event's row and those it wraps onto.
        let event = timeline[row..(row + 3).min(timeline.len())].join(" ");
        assert!(
            event.contains("(2.0s leaderless") || event.contains("(2.0s without leader"),
            "the leaderless time at {width} columns:\n{screen}"
        );
        let long = screen.contains("leader_changed");
        assert!(
            long || width < MEDIUM.0,
            "the kind word at {width}:\n{screen}"
        );
    }
}

/// Issue #13: no address is ever cut (a shortened port is a valid but
/// wrong port), with names as long as the Docker lab makes them and IPv6
/// addresses; from 120 columns every member's address is on screen.
#[test]
fn every_address_shown_is_whole_and_all_are_shown_from_120_columns() {
    for size in [SMALL, MEDIUM, LARGE] {
        let mut app = testing::real_lengths();
        let known: Vec<String> = app
            .topology
            .clusters
            .iter()
            .flat_map(|c| c.members.iter().filter_map(|m| m.address.clone()))
            .collect();
        for cluster in 0..app.topology.clusters.len() {
            let screen = testing::text(&testing::screen_buffer(&app, size));
            for shown in address_like(&screen) {
                assert!(
                    known.contains(&shown),
                    "{shown} is a cut address at {size:?}:\n{screen}"
                );
            }
            let members = &app.view().cluster().expect("a cluster selected").members;
            for address in members.iter().filter_map(|m| m.address.as_deref()) {
                assert!(
                    size == SMALL || screen.contains(address),
                    "{address} not shown at {size:?}:\n{screen}"
                );
            }
            if cluster + 1 < app.topology.clusters.len() {
                type_keys(&mut app, "j");
            }
        }
    }
}

/// Every `host:port` on a screen whose host is an IP (v4, or v6 in
/// brackets), as far as its digits go.
fn address_like(screen: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in screen.lines() {
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let v6 = chars[i] == '[';
            let starts = (v6 || chars[i].is_ascii_digit())
                && (i == 0 || !chars[i - 1].is_ascii_alphanumeric());
            if !starts {
                i += 1;
                continue;
            }
            let host_end = if v6 {
                chars[i..].iter().position(|&c| c == ']').map(|p| i + p + 1)
            } else {
                Some(
                    i + chars[i..]
                        .iter()
                        .take_while(|c| c.is_ascii_digit() || **c == '.')
                        .count(),
                )
            };
            let Some(end) = host_end.filter(|&e| chars.get(e) == Some(&':')) else {
                i += 1;
                continue;
            };
            let port = chars[end + 1..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count();
            let host: String = chars[i..end].iter().collect();
            if port > 0 && (v6 || host.matches('.').count() == 3) {
                out.push(chars[i..end + 1 + port].iter().collect());
            }
            i = end + 1 + port;
        }
    }
    out
}

#[test]
fn screen_80x24_zoomed_details() {
    let mut app = testing::scenario();
    type_keys(&mut app, "j");
    handle_key(&mut app, key(KeyCode::Enter));
    handle_key(&mut app, key(KeyCode::Enter));
    assert_eq!(app.ui.zoom(), Some(Pane::Details));
    insta::assert_snapshot!(testing::render_screen(&app, SMALL));
}

#[test]
fn screen_80x24_help_overlay() {
    let mut app = testing::lab_scenario();
    type_keys(&mut app, "?");
    insta::assert_snapshot!(testing::render_screen(&app, SMALL));
}

#[test]
fn screen_160x48_confirm_in_lab_mode() {
    let mut app = testing::lab_scenario();
    type_keys(&mut app, "K");
    insta::assert_snapshot!(testing::render_screen(&app, LARGE));
}

#[test]
fn monochrome_draws_no_colour_at_all() {
    for size in [SMALL, LARGE] {
        // Plain, help open, confirm open, details zoomed.
        for setup in ["", "?", "K", "\t\n"] {
            let mut app = testing::lab_scenario();
            app.ui = UiState::new(Theme::MONOCHROME);
            let now = app.now;
            app.apply_report(testing::failing_source(now), now);
            for c in setup.chars() {
                let event = match c {
                    '\t' => key(KeyCode::Tab),
                    '\n' => key(KeyCode::Enter),
                    c => char_key(c),
                };
                handle_key(&mut app, event);
            }
            let buffer = testing::screen_buffer(&app, size);
            for cell in buffer.content() {
                assert_eq!(
                    cell.fg,
                    Color::Reset,
                    "fg on {:?} ({setup:?})",
                    cell.symbol()
                );
                assert_eq!(
                    cell.bg,
                    Color::Reset,
                    "bg on {:?} ({setup:?})",
                    cell.symbol()
                );
            }
        }
    }
}

#[test]
fn colour_theme_does_use_colour() {
    let buffer = testing::screen_buffer(&testing::scenario(), SMALL);
    assert!(buffer.content().iter().any(|c| c.fg == Color::Red));
    assert!(buffer.content().iter().any(|c| c.fg == Color::Green));
}

#[test]
fn j_and_k_move_the_cluster_selection_and_clamp() {
    let mut app = testing::scenario();
    let ids: Vec<String> = app.topology.clusters.iter().map(|c| c.id.clone()).collect();
    assert_eq!(app.ui.selected_cluster_id(&app), Some(ids[0].as_str()));
    type_keys(&mut app, "jj");
    assert_eq!(app.ui.selected_cluster_id(&app), Some(ids[2].as_str()));
    type_keys(&mut app, "k");
    assert_eq!(app.ui.selected_cluster_id(&app), Some(ids[1].as_str()));
    type_keys(&mut app, "G");
    assert_eq!(
        app.ui.selected_cluster_id(&app),
        ids.last().map(String::as_str)
    );
    type_keys(&mut app, "jjj");
    assert_eq!(
        app.ui.selected_cluster_id(&app),
        ids.last().map(String::as_str)
    );
    type_keys(&mut app, "g");
    assert_eq!(app.ui.selected_cluster_id(&app), Some(ids[0].as_str()));
    handle_key(&mut app, key(KeyCode::PageDown));
    let expected = ids[10.min(ids.len() - 1)].as_str();
    assert_eq!(app.ui.selected_cluster_id(&app), Some(expected));
}

#[test]
fn selection_survives_new_reports_and_clamps_when_the_cluster_goes() {
    let mut app = testing::scenario();
    type_keys(&mut app, "jjj");
    let chosen = app.ui.selected_cluster_id(&app).map(str::to_string);
    // A new report re-merges the topology; the selection stays on the id.
    let mut simulation = crate::sources::sim::Simulation::new(testing::SCENARIO);
    for _ in 0..testing::SCENARIO_STEPS {
        simulation.step();
    }
    let report = simulation.step();
    let at = report.at;
    app.apply_report(report, at);
    assert_eq!(app.ui.selected_cluster_id(&app).map(str::to_string), chosen);
    // The cluster disappears: the selection stays at the same place.
    let index = app
        .topology
        .clusters
        .iter()
        .position(|c| Some(&c.id) == chosen.as_ref())
        .expect("present");
    app.topology.clusters.remove(index);
    let now_at = app.topology.clusters[index].id.clone();
    assert_eq!(app.ui.selected_cluster_id(&app), Some(now_at.as_str()));
    app.topology.clusters.clear();
    assert_eq!(app.ui.selected_cluster_id(&app), None);
    type_keys(&mut app, "jk");
    testing::render_screen(&app, SMALL);
}

#[test]
fn tab_cycles_focus_and_enter_esc_zoom() {
    let mut app = testing::scenario();
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(app.ui.focus());
        handle_key(&mut app, key(KeyCode::Tab));
    }
    assert_eq!(seen, Pane::ORDER);
    assert_eq!(app.ui.focus(), Pane::Clusters);
    handle_key(
        &mut app,
        KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT),
    );
    assert_eq!(app.ui.focus(), Pane::Timeline);
    handle_key(&mut app, key(KeyCode::Enter));
    assert_eq!(app.ui.zoom(), Some(Pane::Timeline));
    handle_key(&mut app, key(KeyCode::Esc));
    assert_eq!(app.ui.zoom(), None);
    handle_key(&mut app, key(KeyCode::Esc));
    assert_eq!(app.ui.focus(), Pane::Clusters);
    handle_key(&mut app, key(KeyCode::Enter));
    assert_eq!(app.ui.focus(), Pane::Members);
}

#[test]
fn member_movement_stays_in_the_cluster() {
    let mut app = testing::scenario();
    handle_key(&mut app, key(KeyCode::Enter));
    let cluster = view::selected_cluster(&app.app, &app.ui)
        .expect("cluster")
        .clone();
    type_keys(&mut app, "j");
    assert_eq!(
        view::selected_member(&app.app, &app.ui).map(|m| m.id.as_str()),
        Some(cluster.members[1].id.as_str())
    );
    type_keys(&mut app, "G");
    assert_eq!(
        view::selected_member(&app.app, &app.ui).map(|m| m.id.as_str()),
        cluster.members.last().map(|m| m.id.as_str())
    );
}

#[test]
fn filter_narrows_clusters_and_members_enter_keeps_esc_clears() {
    let mut app = testing::scenario();
    type_keys(&mut app, "/ALPHA");
    assert_eq!(app.ui.filter(), "ALPHA");
    let clusters = app.view().clusters;
    assert!(!clusters.is_empty());
    assert!(clusters.iter().all(|c| c.kind == "dgraph"));
    let members = app.view().members;
    assert!(
        members
            .iter()
            .all(|m| m.native_role.as_deref() == Some("alpha"))
    );
    handle_key(&mut app, key(KeyCode::Backspace));
    assert_eq!(app.ui.filter(), "ALPH");
    handle_key(&mut app, key(KeyCode::Enter));
    assert_eq!(*app.ui.mode(), Mode::Normal);
    assert_eq!(app.ui.filter(), "ALPH");
    type_keys(&mut app, "/x");
    handle_key(&mut app, key(KeyCode::Esc));
    assert_eq!(app.ui.filter(), "");
    assert_eq!(*app.ui.mode(), Mode::Normal);
}

#[test]
fn help_toggles_and_keys_inside_it_do_nothing_else() {
    let mut app = testing::scenario();
    type_keys(&mut app, "?");
    assert_eq!(*app.ui.mode(), Mode::Help);
    assert_eq!(type_keys(&mut app, "j"), None);
    assert_eq!(*app.ui.mode(), Mode::Help);
    assert_eq!(type_keys(&mut app, "q"), None, "q closes help, not the app");
    assert_eq!(*app.ui.mode(), Mode::Normal);
    type_keys(&mut app, ":help");
    handle_key(&mut app, key(KeyCode::Enter));
    assert_eq!(*app.ui.mode(), Mode::Help);
    handle_key(&mut app, key(KeyCode::Esc));
    assert_eq!(*app.ui.mode(), Mode::Normal);
}

#[test]
fn quit_by_q_ctrl_c_and_command() {
    let mut app = testing::scenario();
    assert_eq!(type_keys(&mut app, "q"), Some(UiRequest::Quit));
    type_keys(&mut app, "/abc");
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(handle_key(&mut app, ctrl_c), Some(UiRequest::Quit));
    let mut app = testing::scenario();
    type_keys(&mut app, ":quit");
    assert_eq!(
        handle_key(&mut app, key(KeyCode::Enter)),
        Some(UiRequest::Quit)
    );
}

fn selected_member_action(app: &TestApp) -> (String, String) {
    let member = view::selected_member(&app.app, &app.ui).expect("a member");
    (
        member.id.clone(),
        member.address.clone().expect("sim members have addresses"),
    )
}

#[test]
fn confirm_y_executes_the_kill() {
    let mut app = testing::lab_scenario();
    let (member, address) = selected_member_action(&app);
    assert_eq!(type_keys(&mut app, "K"), None, "nothing runs before y");
    let expected = Action::LabKill { member, address };
    assert_eq!(*app.ui.mode(), Mode::Confirm(expected.clone()));
    assert_eq!(type_keys(&mut app, "y"), Some(UiRequest::Execute(expected)));
    assert_eq!(*app.ui.mode(), Mode::Normal);
}

#[test]
fn confirm_n_esc_enter_or_anything_else_cancels() {
    for cancel in [
        char_key('n'),
        key(KeyCode::Esc),
        key(KeyCode::Enter),
        char_key('x'),
    ] {
        let mut app = testing::lab_scenario();
        type_keys(&mut app, "R");
        assert!(matches!(
            app.ui.mode(),
            Mode::Confirm(Action::LabRestart { .. })
        ));
        assert_eq!(handle_key(&mut app, cancel), None);
        assert_eq!(*app.ui.mode(), Mode::Normal);
        assert_eq!(app.ui.message().map(|m| m.text.as_str()), Some("cancelled"));
    }
}

#[test]
fn read_only_has_no_lab_keys_or_commands() {
    let mut app = testing::lab_scenario();
    app.header.read_only = true;
    for keys in ["K", "R"] {
        assert_eq!(type_keys(&mut app, keys), None);
        assert_eq!(*app.ui.mode(), Mode::Normal);
    }
    type_keys(&mut app, ":kill-master");
    assert_eq!(handle_key(&mut app, key(KeyCode::Enter)), None);
    assert_eq!(*app.ui.mode(), Mode::Normal);
    let message = app.ui.message().expect("explains");
    assert!(message.text.contains("read-only"), "{}", message.text);
}

#[test]
fn without_lab_mode_k_does_nothing() {
    let mut app = testing::scenario();
    assert_eq!(type_keys(&mut app, "K"), None);
    assert_eq!(*app.ui.mode(), Mode::Normal);
}

#[test]
fn kill_master_targets_the_selected_clusters_leader() {
    let mut app = testing::lab_scenario();
    // Pick a redis cluster with a leader, wherever it sorts.
    let (index, cluster) = app
        .view()
        .clusters
        .iter()
        .enumerate()
        .find(|(_, c)| c.kind == "redis" && c.leader.is_some())
        .map(|(i, c)| (i, (*c).clone()))
        .expect("a redis cluster with a leader");
    for _ in 0..index {
        type_keys(&mut app, "j");
    }
    // Select a copy, to show the command ignores the member selection.
    handle_key(&mut app, key(KeyCode::Enter));
    type_keys(&mut app, "G");
    let leader = cluster.leader_member().expect("leader");
    assert_eq!(leader.tier, Tier::Master);
    type_keys(&mut app, ":kill-master");
    assert_eq!(handle_key(&mut app, key(KeyCode::Enter)), None);
    let expected = Action::LabKill {
        member: leader.id.clone(),
        address: leader.address.clone().expect("address"),
    };
    assert_eq!(*app.ui.mode(), Mode::Confirm(expected.clone()));
    assert_eq!(type_keys(&mut app, "y"), Some(UiRequest::Execute(expected)));
}

#[test]
fn kill_master_without_a_leader_says_so() {
    let mut app = testing::lab_scenario();
    let index = app
        .view()
        .clusters
        .iter()
        .position(|c| c.leader.is_none())
        .expect("the scenario has a leaderless cluster");
    for _ in 0..index {
        type_keys(&mut app, "j");
    }
    type_keys(&mut app, ":kill-master");
    handle_key(&mut app, key(KeyCode::Enter));
    assert_eq!(*app.ui.mode(), Mode::Normal);
    let message = app.ui.message().expect("explains");
    assert!(message.text.contains("has no leader"), "{}", message.text);
}

#[test]
fn commands_kill_restart_ctx_ns_and_unknown() {
    let mut app = testing::lab_scenario();
    type_keys(&mut app, ":restart");
    handle_key(&mut app, key(KeyCode::Enter));
    assert!(matches!(
        app.ui.mode(),
        Mode::Confirm(Action::LabRestart { .. })
    ));
    type_keys(&mut app, "n");
    for line in ["ctx prod", "ns default"] {
        type_keys(&mut app, &format!(":{line}"));
        handle_key(&mut app, key(KeyCode::Enter));
        let message = app.ui.message().expect("answers");
        assert_eq!(message.text, "no Kubernetes source in this session");
    }
    type_keys(&mut app, ":foo");
    handle_key(&mut app, key(KeyCode::Enter));
    assert!(
        app.ui
            .message()
            .is_some_and(|m| m.text.starts_with("unknown command: foo"))
    );
    type_keys(&mut app, ":x");
    handle_key(&mut app, key(KeyCode::Backspace));
    handle_key(&mut app, key(KeyCode::Backspace));
    assert_eq!(*app.ui.mode(), Mode::Normal);
}

#[test]
fn an_outcome_becomes_a_footer_message() {
    let mut app = testing::lab_scenario();
    let action = Action::LabKill {
        member: "m".into(),
        address: "a:1".into(),
    };
    let outcome = crate::actions::ActionOutcome::new(action, false, "no such process");
    app.ui.show_outcome(&outcome);
    let text = testing::render_screen(&app, SMALL);
    assert!(text.contains("lab-kill: no such process"), "{text}");
}

#[test]
fn tiny_terminals_do_not_panic() {
    let mut app = testing::lab_scenario();
    for (w, h) in [(1, 1), (10, 5), (30, 8), (80, 3)] {
        testing::render_screen(&app, (w, h));
        type_keys(&mut app, "?");
        testing::render_screen(&app, (w, h));
        type_keys(&mut app, "?K");
        testing::render_screen(&app, (w, h));
        type_keys(&mut app, "n");
    }
}

/// Cluster text carrying terminal sequences is drawn escaped in every pane
/// and in the confirm dialog (ratatui would drop the control characters and
/// hide that anything is there).
#[test]
fn hostile_cluster_text_is_drawn_escaped() {
    let mut app = testing::lab_scenario();
    let now = app.now;
    let mut report = testing::failing_source(now);
    report.status = crate::model::SourceStatus::Error("-ERR \x1b]52;c;aGk=\x07".into());
    app.apply_report(report, now);
    let cluster = &mut app.app.topology.clusters[0];
    cluster.name = "c\x1b[2J".into();
    cluster.members[0].name = "m\x1b]0;t\x07".into();
    type_keys(&mut app, "K");
    let screen = testing::render_screen(&app, LARGE);
    assert!(
        !screen.contains('\x1b') && !screen.contains('\x07'),
        "{screen:?}"
    );
    for shown in ["c\\e[2J", "m\\e]0;t\\x07", "-ERR \\e]52;c;aGk=\\x07"] {
        assert!(screen.contains(shown), "{shown} missing:\n{screen}");
    }
}

#[test]
fn esc_steps_back_one_thing_at_a_time_filter_before_focus() {
    let mut app = testing::scenario();
    testing::type_keys(&mut app, "/ag");
    testing::handle_key(&mut app, testing::key(KeyCode::Enter));
    testing::handle_key(&mut app, testing::key(KeyCode::Tab));
    assert_eq!((app.ui.filter(), app.ui.focus()), ("ag", Pane::Members));
    testing::handle_key(&mut app, testing::key(KeyCode::Esc));
    assert_eq!(
        (app.ui.filter(), app.ui.focus()),
        ("", Pane::Members),
        "the filter first"
    );
    assert_eq!(
        app.ui.message().map(|m| m.text.as_str()),
        Some("filter cleared")
    );
    testing::handle_key(&mut app, testing::key(KeyCode::Esc));
    assert_eq!(app.ui.focus(), Pane::Clusters, "then the focus");
}

#[test]
fn enter_on_a_timeline_event_goes_to_its_member() {
    let mut app = testing::scenario();
    let (cluster, member) = app
        .timeline
        .events()
        .rev()
        .find_map(|e| Some((e.cluster.clone()?, e.member.clone()?)))
        .expect("an event about a member");
    let scroll = app
        .timeline
        .events()
        .rev()
        .position(|e| {
            e.cluster.as_deref() == Some(&cluster) && e.member.as_deref() == Some(&member)
        })
        .unwrap();
    testing::type_keys(&mut app, "/zzz");
    testing::handle_key(&mut app, testing::key(KeyCode::Enter));
    for _ in 0..3 {
        testing::handle_key(&mut app, testing::key(KeyCode::Tab));
    }
    assert_eq!(app.ui.focus(), Pane::Timeline);
    for _ in 0..scroll {
        testing::type_keys(&mut app, "j");
    }
    testing::handle_key(&mut app, testing::key(KeyCode::Enter));
    assert_eq!(app.ui.zoom(), Some(Pane::Timeline), "the first Enter zooms");
    testing::handle_key(&mut app, testing::key(KeyCode::Enter));
    assert_eq!((app.ui.focus(), app.ui.zoom()), (Pane::Members, None));
    assert_eq!(app.ui.filter(), "", "a filter hiding it is cleared");
    let view = crate::ui::view::View::new(&app.app, &app.ui);
    assert_eq!(
        view.cluster().map(|c| c.id.as_str()),
        Some(cluster.as_str())
    );
    let shown = view.member().expect("a member selected");
    assert!(shown.id == member || shown.address.as_deref() == Some(member.as_str()));
}

#[test]
fn o_orders_the_members_and_says_so() {
    let mut app = testing::scenario();
    testing::type_keys(&mut app, "o");
    assert_eq!(app.ui.sort(), Some(crate::ui::sort::SortBy::Name));
    assert!(
        app.ui
            .message()
            .is_some_and(|m| m.text.contains("ordered by name"))
    );
    for _ in 0..3 {
        testing::type_keys(&mut app, "o");
    }
    assert_eq!(app.ui.sort(), Some(crate::ui::sort::SortBy::Lag));
    let view = crate::ui::view::View::new(&app.app, &app.ui);
    let lags: Vec<u64> = view
        .members
        .iter()
        .map(|m| m.lag_bytes.unwrap_or(0))
        .collect();
    let mut sorted = lags.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(lags, sorted, "largest lag first");
    let buffer = testing::render_buffer(&app, 110, 12, crate::ui::members::draw);
    assert!(testing::row_text(&buffer, 0).contains("by lag"));
    testing::type_keys(&mut app, "oo");
    assert_eq!(app.ui.sort(), None, "and back to the cluster's order");
}

/// Issue #13: a click selects the row under it and focuses its pane; the
/// wheel moves the selection in the pane under the pointer; `y` copies the
/// selected member's address.
#[test]
fn the_mouse_selects_and_scrolls_and_y_copies_the_address() {
    use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
    let mut app = testing::real_lengths();
    let buffer = testing::screen_buffer(&app, MEDIUM);
    let mouse = |kind, column, row| MouseEvent {
        kind,
        column,
        row,
        modifiers: KeyModifiers::NONE,
    };
    // The second cluster's row in the clusters pane.
    let (x, y) = testing::find(&buffer, "pg-ipv6").expect("the second cluster");
    super::handle_mouse(
        &mut app.ui,
        &app.app,
        mouse(MouseEventKind::Down(MouseButton::Left), x, y),
    );
    assert_eq!(app.view().cluster().unwrap().name, "pg-ipv6");
    assert_eq!(app.ui.focus(), Pane::Clusters);
    // Wheel down over the members pane: the next member, focus there.
    let buffer = testing::screen_buffer(&app, MEDIUM);
    let (x, y) = testing::find(&buffer, "pg-1").expect("a member row");
    super::handle_mouse(
        &mut app.ui,
        &app.app,
        mouse(MouseEventKind::ScrollDown, x, y),
    );
    assert_eq!(app.ui.focus(), Pane::Members);
    let second = app.view().member().unwrap().name.clone();
    let (x, y) = testing::find(&buffer, "pg-0").expect("the first member row");
    super::handle_mouse(
        &mut app.ui,
        &app.app,
        mouse(MouseEventKind::Down(MouseButton::Left), x, y),
    );
    assert_eq!(
        app.view().member().unwrap().name,
        "pg-0",
        "after the wheel gave {second}"
    );
    match handle_key(&mut app, char_key('y')) {
        Some(UiRequest::Copy(text)) => assert_eq!(text, "[fd00:10:96::a]:5432"),
        other => panic!("y gave {other:?}"),
    }
}
