//! Finding and killing everything the app started.
//!
//! The shim is a child subreaper (or PID 1), so every process the app leaves
//! behind is re-parented to the shim instead of escaping to the host's init.
//! That makes "all descendants of the shim" the complete set of processes to
//! stop, including ones that moved to another process group or session.

use std::collections::HashMap;
use std::fs;

use nix::errno::Errno;
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

/// Rounds of scan-and-kill; a process forked between a scan and the kill of
/// its parent is caught by the next round.
const KILL_ROUNDS: usize = 20;

/// Pid, state letter and parent pid from the text of `/proc/PID/stat`.
pub fn parse_stat(stat: &str) -> Option<(i32, char, i32)> {
    // The command name sits in parentheses and may itself contain spaces and
    // parentheses, so split at the last `)`.
    let open = stat.find(" (")?;
    let close = stat.rfind(')')?;
    let pid = stat[..open].trim().parse().ok()?;
    let mut rest = stat.get(close + 1..)?.split_ascii_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some((pid, state, ppid))
}

/// Pids of all descendants of `root` among `(pid, state, ppid)` entries,
/// skipping zombies (already dead; only reaping removes them).
pub fn live_descendants(root: i32, processes: &[(i32, char, i32)]) -> Vec<i32> {
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    let mut zombies = Vec::new();
    for &(pid, state, ppid) in processes {
        children.entry(ppid).or_default().push(pid);
        if state == 'Z' {
            zombies.push(pid);
        }
    }
    let mut found = Vec::new();
    let mut queue = vec![root];
    while let Some(parent) = queue.pop() {
        for &child in children.get(&parent).into_iter().flatten() {
            if child != root && !found.contains(&child) {
                found.push(child);
                queue.push(child);
            }
        }
    }
    found.retain(|pid| !zombies.contains(pid));
    found
}

/// Descendants of `root`, deepest first (children before their parent), as
/// PM2's `TreeKill` signals them: a parent that reacts to the signal by
/// signalling or reaping its children finds them already told.
pub fn deepest_first(root: i32, processes: &[(i32, char, i32)]) -> Vec<i32> {
    let mut depth: HashMap<i32, usize> = HashMap::from([(root, 0)]);
    let found = live_descendants(root, processes);
    let parent: HashMap<i32, i32> = processes
        .iter()
        .map(|&(pid, _, ppid)| (pid, ppid))
        .collect();
    fn depth_of(pid: i32, parent: &HashMap<i32, i32>, depth: &mut HashMap<i32, usize>) -> usize {
        if let Some(&d) = depth.get(&pid) {
            return d;
        }
        // Only called for descendants of root, so the chain ends at root.
        let d = parent
            .get(&pid)
            .map_or(0, |&pp| depth_of(pp, parent, depth) + 1);
        depth.insert(pid, d);
        d
    }
    let mut ordered: Vec<(usize, i32)> = found
        .into_iter()
        .map(|pid| (depth_of(pid, &parent, &mut depth), pid))
        .collect();
    ordered.sort_by_key(|&(depth, _)| std::cmp::Reverse(depth));
    ordered.into_iter().map(|(_, pid)| pid).collect()
}

/// Every process currently listed in `/proc`.
pub fn scan_proc() -> Vec<(i32, char, i32)> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
        .filter_map(|e| fs::read_to_string(e.path().join("stat")).ok())
        .filter_map(|stat| parse_stat(&stat))
        .collect()
}

/// PM2's stop signal. `treekill` (PM2's default): every live descendant of
/// the shim, deepest first, so processes the app started get the chance to
/// clean up too; the app itself, one level below the shim, comes last among
/// them. Without it: the app's main process only. The result is the app's.
pub fn signal_tree(app: Pid, signal: Signal, treekill: bool) -> nix::Result<()> {
    if !treekill {
        return kill(app, signal);
    }
    let me = std::process::id() as i32;
    let mut app_signalled = false;
    let mut result = Ok(());
    for pid in deepest_first(me, &scan_proc()) {
        let outcome = kill(Pid::from_raw(pid), signal);
        if pid == app.as_raw() {
            app_signalled = true;
            result = outcome;
        }
    }
    // The scan can miss the app only if it is already gone, or /proc is
    // unreadable; signal it directly either way.
    if !app_signalled {
        result = kill(app, signal);
    }
    result
}

/// SIGKILLs the app's process group and every live descendant of the shim.
pub fn kill_all(app_group: Pid) {
    match killpg(app_group, Signal::SIGKILL) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(e) => crate::log(&format!("cannot kill process group {app_group}: {e}")),
    }
    let me = std::process::id() as i32;
    for _ in 0..KILL_ROUNDS {
        let targets = live_descendants(me, &scan_proc());
        if targets.is_empty() {
            return;
        }
        for pid in targets {
            // ESRCH: it exited in the meantime, which is what we want.
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_lines_with_awkward_names() {
        assert_eq!(
            parse_stat("1234 (node) S 1 1234 1234 0 -1 4194560 1 0 0 0"),
            Some((1234, 'S', 1))
        );
        assert_eq!(
            parse_stat("77 (a) (b c)) Z 76 77 77 0 -1"),
            Some((77, 'Z', 76))
        );
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("12 (x)"), None);
    }

    #[test]
    fn descendants_include_grandchildren_but_not_zombies_or_strangers() {
        let processes = [
            (1, 'S', 0),
            (10, 'S', 1),  // the shim
            (11, 'S', 10), // the app
            (12, 'S', 11), // app child
            (13, 'S', 12), // grandchild in another session, still below us
            (14, 'Z', 10), // a zombie waiting to be reaped
            (20, 'S', 1),  // unrelated
            (21, 'S', 20),
        ];
        let mut found = live_descendants(10, &processes);
        found.sort();
        assert_eq!(found, [11, 12, 13]);
        assert!(live_descendants(13, &processes).is_empty());
    }

    #[test]
    fn deepest_first_puts_children_before_parents() {
        let processes = [
            (10, 'S', 1),  // the shim
            (11, 'S', 10), // the app
            (12, 'S', 11),
            (13, 'S', 12),
            (14, 'S', 11),
            (15, 'S', 10), // an orphan re-parented to the shim
            (16, 'Z', 13),
        ];
        let order = deepest_first(10, &processes);
        let at = |pid| order.iter().position(|&p| p == pid).expect("listed");
        assert_eq!(order.len(), 5, "{order:?}");
        assert_eq!(order[0], 13, "the deepest first: {order:?}");
        assert!(at(12) < at(11) && at(14) < at(11), "{order:?}");
        assert!(!order.contains(&16), "zombies are skipped");
    }

    #[test]
    fn scan_sees_this_process() {
        let me = std::process::id() as i32;
        assert!(scan_proc().iter().any(|&(pid, _, _)| pid == me));
    }
}
