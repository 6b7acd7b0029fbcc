//! Where each recorded message sits on the replay timeline. Within a section (a
//! header and the messages after it) a message sits `offset_us` after the section's
//! first one; a new section (the next file, or a header met inside a concatenated
//! file) starts where the previous one ended, so sections follow each other without a
//! gap and without overlapping. Both of replay's passes feed the same lines through a
//! `Timeline`, so they agree on every position.

/// A message whose `offset_us` is before the previous message's in its section.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "offset_us {offset} is before the previous message's ({previous}); lines must be in time order"
)]
pub struct Backwards {
    pub offset: u64,
    pub previous: u64,
}

/// The position (µs from the start of the replay timeline) of each message as it comes.
#[derive(Clone, Debug, Default)]
pub struct Timeline {
    /// Where the current section starts.
    base: u64,
    /// The current section's first and latest offsets.
    first: Option<u64>,
    latest: u64,
    /// The position of the latest message of any section.
    end: u64,
}

impl Timeline {
    pub fn new() -> Timeline {
        Timeline::default()
    }

    /// A header: the next message starts a section at the end of the timeline so far.
    pub fn section(&mut self) {
        self.base = self.end;
        self.first = None;
    }

    /// The position of a message with this `offset_us`. A message that goes back in
    /// time is refused and leaves the timeline as it was.
    pub fn position(&mut self, offset: u64) -> Result<u64, Backwards> {
        let first = match self.first {
            Some(first) => {
                if offset < self.latest {
                    return Err(Backwards {
                        offset,
                        previous: self.latest,
                    });
                }
                first
            }
            None => {
                self.first = Some(offset);
                offset
            }
        };
        self.latest = offset;
        self.end = self.base + (offset - first);
        Ok(self.end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_follow_each_other() {
        let mut t = Timeline::new();
        t.section();
        assert_eq!(t.position(100), Ok(0));
        assert_eq!(t.position(600), Ok(500));
        assert_eq!(t.position(600), Ok(500));
        t.section();
        // A new section starts where the last one ended.
        assert_eq!(t.position(0), Ok(500));
        assert_eq!(t.position(250), Ok(750));
        assert_eq!(
            t.position(10),
            Err(Backwards {
                offset: 10,
                previous: 250
            })
        );
        // Refused lines change nothing.
        assert_eq!(t.position(300), Ok(800));
        // An empty section adds nothing.
        t.section();
        t.section();
        assert_eq!(t.position(7), Ok(800));
    }
}
