//! The model's cost per report at fleet scale: merging one source's report
//! into a topology, diffing two topologies into timeline events, the whole
//! `apply_report` path, and the members filter, each at 1,000, 10,000 and
//! 100,000 simulated members (`cargo bench --bench model`). The figures are
//! in the README's "Performance" section.

use std::hint::black_box;
use std::time::Duration;

use clusterdeck::model::{SourceReport, Timeline, Topology};
use clusterdeck::sources::sim::{SimConfig, Simulation};
use clusterdeck::ui::view::View;
use clusterdeck::ui::{self, Theme, UiState};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[path = "support/sim_app.rs"]
mod support;
use support::sim_app;

const SIZES: [usize; 3] = [1_000, 10_000, 100_000];
/// Steps before measuring, so that failovers and lag are under way.
const WARM_STEPS: usize = 5;

/// A simulation some steps in, and its next two reports.
fn reports(members: usize) -> (Simulation, SourceReport, SourceReport) {
    let mut sim = Simulation::new(SimConfig { members, seed: 42 });
    for _ in 0..WARM_STEPS {
        sim.step();
    }
    let a = sim.step();
    let b = sim.step();
    (sim, a, b)
}

fn model(c: &mut Criterion) {
    let mut group = c.benchmark_group("model");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(4));
    for members in SIZES {
        let (mut sim, a, b) = reports(members);
        group.bench_with_input(BenchmarkId::new("merge", members), &a, |bench, a| {
            bench.iter(|| Topology::merge([black_box(a)]))
        });
        let (old, new) = (Topology::merge([&a]), Topology::merge([&b]));
        group.bench_with_input(BenchmarkId::new("diff", members), &(), |bench, _| {
            bench.iter(|| {
                let mut timeline = Timeline::default();
                timeline.observe(black_box(&old), black_box(&new), b.at)
            })
        });
        let mut state = sim_app(members, &mut sim, 3);
        let next: Vec<SourceReport> = (0..64).map(|_| sim.step()).collect();
        let mut i = 0;
        group.bench_with_input(
            BenchmarkId::new("apply_report", members),
            &(),
            |bench, _| {
                bench.iter(|| {
                    let report = next[i % next.len()].clone();
                    i += 1;
                    let at = report.at;
                    state.apply_report(report, at)
                })
            },
        );
        let mut ui_state = UiState::new(Theme::COLOR);
        for key in ['/', 'a', 'l', 'p', 'h', 'a'] {
            ui::handle_key(
                &mut ui_state,
                &state,
                KeyEvent::new(KeyCode::Char(key), KeyModifiers::NONE),
            );
        }
        group.bench_with_input(BenchmarkId::new("filter", members), &(), |bench, _| {
            bench.iter(|| {
                View::new(black_box(&state), black_box(&ui_state))
                    .clusters
                    .len()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, model);
criterion_main!(benches);
