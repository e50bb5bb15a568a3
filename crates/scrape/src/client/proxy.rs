//! Proxies of a client, as Prometheus' `ProxyConfig` chooses them: `proxy_url` for every request
//! (loopback targets included, as Go's `http.ProxyURL`), narrowed by `no_proxy`; or the
//! `HTTP_PROXY`, `HTTPS_PROXY` and `NO_PROXY` environment variables with
//! `proxy_from_environment` (golang.org/x/net's `httpproxy`: each scheme its own variable,
//! `HTTP_PROXY` ignored under CGI). As in `httpproxy`, once a no-proxy list applies, `localhost`
//! and loopback addresses are never proxied. `proxy_connect_header` goes with the requests to
//! the proxy.
//!
//! HTTP and HTTPS proxies only: reqwest is built without SOCKS support, so a `socks5://` URL is
//! refused with the setting named. Proxy URLs can hold credentials: errors never quote them.

use std::collections::BTreeMap;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{NoProxy, Proxy};

use crate::config::Secret;

/// What `httpproxy` never proxies once a no-proxy list is in force.
const LOOPBACK: &str = "localhost,127.0.0.0/8,::1";

/// The proxy settings of a section or of its `oauth2` token client.
#[derive(Debug)]
pub(super) struct ProxySettings<'a> {
    pub(super) url: Option<&'a str>,
    pub(super) no_proxy: Option<&'a str>,
    pub(super) from_environment: bool,
    pub(super) connect_header: &'a BTreeMap<String, Vec<Secret>>,
}

/// Sets the proxies of `builder` (and none from the environment unless asked).
///
/// # Errors
///
/// Returns a message naming the setting: a proxy URL that does not parse or whose scheme is not
/// `http` or `https`, an invalid header name or value.
pub(super) fn configure(
    builder: reqwest::ClientBuilder,
    settings: &ProxySettings<'_>,
) -> Result<reqwest::ClientBuilder, String> {
    configure_with(builder, settings, |name| std::env::var(name).ok())
}

/// [`configure`] with the environment read through `env`.
fn configure_with(
    mut builder: reqwest::ClientBuilder,
    settings: &ProxySettings<'_>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<reqwest::ClientBuilder, String> {
    // Without this, reqwest would use the environment's proxies whatever the configuration says.
    builder = builder.no_proxy();
    let headers = connect_headers(settings.connect_header)?;
    let with_headers = |proxy: Proxy| if headers.is_empty() { proxy } else { proxy.headers(headers.clone()) };
    if settings.from_environment {
        let first = |names: [&str; 2]| names.iter().find_map(|name| env(name)).filter(|value| !value.is_empty());
        let no_proxy = no_proxy_with_loopback(first(["NO_PROXY", "no_proxy"]).as_deref().unwrap_or(""));
        // A CGI program's HTTP_PROXY may come from the request's `Proxy` header (httpoxy).
        let is_cgi = env("REQUEST_METHOD").is_some();
        if let Some(url) = first(["HTTP_PROXY", "http_proxy"]).filter(|_| !is_cgi) {
            let proxy = Proxy::http(checked(&url, "HTTP_PROXY")?).map_err(|_| invalid("HTTP_PROXY"))?;
            builder = builder.proxy(with_headers(proxy.no_proxy(no_proxy.clone())));
        }
        if let Some(url) = first(["HTTPS_PROXY", "https_proxy"]) {
            let proxy = Proxy::https(checked(&url, "HTTPS_PROXY")?).map_err(|_| invalid("HTTPS_PROXY"))?;
            builder = builder.proxy(with_headers(proxy.no_proxy(no_proxy)));
        }
        return Ok(builder);
    }
    if let Some(url) = settings.url.filter(|url| !url.is_empty()) {
        let mut proxy = Proxy::all(checked(url, "proxy_url")?).map_err(|_| invalid("proxy_url"))?;
        if let Some(hosts) = settings.no_proxy.filter(|hosts| !hosts.is_empty()) {
            proxy = proxy.no_proxy(no_proxy_with_loopback(hosts));
        }
        builder = builder.proxy(with_headers(proxy));
    }
    Ok(builder)
}

