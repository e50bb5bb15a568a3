//! Scrape configs kept in separate files (`scrape_config_files`), read as Prometheus'
//! `GetScrapeConfigs` reads them: each glob expanded in sorted order, each file holding only
//! `scrape_configs`, validated against the main file's `global` section, job names unique across
//! all files.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::{Config, ConfigError, Position, ScrapeConfig, apply_scrape_defaults, yaml_error_message};

/// The contents of one scrape config file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScrapeConfigFile {
    #[serde(default)]
    scrape_configs: Option<Vec<Spanned<Option<ScrapeConfig>>>>,
}

impl Config {
    /// Returns the rule files the `rule_files` globs match now, in order, without duplicates.
    pub fn rule_file_paths(&self) -> Vec<String> {
        let mut paths: Vec<String> = Vec::new();
        for pattern in &self.rule_files {
            for path in glob(pattern) {
                let path = path.display().to_string();
                if !paths.contains(&path) {
                    paths.push(path);
                }
            }
        }
        paths
    }

    /// Returns the scrape configs of the main file followed by those of every file matched by
    /// `scrape_config_files`, validated and with their relative paths resolved against their
    /// own file's directory. Files are read on every call, as Prometheus re-reads them.
    ///
    /// # Errors
    ///
    /// Returns [`ConfigError::Read`] for an unreadable file and [`ConfigError::Invalid`] naming
    /// the file, line and column for an invalid or duplicate scrape config.
    pub fn all_scrape_configs(&self) -> Result<Vec<ScrapeConfig>, ConfigError> {
        let mut configs = self.scrape_configs.clone();
        let mut first_found: HashMap<String, String> =
            configs.iter().map(|config| (config.job_name.clone(), "main config file".to_owned())).collect();
        for pattern in &self.scrape_config_files {
            for path in glob(pattern) {
                let origin = path.display().to_string();
                let text = std::fs::read_to_string(&path)
                    .map_err(|source| ConfigError::Read { path: origin.clone(), source })?;
                let invalid = |position: Option<Position>, message: String| ConfigError::Invalid {
                    origin: origin.clone(),
                    position,
                    message,
                };
                let file: Option<ScrapeConfigFile> = serde_saphyr::from_str(&text).map_err(|error| {
                    let position =
                        error.location().map(|location| Position { line: location.line(), column: location.column() });
                    invalid(position, yaml_error_message(&error))
                })?;
                let entries = file.and_then(|file| file.scrape_configs).unwrap_or_default();
                for spanned in entries {
                    let position =
                        Some(Position { line: spanned.referenced.line(), column: spanned.referenced.column() });
                    let Some(mut config) = spanned.value else {
                        return Err(invalid(position, "empty or null scrape config section".to_owned()));
                    };
                    apply_scrape_defaults(&mut config, &self.global).map_err(|message| invalid(position, message))?;
                    if let Some(first) = first_found.get(&config.job_name) {
                        return Err(invalid(
                            position,
                            format!(
                                "found multiple scrape configs with job name {:?}, first found in {first}",
                                config.job_name
                            ),
                        ));
                    }
                    first_found.insert(config.job_name.clone(), format!("{origin:?}"));
                    if let Some(dir) = path.parent() {
                        config.resolve_paths(dir);
                    }
                    configs.push(config);
                }
            }
        }
        Ok(configs)
    }
}

/// Expands a glob whose wildcards (`*`, `?`, `[…]`) are in the last path element, like Go's
/// `filepath.Glob`: matches in sorted order, a pattern without wildcards matching itself when it
/// exists, unreadable directories matching nothing.
pub(crate) fn glob(pattern: &str) -> Vec<PathBuf> {
    let path = Path::new(pattern);
    let Some(file_pattern) = path.file_name().and_then(|name| name.to_str()) else {
        return Vec::new();
    };
    if !file_pattern.contains(['*', '?', '[']) {
        return if path.exists() { vec![path.to_path_buf()] } else { Vec::new() };
    }
    let dir = path.parent().filter(|dir| !dir.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| wildcard_match(file_pattern, name))
        .collect();
    names.sort();
    names.into_iter().map(|name| dir.join(name)).collect()
}

