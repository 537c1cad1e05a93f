-- Restricted sessions (issue 14, contract 1): a login whose token carries only
-- xmpp:account:read / xmpp:account:write (neither xmpp:client:normal nor xmpp)
-- may manage its own account and nothing else:
--   * XEP-0494 IQs to its own bare JID;
--   * our ad-hoc commands (IQs to the xmpp-oauth component: commands, disco);
--   * ping and disco#info of its own server, and legacy session establishment;
--   * with xmpp:account:write only, an XEP-0077 password change.
-- Everything else it sends (presence, messages, other IQs) is refused with
-- policy-violation, and stanzas from others are not delivered to it.

local st = require "util.stanza";
local jid_bare = require "util.jid".bare;

local NS_CAM = "urn:xmpp:cam:0";
local NS_REGISTER = "jabber:iq:register";

local M = {};

local function has_scope(scope, wanted)
	for s in (scope or ""):gmatch("%S+") do
		if s == wanted then return true; end
	end
	return false;
end

-- Contract 1: restricted iff no normal-session scope and at least one account scope.
function M.is_restricted(scope)
	if has_scope(scope, "xmpp:client:normal") or has_scope(scope, "xmpp") then return false; end
	return has_scope(scope, "xmpp:account:read") or has_scope(scope, "xmpp:account:write");
end

-- Legacy session establishment (RFC 3921) is part of logging in: some clients stop if it fails.
local NS_SESSION = "urn:ietf:params:xml:ns:xmpp-session";
local TO_SERVER = { ["urn:xmpp:ping"] = true, ["http://jabber.org/protocol/disco#info"] = true, [NS_SESSION] = true };
local TO_COMPONENT = {
	["http://jabber.org/protocol/commands"] = true,
	["http://jabber.org/protocol/disco#info"] = true,
	["http://jabber.org/protocol/disco#items"] = true,
	["urn:xmpp:ping"] = true,
};

function M.setup(module, opts)
	local host = module.host;
	local component = opts.component and opts.component:lower();

	local function restricted(session)
		local login = session.xmpp_oauth;
		if login == nil then return false; end
		if login.restricted == nil then login.restricted = M.is_restricted(login.scope); end
		return login.restricted;
	end

	-- A password change (username + password), never an account removal.
	local function password_change(session, payload)
		return has_scope(session.xmpp_oauth.scope, "xmpp:account:write")
			and payload:get_child("password") ~= nil and payload:get_child("remove") == nil;
	end

	local function allowed(session, stanza, to_self)
		if stanza.name ~= "iq" then return false; end
		local to = stanza.attr.to;
		local target = to and jid_bare(to):lower();
		local kind = stanza.attr.type;
		if kind == "result" or kind == "error" then
			-- Answers to the server's own pings, and nothing else.
			return target == nil or target == host or target == component;
		end
		local payload = stanza.tags[1];
		local xmlns = payload and payload.attr.xmlns;
		if not xmlns then return false; end
		if to_self then
			return xmlns == NS_CAM or xmlns == NS_SESSION or (xmlns == NS_REGISTER and password_change(session, payload));
		end
		if target == host then
			return TO_SERVER[xmlns] or (xmlns == NS_REGISTER and password_change(session, payload)) or false;
		end
		if target == component then return TO_COMPONENT[xmlns] or false; end
		return false;
	end

	module:hook("pre-stanza", function(event)
		local origin, stanza = event.origin, event.stanza;
		if origin.type ~= "c2s" or not restricted(origin) then return; end
		if allowed(origin, stanza, event.to_self) then return; end
		origin.log("info", "Restricted session: refusing a %s to %s", stanza.name, stanza.attr.to or "its account");
		local kind = stanza.attr.type;
		if kind ~= "error" and kind ~= "result" and not (stanza.name == "presence" and kind == "unavailable") then
			origin.send(st.error_reply(stanza, "cancel", "policy-violation",
				"This session may only manage the account (restricted scope)"));
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
