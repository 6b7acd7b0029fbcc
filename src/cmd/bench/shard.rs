//! Shards: `--shard I/N` makes this process one of N that run side by side (on one
//! machine or as the pods of a Kubernetes Indexed Job). Each runs the load it is
//! given; what must not collide between them, the client index range, and through it
//! client ids, `%i` in topics and the publisher ids in payload headers, is shard I's
//! own slice of the index space. No I/O here but the one environment variable `auto`
//! reads, which the caller passes in.

use crate::cli::bench::ShardSpec;

/// The environment variable a Kubernetes Indexed Job sets to the pod's index.
pub const INDEX_VAR: &str = "JOB_COMPLETION_INDEX";

/// This process is shard `index` of `count` (0-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// `--shard` and `--shards` with `JOB_COMPLETION_INDEX`'s value (`env`), checked:
    /// an index outside 0..N, a count given twice differently, or `auto` without the
    /// variable is an error that says what to give instead.
    pub fn resolve(
        spec: ShardSpec,
        shards: Option<u32>,
        env: Option<&str>,
    ) -> Result<Shard, String> {
        let (index, count) = match spec {
            ShardSpec::Index { index, count } => {
                if shards.is_some_and(|n| n != count) {
                    return Err(format!(
                        "--shard {index}/{count} and --shards {} disagree on the number of shards.",
                        shards.unwrap_or(count)
                    ));
                }
                (index, count)
            }
            ShardSpec::Auto { count } => {
                let count = match (count, shards) {
                    (Some(a), Some(b)) if a != b => {
                        return Err(format!(
                            "--shard auto/{a} and --shards {b} disagree on the number of shards."
                        ));
                    }
                    (Some(n), _) | (None, Some(n)) => n,
                    (None, None) => {
                        return Err(
                            "--shard auto needs the number of shards: --shard auto/N or --shards N."
                                .into(),
                        );
                    }
                };
                (auto_index(env)?, count)
            }
        };
        if index >= count {
            return Err(format!(
                "shard index {index} is outside 0..{count}: shards count from 0, so the last of {count} is {}.",
                count - 1
            ));
        }
        Ok(Shard { index, count })
    }

    /// The first client index of this shard: shard I of N takes `stride` indices from
    /// `start + I × stride` (`-n` is the offset of the whole fleet). The whole fleet's
    /// range must fit in the 32-bit publisher id of the payload header.
    pub fn first_index(&self, start: u32, stride: u32) -> Result<u32, String> {
        let end = u64::from(start) + u64::from(self.count) * u64::from(stride);
        if end > u64::from(u32::MAX) + 1 {
            return Err(format!(
                "{} shards of {stride} clients from index {start} need indices up to {}, beyond the 32-bit publisher id; use fewer clients or a smaller -n.",
                self.count,
                end - 1
            ));
        }
        Ok(start + self.index * stride)
    }
}

/// `JOB_COMPLETION_INDEX`, which Kubernetes sets in Indexed Jobs.
fn auto_index(env: Option<&str>) -> Result<u32, String> {
    match env {
        None => Err(format!(
            "--shard auto reads the shard index from {INDEX_VAR}, which is not set (Kubernetes sets it in Indexed Jobs); give --shard I/N."
        )),
        Some(v) => v
            .trim()
            .parse::<u32>()
            .map_err(|_| format!("{INDEX_VAR} is '{v}', not a shard index (a number from 0).")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shard_gets_its_own_slice_of_the_index_range() {
        for count in 1..=12u32 {
            for stride in [1u32, 3, 100] {
                let start = 7;
                let mut seen = std::collections::BTreeSet::new();
                for index in 0..count {
                    let s = Shard::resolve(ShardSpec::Index { index, count }, None, None).unwrap();
                    let first = s.first_index(start, stride).unwrap();
                    for i in first..first + stride {
                        assert!(seen.insert(i), "index {i} twice ({index}/{count})");
                    }
                }
                // Disjoint, and together exactly the fleet's range from -n.
                let want: Vec<u32> = (start..start + count * stride).collect();
                assert_eq!(seen.into_iter().collect::<Vec<_>>(), want);
            }
        }
    }

    #[test]
    fn the_fleet_must_fit_in_a_publisher_id() {
        let s = Shard { index: 1, count: 2 };
        assert_eq!(s.first_index(0, 1 << 31).unwrap(), 1 << 31);
        let e = s.first_index(1, 1 << 31).unwrap_err();
        assert!(e.contains("beyond the 32-bit publisher id"), "{e}");
    }

    #[test]
    fn auto_reads_the_job_completion_index() {
        let auto = |count| ShardSpec::Auto { count };
        assert_eq!(
            Shard::resolve(auto(Some(10)), None, Some("3")),
            Ok(Shard {
                index: 3,
                count: 10
            })
        );
        assert_eq!(
            Shard::resolve(auto(None), Some(4), Some("0")),
            Ok(Shard { index: 0, count: 4 })
        );
        let e = Shard::resolve(auto(Some(10)), None, None).unwrap_err();
        assert!(e.contains("JOB_COMPLETION_INDEX, which is not set"), "{e}");
        let e = Shard::resolve(auto(Some(10)), None, Some("10")).unwrap_err();
        assert!(e.contains("outside 0..10"), "{e}");
        let e = Shard::resolve(auto(Some(10)), None, Some("x")).unwrap_err();
        assert!(e.contains("'x', not a shard index"), "{e}");
        let e = Shard::resolve(auto(None), None, Some("1")).unwrap_err();
        assert!(e.contains("needs the number of shards"), "{e}");
        let e = Shard::resolve(auto(Some(3)), Some(4), Some("1")).unwrap_err();
        assert!(e.contains("disagree"), "{e}");
        let e = Shard::resolve(ShardSpec::Index { index: 1, count: 3 }, Some(4), None).unwrap_err();
        assert!(e.contains("disagree"), "{e}");
    }

    #[test]
    fn shard_values_parse() {
        use crate::cli::bench::parse_shard;
        assert_eq!(
            parse_shard("2/3"),
            Ok(ShardSpec::Index { index: 2, count: 3 })
        );
        assert_eq!(
            parse_shard("auto/5"),
            Ok(ShardSpec::Auto { count: Some(5) })
        );
        assert_eq!(parse_shard("auto"), Ok(ShardSpec::Auto { count: None }));
        assert!(parse_shard("3/3").unwrap_err().contains("outside 0..3"));
        for bad in ["", "3", "1/0", "-1/3", "a/3", "1/3/4", "auto/0", "auto/x"] {
            assert!(parse_shard(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn start_times_parse_as_unix_seconds_or_rfc3339() {
        use crate::cli::bench::parse_start_at;
        let ns = |s| parse_start_at(s).map(|t| t.unix_ns);
        assert_eq!(ns("1767225600"), Ok(1_767_225_600_000_000_000));
        assert_eq!(ns("1767225600.25"), Ok(1_767_225_600_250_000_000));
        assert_eq!(ns("2026-01-01T00:00:00Z"), Ok(1_767_225_600_000_000_000));
        assert_eq!(
            ns("2026-01-01T01:00:00.5+01:00"),
            Ok(1_767_225_600_500_000_000)
        );
        assert_eq!(ns("1970-01-01T00:00:00Z"), Ok(0));
        for bad in [
            "",
            "-5",
            "1e9",
            "1.2.3",
            "soon",
            "2026-01-01",
            "2026-01-01 00:00:00",
            "1969-12-31T23:59:59Z",
            "99999999999",
        ] {
            assert!(parse_start_at(bad).is_err(), "{bad}");
        }
    }
}