/// Matches `name` against a shell pattern with `*`, `?` and `[…]` (with `^` or `!` negation and
/// ranges), as Go's `filepath.Match` does within one path element.
fn wildcard_match(pattern: &str, name: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    matches_from(&pattern, &name)
}

fn matches_from(pattern: &[char], name: &[char]) -> bool {
    match pattern.first() {
        None => name.is_empty(),
        Some('*') => (0..=name.len()).any(|skip| matches_from(&pattern[1..], &name[skip..])),
        Some('?') => !name.is_empty() && matches_from(&pattern[1..], &name[1..]),
        Some('[') => {
            let Some((&c, rest_name)) = name.split_first() else {
                return false;
            };
            let Some(close) = pattern.iter().skip(2).position(|&p| p == ']').map(|index| index + 2) else {
                return false;
            };
            let mut class = &pattern[1..close];
            let is_negated = matches!(class.first(), Some('^' | '!'));
            if is_negated {
                class = &class[1..];
            }
            let mut is_in_class = false;
            let mut index = 0;
            while index < class.len() {
                if index + 2 < class.len() && class[index + 1] == '-' {
                    is_in_class |= class[index] <= c && c <= class[index + 2];
                    index += 3;
                } else {
                    is_in_class |= class[index] == c;
                    index += 1;
                }
            }
            is_in_class != is_negated && matches_from(&pattern[close + 1..], rest_name)
        }
        Some('\\') if pattern.len() > 1 => name.first() == Some(&pattern[1]) && matches_from(&pattern[2..], &name[1..]),
        Some(&literal) => name.first() == Some(&literal) && matches_from(&pattern[1..], &name[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_like_go() {
        for (pattern, name, expected) in [
            ("*.yml", "a.yml", true),
            ("*.yml", "a.yaml", false),
            ("job-?.yml", "job-1.yml", true),
            ("job-?.yml", "job-10.yml", false),
            ("job-[0-9].yml", "job-7.yml", true),
            ("job-[^0-9].yml", "job-7.yml", false),
            ("job-[!a].yml", "job-b.yml", true),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXbY", false),
            ("plain", "plain", true),
        ] {
            assert_eq!(wildcard_match(pattern, name), expected, "{pattern} vs {name}");
        }
    }

    #[test]
    fn scrape_config_files_are_loaded_validated_and_deduplicated() {
        let dir = std::env::temp_dir().join(format!("panoptes-scrape-files-test-{}", std::process::id()));
        let jobs = dir.join("jobs");
        std::fs::create_dir_all(&jobs).expect("temp dir");
        let write = |path: &Path, text: &str| std::fs::write(path, text).expect("write");
        write(
            &dir.join("prometheus.yml"),
            "global:\n  scrape_interval: 20s\nscrape_config_files: [jobs/*.yml]\nscrape_configs:\n- job_name: main\n",
        );
        write(&jobs.join("b.yml"), "scrape_configs:\n- job_name: b\n  bearer_token_file: token\n");
        write(&jobs.join("a.yml"), "scrape_configs:\n- job_name: a\n");
        write(&jobs.join("ignored.txt"), "not yaml: [");
        let config = super::super::load_file(dir.join("prometheus.yml")).expect("loads");
        let all = config.all_scrape_configs().expect("files load");
        let names: Vec<&str> = all.iter().map(|job| job.job_name.as_str()).collect();
        assert_eq!(names, ["main", "a", "b"]);
        assert_eq!(all[1].scrape_interval, std::time::Duration::from_secs(20));
        assert_eq!(all[2].bearer_token_file.as_deref(), Some(jobs.join("token").display().to_string().as_str()));

        write(&jobs.join("c.yml"), "scrape_configs:\n- job_name: x\n- job_name: main\n");
        let error = config.all_scrape_configs().expect_err("duplicate");
        let expected = format!(
            "{}:3:3: found multiple scrape configs with job name \"main\", first found in main config file",
            jobs.join("c.yml").display()
        );
        assert_eq!(error.to_string(), expected);
        write(&jobs.join("c.yml"), "scrape_configs:\n- job_name: a2\n  scrape_intervall: 1s\n");
        let error = config.all_scrape_configs().expect_err("typo");
        assert!(error.to_string().contains("c.yml:3:3: unknown field `scrape_intervall`"), "{error}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
