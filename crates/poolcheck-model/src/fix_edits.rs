//! Syntax-aware edits for quick fixes: rules say which argument, dict entry
//! or literal to change and these return the `Edit` that does it while
//! keeping the file's formatting, or `None` when the syntax around the span
//! is not what the fix expects (then no fix is offered rather than a wrong one).

pub use poolcheck_extract::python::edits::{
    add_keyword_argument, insert_dict_entries, insert_dict_entry, replace_literal,
    replace_string_content,
};
