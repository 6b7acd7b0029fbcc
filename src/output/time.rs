//! Local time for `%I`, `%U`, `@`-strftime and the JSON `tst`, as mosquitto_sub
//! computes it (`localtime` + `strftime` in the C locale, the process TZ deciding),
//! rendered once per second and reused for every message within that second.

use std::ffi::CStr;
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the epoch (may be negative) and nanoseconds within the second.
pub(crate) fn split(t: SystemTime) -> (i64, u32) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
        Err(e) => {
            let d = e.duration();
            let (s, n) = (d.as_secs() as i64, d.subsec_nanos());
            if n == 0 {
                (-s, 0)
            } else {
                (-s - 1, 1_000_000_000 - n)
            }
        }
    }
}

/// `strftime(buf, 100, fmt, tm)` as mosquitto calls it: a 100-byte buffer, and
/// nothing at all when the result does not fit (strftime returns 0).
pub(crate) fn strftime(fmt: &CStr, tm: &libc::tm, out: &mut Vec<u8>) {
    out.clear();
    let mut buf = [0u8; 100];
    // SAFETY: `buf` is writable for its full length, `fmt` is NUL-terminated and `tm`
    // is a valid broken-down time from localtime_r.
    let n = unsafe {
        libc::strftime(
            buf.as_mut_ptr().cast::<libc::c_char>(),
            buf.len(),
            fmt.as_ptr(),
            tm,
        )
    };
    out.extend_from_slice(&buf[..n]);
}

/// Which renderings a format needs each second.
#[derive(Clone, Debug, Default)]
pub(crate) struct Needs {
    /// The JSON `tst` template.
    pub tst: bool,
    /// `%I`.
    pub iso: bool,
    /// `@c` conversions, one slot each.
    pub strftime: Vec<u8>,
}

/// The renderings of the current second.
pub(crate) struct Clock {
    needs: Needs,
    /// The second these renderings are for; `None` before the first message.
    sec: Option<i64>,
    /// `strftime("%Y-%m-%dT%H:%M:%S.000000%z")`: mosquitto 2.1's `format_time_8601`
    /// writes the microseconds over bytes 20..26 of this.
    pub tst: Vec<u8>,
    /// `strftime("%FT%T%z")` for `%I`.
    pub iso: Vec<u8>,
    /// One rendering per `@c` slot.
    pub strftime: Vec<Vec<u8>>,
    /// Break times down in UTC instead of the process zone (tests only: golden
    /// strings without touching the process environment).
    pub utc: bool,
}

impl Clock {
    pub fn new(needs: Needs) -> Clock {
        if needs.tst || needs.iso || !needs.strftime.is_empty() {
            // localtime_r need not read TZ itself (POSIX); mosquitto's localtime does.
            // SAFETY: tzset only reads the environment and sets libc's zone globals.
            unsafe { tzset() };
        }
        let slots = needs.strftime.len();
        Clock {
            needs,
            sec: None,
            tst: Vec::new(),
            iso: Vec::new(),
            strftime: vec![Vec::new(); slots],
            utc: false,
        }
    }

    /// Brings the renderings up to date for second `sec`.
    pub fn at(&mut self, sec: i64) {
        if self.sec == Some(sec) {
            return;
        }
        let t = sec as libc::time_t;
        // SAFETY: an all-zero `tm` is a valid value (integers and a null zone name);
        // localtime_r only writes into it.
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        // SAFETY: both pointers are valid for the call.
        let ok = !unsafe {
            if self.utc {
                libc::gmtime_r(&t, &mut tm)
            } else {
                libc::localtime_r(&t, &mut tm)
            }
        }
        .is_null();
        if !ok {
            // mosquitto prints "Error obtaining system time." and nothing; a time
            // outside the C library's range renders as empty fields here.
            self.tst.clear();
            self.iso.clear();
            self.strftime.iter_mut().for_each(Vec::clear);
            self.sec = Some(sec);
            return;
        }
        if self.needs.tst {
            strftime(c"%Y-%m-%dT%H:%M:%S.000000%z", &tm, &mut self.tst);
        }
        if self.needs.iso {
            strftime(c"%FT%T%z", &tm, &mut self.iso);
        }
        for (slot, &ch) in self.strftime.iter_mut().zip(&self.needs.strftime) {
            let fmt = [b'%', ch, 0];
            let fmt = CStr::from_bytes_with_nul(&fmt).unwrap_or(c"");
            strftime(fmt, &tm, slot);
        }
        self.sec = Some(sec);
    }
}

unsafe extern "C" {
    /// POSIX `tzset` (not exported by the libc crate on every target).
    fn tzset();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn split_before_and_after_the_epoch() {
        let t = UNIX_EPOCH + Duration::new(5, 7);
        assert_eq!(split(t), (5, 7));
        let t = UNIX_EPOCH - Duration::new(5, 7);
        assert_eq!(split(t), (-6, 999_999_993));
        let t = UNIX_EPOCH - Duration::new(5, 0);
        assert_eq!(split(t), (-5, 0));
    }

    #[test]
    fn strftime_result_that_does_not_fit_is_empty() {
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        tm.tm_year = 126;
        let mut out = Vec::new();
        strftime(c"%Y", &tm, &mut out);
        assert_eq!(out, b"2026");
        // 120 bytes cannot fit mosquitto's 100-byte buffer.
        let long = std::ffi::CString::new("x".repeat(120)).unwrap();
        strftime(&long, &tm, &mut out);
        assert!(out.is_empty());
    }
}
