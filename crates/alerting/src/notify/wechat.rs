//! WeChat Work (企业微信) application messages, Alertmanager's `wechat_configs`: an access
//! token from `gettoken`, cached, then `message/send`. errcode 42001 (token expired) refreshes
//! the token and retries.

use std::time::Duration;

use parking_lot::Mutex;
use serde_json::json;
use tokio::time::Instant;

use super::{MessageContext, NotifyError, check_errcode, describe_reqwest_error, read_response};
use crate::config::{ReceiverClient, WechatConfig, url_encode};

/// WeChat tokens live two hours; refresh well before.
const TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
/// `access_token expired`.
const ERRCODE_TOKEN_EXPIRED: i64 = 42001;

pub(crate) struct Wechat {
    config: WechatConfig,
    client: ReceiverClient,
    token: Mutex<Option<(String, Instant)>>,
}

impl Wechat {
    pub(crate) fn new(config: WechatConfig, client: ReceiverClient) -> Wechat {
        Wechat { config, client, token: Mutex::new(None) }
    }

    fn api_url(&self) -> String {
        let url = self.config.api_url.clone().unwrap_or_default();
        if url.ends_with('/') { url } else { format!("{url}/") }
    }

    async fn access_token(&self) -> Result<String, NotifyError> {
        if let Some((token, fetched)) = self.token.lock().clone()
            && fetched.elapsed() < TOKEN_LIFETIME
        {
            return Ok(token);
        }
        let secret = self.config.api_secret.as_ref().map(|s| s.expose().to_owned()).unwrap_or_default();
        let corp_id = self.config.corp_id.clone().unwrap_or_default();
        let url =
            format!("{}gettoken?corpid={}&corpsecret={}", self.api_url(), url_encode(&corp_id), url_encode(&secret));
        let request = self.client.request(reqwest::Method::GET, &url).await.map_err(NotifyError::fatal)?;
        let response = request.send().await.map_err(|e| NotifyError::retry(describe_reqwest_error(e)))?;
        let (_, body, _) = read_response(response).await?;
        let value = check_errcode(&body, &[], "wechat gettoken")?;
        let token = value
            .get("access_token")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| NotifyError::fatal("wechat gettoken: no access_token in response"))?
            .to_owned();
        *self.token.lock() = Some((token.clone(), Instant::now()));
        Ok(token)
    }

    pub(crate) async fn notify(&self, context: &MessageContext<'_>) -> Result<(), NotifyError> {
        let config = &self.config;
        let content = context.render(&config.message)?;
        let mut body = json!({
            "touser": context.render(&config.to_user)?,
            "toparty": context.render(&config.to_party)?,
            "totag": context.render(&config.to_tag)?,
            "agentid": context.render(&config.agent_id)?,
            "msgtype": config.message_type,
            "safe": "0",
        });
        body[config.message_type.as_str()] = json!({"content": content});
        let token = self.access_token().await?;
        let url = format!("{}message/send?access_token={}", self.api_url(), url_encode(&token));
        let request = self.client.request(reqwest::Method::POST, &url).await.map_err(NotifyError::fatal)?.json(&body);
        let response = request.send().await.map_err(|e| NotifyError::retry(describe_reqwest_error(e)))?;
        let (status, text, _) = read_response(response).await?;
        context.note_status(status);
        let result = check_errcode(&text, &[ERRCODE_TOKEN_EXPIRED], "wechat");
        if result.is_err() {
            // A refused token is refetched on the retry.
            *self.token.lock() = None;
        }
        result.map(|_| ())
    }
}
