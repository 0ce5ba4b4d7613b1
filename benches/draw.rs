//! Frame time at scale: 10,000 simulated members drawn on a 160x48 test
//! terminal. The budget (DESIGN.md) is under 5 ms a frame.

use std::hint::black_box;
use std::time::Duration;

use clusterdeck::app::{AppState, HeaderInfo, SourceLabel};
use clusterdeck::model::SourceKind;
use clusterdeck::sources::sim::{SimConfig, Simulation};
use clusterdeck::ui::{self, Theme, UiState};
use criterion::{Criterion, criterion_group, criterion_main};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const MEMBERS: usize = 10_000;
/// Enough steps for lag sparklines and a timeline with failovers in it.
const STEPS: usize = 30;

fn fleet() -> AppState {
    let config = SimConfig {
        members: MEMBERS,
        seed: 42,
    };
    let mut simulation = Simulation::new(config);
    let header = HeaderInfo {
        interval: Duration::from_secs(1),
        read_only: false,
        simulated: true,
        lab: false,
        notice: None,
    };
    let label = SourceLabel {
        id: "sim#0".into(),
        kind: SourceKind::Sim,
        target: format!("sim:{MEMBERS}@seed42"),
    };
    let mut app = AppState::new(header, vec![label], simulation.now());
    for _ in 0..STEPS {
        let report = simulation.step();
        let at = report.at;
        app.apply_report(report, at);
    }
    app
}

fn press(ui: &mut UiState, app: &AppState, code: KeyCode) {
    ui::handle_key(ui, app, KeyEvent::new(code, KeyModifiers::NONE));
}

fn draw(c: &mut Criterion) {
    let app = fleet();
    let mut state = UiState::new(Theme::COLOR);
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).expect("test backend");
    c.bench_function("draw 10k members 160x48", |b| {
        b.iter(|| {
            terminal
                .draw(|frame| ui::draw(frame, black_box(&app), black_box(&state)))
                .expect("draws");
        })
    });

    // The selection in the middle of the list: the window has to be found.
    for _ in 0..100 {
        press(&mut state, &app, KeyCode::PageDown);
    }
    c.bench_function("draw 10k members 160x48, selection mid-list", |b| {
        b.iter(|| {
            terminal
                .draw(|frame| ui::draw(frame, black_box(&app), black_box(&state)))
                .expect("draws");
        })
    });

    // A filter is checked against every member on every frame.
    press(&mut state, &app, KeyCode::Char('/'));
    for ch in "alpha".chars() {
        press(&mut state, &app, KeyCode::Char(ch));
    }
    press(&mut state, &app, KeyCode::Enter);
    c.bench_function("draw 10k members 160x48, filter set", |b| {
        b.iter(|| {
            terminal
                .draw(|frame| ui::draw(frame, black_box(&app), black_box(&state)))
                .expect("draws");
        })
    });
}

criterion_group!(benches, draw);
criterion_main!(benches);
