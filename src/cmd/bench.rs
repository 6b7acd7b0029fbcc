//! `mqtk bench`: settings in, load run, summary on stdout, exit code out. Exit 0 when
//! the run completed (its errors are in the report), 1 for usage errors or when no
//! client could connect at all.

use crate::bench::{self, Mode, report};
use crate::cli::bench::{BenchArgs, BenchMode};
use crate::exit::Error;

pub fn run(args: BenchArgs) -> Result<u8, Error> {
    let (mode, load) = match args.mode {
        None => (Mode::PubSub, args.load),
        Some(BenchMode::Pub(a)) => (Mode::Pub, *a),
        Some(BenchMode::Sub(a)) => (Mode::Sub, *a),
        Some(BenchMode::Conn(a)) => (Mode::Conn, *a),
        Some(BenchMode::Merge(m)) => {
            let mut reports = Vec::new();
            for path in &m.reports {
                reports.push(report::read(path).map_err(Error::Failed)?);
            }
            let merged = report::merge(&reports).map_err(Error::Failed)?;
            if let Some(path) = &m.json {
                report::write(path, &merged).map_err(Error::Failed)?;
            }
            print!("{}", report::summary(&merged));
            return Ok(crate::exit::OK);
        }
    };
    if load.conn.version {
        println!("mqtk bench version {}", env!("CARGO_PKG_VERSION"));
        return Ok(crate::exit::OK);
    }
    let settings = bench::resolve(mode, &load)?;
    let r = bench::run(settings)?;
    print!("{}", report::summary(&r));
    if r.totals.connects_ok == 0 {
        return Err(Error::Failed("no client could connect.".into()));
    }
    Ok(crate::exit::OK)
}
