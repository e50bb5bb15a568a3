//! Receivers and their integrations: Alertmanager's `webhook_configs`, `email_configs`,
//! `slack_configs`, `wechat_configs`, and Panoptes' native `wecom_configs` (WeCom group robot),
//! `dingtalk_configs` (DingTalk robot) and `feishu_configs` (Feishu / Lark bot).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{GlobalConfig, HttpClientConfig, Position, Secret};

/// The WeCom robot webhook endpoint that a bare `key` is appended to.
pub(crate) const WECOM_ROBOT_URL: &str = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send";
/// The DingTalk robot endpoint that a bare `access_token` is appended to.
pub(crate) const DINGTALK_ROBOT_URL: &str = "https://oapi.dingtalk.com/robot/send";

fn default_true() -> bool {
    true
}

/// A named receiver and its integrations.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReceiverConfig {
    /// The unique name routes refer to.
    pub name: String,
    /// Generic webhooks (Alertmanager's webhook JSON, version 4).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub webhook_configs: Vec<WebhookConfig>,
    /// E-mail over SMTP.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub email_configs: Vec<EmailConfig>,
    /// Slack incoming webhooks or `chat.postMessage`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub slack_configs: Vec<SlackConfig>,
    /// WeChat Work application messages (Alertmanager's `wechat_configs`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub wechat_configs: Vec<WechatConfig>,
    /// WeCom group robots.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub wecom_configs: Vec<WecomConfig>,
    /// DingTalk robots.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dingtalk_configs: Vec<DingtalkConfig>,
    /// Feishu / Lark bots.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub feishu_configs: Vec<FeishuConfig>,
    /// Where the receiver is defined.
    #[serde(skip)]
    pub position: Option<Position>,
}

/// The receiver as written, before the position is attached.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReceiver {
    #[serde(default)]
    name: String,
    #[serde(default)]
    webhook_configs: Vec<WebhookConfig>,
    #[serde(default)]
    email_configs: Vec<EmailConfig>,
    #[serde(default)]
    slack_configs: Vec<SlackConfig>,
    #[serde(default)]
    wechat_configs: Vec<WechatConfig>,
    #[serde(default)]
    wecom_configs: Vec<WecomConfig>,
    #[serde(default)]
    dingtalk_configs: Vec<DingtalkConfig>,
    #[serde(default)]
    feishu_configs: Vec<FeishuConfig>,
}

impl<'de> Deserialize<'de> for ReceiverConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = serde_saphyr::Spanned::<RawReceiver>::deserialize(deserializer)?;
        let raw = spanned.value;
        let position = super::position_of(&spanned.referenced);
        Ok(ReceiverConfig {
            name: raw.name,
            webhook_configs: raw.webhook_configs,
            email_configs: raw.email_configs,
            slack_configs: raw.slack_configs,
            wechat_configs: raw.wechat_configs,
            wecom_configs: raw.wecom_configs,
            dingtalk_configs: raw.dingtalk_configs,
            feishu_configs: raw.feishu_configs,
            position,
        })
    }
}

impl ReceiverConfig {
    /// Returns the number of integrations.
    pub fn integration_count(&self) -> usize {
        self.webhook_configs.len()
            + self.email_configs.len()
            + self.slack_configs.len()
            + self.wechat_configs.len()
            + self.wecom_configs.len()
            + self.dingtalk_configs.len()
            + self.feishu_configs.len()
    }

