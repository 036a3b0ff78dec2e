//! Before the load: the grid directory that makes every report real work, and the report bodies.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use baoan_api::http;
use baoan_api::{Department, Directory, GridEntry, PersonId, ResolverEntry};
use hyper::Method;
use hyper::body::Bytes;

use crate::client::one_shot;
use crate::target::Endpoint;
use crate::{LoadError, LoadTarget};

/// Grids in the directory the set-up loads: enough that the directory is a district-sized piece
/// of organisation data (the real district has 4,866).
pub const DEFAULT_GRIDS: u32 = 500;

/// The grid every report is about: the one the inspector token's person inspects.
pub const REPORT_GRID: u32 = 0;

/// Item type of every report: 1, a fire lane obstructed (the fire department's), which the
/// stack turns into a task and dispatches to the community's fire resolver.
pub const REPORT_ITEM_TYPE: u16 = 1;

/// Grids per community and communities per street in the generated directory.
const GRIDS_PER_COMMUNITY: u32 = 25;
const COMMUNITIES_PER_STREET: u32 = 10;

/// Synthetic person ids of the other grids' inspectors and of the resolvers.
const OTHER_INSPECTOR_BASE: u32 = 7_000_001;
const RESOLVER_BASE: u32 = 8_000_001;

const SETUP_TIMEOUT: Duration = Duration::from_secs(60);

/// The JSON body of `POST /grid/load_directory`: `grids` grids, 25 to a community and 10
/// communities to a street, each grid's neighbours the grids before and after it; grid 0 is
/// inspected by `inspector_person`, the others by synthetic inspectors; one fire-department
/// resolver per community.
pub fn directory_body(grids: u32, inspector_person: u32) -> String {
    let grids = grids.max(1);
    let mut others = (OTHER_INSPECTOR_BASE..).filter(|&p| p != inspector_person);
    let mut resolver_ids = (RESOLVER_BASE..).filter(|&p| p != inspector_person);
    let entries = (0..grids)
        .map(|g| {
            let community = g / GRIDS_PER_COMMUNITY;
            GridEntry {
                grid: g,
                community,
                street: community / COMMUNITIES_PER_STREET,
                inspector: PersonId(if g == REPORT_GRID {
                    inspector_person
                } else {
                    others.next().expect("an unbounded range")
                }),
                neighbours: [g.checked_sub(1), Some(g + 1).filter(|&n| n < grids)]
                    .into_iter()
                    .flatten()
                    .collect(),
            }
        })
        .collect();
    let communities = grids.div_ceil(GRIDS_PER_COMMUNITY);
    let resolvers = (0..communities)
        .map(|c| ResolverEntry {
            person: PersonId(resolver_ids.next().expect("an unbounded range")),
            department: Department::Fire,
            community: c,
            street: c / COMMUNITIES_PER_STREET,
        })
        .collect();
    let directory = Directory {
        grids: entries,
        resolvers,
    };
    serde_json::json!({ "directory": directory }).to_string()
}

/// Prefix and suffix of a report body; the `report_ref` goes between them.
pub(crate) const REPORT_HEAD: &str = "{\"report_ref\":";

pub(crate) fn report_tail() -> String {
    format!(
        ",\"source\":\"inspector\",\"grid\":{REPORT_GRID},\"item_type\":{REPORT_ITEM_TYPE},\
         \"observed_at\":0,\"resolved_on_spot\":false}}"
    )
}

/// Reserves `n` consecutive report refs never handed out before by this process, nor (unless
/// another harness started in the same second) by another: the stack answers a repeated ref with
/// the first answer, which would be an echo rather than work.
pub(crate) fn reserve_refs(n: u64) -> u64 {
    static NEXT: OnceLock<AtomicU64> = OnceLock::new();
    NEXT.get_or_init(|| {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        // 2^32 refs per second of start time; fits u64 until 2106.
        AtomicU64::new((secs & 0x7fff_ffff) << 32)
    })
    .fetch_add(n, Ordering::Relaxed)
}

