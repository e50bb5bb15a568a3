//! The checks `promtool check config` runs beyond loading: rule file globs resolve, credential
//! and TLS files exist, file-SD files parse, and every static or file-discovered target of a
//! scrape job can be built. Printing is the CLI's job; this returns what it found.

use std::path::Path;

use super::files::glob;
use super::{Config, ScrapeConfig, TlsConfig};
use crate::discovery::TargetGroup;
use crate::discovery::file::parse_target_groups;
use crate::target::targets_from_group;

/// What a successful check found.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    /// The rule files the `rule_files` globs match (empty with `syntax_only`).
    pub rule_files: Vec<String>,
    /// Every scrape config, those of `scrape_config_files` included (without `syntax_only`).
    pub scrape_configs: Vec<ScrapeConfig>,
    /// Problems that do not fail the check, such as a file-SD glob that matches nothing.
    pub warnings: Vec<String>,
}

/// Runs `promtool check config`'s checks on a loaded configuration. With `syntax_only`, no file
/// other than the configuration itself is read.
///
/// # Errors
///
/// Returns promtool's message for the first failed check.
pub fn check_config(config: &Config, syntax_only: bool) -> Result<CheckReport, String> {
    let mut report = CheckReport::default();
    if !syntax_only {
        for pattern in &config.rule_files {
            let matches: Vec<String> = glob(pattern).iter().map(|path| path.display().to_string()).collect();
            if !pattern.contains('*') && matches.is_empty() {
                return Err(format!("{pattern:?} does not point to an existing file"));
            }
            report.rule_files.extend(matches);
        }
    }
    report.scrape_configs = if syntax_only {
        config.scrape_configs.clone()
    } else {
        config.all_scrape_configs().map_err(|error| format!("error loading scrape configs: {error}"))?
    };
    for scrape in &report.scrape_configs {
        if !syntax_only {
            let credentials_file = scrape
                .authorization
                .as_ref()
                .and_then(|authorization| authorization.credentials_file.as_deref())
                .or(scrape.bearer_token_file.as_deref());
            if let Some(file) = credentials_file {
                check_file_exists(file).map_err(|error| {
                    format!("error checking authorization credentials or bearer token file {file:?}: {error}")
                })?;
            }
        }
        check_tls_config(&scrape.tls_config, syntax_only)?;
        for kubernetes in &scrape.kubernetes_sd_configs {
            check_tls_config(&kubernetes.tls_config, syntax_only)?;
        }
        for (index, group) in scrape.static_configs.iter().enumerate() {
            check_targets(scrape, &TargetGroup::from_static_config(group, index))?;
        }
        if syntax_only {
            continue;
        }
        for file_sd in &scrape.file_sd_configs {
            for pattern in &file_sd.files {
                let matches = glob(pattern);
                if matches.is_empty() {
                    report.warnings.push(format!(
                        "file {pattern:?} for file_sd in scrape job {:?} does not exist",
                        scrape.job_name
                    ));
                }
                for path in matches {
                    let groups =
                        check_sd_file(&path).map_err(|error| format!("checking SD file {pattern:?}: {error}"))?;
                    for group in &groups {
                        check_targets(scrape, group)?;
                    }
                }
            }
        }
    }
    if !syntax_only {
        for alertmanager in &config.alerting.alertmanagers {
            for file_sd in &alertmanager.file_sd_configs {
                for pattern in &file_sd.files {
                    let matches = glob(pattern);
                    if matches.is_empty() {
                        report
                            .warnings
                            .push(format!("file {pattern:?} for file_sd in alertmanager config does not exist"));
                    }
                    for path in matches {
                        check_sd_file(&path).map_err(|error| format!("checking SD file {pattern:?}: {error}"))?;
                    }
                }
            }
        }
    }
    Ok(report)
}

/// Fails on the first target of `group` that cannot be built for `scrape`.
fn check_targets(scrape: &ScrapeConfig, group: &TargetGroup) -> Result<(), String> {
    match targets_from_group(scrape, group).failures.into_iter().next() {
        Some(failure) => Err(failure),
        None => Ok(()),
    }
}

