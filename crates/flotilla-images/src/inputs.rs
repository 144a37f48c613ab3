//! Which files a run reads: a folder (walked, PNG and JPEG files), a
//! pattern in its last part (`photos/*.png`), or one file.

use std::path::{Path, PathBuf};

use crate::error::ImagesError;

/// The image files `spec` names, sorted.
///
/// # Errors
///
/// [`ImagesError::Input`] when the folder or file cannot be read or
/// nothing matches.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("flotilla-inputs-doc-{}", std::process::id()));
/// std::fs::create_dir_all(dir.join("sub")).unwrap();
/// for f in ["a.png", "b.JPG", "notes.txt", "sub/c.jpeg"] {
///     std::fs::write(dir.join(f), b"").unwrap();
/// }
/// let all = flotilla_images::list_images(dir.to_str().unwrap()).unwrap();
/// assert_eq!(all.len(), 3);
/// let pngs = flotilla_images::list_images(&format!("{}/*.png", dir.display())).unwrap();
/// assert_eq!(pngs.len(), 1);
/// # std::fs::remove_dir_all(&dir).ok();
/// ```
pub fn list_images(spec: &str) -> Result<Vec<PathBuf>, ImagesError> {
    let bad = |reason: String| ImagesError::Input {
        input: spec.to_string(),
        reason,
    };
    let path = Path::new(spec);
    let mut found = Vec::new();
    if spec.contains(['*', '?']) {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let pattern = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| bad("the pattern has no file part".into()))?;
        if dir.to_string_lossy().contains(['*', '?']) {
            return Err(bad("only the last part of the path may hold * or ?".into()));
        }
        let entries = std::fs::read_dir(dir).map_err(|e| bad(format!("{}: {e}", dir.display())))?;
        for entry in entries {
            let entry = entry.map_err(|e| bad(e.to_string()))?;
            let name = entry.file_name();
            if entry.path().is_file() && name.to_str().is_some_and(|n| matches(pattern, n)) {
                found.push(entry.path());
            }
        }
    } else if path.is_dir() {
        walk(path, &mut found).map_err(|e| bad(e.to_string()))?;
    } else if path.is_file() {
        found.push(path.to_path_buf());
    } else {
        return Err(bad("no such file or folder".into()));
    }
    if found.is_empty() {
        return Err(bad("no PNG or JPEG images there".into()));
    }
    found.sort();
    Ok(found)
}

fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| ["png", "jpg", "jpeg"].contains(&e.to_ascii_lowercase().as_str()))
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, found)?;
        } else if is_image(&path) {
            found.push(path);
        }
    }
    Ok(())
}

/// `*` (any run) and `?` (one character) matching of a whole name.
fn matches(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    #[test]
    fn patterns_match_whole_names() {
        assert!(super::matches("*.png", "a.png"));
        assert!(super::matches("img-??.p*", "img-01.png"));
        assert!(!super::matches("*.png", "a.png.txt"));
        assert!(!super::matches("a?", "a"));
    }
}
