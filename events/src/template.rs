//! Templates: how a step's input, and a workflow's output, take data from the run's input and
//! from the outputs of the steps before it.
//!
//! Every string value of a template is scanned left to right: `\{{` writes `{{`, and
//! `{{ REF }}` is a reference (spaces, tabs and newlines around `REF` are allowed); any other
//! character, `\` included, is itself. `REF` is `run.input` or `steps.<id>.output`, then any
//! number of `.segment`s (`[A-Za-z0-9_-]+`); a decimal segment indexes an array and is a key
//! of an object. A string that is one reference and nothing else becomes the referenced JSON
//! value; otherwise each reference is replaced by its text (a string as it is, anything else
//! as compact JSON). Object keys are never templates.

use serde_json::Value;

/// What a reference reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    RunInput,
    /// The output of the step with this id.
    StepOutput(String),
}

/// One `{{ … }}`: its source, the path into it, and how it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub source: Source,
    pub path: Vec<String>,
    /// The reference as written, without the braces and spaces: what an error names.
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Reference(Reference),
}

/// A parsed template string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("a `{{{{` is not closed by `}}}}` (write `\\{{{{` for the characters themselves)")]
    Unclosed,
    #[error("`{{{{ }}}}` names nothing")]
    Empty,
    #[error("a `{{{{` inside a reference")]
    Nested,
    #[error("`{0}` is not a reference: write run.input or steps.<id>.output, then .key or .index as needed")]
    BadPath(String),
}

/// Why a template could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// The reference names a key, an index or a step output that is not there.
    #[error("input_reference_missing: {0}")]
    Missing(String),
    /// A string that is not a template (only a definition from before templates could be one).
    #[error("input_invalid: {0}")]
    Invalid(TemplateError),
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n')
}

/// Whether `segment` may be a segment of a path, or a step id that references can name.
pub fn is_segment(segment: &str) -> bool {
    !segment.is_empty() && segment.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn reference(text: &str) -> Result<Reference, TemplateError> {
    let segments: Vec<&str> = text.split('.').collect();
    let bad = || TemplateError::BadPath(text.to_owned());
    if !segments.iter().all(|segment| is_segment(segment)) {
        return Err(bad());
    }
    let owned = |path: &[&str]| path.iter().map(|segment| segment.to_string()).collect();
    let (source, path) = match segments.as_slice() {
        ["run", "input", path @ ..] => (Source::RunInput, owned(path)),
        ["steps", step, "output", path @ ..] => (Source::StepOutput(step.to_string()), owned(path)),
        _ => return Err(bad()),
    };
    Ok(Reference { source, path, text: text.to_owned() })
}

impl Template {
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut at = 0;
        while at < text.len() {
            let rest = &text[at..];
            if rest.starts_with("\\{{") {
                literal.push_str("{{");
                at += 3;
            } else if let Some(after) = rest.strip_prefix("{{") {
                let close = after.find("}}").ok_or(TemplateError::Unclosed)?;
                let inner = &after[..close];
                if inner.contains("{{") {
                    return Err(TemplateError::Nested);
                }
                let inner = inner.trim_matches(is_space);
                if inner.is_empty() {
                    return Err(TemplateError::Empty);
                }
                if !literal.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut literal)));
                }
                pieces.push(Piece::Reference(reference(inner)?));
                at += 2 + close + 2;
            } else {
                let c = rest.chars().next().expect("not at the end");
                literal.push(c);
                at += c.len_utf8();
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Ok(Template { pieces })
    }

    pub fn references(&self) -> impl Iterator<Item = &Reference> {
        self.pieces.iter().filter_map(|piece| match piece {
            Piece::Reference(reference) => Some(reference),
            Piece::Text(_) => None,
        })
    }

    /// The value this template stands for, each reference read with `read`.
    fn render<'v>(&self, read: &impl Fn(&Reference) -> Option<&'v Value>) -> Result<Value, ResolveError> {
        let value_of =
            |reference: &Reference| read(reference).ok_or_else(|| ResolveError::Missing(reference.text.clone()));
        if let [Piece::Reference(only)] = self.pieces.as_slice() {
            return value_of(only).cloned();
        }
        let mut text = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(literal) => text.push_str(literal),
                Piece::Reference(reference) => match value_of(reference)? {
                    Value::String(string) => text.push_str(string),
                    other => text.push_str(&other.to_string()),
                },
            }
        }
        Ok(Value::String(text))
    }
}