fn check_tls_config(tls: &TlsConfig, syntax_only: bool) -> Result<(), String> {
    let cert_file = tls.cert_file.as_deref().filter(|file| !file.is_empty());
    let key_file = tls.key_file.as_deref().filter(|file| !file.is_empty());
    match (cert_file, key_file) {
        (Some(cert), None) => return Err(format!("client cert file {cert:?} specified without client key file")),
        (None, Some(key)) => return Err(format!("client key file {key:?} specified without client cert file")),
        _ => {}
    }
    if syntax_only {
        return Ok(());
    }
    if let Some(cert) = cert_file {
        check_file_exists(cert).map_err(|error| format!("error checking client cert file {cert:?}: {error}"))?;
    }
    if let Some(key) = key_file {
        check_file_exists(key).map_err(|error| format!("error checking client key file {key:?}: {error}"))?;
    }
    Ok(())
}

/// Returns an error worded like Go's `os.Stat` failure when `path` does not exist.
fn check_file_exists(path: &str) -> Result<(), String> {
    match std::fs::metadata(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            Err(format!("stat {path}: no such file or directory"))
        }
        Err(error) => Err(format!("stat {path}: {error}")),
    }
}

/// Reads one file-SD file as promtool does: by extension, JSON or YAML, nothing else.
fn check_sd_file(path: &Path) -> Result<Vec<TargetGroup>, String> {
    let name = path.display().to_string();
    let extension = path.extension().and_then(|ext| ext.to_str()).unwrap_or_default().to_lowercase();
    if !matches!(extension.as_str(), "json" | "yml" | "yaml") {
        return Err(format!("invalid file extension: \".{extension}\""));
    }
    let content = std::fs::read_to_string(path).map_err(|error| format!("open {name}: {error}"))?;
    parse_target_groups(&content, &name).map_err(|error| error.message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_file;

    #[test]
    fn check_config_follows_promtool() {
        let dir = std::env::temp_dir().join(format!("panoptes-scrape-check-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sd")).expect("temp dir");
        let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).expect("write");
        write("rules.yml", "groups: []\n");
        write("token", "secret\n");
        write("sd/a.json", r#"[{"targets": ["a:1"]}]"#);
        write(
            "prometheus.yml",
            "rule_files: [rules.yml, 'more/*.yml']\nscrape_configs:\n- job_name: a\n  bearer_token_file: token\n  \
             file_sd_configs:\n  - files: [sd/*.json, missing/*.yml]\n",
        );
        let config = load_file(dir.join("prometheus.yml")).expect("loads");
        let report = check_config(&config, false).expect("passes");
        assert_eq!(report.rule_files, [dir.join("rules.yml").display().to_string()]);
        assert_eq!(report.scrape_configs.len(), 1);
        let missing = dir.join("missing/*.yml").display().to_string();
        assert_eq!(report.warnings, [format!("file {missing:?} for file_sd in scrape job \"a\" does not exist")]);

        write("sd/a.json", r#"[{"targets": ["http://a/"]}]"#);
        let error = check_config(&config, false).expect_err("bad target");
        let source = dir.join("sd/a.json").display().to_string();
        assert_eq!(error, format!("instance 0 in group {source}:0: \"http://a/\" is not a valid hostname"));
        assert!(check_config(&config, true).is_ok(), "syntax-only reads no other file");

        write("prometheus.yml", "rule_files: [absent.yml]\n");
        let error = check_config(&load_file(dir.join("prometheus.yml")).expect("loads"), false).expect_err("absent");
        assert_eq!(
            error,
            format!("{:?} does not point to an existing file", dir.join("absent.yml").display().to_string())
        );

        write("prometheus.yml", "scrape_configs:\n- job_name: a\n  tls_config: {cert_file: c.pem, key_file: k.pem}\n");
        let error = check_config(&load_file(dir.join("prometheus.yml")).expect("loads"), false).expect_err("no cert");
        let cert = dir.join("c.pem").display().to_string();
        assert_eq!(error, format!("error checking client cert file {cert:?}: stat {cert}: no such file or directory"));
        std::fs::remove_dir_all(&dir).ok();
    }
}
