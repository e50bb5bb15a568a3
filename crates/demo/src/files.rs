//! The files `panoptes demo` hands to the server: a Prometheus configuration with one scrape job
//! per workload, the default alert rules and the default dashboards (provisioned read-only).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::Target;
use crate::error::{Error, Result};

/// Where the demo's files were written.
#[derive(Debug, Clone)]
pub struct DemoFiles {
    /// The Prometheus configuration (`prometheus.yml`).
    pub config: PathBuf,
    /// The alert rules (`rules.yml`).
    pub rules: PathBuf,
    /// The dashboards' provisioning directory.
    pub dashboards: PathBuf,
}

/// The default alert rules. The `for` durations are short so that the injected faults fire
/// within the demo's first minute; real deployments use minutes.
pub(crate) const RULES: &str = r#"# Written by `panoptes demo`.
groups:
  - name: istio-mesh
    interval: 5s
    rules:
      - alert: IstioHigh5xxRate
        expr: |
          sum by (destination_workload_namespace, destination_service_name, destination_workload) (
            rate(istio_requests_total{reporter="destination", response_code=~"5.."}[1m])
          )
          /
          sum by (destination_workload_namespace, destination_service_name, destination_workload) (
            rate(istio_requests_total{reporter="destination"}[1m])
          )
          > 0.01
        for: 15s
        labels:
          severity: critical
        annotations:
          summary: "{{ $labels.destination_workload }} answers {{ $value | humanizePercentage }} of its requests with 5xx"
          description: "More than 1% of the requests to {{ $labels.destination_service_name }} ({{ $labels.destination_workload }}) failed with a 5xx status over the last minute."
      - alert: IstioHighP99Latency
        expr: |
          histogram_quantile(0.99,
            sum by (destination_workload_namespace, destination_workload, le) (
              rate(istio_request_duration_milliseconds_bucket{reporter="destination"}[1m])
            )
          ) > 1000
        for: 15s
        labels:
          severity: warning
        annotations:
          summary: "{{ $labels.destination_workload }} p99 latency is {{ printf \"%.0f\" $value }} ms"
          description: "The 99th percentile of request durations at {{ $labels.destination_workload }} was above 1s over the last minute."
  - name: targets
    interval: 5s
    rules:
      - alert: TargetDown
        expr: up == 0
        for: 15s
        labels:
          severity: critical
        annotations:
          summary: "{{ $labels.job }} target {{ $labels.instance }} is down"
          description: "The last scrapes of {{ $labels.instance }} (job {{ $labels.job }}) failed."
"#;

/// Returns the Prometheus configuration scraping `targets` every `scrape_interval`.
pub(crate) fn config_yaml(targets: &[Target], scrape_interval: Duration, rules: &Path) -> String {
    let interval = format!("{}ms", scrape_interval.as_millis().max(1));
    let mut yaml = format!(
        "# Written by `panoptes demo`: one job per simulated workload, labelled as Kubernetes pod\n\
         # discovery with Istio's relabelling would label it.\n\
         global:\n  scrape_interval: {interval}\n  scrape_timeout: {interval}\n  evaluation_interval: {interval}\n\
         rule_files:\n  - {rules:?}\n\
         scrape_configs:\n",
        rules = rules.display().to_string(),
    );
    for target in targets {
        yaml.push_str(&format!(
            "  - job_name: {job:?}\n    metrics_path: {path:?}\n    static_configs:\n      - targets: [\"{address}\"]\n",
            job = target.job,
            path = target.metrics_path,
            address = target.address,
        ));
        if !target.labels.is_empty() {
            yaml.push_str("        labels:\n");
            for (name, value) in &target.labels {
                yaml.push_str(&format!("          {name}: {value:?}\n"));
            }
        }
    }
    yaml
}

fn write_file(path: &Path, contents: &[u8]) -> Result<()> {
    std::fs::write(path, contents).map_err(|source| Error::Write { path: path.to_owned(), source })
}

/// Writes the configuration, rules and dashboards under `dir`.
pub(crate) fn write(dir: &Path, targets: &[Target], scrape_interval: Duration) -> Result<DemoFiles> {
    let dashboards = dir.join("dashboards");
    std::fs::create_dir_all(&dashboards).map_err(|source| Error::Write { path: dashboards.clone(), source })?;
    let rules = dir.join("rules.yml");
    write_file(&rules, RULES.as_bytes())?;
    let config = dir.join("prometheus.yml");
    write_file(&config, config_yaml(targets, scrape_interval, &rules).as_bytes())?;
    for (file_name, dashboard) in crate::dashboards::default_dashboards() {
        let bytes = serde_json::to_vec_pretty(&dashboard).unwrap_or_default();
        write_file(&dashboards.join(file_name), &bytes)?;
    }
    Ok(DemoFiles { config, rules, dashboards })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_has_a_job_per_target_with_kubernetes_labels() {
        let targets = [Target {
            job: "ratings-v1".into(),
            address: "127.0.0.1:4000".parse().unwrap(),
            metrics_path: "/stats/prometheus".into(),
            labels: vec![("namespace".into(), "default".into()), ("app".into(), "ratings".into())],
        }];
        let yaml = config_yaml(&targets, Duration::from_secs(5), Path::new("/tmp/rules.yml"));
        assert!(yaml.contains("  scrape_interval: 5000ms\n"), "{yaml}");
        assert!(yaml.contains("  - \"/tmp/rules.yml\"\n"));
        assert!(yaml.contains(
            "  - job_name: \"ratings-v1\"\n    metrics_path: \"/stats/prometheus\"\n    static_configs:\n      - targets: [\"127.0.0.1:4000\"]\n        labels:\n          namespace: \"default\"\n          app: \"ratings\"\n"
        ));
    }
}
