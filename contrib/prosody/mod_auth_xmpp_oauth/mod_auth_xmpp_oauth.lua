-- mod_auth_xmpp_oauth: a Prosody 0.12 authentication provider that asks the
-- xmpp-oauth component whether a login is valid. The secret may be the account
-- password or an access token issued by xmpp-oauth (with the `xmpp` scope), so
-- revoking a grant stops the next login at once.
--
-- Protocol: docs/protocol.md (namespace urn:xmpp-oauth:auth:0).
--
-- VirtualHost "example.org"
--   authentication = "xmpp_oauth"
--   xmpp_oauth_component = "oauth.example.org"  -- the Component xmpp-oauth attaches as
--   xmpp_oauth_timeout = 5                       -- seconds to wait for an answer
--   xmpp_oauth_known_users = 10000               -- accounts remembered for outages (see user_exists)

local st = require "util.stanza";
local new_id = require "util.id".short;
local async = require "util.async";
local new_sasl = require "util.sasl".new;
local saslprep = require "util.encodings".stringprep.saslprep;
local new_cache = require "util.cache".new;

local NS = "urn:xmpp-oauth:auth:0";
local host = module.host;
local component = module:get_option_string("xmpp_oauth_component");
local timeout = module:get_option_number("xmpp_oauth_timeout", 5);

-- Accounts the component has lately said exist (or that just logged in). While
-- the component is away, user_exists answers from here: Prosody asks it before
-- storing a message for an offline user, and a false answer bounces the
-- message, which an outage of the component must not do to a real account.
local known_users = new_cache(module:get_option_number("xmpp_oauth_known_users", 10000));

if not component then
	module:log("error", "xmpp_oauth_component is not set: every login on %s will fail. Set it to the xmpp-oauth component's domain.", host);
end

-- Sends one query and waits for the answer. Returns the payload element, or
-- nil plus a reason. Waiting needs an async context (c2s stanzas run in one);
-- prosodyctl has none, so it gets a clear error instead of a hang.
local function ask(iq_type, name, attrs, text)
	if not component then
		return nil, "xmpp_oauth_component is not configured";
	end
	if not async.ready() then
		return nil, "xmpp-oauth can only be asked from inside the running server";
	end
	attrs = attrs or {};
	attrs.xmlns = NS;
	local query = st.iq({ type = iq_type, from = host, to = component, id = "xmpp-oauth-" .. new_id() })
		:tag(name, attrs);
	if text then query:text(text); end
	local event, err = async.wait_for(module:send_iq(query, nil, timeout));
	-- Prosody answers for an absent component itself, and that error reply
	-- arrives as a resolved event rather than a rejection.
	if event and event.stanza.attr.type == "error" then
		local _, condition, text = event.stanza:get_error();
		event, err = nil, { condition = condition, text = text };
	end
	if not event then
		local condition = type(err) == "table" and err.condition or tostring(err);
		if condition == "remote-server-timeout" or condition == "service-unavailable"
			or condition == "remote-server-not-found" or condition == "recipient-unavailable" then
			module:log("warn", "xmpp-oauth component %s did not answer (%s): is it running and attached?", component, condition);
		else
			module:log("info", "xmpp-oauth refused a %s query: %s", name, type(err) == "table" and (err.text or condition) or condition);
		end
		return nil, condition;
	end
	local payload = event.stanza:get_child(name, NS);
	if iq_type == "get" and not payload then
		module:log("warn", "xmpp-oauth answered a %s query without a payload", name);
		return nil, "malformed answer";
	end
	return payload or true;
end

local provider = {};

function provider.test_password(username, password)
	-- SASLprep as Prosody's own providers do; tokens are plain ASCII and pass unchanged.
	local prepped = saslprep(password);
	if not prepped then
		return nil, "Password fails SASLprep.";
	end
	local answer, err = ask("get", "auth", { user = username, host = host }, prepped);
	if not answer then
		return nil, "Authentication service unavailable: " .. tostring(err);
	end
	if answer.attr.result == "ok" then
		module:log("debug", "xmpp-oauth accepted %s@%s via %s", username, host, answer.attr.via or "?");
		known_users:set(username, true);
		return true, nil, answer;
	end
	if answer.attr.result == "throttled" then
		return nil, "Too many failed attempts; retry in " .. (answer.attr["retry-after"] or "a few") .. " seconds.";
	end
	return nil, "Auth failed. Invalid username, password or token.";
end

function provider.user_exists(username)
	local answer = ask("get", "isuser", { user = username, host = host });
	if answer then
		local exists = answer.attr.exists == "true";
		known_users:set(username, exists or nil);
		return exists;
	end
	if known_users:get(username) then
		module:log("info", "xmpp-oauth is away; %s@%s existed when last asked, so it still does", username, host);
		return true;
	end
	return false;
end

function provider.set_password(username, password)
	local ok, err = ask("set", "setpass", { user = username, host = host }, password);
	if not ok then return nil, err; end
	return true;
end

function provider.create_user(username, password)
	-- Prosody creates passwordless accounts for some admin flows; we always need one.
	if password == nil then
		return nil, "xmpp-oauth accounts need a password";
	end
	local ok, err = ask("set", "register", { user = username, host = host }, password);
	if not ok then return nil, err; end
	known_users:set(username, true);
	return true;
end

function provider.delete_user(username)
	local ok, err = ask("set", "remove", { user = username, host = host });
	if not ok then return nil, err; end
	known_users:set(username, nil);
	return true;
end

function provider.users()
	local answer = ask("get", "users", { host = host });
	local names = {};
	if answer then
		for user in answer:childtags("user") do
			names[#names + 1] = user:get_text();
		end
	end
	local i = 0;
	return function()
		i = i + 1;
		return names[i];
	end;
end

function provider.get_sasl_handler()
	-- Only PLAIN: the component holds the verifier, so challenge-response
	-- mechanisms (SCRAM) cannot work, and tokens arrive as PLAIN passwords.
	return new_sasl(host, {
		plain_test = function(sasl, username, password)
			local ok, _, answer = provider.test_password(username, password);
			-- Contract 2 stand-in (login_standin.lib.lua): what the login used, for the session.
			if ok then
				sasl.xmpp_oauth_login = { via = answer.attr.via, grant = answer.attr.grant, scope = answer.attr.scope };
			end
			return ok, true;
		end;
	});
end

module:provides("auth", provider);

-- Issue 14: live revocation, XEP-0494, restricted sessions (one file each).
module:require "login_standin".setup(module);
local sessions = module:require "sessions".setup(module, { component = component });
module:require "cam".setup(module, { ask = ask, sessions = sessions });
module:require "restrict".setup(module, { component = component });
