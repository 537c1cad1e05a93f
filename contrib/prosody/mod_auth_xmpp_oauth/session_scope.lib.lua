-- The component asks what a session may do before it runs an ad-hoc command
-- for it (issue 22 #2): <session jid='full JID'/> in urn:xmpp-oauth:auth:0,
-- answered with the session's scope and level (access.lib.lua), or
-- item-not-found when no such session is bound here. The component then
-- enforces the restriction itself, independently of restrict.lib.lua.
-- Protocol: docs/protocol.md, "Session scope".

local st = require "util.stanza";
local jid_bare = require "util.jid".bare;
local jid_prep = require "util.jid".prep;

local NS = "urn:xmpp-oauth:auth:0";

local access = module:require "access";

local M = {};

function M.setup(module, opts)
	local host = module.host;
	local component = opts.component and opts.component:lower();

	module:hook("iq-get/host/" .. NS .. ":session", function(event)
		local origin, stanza = event.origin, event.stanza;
		local from = stanza.attr.from and jid_bare(stanza.attr.from);
		if not (component and from and from:lower() == component) then
			module:log("info", "Refusing a session query from %s: not the xmpp-oauth component", stanza.attr.from or "?");
			origin.send(st.error_reply(stanza, "auth", "forbidden"));
			return true;
		end
		local raw = stanza.tags[1].attr.jid;
		local jid = raw and #raw <= 3071 and jid_prep(raw);
		if not jid then
			origin.send(st.error_reply(stanza, "modify", "bad-request", "a full JID is required"));
			return true;
		end
		local session = prosody.full_sessions[jid];
		if not (session and session.host == host) then
			origin.send(st.error_reply(stanza, "cancel", "item-not-found", "no such session"));
			return true;
		end
		local login = session.xmpp_oauth;
		local level = access.level(session);
		origin.send(st.reply(stanza):tag("session", {
			xmlns = NS,
			jid = jid,
			level = level,
			restricted = level == "full" and "false" or "true",
			scope = login and login.scope or nil,
		}));
		return true;
	end);
end

return M;
