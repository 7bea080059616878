//! Which members of a collection changed, so a primary can send its replicas
//! the new state of those members instead of the whole value (an HSET on a
//! hash of a million fields sends one field).
//!
//! A log is started by the shard when a tracked key is opened for change
//! (`EntryMut`), filled by the collection's own mutators, and taken when the
//! changes are encoded. It is bounded: past [`MAX_LOGGED`] members, or when
//! most of the value changed, the whole value is sent instead.

/// Most members remembered before the log gives up (and the value is sent).
pub const MAX_LOGGED: usize = 4096;

#[derive(Clone, Debug, Default)]
pub struct MemberLog(Option<Box<State>>);

#[derive(Clone, Debug)]
enum State {
    Members(Vec<Box<[u8]>>),
    /// Too many to remember: send the value.
    Overflow,
}

/// What the log says about the changes since it started.
#[derive(Debug, PartialEq, Eq)]
pub enum Logged {
    /// No log was running: send the whole value.
    Off,
    Overflow,
    Members(Vec<Box<[u8]>>),
}

impl MemberLog {
    /// Starts logging, unless already logging.
    pub fn start(&mut self) {
        if self.0.is_none() {
            self.0 = Some(Box::new(State::Members(Vec::new())));
        }
    }

    /// Records that `member` changed (was set, changed or removed).
    pub fn note(&mut self, member: &[u8]) {
        if let Some(state) = self.0.as_deref_mut() {
            if let State::Members(v) = state {
                if v.len() >= MAX_LOGGED {
                    *state = State::Overflow;
                } else {
                    v.push(member.into());
                }
            }
        }
    }

    /// Records that the whole value changed (a conversion, a clear).
    pub fn note_all(&mut self) {
        if let Some(state) = self.0.as_deref_mut() {
            *state = State::Overflow;
        }
    }

    /// Stops logging and returns what was logged.
    pub fn take(&mut self) -> Logged {
        match self.0.take().map(|b| *b) {
            None => Logged::Off,
            Some(State::Overflow) => Logged::Overflow,
            Some(State::Members(mut v)) => {
                v.sort_unstable();
                v.dedup();
                Logged::Members(v)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_members_once_and_overflows() {
        let mut l = MemberLog::default();
        l.note(b"ignored");
        assert_eq!(l.take(), Logged::Off);
        l.start();
        l.note(b"b");
        l.note(b"a");
        l.note(b"b");
        assert_eq!(
            l.take(),
            Logged::Members(vec![Box::from(&b"a"[..]), Box::from(&b"b"[..])])
        );
        l.start();
        for i in 0..=MAX_LOGGED {
            l.note(i.to_string().as_bytes());
        }
        assert_eq!(l.take(), Logged::Overflow);
    }
}

/// Most bytes of pushed elements a list log keeps before giving up.
pub const MAX_LOGGED_BYTES: usize = 1 << 20;

/// A list end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Head,
    Tail,
}

/// One change at a list end, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListOp {
    Push(End, Box<[u8]>),
    /// Consecutive pops at one end, counted.
    Pop(End, usize),
}

/// Pushes and pops at a list's ends since replication last took them, so a
/// push onto a long list sends the element; any other change (LSET, LINSERT
/// in the middle, LREM, LTRIM) sends the list.
#[derive(Clone, Debug, Default)]
pub struct ListLog(Option<Box<ListState>>);

#[derive(Clone, Debug)]
enum ListState {
    Ops { ops: Vec<ListOp>, bytes: usize },
    Whole,
}

/// What a list log says.
#[derive(Debug, PartialEq, Eq)]
pub enum ListLogged {
    Off,
    Whole,
    Ops(Vec<ListOp>),
}

impl ListLog {
    pub fn start(&mut self) {
        if self.0.is_none() {
            self.0 = Some(Box::new(ListState::Ops {
                ops: Vec::new(),
                bytes: 0,
            }));
        }
    }

    pub fn push(&mut self, end: End, v: &[u8]) {
        if let Some(state) = self.0.as_deref_mut() {
            if let ListState::Ops { ops, bytes } = state {
                *bytes += v.len() + 16;
                if *bytes > MAX_LOGGED_BYTES || ops.len() >= MAX_LOGGED {
                    *state = ListState::Whole;
                } else {
                    ops.push(ListOp::Push(end, v.into()));
                }
            }
        }
    }

    pub fn pop(&mut self, end: End) {
        if let Some(state) = self.0.as_deref_mut() {
            if let ListState::Ops { ops, .. } = state {
                let full = ops.len() >= MAX_LOGGED;
                match ops.last_mut() {
                    Some(ListOp::Pop(e, n)) if *e == end => *n += 1,
                    _ if full => *state = ListState::Whole,
                    _ => ops.push(ListOp::Pop(end, 1)),
                }
            }
        }
    }

    /// A change that is not at an end: the whole list must go.
    pub fn other(&mut self) {
        if let Some(state) = self.0.as_deref_mut() {
            *state = ListState::Whole;
        }
    }

    pub fn take(&mut self) -> ListLogged {
        match self.0.take().map(|b| *b) {
            None => ListLogged::Off,
            Some(ListState::Whole) => ListLogged::Whole,
            Some(ListState::Ops { ops, .. }) => ListLogged::Ops(ops),
        }
    }
}
