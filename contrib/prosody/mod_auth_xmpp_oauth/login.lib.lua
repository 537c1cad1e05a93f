-- One login check for every mechanism (PLAIN, OAUTHBEARER, X-OAUTH2): asks the
-- component's `auth` query and, on success, records how the session logged in
-- (contract 2: session.xmpp_oauth = { via, grant, scope }), before resource
-- binding, for the modules that track and restrict sessions.
local sendable = module:require "ask".sendable;

local M = {};

-- Issue 24 #2: SASL2's <user-agent> (mod_sasl2 keeps its id as session.client_id,
-- software and device on the SASL handler) goes with the auth query, so the
-- component records it on the grant the login used. A value that cannot travel
-- (not UTF-8, control characters) or is too long is left out: the login goes on.
local USER_AGENT_LIMITS = { id = 128, software = 256, device = 256 };

local function add_user_agent(session, attrs)
	local handler = session.sasl_handler;
	local agent = handler and handler.user_agent;
	local values = { id = session.client_id, software = agent and agent.software, device = agent and agent.device };
	for key, limit in pairs(USER_AGENT_LIMITS) do
		local value = values[key];
		if type(value) == "string" and value ~= "" then
			if #value <= limit and sendable(value) then
				attrs["user-agent-" .. key] = value;
			else
				module:log("info", "SASL2 user-agent %s left out of the auth query: too long or not sendable", key);
			end
		end
	end
end

-- Outcomes: "ok", "invalid", "other-account", "throttled", "bad-request",
-- "malformed" (the client's input cannot be asked about; never sent),
-- "unavailable". The second value is the reply's payload (nil when unavailable
-- or malformed).
function M.new(ask, host, known_users, MALFORMED)
	local function check(session, kind, username, secret)
		local attrs = { user = username, host = host, kind = kind };
		-- The core throttles password checks per address (issue 12 #20).
		if session and session.ip then attrs.address = session.ip; end
		if session then add_user_agent(session, attrs); end
		local answer, reason, _, condition = ask("get", "auth", attrs, secret);
		if not answer then
			if condition == MALFORMED then
				module:log("info", "Login of %s@%s refused: %s", username or "(from token)", host, tostring(reason));
				return "malformed";
			end
			module:log("info", "Login of %s@%s could not be checked: %s", username or "(from token)", host, tostring(reason));
			return "unavailable";
		end
		local result = answer.attr.result;
		if result == "ok" then
			local jid = answer.attr.jid or "";
			local node = jid:match("^([^@]+)@") or username;
			if not node then
				-- A token login learns its account from the answer: without one there is none.
				module:log("warn", "xmpp-oauth accepted a login without naming the account (jid=%q)", jid);
				return "unavailable";
			end
			known_users:set(node, true);
			if session then
				session.xmpp_oauth = {
					via = answer.attr.via;
					grant = answer.attr.grant;
					scope = answer.attr.scope;
					-- What the query carried; cam.lib.lua shows it for a password session.
					user_agent = {
						id = attrs["user-agent-id"];
						software = attrs["user-agent-software"];
						device = attrs["user-agent-device"];
					};
				};
			end
			module:log("debug", "xmpp-oauth accepted %s via %s", jid, answer.attr.via or "?");
			return "ok", answer, node;
		end
		if result == "invalid" or result == "other-account" or result == "throttled" or result == "bad-request" then
			return result, answer;
		end
		module:log("warn", "xmpp-oauth answered an auth query with an unknown result %q", tostring(result));
		return "unavailable";
	end;

	return { check = check };
end

return M;
