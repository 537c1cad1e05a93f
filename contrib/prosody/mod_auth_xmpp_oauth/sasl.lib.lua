-- The SASL profile of hosts that use this module: PLAIN (password, or a token
-- for legacy clients), OAUTHBEARER (RFC 7628, XEP-0493) and X-OAUTH2, all
-- answered through one login check (login.lib.lua), and the SCRAM mechanisms
-- the operator offers (scram.lib.lua).
local sasl = require "util.sasl";
local jid_split = require "util.jid".split;
local nodeprep = require "util.encodings".stringprep.nodeprep;
local nameprep = require "util.encodings".stringprep.nameprep;

local oauthbearer = module:require "mech_oauthbearer";
local xoauth2 = module:require "mech_xoauth2";

local M = {};

-- Prosody 13 ships an OAUTHBEARER, listed for our handlers through the
-- "oauthbearer" backend; 0.12 needs ours registered to list it at all.
local native_oauthbearer = pcall(require, "prosody.util.sasl.oauthbearer") or pcall(require, "util.sasl.oauthbearer");

-- Mechanisms live in util.sasl's process-wide table; the functions are pure
-- (all state is on the SASL object, all checks in the profile), so one
-- registration serves every host and survives reloads of this module.
local registered = module:shared("/*/auth_xmpp_oauth/mechanisms");
if not native_oauthbearer and not registered.OAUTHBEARER then
	sasl.registerMechanism("OAUTHBEARER", { "oauthbearer" }, oauthbearer.mechanism);
	registered.OAUTHBEARER = true;
end
if not registered["X-OAUTH2"] then
	sasl.registerMechanism("X-OAUTH2", { "xmpp_oauth_xoauth2" }, xoauth2.mechanism);
	registered["X-OAUTH2"] = true;
end

local UNAVAILABLE_TEXT = "The authentication service is temporarily unavailable; try again shortly.";
local MALFORMED_TEXT = "The credentials cannot be read as UTF-8 text.";

-- Mechanisms our handlers run themselves, whatever util.sasl has registered
-- under the name: Prosody 13's OAUTHBEARER answers every refusal with the
-- invalid_token challenge (review 22 #6), ours says temporary-auth-failure or
-- invalid-authzid, so the client guide's tables hold on 0.12 and 13 alike.
-- Only hosts using this module are affected; util.sasl's table is untouched.
local OWN = { OAUTHBEARER = oauthbearer.mechanism };

-- "Retry in N seconds": N from the component, digits only.
local function retry_after(answer)
	return tostring(answer.attr["retry-after"] or ""):match("^%d+$") or "a few";
end

-- Prosody's own PLAIN can only say not-authorized or account-disabled. A
-- backend that could not ask the component leaves a condition on the SASL
-- object, and this wrapper fails with it instead (issue 12 #13: an outage must
-- not read as a wrong password). clean_clone (after each failure) keeps it.
local function wrap(handler, scram, session)
	local process, clean_clone = handler.process, handler.clean_clone;
	handler.process = function(self, message)
		self.xmpp_oauth_failure = nil;
		local own = OWN[self.selected];
		local status, ret, text;
		if own then
			status, ret, text = own(self, message);
		else
			status, ret, text = process(self, message);
		end
		local override = self.xmpp_oauth_failure;
		self.xmpp_oauth_failure = nil;
		if status == "failure" and override then
			return "failure", override[1], override[2];
		end
		if status == "success" and scram.is_scram(self.selected) then
			scram.succeeded(self, session);
		end
		return status, ret, text;
	end;
	handler.clean_clone = function(self)
		return wrap(clean_clone(self), scram, session);
	end;
	return handler;
end

-- An OAUTHBEARER authzid must be a bare JID of this host; returns its node.
local function authzid_node(authzid, realm)
	local node, domain, resource = jid_split(authzid);
	if not node or resource or nameprep(domain or "") ~= nameprep(realm) then return nil; end
	return nodeprep(node);
end

function M.new(login, host, scram)
	return function(session)
		local profile = {};
		scram.add_to(profile, session);

		function profile.plain_test(self, username, password)
			local outcome, answer = login.check(session, nil, username, password);
			if outcome == "ok" then return true, true; end
			if outcome == "unavailable" then
				self.xmpp_oauth_failure = { "temporary-auth-failure", UNAVAILABLE_TEXT };
			elseif outcome == "malformed" then
				self.xmpp_oauth_failure = { "malformed-request", MALFORMED_TEXT };
			elseif outcome == "throttled" then
				self.xmpp_oauth_failure = { "not-authorized",
					"Too many failed attempts; retry in " .. retry_after(answer) .. " seconds." };
			end
			return false, true;
		end

		function profile.oauthbearer(self, token, realm, authzid)
			local user;
			if authzid then
				user = authzid_node(authzid, realm or host);
				if not user then
					return nil, nil, { failure = "invalid-authzid", text = "The authzid must be a bare JID of " .. host .. "." };
				end
			end
			local outcome, answer, node = login.check(session, "token", user, token);
			if outcome == "ok" then
				-- The account comes from the token: make it a node Prosody accepts.
				local prepped = nodeprep(node);
				if not prepped then
					if session then session.xmpp_oauth = nil; end
					module:log("warn", "xmpp-oauth accepted a token for %s, which is not a valid localpart here", tostring(node));
					return nil, nil, { failure = "not-authorized", text = "The token's account cannot log in here." };
				end
				return prepped, true, { grant = answer.attr.grant, scope = answer.attr.scope };
			elseif outcome == "other-account" or outcome == "bad-request" then
				return nil, nil, { failure = "invalid-authzid", text = "The token is not for this authzid." };
			elseif outcome == "unavailable" then
				return nil, nil, { failure = "temporary-auth-failure", text = UNAVAILABLE_TEXT };
			elseif outcome == "malformed" then
				return nil, nil, { failure = "malformed-request", text = MALFORMED_TEXT };
			end
			-- RFC 7628 section 3.2.2: tell the client which scope to ask for, and where.
			return nil, nil, {
				status = "invalid_token";
				scope = answer.attr["required-scope"];
				oidc_discovery_url = answer.attr["openid-configuration"];
			};
		end

		function profile.xmpp_oauth_xoauth2(self, user, token, realm, authzid)
			if authzid and authzid_node(authzid, realm or host) ~= user then
				return nil, nil, { failure = "invalid-authzid", text = "The authzid must be the user's bare JID." };
			end
			local outcome, answer = login.check(session, "token", user, token);
			if outcome == "ok" then return user, true, { grant = answer.attr.grant, scope = answer.attr.scope }; end
			if outcome == "unavailable" then
				return nil, nil, { failure = "temporary-auth-failure", text = UNAVAILABLE_TEXT };
			elseif outcome == "malformed" then
				return nil, nil, { failure = "malformed-request", text = MALFORMED_TEXT };
			end
			return nil, nil;
		end

		return wrap(sasl.new(host, profile), scram, session);
	end;
end

return M;
