//! `type = "filter"`: keeps the entries that match a Cloud Logging query,
//! e.g. `resource.type="k8s_container" AND severity>="INFO"`.

use serde::Deserialize;

use super::Transform;
use crate::component::FieldError;
use crate::component::TransformContext;
use crate::event::{Batch, Event, EventStatus};
use crate::logging_query::Query;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The query, in the Cloud Logging query language.
    pub(crate) query: String,
}

impl Config {
    /// The parsed query, which `build` uses as it is.
    pub(crate) fn validate(&self) -> Result<Query, Vec<FieldError>> {
        Query::parse(&self.query)
            .map_err(|e| vec![FieldError::new("query", format!("invalid query: {e}"))])
    }
}

pub(crate) struct Filter {
    query: Query,
}

impl Filter {
    pub(crate) fn new(query: Query) -> Self {
        Filter { query }
    }
}

impl Transform for Filter {
    fn process(&mut self, batch: Batch, out: &mut Vec<Event>, _cx: &mut TransformContext) {
        for e in batch.events {
            if self.query.matches(&e.log) {
                out.push(e);
            } else {
                e.finalize(EventStatus::Dropped);
            }
        }
    }
}
