-- Restricted sessions (issue 14, contract 1; issue 22 #1, #2): a login whose
-- token carries only xmpp:account:read / xmpp:account:write may manage its
-- own account and nothing else. An allow-list: a stanza passes only if it
-- matches one of the rules below, whole; everything else it sends (messages,
-- presence, any other IQ) is refused with policy-violation, and stanzas from
-- others are not delivered to it.
--
-- Allowed (docs/protocol.md, "Restricted sessions"):
--   to its own bare JID  XEP-0494 list (read), XEP-0494 revoke (write),
--                        legacy session establishment, an XEP-0077 password change (write)
--   to its server        ping, disco#info, legacy session, an XEP-0077 password change (write)
--   to the component     ad-hoc `grants` (read), `revoke` (write), disco#info/#items, ping
--   IQ result/error      to its own bare JID, its server or the component (answers to their IQs)

local st = require "util.stanza";
local jid_bare = require "util.jid".bare;
local nodeprep = require "util.encodings".stringprep.nodeprep;

local NS_CAM = "urn:xmpp:cam:0";
local NS_REGISTER = "jabber:iq:register";
local NS_SESSION = "urn:ietf:params:xml:ns:xmpp-session";
local NS_PING = "urn:xmpp:ping";
local NS_COMMANDS = "http://jabber.org/protocol/commands";
local NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";
local NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items";

local M = {};

local access = module:require "access";
M.is_restricted = access.is_restricted;

local function whitespace_only(text)
	return text:match("^%s*$") ~= nil;
end

-- An element with text content only (no child elements), in `ns` (own or inherited).
local function text_child(child, ns)
	if child.attr.xmlns ~= nil and child.attr.xmlns ~= ns then return nil; end
	if #child.tags > 0 then return nil; end
	return child:get_text();
end

-- XEP-0077 §3.3, exactly the shape Prosody's handler reads as a password
-- change (mod_user_account_management): children username and password in
-- jabber:iq:register, once each, text only, nothing else. Prosody deletes the
-- account when the first child is named `remove` in any namespace, so no
-- other child (and no `remove`) ever passes. Its checks are mirrored: the
-- username, nodeprepped, must be the session's own, the password non-empty.
local function password_change(session, payload)
	local seen = {};
	for _, child in ipairs(payload) do
		if type(child) == "string" then
			if not whitespace_only(child) then return false; end
		else
			local name = child.name;
			if (name ~= "username" and name ~= "password") or seen[name] then return false; end
			local text = text_child(child, NS_REGISTER);
			if text == nil then return false; end
			seen[name] = text;
		end
	end
	local username, password = seen.username, seen.password;
	if not (username and password and password ~= "") then return false; end
	return nodeprep(username) == session.username;
end

-- Ad-hoc commands a restricted session may run, and the level each needs.
-- admin-* never: a restricted session of an admin is not an admin session.
local COMMANDS = { grants = "read", revoke = "write" };
local function command(_, payload, level)
	local needed = COMMANDS[payload.attr.node or ""];
	return needed ~= nil and access.allows(level, needed);
end

-- rules[target]["type xmlns name"] = the level needed, or a check(session, payload, level).
local RULES = {
	self = {
		["get " .. NS_CAM .. " list"] = "read",
		["set " .. NS_CAM .. " revoke"] = "write",
		["set " .. NS_SESSION .. " session"] = "read",
		["set " .. NS_REGISTER .. " query"] = function(session, payload, level)
			return access.allows(level, "write") and password_change(session, payload);
		end,
	},
	host = {
		["get " .. NS_PING .. " ping"] = "read",
		["get " .. NS_DISCO_INFO .. " query"] = "read",
		["set " .. NS_SESSION .. " session"] = "read",
		-- Prosody's registration_compat: a change addressed to the server.
		["set " .. NS_REGISTER .. " query"] = function(session, payload, level)
			return access.allows(level, "write") and password_change(session, payload);
		end,
	},
	component = {
		["set " .. NS_COMMANDS .. " command"] = command,
		["get " .. NS_DISCO_INFO .. " query"] = "read",
		["get " .. NS_DISCO_ITEMS .. " query"] = "read",
		["get " .. NS_PING .. " ping"] = "read",
	},
};

function M.setup(module, opts)
	local host = module.host;
	local component = opts.component and opts.component:lower();

	local function restricted(session)
		local level = access.level(session);
		return level ~= "full" and level or nil;
	end

	local function target_of(stanza, to_self)
		if to_self then return "self"; end
		local to = stanza.attr.to;
		local bare = to and jid_bare(to):lower();
		-- Only the bare domains: a resource on them is not the server nor the component.
		if bare == host and to == bare then return "host"; end
		if component ~= nil and bare == component and to:lower() == component then return "component"; end
		return nil;
	end

	local function allowed(session, stanza, to_self, level)
		if stanza.name ~= "iq" then return false; end
		local target = target_of(stanza, to_self);
		local kind = stanza.attr.type;
		if kind == "result" or kind == "error" then
			-- Answers to its server's, its account's (roster pushes) or the component's IQs, and nothing else.
			return target ~= nil;
		end
		local rules = target and RULES[target];
		local payload = stanza.tags[1];
		-- The core already refuses a get/set without exactly one child.
		if not (rules and payload and #stanza.tags == 1) then return false; end
		local rule = rules[kind .. " " .. tostring(payload.attr.xmlns) .. " " .. payload.name];
		if type(rule) == "string" then return access.allows(level, rule); end
		if type(rule) == "function" then return rule(session, payload, level) == true; end
		return false;
	end

	module:hook("pre-stanza", function(event)
		local origin, stanza = event.origin, event.stanza;
		if origin.type ~= "c2s" then return; end
		local level = restricted(origin);
		if not level then return; end
		if allowed(origin, stanza, event.to_self, level) then return; end
		origin.log("info", "Restricted session (%s): refusing a %s to %s", level, stanza.name, stanza.attr.to or "its account");
		local kind = stanza.attr.type;
		if kind ~= "error" and kind ~= "result" and not (stanza.name == "presence" and kind == "unavailable") then
			local refusal = st.error_reply(stanza, "cancel", "policy-violation",
				"This session may only manage the account (restricted scope)");
			-- Ours, though it names the entity it was meant for: restrict_out.lib.lua lets it through.
			refusal.xmpp_oauth_refusal = true;
			origin.send(refusal);
		end
		return true;
	end, 1000);

	-- Inbound: nothing from other entities reaches a restricted session.
	local function inbound(event)
		local stanza = event.stanza;
		local target = prosody.full_sessions[stanza.attr.to];
		if not (target and target.host == host and restricted(target)) then return; end
		local from = stanza.attr.from and jid_bare(stanza.attr.from);
		from = from and from:lower();
		if from == nil or from == host or from == component or from == (target.username .. "@" .. host) then return; end
		if stanza.name == "iq" and (stanza.attr.type == "get" or stanza.attr.type == "set") then
			event.origin.send(st.error_reply(stanza, "cancel", "service-unavailable"));
		end
		return true;
	end
	module:hook("message/full", inbound, 1000);
	module:hook("presence/full", inbound, 1000);
	module:hook("iq/full", inbound, 1000);
end

return M;