/// The value at `path` inside `root`: `None` for a missing key, an index out of range, or a
/// step into a scalar. A present `null` is `Some(Null)`.
pub fn at<'v>(root: &'v Value, path: &[String]) -> Option<&'v Value> {
    path.iter().try_fold(root, |value, segment| match value {
        Value::Object(fields) => fields.get(segment),
        Value::Array(items)
            if segment == "0" || (!segment.starts_with('0') && segment.bytes().all(|b| b.is_ascii_digit())) =>
        {
            items.get(segment.parse::<usize>().ok()?)
        }
        _ => None,
    })
}

/// Every reference in the strings of `value`, at any depth; or the JSON pointer (below
/// `pointer`) of the first string that is not a template, and why.
pub fn references(value: &Value, pointer: &str) -> Result<Vec<Reference>, (String, TemplateError)> {
    let mut found = Vec::new();
    walk(value, pointer, &mut |string, pointer| {
        let template = Template::parse(string).map_err(|error| (pointer.to_owned(), error))?;
        found.extend(template.references().cloned());
        Ok(())
    })?;
    Ok(found)
}

fn walk<E>(value: &Value, pointer: &str, visit: &mut impl FnMut(&str, &str) -> Result<(), E>) -> Result<(), E> {
    match value {
        Value::String(string) => visit(string, pointer),
        Value::Array(items) => {
            items.iter().enumerate().try_for_each(|(index, item)| walk(item, &format!("{pointer}/{index}"), visit))
        }
        Value::Object(fields) => fields.iter().try_for_each(|(key, field)| {
            let key = key.replace('~', "~0").replace('/', "~1");
            walk(field, &format!("{pointer}/{key}"), visit)
        }),
        _ => Ok(()),
    }
}

/// `template` with every string resolved: references read with `read`, which gives the value a
/// reference's source holds (the run's input, or a step's output).
pub fn resolve<'v>(template: &Value, read: &impl Fn(&Source) -> Option<&'v Value>) -> Result<Value, ResolveError> {
    let read = |reference: &Reference| at(read(&reference.source)?, &reference.path);
    resolve_with(template, &read)
}

fn resolve_with<'v>(template: &Value, read: &impl Fn(&Reference) -> Option<&'v Value>) -> Result<Value, ResolveError> {
    Ok(match template {
        Value::String(string) => Template::parse(string).map_err(ResolveError::Invalid)?.render(read)?,
        Value::Array(items) => {
            Value::Array(items.iter().map(|item| resolve_with(item, read)).collect::<Result<_, _>>()?)
        }
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(key, field)| Ok((key.clone(), resolve_with(field, read)?)))
                .collect::<Result<_, ResolveError>>()?,
        ),
        other => other.clone(),
    })
}