    /// Fills in global defaults and checks each integration, as Alertmanager does on load.
    pub(crate) fn apply_global(&mut self, global: &GlobalConfig) -> Result<(), String> {
        if self.name.is_empty() {
            return Err("missing name in receiver".to_owned());
        }
        let with_http = |http: &mut Option<HttpClientConfig>| {
            if http.is_none() {
                *http = Some(global.http_config.clone());
            }
        };
        for webhook in &mut self.webhook_configs {
            with_http(&mut webhook.http_config);
            match (&webhook.url, &webhook.url_file) {
                (Some(_), Some(_)) => return Err("at most one of url & url_file must be configured".to_owned()),
                (None, None) => return Err("one of url or url_file must be configured".to_owned()),
                (Some(url), None) => check_http_url(url.expose(), "webhook url")?,
                (None, Some(_)) => {}
            }
        }
        for email in &mut self.email_configs {
            if email.to.as_deref().is_none_or(str::is_empty) {
                return Err("missing to address in email config".to_owned());
            }
            if email.smarthost.is_none() {
                email.smarthost = global.smtp_smarthost.clone();
                if email.smarthost.is_none() {
                    return Err("no global SMTP smarthost set".to_owned());
                }
            }
            if email.from.is_none() {
                email.from = global.smtp_from.clone();
                if email.from.is_none() {
                    return Err("no global mail from address set".to_owned());
                }
            }
            if email.hello.is_none() {
                email.hello = Some(global.smtp_hello.clone());
            }
            if email.auth_username.is_none() {
                email.auth_username = global.smtp_auth_username.clone();
            }
            if email.auth_password.is_none() && email.auth_password_file.is_none() {
                email.auth_password = global.smtp_auth_password.clone();
                email.auth_password_file = global.smtp_auth_password_file.clone();
            }
            if email.auth_identity.is_none() {
                email.auth_identity = global.smtp_auth_identity.clone();
            }
            if email.require_tls.is_none() {
                email.require_tls = Some(global.smtp_require_tls);
            }
            let mut headers = BTreeMap::new();
            for (name, value) in std::mem::take(&mut email.headers) {
                let normalized = canonical_header(&name);
                if headers.insert(normalized.clone(), value).is_some() {
                    return Err(format!("duplicate header {normalized:?} in email config"));
                }
            }
            email.headers = headers;
        }
        for slack in &mut self.slack_configs {
            with_http(&mut slack.http_config);
            if slack.api_url.is_none() && slack.api_url_file.is_none() {
                slack.api_url = global.slack_api_url.clone();
                slack.api_url_file = global.slack_api_url_file.clone();
                if slack.api_url.is_none() && slack.api_url_file.is_none() {
                    return Err("no global Slack API URL set either inline or in a file".to_owned());
                }
            }
        }
        for wechat in &mut self.wechat_configs {
            with_http(&mut wechat.http_config);
            if wechat.api_url.is_none() {
                wechat.api_url = Some(global.wechat_api_url.clone());
            }
            if wechat.api_secret.is_none() {
                wechat.api_secret = global.wechat_api_secret.clone();
                if wechat.api_secret.is_none() {
                    return Err("no global Wechat ApiSecret set".to_owned());
                }
            }
            if wechat.corp_id.is_none() {
                wechat.corp_id = global.wechat_api_corp_id.clone();
                if wechat.corp_id.is_none() {
                    return Err("no global Wechat CorpID set".to_owned());
                }
            }
            if !matches!(wechat.message_type.as_str(), "text" | "markdown") {
                return Err(format!("unknown message type {:?} in wechat_configs", wechat.message_type));
            }
        }
        for wecom in &mut self.wecom_configs {
            with_http(&mut wecom.http_config);
            match (&wecom.webhook_url, &wecom.key) {
                (Some(_), Some(_)) => {
                    return Err("at most one of webhook_url & key must be configured in wecom_configs".to_owned());
                }
                (None, None) => return Err("one of webhook_url or key must be configured in wecom_configs".to_owned()),
                (Some(url), None) => check_http_url(url.expose(), "wecom webhook_url")?,
                (None, Some(_)) => {}
            }
            if !matches!(wecom.msgtype.as_str(), "markdown" | "text") {
                return Err(format!("wecom_configs msgtype must be markdown or text, got {:?}", wecom.msgtype));
            }
        }
        for dingtalk in &mut self.dingtalk_configs {
            with_http(&mut dingtalk.http_config);
            match (&dingtalk.webhook_url, &dingtalk.access_token) {
                (Some(_), Some(_)) => {
                    return Err(
                        "at most one of webhook_url & access_token must be configured in dingtalk_configs".to_owned()
                    );
                }
                (None, None) => {
                    return Err("one of webhook_url or access_token must be configured in dingtalk_configs".to_owned());
                }
                (Some(url), None) => check_http_url(url.expose(), "dingtalk webhook_url")?,
                (None, Some(_)) => {}
            }
            if !matches!(dingtalk.msgtype.as_str(), "markdown" | "text") {
                return Err(format!("dingtalk_configs msgtype must be markdown or text, got {:?}", dingtalk.msgtype));
            }
        }
        for feishu in &mut self.feishu_configs {
            with_http(&mut feishu.http_config);
            match &feishu.webhook_url {
                None => return Err("webhook_url must be configured in feishu_configs".to_owned()),
                Some(url) => check_http_url(url.expose(), "feishu webhook_url")?,
            }
            if !matches!(feishu.msg_type.as_str(), "post" | "interactive" | "text") {
                return Err(format!(
                    "feishu_configs msg_type must be post, interactive or text, got {:?}",
                    feishu.msg_type
                ));
            }
        }
        let https = self
            .webhook_configs
            .iter()
            .filter_map(|c| c.http_config.as_ref())
            .chain(self.slack_configs.iter().filter_map(|c| c.http_config.as_ref()))
            .chain(self.wechat_configs.iter().filter_map(|c| c.http_config.as_ref()))
            .chain(self.wecom_configs.iter().filter_map(|c| c.http_config.as_ref()))
            .chain(self.dingtalk_configs.iter().filter_map(|c| c.http_config.as_ref()))
            .chain(self.feishu_configs.iter().filter_map(|c| c.http_config.as_ref()));
        for http in https {
            http.validate()?;
        }
        Ok(())
    }