/// Where the admin loads the grid directory: `grid/load_directory`'s path (checked against the
/// api's by the tests; a `'static` path, as the client takes).
const LOAD_DIRECTORY: &str = "/grid/load_directory";

/// Loads the directory and checks with one report that the stack accepts the inspector's
/// reports. A server that already has reports keeps its directory (the stack refuses to replace
/// it): the check report then tells whether it still fits.
pub(crate) async fn prepare(
    target: &LoadTarget,
    endpoint: &Endpoint,
    grids: u32,
) -> Result<(), LoadError> {
    let body = Bytes::from(directory_body(grids, target.inspector_person));
    let (status, answer) = one_shot(
        endpoint,
        Method::POST,
        LOAD_DIRECTORY,
        Some(&target.admin_token),
        body,
        SETUP_TIMEOUT,
        "set-up: POST /grid/load_directory",
    )
    .await?;
    let text = String::from_utf8_lossy(&answer);
    let reused = status == 409 && text.contains("cannot be replaced once reports exist");
    if status != 200 && !reused {
        return Err(LoadError::SetupRejected {
            what: "POST /grid/load_directory (admin token)".into(),
            status,
            body: text.into_owned(),
        });
    }
    let probe = format!("{REPORT_HEAD}{}{}", reserve_refs(1), report_tail());
    let (status, answer) = one_shot(
        endpoint,
        Method::POST,
        http::REPORTS_ALIAS,
        Some(&target.inspector_token),
        Bytes::from(probe),
        SETUP_TIMEOUT,
        "set-up: check report",
    )
    .await?;
    let text = String::from_utf8_lossy(&answer);
    if status != 200 || !text.contains("report_accepted") {
        let why = if reused {
            "the server already had reports, so it kept its directory, in which the inspector \
             token's person does not inspect grid 0"
        } else {
            "the directory was loaded, but the inspector token's report was not accepted"
        };
        return Err(LoadError::SetupRejected {
            what: format!("POST /grid/reports, a check report for grid {REPORT_GRID} ({why})"),
            status,
            body: text.into_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_directory_goes_to_its_commands_path() {
        let path = baoan_api::http::path_of(baoan_api::Module::Grid, "load_directory");
        assert_eq!(LOAD_DIRECTORY, path);
    }

    #[test]
    fn the_directory_makes_the_inspector_grid_zeros_and_everyone_else_distinct() {
        let body = directory_body(60, OTHER_INSPECTOR_BASE + 1);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let grids = v["directory"]["grids"].as_array().unwrap();
        assert_eq!(grids.len(), 60);
        assert_eq!(grids[0]["inspector"], OTHER_INSPECTOR_BASE + 1);
        let mut people: Vec<u64> = grids
            .iter()
            .map(|g| g["inspector"].as_u64().unwrap())
            .chain(
                v["directory"]["resolvers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["person"].as_u64().unwrap()),
            )
            .collect();
        let n = people.len();
        people.sort();
        people.dedup();
        assert_eq!(people.len(), n, "a person appears twice");
        assert_eq!(grids[59]["community"], 2);
        assert_eq!(grids[59]["neighbours"], serde_json::json!([58]));
        assert_eq!(v["directory"]["resolvers"][2]["department"], "fire");
    }

    #[test]
    fn report_bodies_are_the_apis_submit_report() {
        let body = format!("{REPORT_HEAD}42{}", report_tail());
        let mut v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["type"] = "submit_report".into();
        let c: baoan_api::Command = serde_json::from_value(v).unwrap();
        assert_eq!(
            c,
            baoan_api::Command::SubmitReport {
                report_ref: 42,
                source: baoan_api::ReportSource::Inspector,
                grid: REPORT_GRID,
                item_type: REPORT_ITEM_TYPE,
                observed_at: 0,
                resolved_on_spot: false,
            }
        );
        let a = reserve_refs(10);
        assert!(reserve_refs(1) >= a + 10);
    }
}
