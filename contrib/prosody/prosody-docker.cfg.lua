-- Prosody for docker-compose.yml: logins for "localhost" are answered by
-- xmpp-oauth over the component link (mod_auth_xmpp_oauth).
admins = { }
modules_enabled = { "disco"; "roster"; "saslauth"; "tls"; "ping"; "register" }
plugin_paths = { "/etc/prosody/modules" }
log = { info = "*console" }
-- Only for the compose demo on localhost: allow PLAIN without TLS.
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
component_interfaces = { "*" }

VirtualHost "localhost"
  authentication = "xmpp_oauth"
  xmpp_oauth_component = "oauth.localhost"

Component "oauth.localhost"
  component_secret = os.getenv("COMPONENT_SECRET")