    pub(crate) fn resolve_paths(&mut self, dir: &std::path::Path) {
        let join = |file: &mut Option<String>| {
            if let Some(path) = file
                && std::path::Path::new(path).is_relative()
            {
                *path = dir.join(&*path).display().to_string();
            }
        };
        for webhook in &mut self.webhook_configs {
            join(&mut webhook.url_file);
        }
        for email in &mut self.email_configs {
            join(&mut email.auth_password_file);
        }
        for slack in &mut self.slack_configs {
            join(&mut slack.api_url_file);
        }
        let https = self
            .webhook_configs
            .iter_mut()
            .filter_map(|c| c.http_config.as_mut())
            .chain(self.slack_configs.iter_mut().filter_map(|c| c.http_config.as_mut()))
            .chain(self.wechat_configs.iter_mut().filter_map(|c| c.http_config.as_mut()))
            .chain(self.wecom_configs.iter_mut().filter_map(|c| c.http_config.as_mut()))
            .chain(self.dingtalk_configs.iter_mut().filter_map(|c| c.http_config.as_mut()))
            .chain(self.feishu_configs.iter_mut().filter_map(|c| c.http_config.as_mut()));
        for http in https {
            http.resolve_paths(dir);
        }
    }
}

fn check_http_url(url: &str, what: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("invalid {what}: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("invalid {what}: scheme must be http or https, got {:?}", parsed.scheme()));
    }
    Ok(())
}

/// Returns a header name in Go's canonical MIME form (`content-type` → `Content-Type`).
fn canonical_header(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().collect::<String>() + &chars.as_str().to_lowercase(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// A generic webhook (`webhook_configs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Sends resolved notifications too (default true).
    #[serde(default = "default_true")]
    pub send_resolved: bool,
    /// The URL to POST to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<Secret>,
    /// A file holding the URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_file: Option<String>,
    /// The most alerts put in one message; 0 means all.
    #[serde(default)]
    pub max_alerts: u64,
    /// The HTTP client configuration (default: the global one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_config: Option<HttpClientConfig>,
    /// A timeout for the request; 0 uses the notification timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<super::ConfigDuration>,
}

/// E-mail over SMTP (`email_configs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// Sends resolved notifications too (default false).
    #[serde(default)]
    pub send_resolved: bool,
    /// Recipients, comma-separated.
    #[serde(default)]
    pub to: Option<String>,
    /// The sender (default `global.smtp_from`).
    #[serde(default)]
    pub from: Option<String>,
    /// The HELO host name (default `global.smtp_hello`).
    #[serde(default)]
    pub hello: Option<String>,
    /// `host:port` of the SMTP server (default `global.smtp_smarthost`).
    #[serde(default)]
    pub smarthost: Option<String>,
    /// SMTP AUTH user.
    #[serde(default)]
    pub auth_username: Option<String>,
    /// SMTP AUTH password.
    #[serde(default)]
    pub auth_password: Option<Secret>,
    /// A file holding the SMTP AUTH password.
    #[serde(default)]
    pub auth_password_file: Option<String>,
    /// SMTP AUTH CRAM-MD5 secret (accepted, not used: the client speaks PLAIN and LOGIN).
    #[serde(default)]
    pub auth_secret: Option<Secret>,
    /// SMTP AUTH PLAIN identity.
    #[serde(default)]
    pub auth_identity: Option<String>,
    /// Requires STARTTLS (default `global.smtp_require_tls`, true).
    #[serde(default)]
    pub require_tls: Option<bool>,
    /// TLS settings.
    #[serde(default)]
    pub tls_config: super::http::TlsConfig,
    /// The HTML body template.
    #[serde(default = "default_email_html")]
    pub html: String,
    /// The plain-text body template.
    #[serde(default)]
    pub text: String,
    /// Extra headers (`Subject`, `To`, `From` are templates too).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

fn default_email_html() -> String {
    r#"{{ template "email.default.html" . }}"#.to_owned()
}

/// A Slack message (`slack_configs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// Sends resolved notifications too (default false).
    #[serde(default)]
    pub send_resolved: bool,
    /// The incoming webhook or `chat.postMessage` URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<Secret>,
    /// A file holding the URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url_file: Option<String>,
    /// The HTTP client configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_config: Option<HttpClientConfig>,
    /// The channel or user.
    #[serde(default)]
    pub channel: String,
    /// The bot's user name.
    #[serde(default = "default_slack_username")]
    pub username: String,
    /// The attachment colour.
    #[serde(default = "default_slack_color")]
    pub color: String,
    /// The attachment title.
    #[serde(default = "default_slack_title")]
    pub title: String,
    /// The attachment title link.
    #[serde(default = "default_slack_title_link")]
    pub title_link: String,
    /// The attachment pretext.
    #[serde(default)]
    pub pretext: String,
    /// The attachment text.
    #[serde(default = "default_slack_text")]
    pub text: String,
    /// The attachment footer.
    #[serde(default)]
    pub footer: String,
    /// The plain-text fallback.
    #[serde(default = "default_slack_fallback")]
    pub fallback: String,
    /// The callback id.
    #[serde(default)]
    pub callback_id: String,
    /// An emoji icon.
    #[serde(default)]
    pub icon_emoji: String,
    /// An icon URL.
    #[serde(default)]
    pub icon_url: String,
    /// An image URL.
    #[serde(default)]
    pub image_url: String,
    /// A thumbnail URL.
    #[serde(default)]
    pub thumb_url: String,
    /// Links channel and user names.
    #[serde(default)]
    pub link_names: bool,
    /// Fields rendered as markdown.
    #[serde(default)]
    pub mrkdwn_in: Vec<String>,
    /// Short fields shown side by side.
    #[serde(default)]
    pub short_fields: bool,
    /// Attachment fields.
    #[serde(default)]
    pub fields: Vec<SlackField>,
}

