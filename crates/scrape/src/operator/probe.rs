//! `Probe` objects turned into the job the operator generates for them: `probe/<namespace>/<name>`
//! sends each target to the blackbox prober as the `target` URL parameter. Targets are either
//! static (`spec.targets.staticConfig`) or the Ingresses a selector picks
//! (`spec.targets.ingress`), discovered on the `ingress` role, whose `scheme://host/path`
//! becomes the target and whose name the `ingress` label.

use panoptes_kube::monitoring::{Probe, ProbeIngress, ProbeSpec, ProbeStaticConfig, Prober};
use serde_json::{Value, json};

use super::credentials::{apply_authentication, apply_oauth2, apply_tls};
use super::{
    GenerateContext, ResourceReport, decoded, limit_fields, monitored_namespaces, parse_selector, relabel,
    selector_relabels, user_relabel,
};
use crate::config::{KubernetesRole, ScrapeConfig, apply_scrape_defaults};

/// Returns the job of a `Probe` and its report. Probes with neither static nor Ingress targets,
/// without a prober URL, or whose credentials are missing are refused with the reason.
pub fn probe_jobs(probe: &Probe, context: GenerateContext<'_>) -> (Vec<ScrapeConfig>, ResourceReport) {
    let (spec, mut report) = match decoded("Probe", &probe.metadata, probe.spec(), |spec| spec.unsupported_fields()) {
        Ok(decoded) => decoded,
        Err(rejected) => return (Vec::new(), *rejected),
    };
    if let Some(field) = spec.tls_config.as_ref().and_then(|tls| tls.unsupported.keys().next()) {
        let error = format!("spec.tlsConfig.{field} is not supported; probe not run without it");
        return (Vec::new(), report.reject(error));
    }
    let Some(prober) = spec.prober.as_ref().filter(|prober| !prober.url.is_empty()) else {
        return (Vec::new(), report.reject("spec.prober.url is required".to_owned()));
    };
    let targets = spec.targets.as_ref();
    let result = match (
        targets.and_then(|targets| targets.static_config.as_ref()),
        targets.and_then(|targets| targets.ingress.as_ref()),
    ) {
        // The operator prefers static targets when both are given.
        (Some(static_config), _) => Ok((static_job(&report.namespace, &spec, prober, static_config), None)),
        (None, Some(ingress)) => ingress_job(&report.namespace, &spec, prober, ingress),
        (None, None) => Err("spec.targets needs staticConfig or ingress; no job generated".to_owned()),
    };
    let job = result.and_then(|(job, namespaces)| finish_job(job, namespaces, &report, &spec, prober, context));
    match job {
        Ok(job) => {
            report.generated.push(job.job_name.clone());
            (vec![job], report.finish())
        }
        Err(error) => (Vec::new(), report.reject(error)),
    }
}

/// The relabelling every Probe job starts with: the job name kept aside, then `jobName`.
fn initial_relabels(spec: &ProbeSpec) -> Vec<Value> {
    let mut relabels = vec![relabel(&["job"], None, Some("__tmp_prometheus_job_name"), None, None)];
    if let Some(job_name) = spec.job_name.as_deref().filter(|job| !job.is_empty()) {
        relabels.push(relabel(&[], None, Some("job"), Some(job_name), None));
    }
    relabels
}

/// The job of a Probe with static targets, labelled with the Probe's namespace unless the
/// labels set one.
fn static_job(namespace: &str, spec: &ProbeSpec, prober: &Prober, static_config: &ProbeStaticConfig) -> Value {
    let mut relabels = initial_relabels(spec);
    relabels.push(relabel(&["__address__"], None, Some("__param_target"), None, None));
    relabels.push(relabel(&["__param_target"], None, Some("instance"), None, None));
    relabels.push(relabel(&[], None, Some("__address__"), Some(&prober.url), None));
    relabels.extend(static_config.relabeling_configs.iter().map(user_relabel));
    let mut labels = static_config.labels.clone();
    labels.entry("namespace".to_owned()).or_insert_with(|| namespace.to_owned());
    json!({
        "static_configs": [{"targets": static_config.targets, "labels": labels}],
        "relabel_configs": relabels,
    })
}

