use super::Event;

/// A group of events moving together through a channel.
///
/// `bytes` is the sum of the events' input sizes, kept so components can
/// account for bytes without walking the events.
#[derive(Debug, Default, Clone)]
pub struct Batch {
    pub(crate) events: Vec<Event>,
}

impl Batch {
    pub fn new(events: Vec<Event>) -> Self {
        Batch { events }
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    pub fn bytes(&self) -> u64 {
        self.events.iter().map(|e| u64::from(e.size)).sum()
    }
}

impl From<Vec<Event>> for Batch {
    fn from(events: Vec<Event>) -> Self {
        Batch { events }
    }
}