/// One Slack attachment field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackField {
    /// The title.
    pub title: String,
    /// The value.
    pub value: String,
    /// Shown side by side with other short fields.
    #[serde(default)]
    pub short: Option<bool>,
}

fn default_slack_username() -> String {
    r#"{{ template "slack.default.username" . }}"#.to_owned()
}
fn default_slack_color() -> String {
    r#"{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}"#.to_owned()
}
fn default_slack_title() -> String {
    r#"{{ template "slack.default.title" . }}"#.to_owned()
}
fn default_slack_title_link() -> String {
    r#"{{ template "slack.default.titlelink" . }}"#.to_owned()
}
fn default_slack_text() -> String {
    r#"{{ template "slack.default.text" . }}"#.to_owned()
}
fn default_slack_fallback() -> String {
    r#"{{ template "slack.default.fallback" . }}"#.to_owned()
}

/// A WeChat Work application message (`wechat_configs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WechatConfig {
    /// Sends resolved notifications too (default false).
    #[serde(default)]
    pub send_resolved: bool,
    /// The application secret (default `global.wechat_api_secret`).
    #[serde(default)]
    pub api_secret: Option<Secret>,
    /// The API base URL (default `global.wechat_api_url`).
    #[serde(default)]
    pub api_url: Option<String>,
    /// The corporation id (default `global.wechat_api_corp_id`).
    #[serde(default)]
    pub corp_id: Option<String>,
    /// The application's agent id.
    #[serde(default = "default_wechat_agent")]
    pub agent_id: String,
    /// Users to send to.
    #[serde(default = "default_wechat_to")]
    pub to_user: String,
    /// Departments to send to.
    #[serde(default = "default_wechat_to")]
    pub to_party: String,
    /// Tags to send to.
    #[serde(default = "default_wechat_to")]
    pub to_tag: String,
    /// The message template.
    #[serde(default = "default_wechat_message")]
    pub message: String,
    /// `text` or `markdown`.
    #[serde(default = "default_text")]
    pub message_type: String,
    /// The HTTP client configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_config: Option<HttpClientConfig>,
}

fn default_wechat_agent() -> String {
    r#"{{ template "wechat.default.agent_id" . }}"#.to_owned()
}
fn default_wechat_to() -> String {
    "@all".to_owned()
}
fn default_wechat_message() -> String {
    r#"{{ template "wechat.default.message" . }}"#.to_owned()
}
fn default_text() -> String {
    "text".to_owned()
}
fn default_markdown() -> String {
    "markdown".to_owned()
}

