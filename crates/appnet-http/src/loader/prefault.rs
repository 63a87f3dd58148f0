//! Readies the loader's process before a load's clock starts: its code mapped and a heap
//! arena touched, so the Page Load Time measures the network and the server, not the
//! loader's first brush with its own memory.
//!
//! Why: a fresh `appnet http load` took ~180 page faults inside the measured window (new
//! heap pages for each request's task and buffers, code run for the first time), and a page
//! fault costs ~3.7 µs on the virtual machines this is measured on (8 MiB touched page by
//! page: 7.7 ms) — about 0.7 ms of a 4 ms load of a 50-resource page. Asking the kernel to
//! fill the pages in one call (`MADV_POPULATE_*`, Linux 5.14) costs a fraction of that, before
//! the clock. A long-lived process (the lab) is warm anyway and need not call this.

/// Heap kept ready: a 50-resource page's load grows the heap by well under this.
const HEAP: usize = 4 << 20;

/// Maps the executable's code and readies a heap arena of [`HEAP`] bytes; best effort (an
/// older kernel or another allocator just leaves the faults where they were).
pub fn prepare() {
    populate_code();
    populate_heap();
}

/// `MADV_POPULATE_READ` over the executable's mapped code (from `/proc/self/maps`).
fn populate_code() {
    let (Ok(exe), Ok(maps)) =
        (std::fs::read_link("/proc/self/exe"), std::fs::read_to_string("/proc/self/maps"))
    else {
        return;
    };
    for line in maps.lines() {
        let mut fields = line.split_ascii_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else { continue };
        if !perms.contains('x') || fields.nth(3).map(std::path::Path::new) != Some(exe.as_path()) {
            continue;
        }
        let Some((start, end)) = range.split_once('-') else { continue };
        let (Ok(start), Ok(end)) =
            (usize::from_str_radix(start, 16), usize::from_str_radix(end, 16))
        else {
            continue;
        };
        // SAFETY: advice over a mapping of this process; POPULATE_READ only faults pages in.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_POPULATE_READ);
        }
    }
}

/// Has glibc keep freed memory rather than return it, serves blocks up to 8 MiB from the
/// heap, and grows the heap by [`HEAP`] with its pages filled in: the load's allocations then
/// land on pages that are already there.
///
/// Also turns glibc's fastbins off (`M_MXFAST` 0; small blocks still come from its
/// per-thread cache). Every request allocates blocks too large for them — its task, 0.8–2.4
/// KiB, its buffers — and glibc merges every fastbin block back into the heap before serving
/// such a block (`malloc_consolidate`). On a page of 2,000 images the loader spends 8–11 % less
/// CPU over h2 without them, and 1–12 % less in persistent mode (`perf stat` task-clock,
/// medians of 7–11 interleaved runs, four A/Bs each; this machine's CPU time itself moves).
#[cfg(target_env = "gnu")]
fn populate_heap() {
    // SAFETY: mallopt only tunes glibc's allocator; the block is ours until freed below.
    unsafe {
        libc::mallopt(libc::M_MXFAST, 0);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 8 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
        let block = libc::malloc(HEAP);
        if block.is_null() {
            return;
        }
        let page = 4096;
        let start = (block as usize).next_multiple_of(page);
        let end = (block as usize + HEAP) / page * page;
        if end > start {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_POPULATE_WRITE);
        }
        libc::free(block);
    }
}

#[cfg(not(target_env = "gnu"))]
fn populate_heap() {}

#[cfg(all(test, target_env = "gnu"))]
mod tests {
    /// Minor page faults this thread has taken so far.
    fn faults() -> i64 {
        // SAFETY: getrusage fills the struct it is given.
        unsafe {
            let mut usage: libc::rusage = std::mem::zeroed();
            libc::getrusage(libc::RUSAGE_THREAD, &mut usage);
            usage.ru_minflt
        }
    }

    #[test]
    fn after_it_allocations_land_on_pages_already_there() {
        // A thread of its own: its own allocator arena, its own fault count.
        let faulted = std::thread::spawn(|| {
            super::prepare();
            let before = faults();
            // 2 MiB in 2 KiB pieces, each written: 512 new pages if nothing was ready.
            let pieces: Vec<Vec<u8>> = (0..1024).map(|i| vec![i as u8; 2048]).collect();
            let faulted = faults() - before;
            std::hint::black_box(pieces);
            faulted
        })
        .join()
        .unwrap();
        assert!(faulted < 128, "{faulted} page faults for 512 pages of allocations");
    }

    #[test]
    fn after_it_freed_small_blocks_go_to_no_fastbin() {
        let in_fastbins = std::thread::spawn(|| {
            super::prepare();
            // SAFETY: mallinfo2 only reads the allocator's counters.
            let before = unsafe { libc::mallinfo2() }.fsmblks;
            // More than the per-thread cache keeps (7 a size): the rest would be fastbin
            // blocks, 48 bytes each.
            let blocks: Vec<Box<[u8; 40]>> = (0..200).map(|i| Box::new([i as u8; 40])).collect();
            drop(std::hint::black_box(blocks));
            // SAFETY: as above.
            unsafe { libc::mallinfo2() }.fsmblks.saturating_sub(before)
        })
        .join()
        .unwrap();
        assert_eq!(in_fastbins, 0, "{in_fastbins} bytes of freed blocks in fastbins");
    }
}
