//! The queueing discipline that makes a veth end behave like one direction of a link.
//!
//! netem holds each packet for half the round-trip time and paces to the bandwidth. Some
//! kernels are built without netem (sch_netem); there a link with no added delay can still be
//! paced by tbf, a token bucket, while a delay cannot be added at all — the caller is told so
//! and falls back to the in-process emulator.

use crate::link::LinkSpec;

/// Packets netem may hold at once: a window of a fast, long link (1 Gbit/s at 100 ms is
/// ~8,000 full-size packets), well above netem's default of 1,000 which drops bulk transfers.
const NETEM_LIMIT: u32 = 10_000;

/// `tc qdisc add dev DEV root …` arguments after `root` for one direction of `spec`, or `None`
/// when the link adds nothing. `netem` says whether the kernel has netem.
pub fn qdisc(spec: LinkSpec, netem: bool) -> Result<Option<Vec<String>>, String> {
    let half_micros = spec.rtt.as_micros() / 2;
    match (half_micros, spec.bandwidth, netem) {
        (0, None, _) => Ok(None),
        (_, bandwidth, true) => {
            let mut args = vec!["netem".to_owned()];
            if half_micros > 0 {
                args.extend(["delay".to_owned(), format!("{half_micros}us")]);
            }
            if let Some(bps) = bandwidth {
                args.extend(["rate".to_owned(), format!("{bps}bit")]);
            }
            args.extend(["limit".to_owned(), NETEM_LIMIT.to_string()]);
            Ok(Some(args))
        }
        (0, Some(bps), false) => {
            // A bucket of 10 ms of traffic, and never less than two full-size frames.
            let burst = (bps / 8 / 100).max(3200);
            Ok(Some(
                [
                    "tbf",
                    "rate",
                    &format!("{bps}bit"),
                    "burst",
                    &burst.to_string(),
                    "latency",
                    "400ms",
                ]
                .map(str::to_owned)
                .to_vec(),
            ))
        }
        (_, _, false) => {
            Err("this kernel has no netem (sch_netem), so network namespaces cannot add delay"
                .to_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn spec(rtt_ms: u64, bandwidth: Option<u64>) -> LinkSpec {
        LinkSpec { rtt: Duration::from_millis(rtt_ms), bandwidth }
    }

    #[test]
    fn netem_holds_half_the_round_trip_each_way_and_paces() {
        assert_eq!(
            qdisc(spec(50, Some(10_000_000)), true).unwrap().unwrap().join(" "),
            "netem delay 25000us rate 10000000bit limit 10000"
        );
        assert_eq!(
            qdisc(spec(3, None), true).unwrap().unwrap().join(" "),
            "netem delay 1500us limit 10000"
        );
        assert_eq!(
            qdisc(spec(0, Some(1_000_000)), true).unwrap().unwrap().join(" "),
            "netem rate 1000000bit limit 10000"
        );
    }

    #[test]
    fn without_netem_bandwidth_is_a_token_bucket_and_delay_is_refused() {
        assert_eq!(
            qdisc(spec(0, Some(100_000_000)), false).unwrap().unwrap().join(" "),
            "tbf rate 100000000bit burst 125000 latency 400ms"
        );
        assert_eq!(
            qdisc(spec(0, Some(64_000)), false).unwrap().unwrap().join(" "),
            "tbf rate 64000bit burst 3200 latency 400ms"
        );
        assert!(qdisc(spec(10, None), false).unwrap_err().contains("no netem"));
    }

    #[test]
    fn a_link_that_adds_nothing_needs_no_qdisc() {
        assert_eq!(qdisc(spec(0, None), false), Ok(None));
        assert_eq!(qdisc(spec(0, None), true), Ok(None));
    }
}
