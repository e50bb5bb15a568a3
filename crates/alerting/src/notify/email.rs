//! E-mail over SMTP with `lettre`: implicit TLS on port 465, otherwise STARTTLS (required
//! unless `require_tls: false`), PLAIN/LOGIN authentication, HTML and text bodies.

use std::time::Duration;

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{MessageContext, NotifyError};
use crate::config::EmailConfig;

pub(crate) struct Email {
    pub(crate) config: EmailConfig,
    pub(crate) timeout: Duration,
}

impl Email {
    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, NotifyError> {
        let config = &self.config;
        let smarthost = config.smarthost.clone().unwrap_or_default();
        let (host, port) = smarthost
            .rsplit_once(':')
            .and_then(|(host, port)| {
                port.parse::<u16>().ok().map(|port| (host.trim_matches(['[', ']']).to_owned(), port))
            })
            .ok_or_else(|| NotifyError::fatal(format!("email: invalid smarthost {smarthost:?}, want host:port")))?;
        let server_name = config.tls_config.server_name.clone().unwrap_or_else(|| host.clone());
        let tls_parameters = || {
            TlsParameters::builder(server_name.clone())
                .dangerous_accept_invalid_certs(config.tls_config.insecure_skip_verify)
                .build_rustls()
                .map_err(|e| NotifyError::fatal(format!("email: TLS configuration: {e}")))
        };
        let tls = if port == 465 {
            Tls::Wrapper(tls_parameters()?)
        } else if config.require_tls.unwrap_or(true) {
            Tls::Required(tls_parameters()?)
        } else {
            Tls::Opportunistic(tls_parameters()?)
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .tls(tls)
            .timeout(Some(self.timeout))
            .hello_name(ClientId::Domain(config.hello.clone().unwrap_or_else(|| "localhost".to_owned())));
        if let Some(username) = config.auth_username.as_ref().filter(|u| !u.is_empty()) {
            let password = match (&config.auth_password, &config.auth_password_file) {
                (Some(password), _) => password.expose().to_owned(),
                (None, Some(file)) => std::fs::read_to_string(file)
                    .map(|text| text.trim().to_owned())
                    .map_err(|e| NotifyError::fatal(format!("email: cannot read auth_password_file: {e}")))?,
                (None, None) => String::new(),
            };
            builder = builder
                .credentials(Credentials::new(username.clone(), password))
                .authentication(vec![Mechanism::Plain, Mechanism::Login]);
        }
        Ok(builder.build())
    }

    pub(crate) async fn notify(&self, context: &MessageContext<'_>) -> Result<(), NotifyError> {
        let config = &self.config;
        let mut headers = config.headers.clone();
        let subject =
            headers.remove("Subject").unwrap_or_else(|| r#"{{ template "email.default.subject" . }}"#.to_owned());
        let to = headers.remove("To").unwrap_or_else(|| config.to.clone().unwrap_or_default());
        let from = headers.remove("From").unwrap_or_else(|| config.from.clone().unwrap_or_default());
        let parse_mailbox = |text: &str, what: &str| {
            text.trim()
                .parse::<Mailbox>()
                .map_err(|e| NotifyError::fatal(format!("email: invalid {what} address {text:?}: {e}")))
        };
        let mut builder =
            Message::builder().from(parse_mailbox(&context.render(&from)?, "from")?).subject(context.render(&subject)?);
        for address in context.render(&to)?.split(',').filter(|a| !a.trim().is_empty()) {
            builder = builder.to(parse_mailbox(address, "to")?);
        }
        let html = if config.html.is_empty() { String::new() } else { context.render(&config.html)? };
        let text = if config.text.is_empty() { String::new() } else { context.render(&config.text)? };
        let body = match (html.is_empty(), text.is_empty()) {
            (false, false) => MultiPart::alternative()
                .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(text))
                .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(html)),
            (false, true) => {
                MultiPart::mixed().singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(html))
            }
            _ => MultiPart::mixed().singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(text)),
        };
        let mut message = builder.multipart(body).map_err(|e| NotifyError::fatal(format!("email: {e}")))?;
        for (name, value) in headers {
            let name = HeaderName::new_from_ascii(name.clone())
                .map_err(|_| NotifyError::fatal(format!("email: invalid header name {name:?}")))?;
            message.headers_mut().insert_raw(HeaderValue::new(name, context.render(&value)?));
        }
        let transport = self.transport()?;
        transport.send(message).await.map_err(|error| {
            let message = format!("email: {error}");
            if error.is_permanent() { NotifyError::fatal(message) } else { NotifyError::retry(message) }
        })?;
        Ok(())
    }
}
