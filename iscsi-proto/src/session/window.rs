//! The CmdSN window (RFC 7143 §4.2.2.1): commands may be sent while CmdSN <= MaxCmdSN.

use crate::serial::Sn;

#[derive(Debug, Clone)]
pub(super) struct CmdWindow {
    /// CmdSN the next non-immediate command takes.
    next: Sn,
    expcmdsn: Sn,
    maxcmdsn: Sn,
}

impl CmdWindow {
    pub(super) fn new(next: u32, expcmdsn: u32, maxcmdsn: u32) -> CmdWindow {
        // Start closed (MaxCmdSN = ExpCmdSN - 1), then take the login's values if valid.
        let mut w = CmdWindow {
            next: Sn(next),
            expcmdsn: Sn(expcmdsn),
            maxcmdsn: Sn(expcmdsn.wrapping_sub(1)),
        };
        w.update(expcmdsn, maxcmdsn);
        w
    }

    /// The CmdSN immediate PDUs carry (they do not advance it).
    pub(super) fn next(&self) -> Sn {
        self.next
    }

    /// How many more commands the target admits now.
    pub(super) fn room(&self) -> u32 {
        if self.maxcmdsn.lt(self.next) {
            0
        } else {
            self.maxcmdsn.distance_from(self.next) + 1
        }
    }

    /// Takes a CmdSN for a non-immediate command, if the window is open.
    pub(super) fn take(&mut self) -> Option<Sn> {
        if self.room() == 0 {
            return None;
        }
        let sn = self.next;
        self.next = sn.next();
        Some(sn)
    }

    /// Applies the ExpCmdSN/MaxCmdSN a target PDU carries. Values that would shrink the window
    /// backwards, or an ExpCmdSN/MaxCmdSN pair more than one apart the wrong way, are ignored,
    /// as RFC 7143 requires.
    pub(super) fn update(&mut self, expcmdsn: u32, maxcmdsn: u32) {
        let (exp, max) = (Sn(expcmdsn), Sn(maxcmdsn));
        if max.lt(exp.plus(u32::MAX)) {
            // MaxCmdSN < ExpCmdSN - 1: invalid, ignore both.
            return;
        }
        if exp.gt(self.expcmdsn) {
            self.expcmdsn = exp;
        }
        if max.gt(self.maxcmdsn) {
            self.maxcmdsn = max;
        }
    }
}

#[cfg(test)]
mod tests;
