-- Prosody configuration example for xmpp-oauth: a complete file for a new
-- server, for Prosody 0.12 (Debian 12) and 13 alike. To add xmpp-oauth to a
-- server that already runs, merge the few lines of docs/getting-started.md,
-- step 5, instead of replacing your configuration with this one.
--
-- Users of example.org log in with their password (SASL PLAIN) or with an
-- access token issued by xmpp-oauth: SASL OAUTHBEARER (RFC 7628, XEP-0493),
-- X-OAUTH2, or as the PLAIN password for legacy clients. Prosody asks
-- xmpp-oauth over the component link, through contrib/prosody/mod_auth_xmpp_oauth/.
-- Client developers: docs/xmpp-clients.md.
-- The matching xmpp-oauth configuration is contrib/prosody/xmpp-oauth.example.yml;
-- the operator guide is docs/xmpp-servers.md.
--
-- Based on Debian's /etc/prosody/prosody.cfg.lua. Check with:
--   prosodyctl check config

---------- Server-wide settings ----------

-- Prosody's own administrators (admin ad-hoc commands, prosodyctl shell).
-- Unrelated to xmpp-oauth's `admins` list, which is set in its YAML file.
admins = { }

-- The folder that holds the mod_auth_xmpp_oauth/ folder (copy it there from
-- contrib/prosody/). /usr/local/lib/prosody/modules is Debian's default.
plugin_paths = { "/usr/local/lib/prosody/modules" }

modules_enabled = {
	"disco";        -- Service discovery (also lists the component to clients)
	"roster";
	"saslauth";     -- SASL; the auth provider below offers PLAIN, OAUTHBEARER, X-OAUTH2 and SCRAM (xmpp_oauth_scram)
	"tls";
	"dialback";
	"blocklist";
	"bookmarks";
	"carbons";
	"pep";
	"private";
	"smacks";
	"vcard4";
	"vcard_legacy";
	"csi_simple";
	"limits";
	"ping";
	"time";
	"uptime";
	"version";
	"admin_adhoc";
	"admin_shell";
	"posix";        -- Prosody 13 loads it by itself (check config says it is deprecated there)
	-- "register";  -- In-band registration and password change (XEP-0077).
	--                 With xmpp-oauth, new accounts and new passwords are
	--                 stored by xmpp-oauth (its `register` and `setpass`
	--                 queries); allow_registration still decides who may.
}

pidfile = "/run/prosody/prosody.pid"

log = {
	info = "/var/log/prosody/prosody.log";
	error = "/var/log/prosody/prosody.err";
	{ levels = { "error" }; to = "syslog"; };
}

certificates = "certs"

-- Passwords and access tokens are bearer secrets: never without TLS.
-- (Prosody's defaults; spelled out because they matter here.)
c2s_require_encryption = true
allow_unencrypted_plain_auth = false
-- Should c2s_require_encryption ever be relaxed, these mechanisms are still
-- refused on an unencrypted stream: each one carries a password or a token.
insecure_sasl_mechanisms = { "PLAIN", "LOGIN", "OAUTHBEARER", "X-OAUTH2" }
s2s_secure_auth = true

-- Where xmpp-oauth connects (its xmpp.service: xmpp://127.0.0.1:5347).
-- Prosody listens for components on loopback only unless told otherwise; if
-- xmpp-oauth runs on another machine, list an address it can reach here and
-- firewall the port: the component secret is the only protection.
component_ports = { 5347 }
component_interfaces = { "127.0.0.1" }

-- Accounts that are not xmpp-oauth's keep Prosody's default store.
authentication = "internal_hashed"

---------- Virtual hosts ----------

VirtualHost "example.org"
	-- Every login, password change and registration for example.org goes to
	-- mod_auth_xmpp_oauth, which asks the component below
	-- (docs/protocol.md). example.org must be listed in xmpp-oauth's
	-- xmpp.hosts, or every query is refused with `forbidden`.
	authentication = "xmpp_oauth"

	-- The xmpp-oauth component's JID: its xmpp.domain, the Component below.
	xmpp_oauth_component = "oauth.example.org"

	-- Seconds to wait for an answer (default 5). If the component is not
	-- attached, Prosody answers at once and the login fails with
	-- temporary-auth-failure (never as a wrong password) and the log line
	--   xmpp-oauth component oauth.example.org did not answer (...): is it running and attached?
	-- The issuer a XEP-0493 client is pointed to comes from xmpp-oauth's own
	-- `issuer` setting (with every refused token): nothing to set here.
	xmpp_oauth_timeout = 5
	-- Accounts remembered as existing, so that while the component is away a
	-- message to an offline user who exists is stored (mod_offline), not bounced.
	xmpp_oauth_known_users = 10000

	-- SCRAM mechanisms offered beside PLAIN (default: none). Prosody runs the
	-- exchange with a verifier it asks xmpp-oauth for; the password never
	-- travels. A client that sees SCRAM uses it and never falls back to PLAIN,
	-- so offer a hash only if every account of the host has a verifier of it:
	-- a new server whose accounts were all made by this xmpp-oauth, both; a
	-- server moved from Prosody's internal_hashed, exactly what it offered
	-- ({ "SCRAM-SHA-1" } for 0.12); users with app passwords (SSO), none.
	-- docs/migration.md says why. SCRAM sends no password, so it is not in
	-- insecure_sasl_mechanisms.
	xmpp_oauth_scram = { "SCRAM-SHA-1", "SCRAM-SHA-256" }

	-- Prosody's in-band registration switch (only with "register" enabled).
	allow_registration = false

---------- Components ----------

-- xmpp-oauth attaches here (XEP-0114). Its domain is xmpp-oauth's xmpp.domain,
-- its secret xmpp-oauth's xmpp.secret. Prosody accepts one connection per
-- component; keep component_conflict_resolve at its default ("kick_new") when
-- several xmpp-oauth instances share it (docs/operations.md).
Component "oauth.example.org"
	-- Same value as xmpp.secret; generate one with: openssl rand -hex 32
	component_secret = "CHANGE-ME-component-secret"
