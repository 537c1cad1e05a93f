-- SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 5802, RFC 7677) for hosts that use this
-- module. Prosody's own util.sasl.scram runs the exchange (and its -PLUS
-- variants where the connection offers channel binding); this file supplies its
-- profile callbacks with a verifier asked of the component, and tells the
-- component when an exchange succeeded so that the attempt is given back. The
-- password never leaves the client.
--
-- Which of the two a host offers is the operator's choice (xmpp_oauth_scram):
-- an account needs a verifier of that hash, and a client that sees SCRAM
-- offered will never fall back to PLAIN (docs/migration.md says which to offer).
local st = require "util.stanza";
local new_id = require "util.id".short;
local base64_decode = require "util.encodings".base64.decode;

local NS = "urn:xmpp-oauth:auth:0";
local UNAVAILABLE_TEXT = "The authentication service is temporarily unavailable; try again shortly.";

-- Mechanism name -> (the component's hash name, util.sasl's profile key).
local KNOWN = {
	["SCRAM-SHA-1"] = { hash = "SHA-1", profile = "scram_sha_1" };
	["SCRAM-SHA-256"] = { hash = "SHA-256", profile = "scram_sha_256" };
};
local KEY_BYTES = { ["SHA-1"] = 20, ["SHA-256"] = 32 };

local M = { KNOWN = KNOWN };

-- opts: ask, report (ask.lib.lua), host, component, offered (set of mechanism names)
function M.new(opts)
	local ask, host, component = opts.ask, opts.host, opts.component;

	-- The profile callback util.sasl.scram calls with the (saslprepped, nodeprepped)
	-- user name; returns stored_key, server_key, iteration_count, salt, true, or
	-- nil with a failure left on the SASL object for sasl.lib.lua's wrapper.
	local function lookup(hash, session, self, username)
		local attrs = { user = username, host = host, hash = hash };
		if session and session.ip then attrs.address = session.ip; end
		local answer, reason = ask("get", "scram", attrs);
		if not answer or answer == true then
			module:log("info", "SCRAM-%s login of %s@%s could not be checked: %s", hash, username, host, tostring(reason));
			self.xmpp_oauth_failure = { "temporary-auth-failure", UNAVAILABLE_TEXT };
			return nil;
		end
		local result = answer.attr.result;
		if result == "throttled" then
			local retry = tostring(answer.attr["retry-after"] or ""):match("^%d+$") or "a few";
			self.xmpp_oauth_failure = { "temporary-auth-failure", "Too many failed attempts; retry in " .. retry .. " seconds." };
			return nil;
		end
		if result ~= "ok" then
			return nil;
		end
		local salt = base64_decode(answer.attr.salt or "");
		local stored, server = base64_decode(answer.attr["stored-key"] or ""), base64_decode(answer.attr["server-key"] or "");
		local iterations = tonumber(answer.attr.iterations or "");
		if not (salt and #salt > 0 and stored and #stored == KEY_BYTES[hash] and server and #server == KEY_BYTES[hash] and iterations) then
			module:log("warn", "xmpp-oauth answered a SCRAM-%s query with a malformed verifier", hash);
			self.xmpp_oauth_failure = { "temporary-auth-failure", UNAVAILABLE_TEXT };
			return nil;
		end
		return stored, server, iterations, salt, true;
	end

	-- Adds the offered mechanisms' callbacks to a SASL profile of `session`.
	local function add_to(profile, session)
		for name, known in pairs(KNOWN) do
			if opts.offered[name] then
				profile[known.profile] = function(self, username)
					return lookup(known.hash, session, self, username);
				end;
			end
		end
	end

	-- After a successful exchange: the session is a password session, and the
	-- component gives the attempt back. Sent without waiting: the login does not
	-- need the answer, and a lost report only leaves one point spent.
	local function succeeded(self, session)
		local mechanism = self.selected or "SCRAM";
		if session then session.xmpp_oauth = { via = "password" }; end
		if not component or not self.username then return; end
		local attrs = { xmlns = NS, user = self.username, host = host, mechanism = mechanism };
		if session and session.ip then attrs.address = session.ip; end
		opts.report(st.iq({ type = "set", from = host, to = component, id = "xmpp-oauth-" .. new_id() }):tag("scram-success", attrs));
	end

	return {
		add_to = add_to;
		succeeded = succeeded;
		is_scram = function(mechanism) return type(mechanism) == "string" and mechanism:match("^SCRAM%-") ~= nil; end;
	};
end

-- The option's mechanism names, validated: a typo must not silently offer nothing.
function M.offered(module_, names)
	local offered = {};
	for _, name in ipairs(names or {}) do
		if KNOWN[name] then
			offered[name] = true;
		else
			module_:log("error", "xmpp_oauth_scram: unknown mechanism %q (use \"SCRAM-SHA-1\" and/or \"SCRAM-SHA-256\"); it is not offered", tostring(name));
		end
	end
	return offered;
end

return M;
