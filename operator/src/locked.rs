//! A mutex that stays usable after a panic elsewhere, for the operator's
//! small shared state (the controller's caches, metrics bookkeeping, health,
//! the Lease fence). Each use changes it in one step, so a holder that
//! panicked cannot have left it half-written, and refusing every later
//! reconcile, scrape or probe would be worse than carrying on.

use std::sync::{Mutex, MutexGuard, PoisonError};

#[derive(Debug, Default)]
pub struct Locked<T>(Mutex<T>);

impl<T> Locked<T> {
    pub fn new(value: T) -> Self {
        Locked(Mutex::new(value))
    }

    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn a_panic_while_holding_the_lock_does_not_lock_everyone_else_out() {
        let counts = Arc::new(Locked::<Vec<u32>>::default());
        let holder = counts.clone();
        let panicked = std::thread::spawn(move || {
            let mut held = holder.lock();
            held.push(1);
            panic!("a bug while holding the lock");
        })
        .join();
        assert!(panicked.is_err());
        counts.lock().push(2);
        assert_eq!(*counts.lock(), vec![1, 2]);
    }
}
