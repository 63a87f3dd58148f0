//! How the lab's hosts are joined, chosen from `--links` and what the machine allows.
//!
//! Three ways, in order of realism: hosts in network namespaces with netem on their links
//! (real kernel stacks, real queues); hosts on loopback behind the in-process link emulator
//! (relays that delay and pace); plain loopback, when no link was asked for. `auto` takes the
//! most realistic one that can do what was asked, and the report says which and why.

use std::str::FromStr;

use serde::Serialize;

use crate::environment::Environment;

/// What `--links` asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LinksChoice {
    /// Namespaces where they can do the job, else the in-process emulator.
    #[default]
    Auto,
    /// Namespaces, or an error saying why not.
    Namespaces,
    /// The in-process emulator even where namespaces would work.
    InProcess,
}

impl FromStr for LinksChoice {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "auto" => Ok(Self::Auto),
            "namespaces" | "netns" | "netem" => Ok(Self::Namespaces),
            "in-process" | "emulated" => Ok(Self::InProcess),
            _ => Err(format!("`{text}`: expected auto, namespaces or in-process")),
        }
    }
}

/// How this run's hosts are joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Topology {
    /// Every host on 127.53.x.x, no links.
    Loopback,
    /// Hosts on 127.53.x.x, each link a relay in this process.
    InProcess,
    /// Each host its own namespace on 198.18.0.0/15; `netem` false means links are paced by
    /// tbf and carry no delay.
    Namespaces {
        /// Whether the kernel has netem.
        netem: bool,
    },
}

/// What the run's links must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    /// Some link is asked for at all (`--rtt`, `--bandwidth` or a region).
    pub links: bool,
    /// Some link adds delay.
    pub delay: bool,
}

/// The topology for `choice` on `environment`, and a sentence on why; or why `choice` cannot
/// be had here.
pub fn choose(
    choice: LinksChoice,
    environment: &Environment,
    needs: Needs,
) -> Result<(Topology, String), String> {
    let namespaces_can = environment.namespaces && (environment.netem || !needs.delay);
    let namespaces = Topology::Namespaces { netem: environment.netem };
    match choice {
        LinksChoice::Namespaces if namespaces_can => {
            Ok((namespaces, "network namespaces, as --links namespaces asked".to_owned()))
        }
        LinksChoice::Namespaces if !environment.namespaces => {
            Err("--links namespaces: this process cannot make network namespaces (needs root and \
             iproute2's ip and tc)"
                .to_owned())
        }
        LinksChoice::Namespaces => {
            Err("--links namespaces: this kernel has no netem (sch_netem), so namespaces can pace \
             bandwidth but not add delay; drop --rtt and region delays, or use --links in-process"
                .to_owned())
        }
        _ if !needs.links => {
            Ok((Topology::Loopback, "plain loopback: no link was asked for".to_owned()))
        }
        LinksChoice::Auto if namespaces_can => Ok((
            namespaces,
            "network namespaces: root, iproute2 and the kernel can shape these links".to_owned(),
        )),
        LinksChoice::Auto => Ok((
            Topology::InProcess,
            if environment.namespaces {
                "in-process link emulator: this kernel has no netem (sch_netem) to add delay"
            } else {
                "in-process link emulator: no network namespaces here (they need root and \
                 iproute2)"
            }
            .to_owned(),
        )),
        LinksChoice::InProcess => Ok((
            Topology::InProcess,
            "in-process link emulator, as --links in-process asked".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(namespaces: bool, netem: bool) -> Environment {
        Environment {
            loopback_hosts: true,
            ipv6_loopback: true,
            net_admin: namespaces,
            iproute2: true,
            namespaces,
            netem,
            cpus: 2,
        }
    }

    const DELAY: Needs = Needs { links: true, delay: true };
    const BANDWIDTH: Needs = Needs { links: true, delay: false };
    const NOTHING: Needs = Needs { links: false, delay: false };

    #[test]
    fn auto_takes_namespaces_where_they_can_shape_the_links() {
        let full = machine(true, true);
        assert_eq!(
            choose(LinksChoice::Auto, &full, DELAY).unwrap().0,
            Topology::Namespaces { netem: true }
        );
        let no_netem = machine(true, false);
        assert_eq!(
            choose(LinksChoice::Auto, &no_netem, BANDWIDTH).unwrap().0,
            Topology::Namespaces { netem: false }
        );
        let (topology, why) = choose(LinksChoice::Auto, &no_netem, DELAY).unwrap();
        assert_eq!(topology, Topology::InProcess);
        assert!(why.contains("no netem"), "{why}");
        let (topology, why) = choose(LinksChoice::Auto, &machine(false, false), DELAY).unwrap();
        assert_eq!(topology, Topology::InProcess);
        assert!(why.contains("need root"), "{why}");
    }

    #[test]
    fn no_links_asked_is_plain_loopback_unless_namespaces_are_asked_for() {
        let full = machine(true, true);
        assert_eq!(choose(LinksChoice::Auto, &full, NOTHING).unwrap().0, Topology::Loopback);
        assert_eq!(choose(LinksChoice::InProcess, &full, NOTHING).unwrap().0, Topology::Loopback);
        assert_eq!(
            choose(LinksChoice::Namespaces, &machine(true, false), NOTHING).unwrap().0,
            Topology::Namespaces { netem: false }
        );
    }

    #[test]
    fn asking_for_namespaces_that_cannot_be_had_is_an_error_saying_why() {
        let error = choose(LinksChoice::Namespaces, &machine(false, false), NOTHING).unwrap_err();
        assert!(error.contains("cannot make network namespaces"), "{error}");
        let error = choose(LinksChoice::Namespaces, &machine(true, false), DELAY).unwrap_err();
        assert!(error.contains("no netem"), "{error}");
        assert_eq!(
            choose(LinksChoice::InProcess, &machine(true, true), DELAY).unwrap().0,
            Topology::InProcess
        );
    }

    #[test]
    fn parses_the_flag() {
        assert_eq!("auto".parse(), Ok(LinksChoice::Auto));
        assert_eq!("namespaces".parse(), Ok(LinksChoice::Namespaces));
        assert_eq!("in-process".parse(), Ok(LinksChoice::InProcess));
        assert!("fast".parse::<LinksChoice>().is_err());
    }
}
