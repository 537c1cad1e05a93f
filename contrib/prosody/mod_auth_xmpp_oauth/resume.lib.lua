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

	-- True when `session` may not resume the session `previd` names.
	local function refused(session, previd)
		if not session.username or session.full_jid then return false; end
		local original = type(previd) == "string" and resumable[jid_join(session.username, session.host, previd)];
		if not original or same_login(original, session) then return false; end
		session.log("info", "Refusing to resume a session that logged in with another grant or scope");
		return true;
	end
	local function failed(xmlns)
		return st.stanza("failed", { xmlns = xmlns }):tag("policy-violation", { xmlns = NS_ERRORS }):up();
	end

	for _, xmlns in ipairs({ "urn:xmpp:sm:2", "urn:xmpp:sm:3" }) do
		-- Ahead of mod_smacks' own handler (priority 0).
		module:hook("stanza/" .. xmlns .. ":resume", function(event)
			if not refused(event.origin, event.stanza.attr.previd) then return; end
			event.origin.send(failed(xmlns));
			return true;
		end, 10);
	end

	-- Prosody 13 with mod_sasl2_sm: a resumption inside SASL2 <authenticate/>,
	-- done at success (priority 110); drop the request first and say why.
	module:hook("sasl2/c2s/success", function(event)
		local session = event.session;
		local request = session.sasl2_sm_request;
		if not (request and request.name == "resume" and refused(session, request.attr.previd)) then return; end
		session.sasl2_sm_request = nil;
		event.success:add_child(failed(request.attr.xmlns));
	end, 120);
end

return M;