/// A WeCom group robot (`wecom_configs`): posts to `webhook/send?key=…`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WecomConfig {
    /// Sends resolved notifications too (default true).
    #[serde(default = "default_true")]
    pub send_resolved: bool,
    /// The robot's full webhook URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<Secret>,
    /// The robot's key, used with the public WeCom endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Secret>,
    /// `markdown` (default) or `text`.
    #[serde(default = "default_markdown")]
    pub msgtype: String,
    /// The message template (default: Panoptes' markdown or text template for the message
    /// type).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// User ids to mention (`@all` for everyone).
    #[serde(default)]
    pub mentioned_list: Vec<String>,
    /// Mobile numbers to mention.
    #[serde(default)]
    pub mentioned_mobile_list: Vec<String>,
    /// The HTTP client configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_config: Option<HttpClientConfig>,
}

impl WecomConfig {
    /// Returns the message template in force.
    pub(crate) fn message_template(&self) -> String {
        match &self.message {
            Some(message) => message.clone(),
            None if self.msgtype == "text" => r#"{{ template "wecom.default.text" . }}"#.to_owned(),
            None => r#"{{ template "wecom.default.message" . }}"#.to_owned(),
        }
    }

    /// Returns the URL to post to.
    pub(crate) fn url(&self) -> String {
        match (&self.webhook_url, &self.key) {
            (Some(url), _) => url.expose().to_owned(),
            (None, Some(key)) => format!("{WECOM_ROBOT_URL}?key={}", encode(key.expose())),
            (None, None) => String::new(),
        }
    }
}

/// A DingTalk robot (`dingtalk_configs`), optionally with signed requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DingtalkConfig {
    /// Sends resolved notifications too (default true).
    #[serde(default = "default_true")]
    pub send_resolved: bool,
    /// The robot's full webhook URL (`…/robot/send?access_token=…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<Secret>,
    /// The robot's access token, used with the public DingTalk endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<Secret>,
    /// The signing secret (`SEC…`) of the "加签" security setting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Secret>,
    /// `markdown` (default) or `text`.
    #[serde(default = "default_markdown")]
    pub msgtype: String,
    /// The markdown title template (shown in the conversation list).
    #[serde(default = "default_dingtalk_title")]
    pub title: String,
    /// The message template (default: Panoptes' markdown or text template for the message
    /// type).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Mobile numbers to mention.
    #[serde(default)]
    pub at_mobiles: Vec<String>,
    /// User ids to mention.
    #[serde(default)]
    pub at_user_ids: Vec<String>,
    /// Mentions everyone.
    #[serde(default)]
    pub is_at_all: bool,
    /// The HTTP client configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_config: Option<HttpClientConfig>,
}

fn default_dingtalk_title() -> String {
    r#"{{ template "dingtalk.default.title" . }}"#.to_owned()
}
impl DingtalkConfig {
    /// Returns the message template in force.
    pub(crate) fn message_template(&self) -> String {
        match &self.message {
            Some(message) => message.clone(),
            None if self.msgtype == "text" => r#"{{ template "dingtalk.default.text" . }}"#.to_owned(),
            None => r#"{{ template "dingtalk.default.message" . }}"#.to_owned(),
        }
    }

    /// Returns the URL to post to, before signing.
    pub(crate) fn url(&self) -> String {
        match (&self.webhook_url, &self.access_token) {
            (Some(url), _) => url.expose().to_owned(),
            (None, Some(token)) => format!("{DINGTALK_ROBOT_URL}?access_token={}", encode(token.expose())),
            (None, None) => String::new(),
        }
    }
}

/// A Feishu / Lark bot (`feishu_configs`), optionally with signed requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeishuConfig {
    /// Sends resolved notifications too (default true).
    #[serde(default = "default_true")]
    pub send_resolved: bool,
    /// The bot's webhook URL (`…/open-apis/bot/v2/hook/…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<Secret>,
    /// The signing secret of the "签名校验" security setting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Secret>,
    /// `interactive` (a card, default), `post` (rich text) or `text`.
    #[serde(default = "default_feishu_type")]
    pub msg_type: String,
    /// The title template.
    #[serde(default = "default_feishu_title")]
    pub title: String,
    /// The message template (markdown for cards, plain text otherwise).
    #[serde(default = "default_feishu_message")]
    pub message: String,
    /// The HTTP client configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_config: Option<HttpClientConfig>,
}

fn default_feishu_type() -> String {
    "interactive".to_owned()
}
fn default_feishu_title() -> String {
    r#"{{ template "feishu.default.title" . }}"#.to_owned()
}
fn default_feishu_message() -> String {
    r#"{{ template "feishu.default.message" . }}"#.to_owned()
}

/// Percent-encodes a query parameter value.
pub(crate) fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
