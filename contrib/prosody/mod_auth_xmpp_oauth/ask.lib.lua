-- Queries to the xmpp-oauth component over the component link
-- (docs/protocol.md, namespace urn:xmpp-oauth:auth:0).
local st = require "util.stanza";
local new_id = require "util.id".short;
local async = require "util.async";

local NS = "urn:xmpp-oauth:auth:0";

-- Conditions that mean "nobody answered", as opposed to "the component refused".
local UNREACHABLE = {
	["remote-server-timeout"] = true;
	["service-unavailable"] = true;
	["remote-server-not-found"] = true;
	["recipient-unavailable"] = true;
};

local M = { NS = NS };

-- Said wherever the module cannot reach the component at all (prosodyctl).
M.OUTSIDE = "xmpp-oauth can only be asked from inside the running server";

-- Returns ask(iq_type, name, attrs, text): the payload element (or true for an
-- empty result), or nil, reason, transient. `transient` is true when the
-- component did not answer or said to retry (type "wait"): a login must then
-- fail with temporary-auth-failure, never as a wrong password.
function M.new(opts)
	local host, component, timeout = opts.host, opts.component, opts.timeout;

	return function(iq_type, name, attrs, text)
		if not component then
			return nil, "xmpp_oauth_component is not configured", true;
		end
		-- prosodyctl runs commands in an async runner of its own, but has no
		-- component link: a query would only wait for the timeout.
		if prosody.process_type == "prosodyctl" or not async.ready() then
			return nil, M.OUTSIDE, true;
		end
		attrs = attrs or {};
		attrs.xmlns = NS;
		local query = st.iq({ type = iq_type, from = host, to = component, id = "xmpp-oauth-" .. new_id() })
			:tag(name, attrs);
		if text and text ~= "" then query:text(text); end
		local event, err = async.wait_for(module:send_iq(query, nil, timeout));
		-- Prosody answers for an absent component itself, and that error reply
		-- arrives as a resolved event rather than a rejection.
		if event and event.stanza.attr.type == "error" then
			local err_type, condition, err_text = event.stanza:get_error();
			event, err = nil, { type = err_type, condition = condition, text = err_text };
		end
		if not event then
			local condition = type(err) == "table" and err.condition or tostring(err);
			if UNREACHABLE[condition] then
				module:log("warn", "xmpp-oauth component %s did not answer (%s): is it running and attached?", component, condition);
				return nil, condition, true;
			end
			local reason = type(err) == "table" and (err.text or condition) or condition;
			module:log("info", "xmpp-oauth refused the %s query: %s", name, reason);
			return nil, reason, type(err) == "table" and err.type == "wait";
		end
		local payload = event.stanza:get_child(name, NS);
		if iq_type == "get" and not payload then
			module:log("warn", "xmpp-oauth answered a %s query without a payload", name);
			return nil, "malformed answer", true;
		end
		return payload or true;
	end;
end

return M;