fn invalid(setting: &str) -> String {
    format!("{setting} is not a valid proxy URL")
}

/// Returns `url` when its scheme is one reqwest can proxy through; a URL without a scheme is
/// taken as `http://`, as Go does with the environment variables.
fn checked<'a>(url: &'a str, setting: &str) -> Result<&'a str, String> {
    match url.split_once("://").map(|(scheme, _)| scheme.to_ascii_lowercase()) {
        None => Ok(url),
        Some(scheme) if scheme == "http" || scheme == "https" => Ok(url),
        Some(scheme) => Err(format!("{setting}: proxy scheme {scheme:?} is not supported (http and https are)")),
    }
}

/// A no-proxy list that also spares `localhost` and loopback addresses, as `httpproxy` does.
fn no_proxy_with_loopback(hosts: &str) -> Option<NoProxy> {
    let hosts = hosts.trim().trim_end_matches(',');
    NoProxy::from_string(&if hosts.is_empty() { LOOPBACK.to_owned() } else { format!("{hosts},{LOOPBACK}") })
}

/// `proxy_connect_header` as headers whose values are marked sensitive.
fn connect_headers(config: &BTreeMap<String, Vec<Secret>>) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    for (name, values) in config {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("proxy_connect_header: invalid header name {name:?}"))?;
        for value in values {
            let mut value = HeaderValue::from_str(value.expose())
                .map_err(|_| format!("proxy_connect_header: {name} has a value that is not a valid header value"))?;
            value.set_sensitive(true);
            headers.append(header.clone(), value);
        }
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings<'a>(url: Option<&'a str>, connect_header: &'a BTreeMap<String, Vec<Secret>>) -> ProxySettings<'a> {
        ProxySettings { url, no_proxy: None, from_environment: false, connect_header }
    }

    #[test]
    fn proxy_settings_that_cannot_be_used_are_refused_without_quoting_credentials() {
        let none = BTreeMap::new();
        let build = |settings: &ProxySettings<'_>| configure_with(reqwest::Client::builder(), settings, |_| None).err();
        assert_eq!(
            build(&settings(Some("socks5://user:pw@proxy:1080"), &none)).as_deref(),
            Some(r#"proxy_url: proxy scheme "socks5" is not supported (http and https are)"#)
        );
        assert_eq!(
            build(&settings(Some("http://user:pw@[::1"), &none)).as_deref(),
            Some("proxy_url is not a valid proxy URL")
        );
        assert_eq!(build(&settings(Some("http://proxy:3128"), &none)), None);
        assert_eq!(build(&settings(Some("proxy:3128"), &none)), None, "http:// is assumed");
        let bad = BTreeMap::from([("Proxy-Authorization".to_owned(), vec![Secret::new("a\nb")])]);
        assert_eq!(
            build(&settings(Some("http://proxy:3128"), &bad)).as_deref(),
            Some("proxy_connect_header: Proxy-Authorization has a value that is not a valid header value")
        );
        let environment = ProxySettings { from_environment: true, ..settings(None, &none) };
        let env = |name: &str| (name == "https_proxy").then(|| "ftp://proxy".to_owned());
        assert_eq!(
            configure_with(reqwest::Client::builder(), &environment, env).err().as_deref(),
            Some(r#"HTTPS_PROXY: proxy scheme "ftp" is not supported (http and https are)"#)
        );
    }

    #[test]
    fn no_proxy_lists_spare_loopback_as_httpproxy_does() {
        assert_eq!(
            format!("{:?}", no_proxy_with_loopback("example.com, ")),
            format!("{:?}", NoProxy::from_string("example.com,localhost,127.0.0.0/8,::1"))
        );
        assert_eq!(format!("{:?}", no_proxy_with_loopback("")), format!("{:?}", NoProxy::from_string(LOOPBACK)));
    }
}
