//! Path templates: `/api/users/42/orders/9f1c...` becomes `/api/users/{id}/orders/{id}`.

use std::borrow::Cow;

/// Whether a path segment looks like an object identifier (number, UUID, hex hash, e-mail...).
pub fn is_id_segment(seg: &str) -> bool {
    let b = seg.as_bytes();
    if b.is_empty() {
        return false;
    }
    if b.iter().all(u8::is_ascii_digit) {
        return true;
    }
    if b.len() >= 16 && b.iter().all(|c| c.is_ascii_hexdigit() || *c == b'-') {
        return true;
    }
    seg.contains('@')
}

/// The template of a path (without query). Borrowed when no segment is an id.
pub fn path_template(path: &str) -> Cow<'_, str> {
    if !path.split('/').any(is_id_segment) {
        return Cow::Borrowed(path);
    }
    let mut out = String::with_capacity(path.len());
    for (i, seg) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        if is_id_segment(seg) {
            out.push_str("{id}");
        } else {
            out.push_str(seg);
        }
    }
    Cow::Owned(out)
}
