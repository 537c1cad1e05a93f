-- Queries to the xmpp-oauth component over the component link
-- (docs/protocol.md, namespace urn:xmpp-oauth:auth:0).
local st = require "util.stanza";
local new_id = require "util.id".short;
local async = require "util.async";
local monotonic = require "util.time".monotonic;
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

-- Issue 25: Prosody leaves Nagle on (network_settings.nagle), so a query written
-- while the previous one is unacknowledged (a SCRAM success report, then the next
-- login's query) waits for the component's delayed ACK, ~40 ms on Linux. Every
-- query is one complete stanza: turn it off on the component's connection, once
-- per connection, when its first answer arrives (event.origin is that session).
local function no_delay(origin)
	if type(origin) ~= "table" or origin.xmpp_oauth_nodelay or origin.type ~= "component" then return; end
	origin.xmpp_oauth_nodelay = true;
	local conn = origin.conn;
	if conn and conn.setoption then pcall(conn.setoption, conn, "tcp-nodelay", true); end
end

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

-- How often unanswered queries are looked at for their timeout (seconds).
local SWEEP = 0.25;

-- Returns ask(iq_type, name, attrs, text): the payload element (or true for an
-- empty result), or nil, reason, transient, condition (the stanza error's
-- defined condition, for callers that map it; M.MALFORMED when the input
-- could not be put in a query, which is then never sent). `transient` is true when the
-- component did not answer or said to retry (type "wait"): a login must then
-- fail with temporary-auth-failure, never as a wrong password.
-- The second value, report(query), sends a query without waiting; an error
-- answer is logged at info.
--
-- Issue 25: not module:send_iq, which per query made three promises, two
-- zero-delay timers, a timeout timer and two event handlers added and removed
-- (about half of Prosody's Lua work per token login, measured). Here a table
-- of the queries in flight, one hook for their answers, and one timer that
-- runs only while queries are in flight. Call once per host.
function M.new(opts)
	local host, component, timeout = opts.host, opts.component, opts.timeout or 120;

	-- id -> { done = function, event = answer event, err = error table, deadline = monotonic seconds, report = bool }
	local in_flight = {};
	local sweeping = false;

	local function settle(id, entry, event, err)
		in_flight[id] = nil;
		entry.event, entry.err = event, err;
		entry.done(entry);
	end

	local function sweep()
		local now, expired = monotonic(), {};
		for id, entry in pairs(in_flight) do
			if entry.deadline <= now then expired[id] = entry; end
		end
		-- Settled after the walk: a settled query's caller may send the next one at once.
		for id, entry in pairs(expired) do
			settle(id, entry, nil, { type = "wait", condition = "remote-server-timeout", text = "IQ stanza timed out" });
		end
		if next(in_flight) == nil then
			sweeping = false;
			return nil;
		end
		return SWEEP;
	end

	-- The component's answers: a result or error from the entity asked, with the id of a query in flight.
	module:hook("iq/host", function(event)
		local stanza = event.stanza;
		local kind, id = stanza.attr.type, stanza.attr.id;
		if kind ~= "result" and kind ~= "error" then return; end
		local entry = id and in_flight[id];
		if not entry or stanza.attr.from ~= component then return; end
		settle(id, entry, event);
		return true;
	end, 10);

	-- The origin queries are sent from: Prosody answers for an absent component
	-- itself, by sending its error reply to the origin, which catches it here.
	local origin = setmetatable({
		send = function(reply)
			local id = reply.attr.id;
			local entry = id and in_flight[id];
			if entry and (reply.attr.type == "error" or reply.attr.type == "result") then
				settle(id, entry, { stanza = reply });
				return true;
			end
			return prosody.hosts[host].send(reply);
		end;
	}, { __index = function(_, key) return prosody.hosts[host][key]; end });

	local function send(query, entry)
		in_flight[query.attr.id] = entry;
		if not sweeping then
			sweeping = true;
			module:add_timer(SWEEP, sweep);
		end
		module:send(query, origin);
	end

	local function report(query)
		send(query, { deadline = monotonic() + timeout, done = function(entry)
			local stanza = entry.event and entry.event.stanza;
			if stanza and stanza.attr.type ~= "error" then return; end
			local condition = stanza and select(2, stanza:get_error()) or entry.err and entry.err.condition;
			module:log("info", "xmpp-oauth did not take the %s report (%s)", query.tags[1] and query.tags[1].name or "?", tostring(condition));
		end });
	end

	local function ask(iq_type, name, attrs, text)
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
		local wait, done = async.waiter();
		local entry = { deadline = monotonic() + timeout, done = done };
		send(query, entry);
		wait();
		local event, err = entry.event, entry.err;
		if event then no_delay(event.origin); end
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
	end

	return ask, report;
end

return M;
