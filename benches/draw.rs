//! Frame time at scale: 1,000, 10,000 and 100,000 simulated members drawn on
//! a 160x48 test terminal, with the selection mid-list and with a `/` filter
//! set, and the cost of a key (`j`) at each size. The budget (DESIGN.md) is
//! under 5 ms a frame; issue #12's goal is under 1 ms at 10,000 with a filter.

use std::hint::black_box;

use clusterdeck::app::AppState;
use clusterdeck::sources::sim::{SimConfig, Simulation};
use clusterdeck::ui::{self, Theme, UiState};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

#[path = "support/sim_app.rs"]
mod support;
use support::sim_app;

const SIZES: [usize; 3] = [1_000, 10_000, 100_000];
/// Enough steps for lag sparklines and a timeline with failovers in it.
const STEPS: usize = 30;

fn fleet(members: usize) -> AppState {
    let mut simulation = Simulation::new(SimConfig { members, seed: 42 });
    sim_app(members, &mut simulation, STEPS)
}

fn press(ui: &mut UiState, app: &AppState, code: KeyCode) {
    ui::handle_key(ui, app, KeyEvent::new(code, KeyModifiers::NONE));
}

fn frame(terminal: &mut Terminal<TestBackend>, app: &AppState, state: &UiState) {
    terminal
        .draw(|frame| ui::draw(frame, black_box(app), black_box(state)))
        .expect("draws");
}

fn draw(c: &mut Criterion) {
    let mut group = c.benchmark_group("draw 160x48");
    group.sample_size(20);
    for members in SIZES {
        let app = fleet(members);
        let mut state = UiState::new(Theme::COLOR);
        let mut terminal = Terminal::new(TestBackend::new(160, 48)).expect("test backend");
        group.bench_function(BenchmarkId::new("frame", members), |b| {
            b.iter(|| frame(&mut terminal, &app, &state))
        });
        // The selection in the middle of the list: the window has to be found.
        for _ in 0..100 {
            press(&mut state, &app, KeyCode::PageDown);
        }
        group.bench_function(
            BenchmarkId::new("frame, selection mid-list", members),
            |b| b.iter(|| frame(&mut terminal, &app, &state)),
        );
        press(&mut state, &app, KeyCode::Char('/'));
        for ch in "alpha".chars() {
            press(&mut state, &app, KeyCode::Char(ch));
        }
        press(&mut state, &app, KeyCode::Enter);
        group.bench_function(BenchmarkId::new("frame, filter set", members), |b| {
            b.iter(|| frame(&mut terminal, &app, &state))
        });
        // What a key costs end to end: handling it, then the frame it shows.
        group.bench_function(
            BenchmarkId::new("key j and its frame, filter set", members),
            |b| {
                b.iter(|| {
                    press(&mut state, &app, KeyCode::Char('j'));
                    frame(&mut terminal, &app, &state)
                })
            },
        );
    }
    group.finish()
}

criterion_group!(benches, draw);
criterion_main!(benches);
