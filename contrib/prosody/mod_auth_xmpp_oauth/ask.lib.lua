-- Queries to the xmpp-oauth component over the component link
-- (docs/protocol.md, namespace urn:xmpp-oauth:auth:0).
local st = require "util.stanza";
local new_id = require "util.id".short;
local async = require "util.async";
local valid_utf8 = require "util.encodings".utf8.valid;

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

-- The condition ask() returns for a query it refused to build: the client's
-- input cannot travel as XML (review 22 #4: util.stanza raises on it).
M.MALFORMED = "malformed-request";

-- True when s can be XML text: valid UTF-8 with no control characters but
-- tab, LF and CR (XML 1.0 Char; util.stanza lets some through that the
-- component's parser would refuse).
local function sendable(s)
	return valid_utf8(s) and not s:find("[%z\1-\8\11\12\14-\31]");
end
M.sendable = sendable;

-- Returns ask(iq_type, name, attrs, text): the payload element (or true for an
-- empty result), or nil, reason, transient, condition (the stanza error's
-- defined condition, for callers that map it; M.MALFORMED when the input
-- could not be put in a query, which is then never sent). `transient` is true when the
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
		for key, value in pairs(attrs) do
			if type(value) ~= "string" or not sendable(value) then
				return nil, "the " .. key .. " cannot be sent as XML text", false, M.MALFORMED;
			end
		end
		if text and not sendable(text) then
			return nil, "the secret is not valid UTF-8 text", false, M.MALFORMED;
		end
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
				return nil, condition, true, condition;
			end
			local reason = type(err) == "table" and (err.text or condition) or condition;
			module:log("info", "xmpp-oauth refused the %s query: %s", name, reason);
			return nil, reason, type(err) == "table" and err.type == "wait", condition;
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
