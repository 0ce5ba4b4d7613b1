//! The app state both benches measure: a simulated fleet applied for some
//! steps, as the console would hold it.

use std::time::Duration;

use clusterdeck::app::{AppState, HeaderInfo, SourceLabel};
use clusterdeck::model::SourceKind;
use clusterdeck::sources::sim::Simulation;

/// `steps` reports of `sim` applied to a fresh app state.
pub fn sim_app(members: usize, sim: &mut Simulation, steps: usize) -> AppState {
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
        target: format!("sim:{members}@seed42"),
    };
    let mut app = AppState::new(header, vec![label], sim.now());
    for _ in 0..steps {
        let report = sim.step();
        let at = report.at;
        app.apply_report(report, at);
    }
    app
}
