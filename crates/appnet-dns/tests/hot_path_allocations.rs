//! The answer path allocates nothing per query: a counting global allocator watches the
//! authority answer a warmed-up mix of queries (answers, CNAME chains, wildcards, referrals,
//! NXDOMAIN, truncation, errors). Only the test's own thread is counted: libtest's other
//! threads allocate when they please (one did, four times, under a loaded CI run).

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use appnet_dns::authority::{Authority, Transport};
use domain::base::iana::Rtype;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Whether this thread's allocations are counted: a const-initialised `Cell`, so that
    /// reading it from inside the allocator allocates nothing.
    static COUNTED: Cell<bool> = const { Cell::new(false) };
}

fn count() {
    if COUNTED.try_with(Cell::get).unwrap_or(false) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn answering_allocates_nothing() {
    let source = std::fs::read_to_string(support::TEST_ZONE).unwrap();
    let zone = appnet_dns::zone::parse_str(&source, Path::new("z"), None).unwrap();
    let authority = Authority::new([Arc::new(zone)]);
    let queries: Vec<(Vec<u8>, Transport)> = [
        ("www.example.lab.", Rtype::A, true),
        ("WWW.example.lab.", Rtype::AAAA, false),
        ("chain.example.lab.", Rtype::A, true),
        ("x.old.example.lab.", Rtype::A, true),
        ("anything.wild.example.lab.", Rtype::A, true),
        ("host.child.example.lab.", Rtype::A, true),
        ("nope.example.lab.", Rtype::A, true),
        ("example.lab.", Rtype::MX, true),
        ("big.example.lab.", Rtype::TXT, false),
        ("www.other.test.", Rtype::A, true),
    ]
    .iter()
    .flat_map(|&(name, qtype, edns)| {
        let query = support::query(name, qtype, edns);
        [(query.clone(), Transport::Udp), (query, Transport::Tcp)]
    })
    .chain([(vec![0x12, 0x34, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0], Transport::Udp)])
    .collect();
    let mut out = Vec::with_capacity(65_535);
    for (query, transport) in &queries {
        authority.answer(query, *transport, &mut out);
    }
    COUNTED.with(|counted| counted.set(true));
    for _ in 0..100 {
        for (query, transport) in &queries {
            authority.answer(query, *transport, &mut out);
        }
    }
    COUNTED.with(|counted| counted.set(false));
    let allocations = ALLOCATIONS.load(Ordering::Relaxed);
    assert_eq!(allocations, 0, "{allocations} allocations in {} answers", 100 * queries.len());
}
