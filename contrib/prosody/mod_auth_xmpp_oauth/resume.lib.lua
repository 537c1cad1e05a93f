-- XEP-0198 resumption across logins (issue 22 #10): resuming hands the new
-- connection the old session, with the grant and scope that session logged
-- in with. A restricted token resuming a normal session would so become
-- unrestricted (and a revoked grant's resumption id would outlive it in a
-- session of another grant). So a resumption is allowed only when the new
-- login is the same kind as the old one: same grant (none for passwords),
-- same scope. Otherwise the client gets <failed/> and binds a fresh session.

local st = require "util.stanza";
local jid_join = require "util.jid".join;

local NS_ERRORS = "urn:ietf:params:xml:ns:xmpp-stanzas";

local access = module:require "access";

local M = {};

local function same_login(a, b)
	local la, lb = a.xmpp_oauth or {}, b.xmpp_oauth or {};
	return la.grant == lb.grant and la.scope == lb.scope and access.level(a) == access.level(b);
end

function M.setup(module)
	-- mod_smacks' table of resumable sessions (the same path on 0.12 and 13).
	local resumable = module:shared "/*/smacks/resumption-tokens";

	for _, xmlns in ipairs({ "urn:xmpp:sm:2", "urn:xmpp:sm:3" }) do
		-- Ahead of mod_smacks' own handler (priority 0).
		module:hook("stanza/" .. xmlns .. ":resume", function(event)
			local session, stanza = event.origin, event.stanza;
			if not session.username or session.full_jid then return; end
			local previd = stanza.attr.previd;
			local original = type(previd) == "string" and resumable[jid_join(session.username, session.host, previd)];
			if not original or same_login(original, session) then return; end
			session.log("info", "Refusing to resume a session that logged in with another grant or scope");
			session.send(st.stanza("failed", { xmlns = xmlns }):tag("policy-violation", { xmlns = NS_ERRORS }));
			return true;
		end, 10);
	end
end

return M;