/// `value` as a template that means what it says: every `{{` in its strings escaped. For
/// definitions written before templates, whose inputs were taken literally.
pub fn escape(value: &mut Value) {
    match value {
        Value::String(string) if string.contains("{{") => *string = string.replace("{{", "\\{{"),
        Value::Array(items) => items.iter_mut().for_each(escape),
        Value::Object(fields) => fields.values_mut().for_each(escape),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run(template: Value, input: Value, outputs: &[(&str, Value)]) -> Result<Value, ResolveError> {
        resolve(&template, &|source: &Source| match source {
            Source::RunInput => Some(&input),
            Source::StepOutput(step) => outputs.iter().find(|(id, _)| id == step).map(|(_, output)| output),
        })
    }

    #[test]
    fn a_whole_reference_is_its_value_and_an_embedded_one_its_text() {
        let fetched = json!({"items": [{"url": "https://a.example", "n": 3}], "none": null});
        let input = json!({"topic": "otters", "depth": 2});
        let template = json!({
            "url": "{{ steps.fetch.output.items.0.url }}",
            "all": "{{steps.fetch.output}}",
            "nothing": "{{ steps.fetch.output.none }}",
            "say": "read {{ steps.fetch.output.items.0.url }} on {{ run.input.topic }} ({{ run.input.depth }}, {{steps.fetch.output.none}})",
            "nested": ["{{ run.input.depth }}", {"deep": "{{ run.input }}"}],
            "kept": 7,
        });
        let resolved = run(template, input.clone(), &[("fetch", fetched.clone())]).unwrap();
        assert_eq!(
            resolved,
            json!({
                "url": "https://a.example",
                "all": fetched,
                "nothing": null,
                "say": "read https://a.example on otters (2, null)",
                "nested": [2, {"deep": input}],
                "kept": 7,
            })
        );
        let embedded = run(json!("{{ run.input }}!"), json!({"b": 1, "a": [true]}), &[]).unwrap();
        assert_eq!(embedded, json!(r#"{"a":[true],"b":1}!"#));
    }

    #[test]
    fn escapes_and_lone_braces_are_text() {
        assert_eq!(
            run(json!(r"\{{ run.input }} }} {x} \n"), json!(1), &[]).unwrap(),
            json!(r"{{ run.input }} }} {x} \n")
        );
        assert_eq!(run(json!(r"\\{{run.input}}"), json!(1), &[]).unwrap(), json!(r"\{{run.input}}"));
    }

    #[test]
    fn what_is_not_there_is_missing_and_a_present_null_is_not() {
        let output = json!({"list": [1, 2], "obj": {"0": "zero"}, "s": "text"});
        for path in [
            "steps.a.output.list.2",
            "steps.a.output.gone",
            "steps.a.output.s.x",
            "steps.a.output.list.01",
            "steps.b.output",
        ] {
            let missing = run(json!(format!("{{{{ {path} }}}}")), json!(null), &[("a", output.clone())]);
            assert_eq!(missing, Err(ResolveError::Missing(path.to_owned())), "{path}");
        }
        assert_eq!(
            run(json!("{{ steps.a.output.obj.0 }}"), json!(null), &[("a", output.clone())]).unwrap(),
            json!("zero")
        );
        assert_eq!(run(json!("{{ run.input }}"), json!(null), &[]).unwrap(), json!(null));
    }

    #[test]
    fn malformed_templates_are_named() {
        for (text, error) in [
            ("{{ run.input", TemplateError::Unclosed),
            ("{{}}", TemplateError::Empty),
            ("{{ \t\n }}", TemplateError::Empty),
            ("{{ run.input {{ x }} }}", TemplateError::Nested),
            ("{{ run.output }}", TemplateError::BadPath("run.output".into())),
            ("{{ steps.a }}", TemplateError::BadPath("steps.a".into())),
            ("{{ steps.a.output..x }}", TemplateError::BadPath("steps.a.output..x".into())),
            ("{{ steps.a b.output }}", TemplateError::BadPath("steps.a b.output".into())),
            ("{{ run.input.[0] }}", TemplateError::BadPath("run.input.[0]".into())),
        ] {
            assert_eq!(Template::parse(text), Err(error), "{text}");
        }
        let found = references(&json!({"a": ["ok", "{{ run.input"]}), "/input").unwrap_err();
        assert_eq!(found, ("/input/a/1".to_owned(), TemplateError::Unclosed));
    }

    #[test]
    fn an_escaped_literal_reads_as_it_was_written() {
        for text in ["{{ not a template }}", r"\{{ x }}", "plain", "{{", "a {{b}} c {{"] {
            let mut value = json!({"prompt": text, "list": [text]});
            escape(&mut value);
            assert!(references(&value, "").unwrap().is_empty(), "{text}");
            assert_eq!(run(value, json!(null), &[]).unwrap(), json!({"prompt": text, "list": [text]}), "{text}");
        }
    }
}