/// The job of an Ingress probe, and the namespaces its `ingress` discovery watches (all when
/// empty).
fn ingress_job(
    namespace: &str,
    spec: &ProbeSpec,
    prober: &Prober,
    ingress: &ProbeIngress,
) -> Result<(Value, Option<Vec<String>>), String> {
    let selector = parse_selector(ingress.selector.as_ref(), "spec.targets.ingress.selector")?;
    let mut relabels = initial_relabels(spec);
    relabels.extend(selector_relabels(&selector, "ingress"));
    let mut target = relabel(
        &["__meta_kubernetes_ingress_scheme", "__address__", "__meta_kubernetes_ingress_path"],
        Some("(.+);(.+);(.+)"),
        Some("__param_target"),
        Some("${1}://${2}${3}"),
        Some("replace"),
    );
    target["separator"] = json!(";");
    relabels.push(target);
    relabels.push(relabel(&["__meta_kubernetes_namespace"], None, Some("namespace"), None, None));
    relabels.push(relabel(&["__meta_kubernetes_ingress_name"], None, Some("ingress"), None, None));
    // The operator keeps the Ingress host aside before the prober's address replaces it.
    let mut address =
        relabel(&["__address__"], Some("(.*)"), Some("__tmp_ingress_address"), Some("$1"), Some("replace"));
    address["separator"] = json!(";");
    relabels.push(address);
    relabels.push(relabel(&["__param_target"], None, Some("instance"), None, None));
    relabels.push(relabel(&[], None, Some("__address__"), Some(&prober.url), None));
    relabels.extend(ingress.relabeling_configs.iter().map(user_relabel));
    let namespaces = monitored_namespaces(ingress.namespace_selector.as_ref(), namespace);
    Ok((json!({ "relabel_configs": relabels }), Some(namespaces)))
}

/// Adds what static and Ingress jobs share (name, prober path and scheme, module, interval,
/// limits, metric relabelling), decodes the job, and applies credentials and defaults.
fn finish_job(
    mut job: Value,
    ingress_namespaces: Option<Vec<String>>,
    report: &ResourceReport,
    spec: &ProbeSpec,
    prober: &Prober,
    context: GenerateContext<'_>,
) -> Result<ScrapeConfig, String> {
    let namespace = report.namespace.as_str();
    job["job_name"] = json!(format!("probe/{namespace}/{}", report.name));
    job["honor_timestamps"] = json!(true);
    job["metrics_path"] =
        json!(prober.path.clone().filter(|path| !path.is_empty()).unwrap_or_else(|| "/probe".to_owned()));
    job["scheme"] =
        json!(prober.scheme.clone().filter(|scheme| !scheme.is_empty()).unwrap_or_else(|| "http".to_owned()));
    if let Some(module) = spec.module.as_deref().filter(|module| !module.is_empty()) {
        job["params"] = json!({"module": [module]});
    }
    for (key, value) in [
        ("scrape_interval", spec.interval.clone()),
        ("scrape_timeout", spec.scrape_timeout.clone()),
        ("proxy_url", prober.proxy_url.clone()),
    ] {
        if let Some(value) = value.filter(|value| !value.is_empty()) {
            job[key] = json!(value);
        }
    }
    if !spec.metric_relabelings.is_empty() {
        job["metric_relabel_configs"] = Value::Array(spec.metric_relabelings.iter().map(user_relabel).collect());
    }
    for (key, value) in limit_fields(&spec.limits) {
        if let Some(value) = value {
            job[key] = json!(value);
        }
    }
    let mut config: ScrapeConfig =
        serde_json::from_value(job).map_err(|error| format!("cannot build a scrape config: {error}"))?;
    if let Some(namespaces) = ingress_namespaces {
        config.kubernetes_sd_configs = vec![context.config.discovery(KubernetesRole::Ingress, namespaces, false)];
    }
    apply_authentication(&mut config, namespace, &spec.authentication, context.objects, "spec.")?;
    apply_oauth2(&mut config, namespace, &spec.unsupported, context.objects, "spec.")?;
    if let Some(tls) = &spec.tls_config {
        apply_tls(&mut config, namespace, tls, context.objects, "spec.")?;
    }
    apply_scrape_defaults(&mut config, context.global)?;
    Ok(config)
}
