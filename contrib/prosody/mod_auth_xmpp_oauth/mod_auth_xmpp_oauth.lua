-- mod_auth_xmpp_oauth: a Prosody 0.12 and 13 authentication provider that asks the
-- xmpp-oauth component whether a login is valid. The secret may be the account
-- password or an access token issued by xmpp-oauth with an XMPP login scope
-- (xmpp:client:normal, xmpp, xmpp:account:*), so revoking a grant stops the
-- next login at once. Token mechanisms: SASL OAUTHBEARER (RFC 7628, XEP-0493)
-- and X-OAUTH2; tokens as PLAIN passwords still work for legacy clients.
--
-- Protocol: docs/protocol.md (namespace urn:xmpp-oauth:auth:0).
--
-- VirtualHost "example.org"
--   authentication = "xmpp_oauth"
--   xmpp_oauth_component = "oauth.example.org"  -- the Component xmpp-oauth attaches as
--   xmpp_oauth_timeout = 5                       -- seconds to wait for an answer
--   xmpp_oauth_known_users = 10000               -- accounts remembered for outages (see user_exists)
--   xmpp_oauth_scram = { "SCRAM-SHA-1", "SCRAM-SHA-256" }  -- offered SCRAM mechanisms (default none: docs/migration.md)
--
-- One concern per file; this one wires them:
--   ask.lib.lua               queries to the component
--   login.lib.lua             the login check shared by every mechanism; sets session.xmpp_oauth
--   sasl.lib.lua              the SASL profile (PLAIN, OAUTHBEARER, X-OAUTH2, SCRAM)
--   scram.lib.lua             SCRAM-SHA-1/-256: verifiers asked of the component
--   mech_oauthbearer.lib.lua  RFC 7628, ours on 0.12 and 13 alike
--   mech_xoauth2.lib.lua      X-OAUTH2
--   provider.lib.lua          the usermanager provider (isuser, setpass, register, ...)
--   roles.lib.lua             Prosody 13: the default role of these accounts
--   restrict.lib.lua          what a restricted session may send (and is routed)
--   restrict_out.lib.lua      what reaches a restricted session at all (its output filter)
--   fast.lib.lua              Prosody 13 + mod_sasl2_fast: FAST tokens bound to the login they came from
local new_cache = require "util.cache".new;

local host = module.host;
local component = module:get_option_string("xmpp_oauth_component");
local timeout = module:get_option_number("xmpp_oauth_timeout", 5);
local known_users = new_cache(module:get_option_number("xmpp_oauth_known_users", 10000));

if not component then
	module:log("error", "xmpp_oauth_component is not set: every login on %s will fail. Set it to the xmpp-oauth component's domain.", host);
end

local askers = module:require "ask";
local ask, report = askers.new({ host = host, component = component, timeout = timeout });

-- prosodyctl has no component link: say so at once instead of prompting for a
-- password and then waiting for an answer that cannot come (issue 12 #18).
if prosody.process_type == "prosodyctl" then
	local function outside()
		io.stderr:write("mod_auth_xmpp_oauth: ", askers.OUTSIDE,
			". Manage accounts of ", host, " with `xmpp-oauth user add|passwd|remove` instead.\n");
		os.exit(1);
	end
	module:provides("auth", {
		test_password = outside; user_exists = outside; set_password = outside;
		create_user = outside; delete_user = outside; users = outside;
		get_sasl_handler = outside; disable = outside; enable = outside;
	});
	return;
end

local login = module:require("login").new(ask, host, known_users, askers.MALFORMED);
local scram_lib = module:require "scram";
local scram = scram_lib.new({
	ask = ask; report = report; host = host; component = component;
	offered = scram_lib.offered(module, module:get_option_array("xmpp_oauth_scram", {}));
});
local sasl_handler = module:require("sasl").new(login, host, scram);

module:provides("auth", module:require("provider").new({
	ask = ask;
	login = login;
	host = host;
	known_users = known_users;
	sasl_handler = sasl_handler;
}));
-- Review 22 #6: on Prosody 13, accounts here are prosody:member by default.
module:require "roles".setup(module);

-- Issue 14: live revocation, XEP-0494, restricted sessions (one file each).
local sessions = module:require "sessions".setup(module, { component = component });
module:require "cam".setup(module, { ask = ask, sessions = sessions });
module:require "restrict".setup(module, { component = component });
module:require "restrict_out".setup(module, { component = component });
-- Issue 22: the component asks a session's scope (#2); resumption keeps it (#10).
module:require "session_scope".setup(module, { component = component });
module:require "resume".setup(module);
-- Issue 24 #3: FAST tokens (mod_sasl2_fast) live only as long as the login they came from.
module:require "fast".setup(module, { ask = ask });
